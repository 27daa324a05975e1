//! The reference evaluator (in progress).
