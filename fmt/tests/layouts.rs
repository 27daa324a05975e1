//! Layouts: every `tests/layouts/NAME.ups` formats to `tests/layouts/NAME.formatted.ups`, and
//! formatting that output again changes nothing. `UPSTART_BLESS=1 cargo test -p upstart-fmt
//! --test layouts` rewrites the `.formatted.ups` files; a new case is a new `NAME.ups`.

use std::path::{Path, PathBuf};

use upstart_test_support::{check_snapshot, files, read, relative, Mismatch};

/// The inputs: every `.ups` under `tests/layouts/` that is not an expected output.
fn inputs() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/layouts");
    files(&dir, "ups", &|_| false)
        .into_iter()
        .filter(|p| !p.to_string_lossy().ends_with(".formatted.ups"))
        .collect()
}

/// What is wrong with one case, if anything.
fn layout(input: &Path) -> Option<String> {
    let name = relative(input);
    let out = match upstart_fmt::format(&read(input)) {
        Ok(out) => out,
        Err(e) => return Some(format!("{name}: format failed: {e:?}")),
    };
    match upstart_fmt::format(&out) {
        Ok(again) if again == out => {}
        Ok(again) => {
            return Some(format!(
                "{name}: not idempotent:\n{out}\n--- again ---\n{again}"
            ))
        }
        Err(e) => return Some(format!("{name}: second pass failed: {e:?}\n{out}")),
    }
    let expected = input.with_extension("formatted.ups");
    match check_snapshot(&expected, &out) {
        Ok(()) => None,
        Err(Mismatch::Missing) => Some(format!(
            "{name}: no {} (UPSTART_BLESS=1 writes it); got:\n{out}",
            relative(&expected)
        )),
        Err(Mismatch::Differs { expected: want }) => Some(format!(
            "{name}:\n--- got ---\n{out}\n--- want ({}) ---\n{want}",
            relative(&expected)
        )),
    }
}

#[test]
fn every_layout_case_formats_as_expected() {
    let inputs = inputs();
    assert!(inputs.len() >= 19, "layout cases missing: {inputs:?}");
    let failures: Vec<String> = inputs.iter().filter_map(|p| layout(p)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
