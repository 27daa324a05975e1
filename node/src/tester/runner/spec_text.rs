//! The text of a spec as the tester needs it: the versions of its `upgrade` line, and the
//! spec with its schedule replaced by the rolling one a plan asks for.

/// The `from` and `to` of a spec's `upgrade NAME FROM -> TO` line.
pub fn spec_versions(text: &str) -> Option<(String, u64, u64)> {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("upgrade "))?;
    let mut words = line.split_whitespace().skip(1);
    let name = words.next()?.to_string();
    let from = words.next()?.parse().ok()?;
    if words.next()? != "->" {
        return None;
    }
    let to = words.next()?.parse().ok()?;
    Some((name, from, to))
}

/// `text` with its `schedule { ... }` (the last item of a spec) replaced by a rolling one of
/// `batch` nodes at a time in node-id order.
pub fn with_schedule(text: &str, batch: usize, healthy_for: &str) -> Result<String, String> {
    let start = text
        .rfind("\nschedule {")
        .map(|i| i + 1)
        .or_else(|| text.starts_with("schedule {").then_some(0))
        .ok_or("the spec has no `schedule` block")?;
    Ok(format!(
        "{}schedule {{\n  rolling {{ batch: {batch}, max_unavailable: {batch} }}\n  order: node_id\n  healthy_for: {healthy_for}\n}}\n",
        text.get(..start).unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn spec_headers_and_schedules_are_rewritten() {
        let text =
            "// kv\nupgrade kv 2 -> 3\n\nversion 2 {}\n\nschedule {\n  canary: 1 then pause\n}\n";
        assert_eq!(spec_versions(text), Some(("kv".into(), 2, 3)));
        let s = with_schedule(text, 2, "1s").unwrap();
        assert!(
            s.contains("rolling { batch: 2, max_unavailable: 2 }"),
            "{s}"
        );
        assert!(!s.contains("canary"), "{s}");
        assert!(s.starts_with("// kv\nupgrade kv 2 -> 3"), "{s}");
        assert!(with_schedule("upgrade kv 1 -> 2\n", 1, "1s").is_err());
        assert_eq!(spec_versions("upgrade kv one -> 2"), None);
    }
}
