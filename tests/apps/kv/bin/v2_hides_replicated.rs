//! A planted bug for `upstart test`'s tests: the key-value store version 2 that saves the
//! items its peers replicate but does not serve them (see `e2e::kv::Planted`).

fn main() -> std::process::ExitCode {
    e2e::kv::main_with(2, Some(e2e::kv::Planted::HidesReplicated))
}
