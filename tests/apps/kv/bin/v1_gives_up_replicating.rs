//! A planted bug for `upstart test`'s tests: the key-value store version 1 that answers a write
//! whose replication to a peer failed for a second without it (see `e2e::kv::Planted`).

fn main() -> std::process::ExitCode {
    e2e::kv::main_with(1, Some(e2e::kv::Planted::GivesUpReplicating))
}
