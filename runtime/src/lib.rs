//! Plugin ABI, loader, upgrade server and node agent. Skeleton: filled by the plugin and rollout issues.
