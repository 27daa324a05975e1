//! Interception of node traffic and translation between versions. Skeleton: filled by the shim issue.
