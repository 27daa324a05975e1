//! `kv-v1`: the key-value store of `specs/kv`, version 1 (see `e2e::kv`).

fn main() -> std::process::ExitCode {
    e2e::kv::main(1)
}
