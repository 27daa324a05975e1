//! `kv-v3`: the key-value store of `specs/kv`, version 3 (see `e2e::kv`).

fn main() -> std::process::ExitCode {
    e2e::kv::main(3)
}
