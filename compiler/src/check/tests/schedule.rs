//! Schedule settings: timeout and window compared with `healthy_for`.

use super::check;

/// A spec with no services and the given schedule settings (after a rolling strategy).
fn with_schedule(settings: &str) -> String {
    format!(
        "upgrade t 1 -> 2\nversion 1 {{ }}\nversion 2 {{ }}\nschedule {{\n  rolling {{ batch: 1, max_unavailable: 1 }}\n{settings}\n}}\n"
    )
}

#[test]
fn schedule_timeout_is_compared_with_healthy_for() {
    check(
        &with_schedule("  healthy_for: 90s\n  timeout: 1m"),
        "U0088 7:12 `timeout` (1m) is shorter than `healthy_for` (90s)",
    );
    // Equal is enough; either alone is not compared.
    check(&with_schedule("  healthy_for: 2m\n  timeout: 2m"), "");
    check(&with_schedule("  timeout: 1s"), "");
    check(&with_schedule("  healthy_for: 1h"), "");
}

#[test]
fn schedule_window_is_compared_with_healthy_for() {
    // Across midnight: 23:50 .. 00:10 is 20 minutes.
    check(
        &with_schedule("  window: \"23:50\" .. \"00:10\"\n  healthy_for: 21m"),
        "U0089 6:11 the window (20m) is shorter than one node's upgrade (`healthy_for` 21m)",
    );
    check(
        &with_schedule("  window: \"23:50\" .. \"00:10\"\n  healthy_for: 20m"),
        "",
    );
    // A window from 04:00 to 02:00 is 22 hours long, not negative.
    check(
        &with_schedule("  window: \"04:00\" .. \"02:00\"\n  healthy_for: 3h"),
        "",
    );
    check(&with_schedule("  window: \"02:00\" .. \"02:30\""), "");
}
