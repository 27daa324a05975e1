//! Plugin ABI, loader, upgrade server and node agent. The plugin loader and chains are in
//! [`plugin`]; the rest is filled by the rollout issues.

pub mod plugin;
