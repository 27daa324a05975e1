//! A planted bug for `upstart test`'s tests: the key-value store version 1 that answers a write before saving it and loses it on SIGTERM
//! (see `e2e::kv::Planted`).

fn main() -> std::process::ExitCode {
    e2e::kv::main_with(1, Some(e2e::kv::Planted::AnswersBeforeSaving))
}
