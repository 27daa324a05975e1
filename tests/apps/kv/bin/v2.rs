//! `kv-v2`: the key-value store of `specs/kv`, version 2 (see `e2e::kv`).

fn main() -> std::process::ExitCode {
    e2e::kv::main(2)
}
