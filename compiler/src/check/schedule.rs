//! The schedule: a rollout strategy with positive sizes, a known order, positive durations,
//! a well-formed time window, and a canary with a known follow-up action; then the settings
//! against each other (`timeout` vs `healthy_for`, `window` vs `healthy_for`).

use super::suggest::did_you_mean;
use super::Cx;
use lang::ast::{SchedEntry, SchedValue, SchedValueKind, Spec};
use lang::diagnostic::codes;
use lang::span::Span;
use std::collections::HashMap;

const TOP_KEYS: &[&str] = &[
    "rolling",
    "all_at_once",
    "order",
    "healthy_for",
    "canary",
    "window",
    "after",
    "timeout",
];
const STRATEGIES: &[&str] = &["rolling", "all_at_once"];
const ROLLING_KEYS: &[&str] = &["batch", "max_unavailable"];
pub const ORDERS: &[&str] = &["node_id", "reverse_node_id", "random"];
const CANARY_ACTIONS: &[&str] = &["pause", "continue"];

pub(crate) fn check_schedules(cx: &mut Cx, spec: &Spec) {
    let schedules: Vec<_> = spec.schedules().collect();
    let Some(first) = schedules.first() else {
        cx.report(codes::MISSING_SCHEDULE, spec.header_span, "this upgrade has no schedule", |d| {
            d.label("nodes will upgrade one at a time, in node id order")
                .help("say how to roll out: `schedule { rolling { batch: 1, max_unavailable: 1 } }`")
        });
        return;
    };
    cx.given_once("the schedule", schedules.iter().map(|s| s.span), None);
    let mut seen: HashMap<&str, Span> = HashMap::new();
    let mut strategies: Vec<Span> = Vec::new();
    for entry in &first.entries {
        let key = entry.key.name.as_str();
        if let Some(prev) = seen.get(key) {
            let what = format!("schedule setting `{key}`");
            cx.given_twice(&what, entry.key.span, *prev, None);
            continue;
        }
        seen.insert(key, entry.key.span);
        if STRATEGIES.contains(&key) {
            strategies.push(entry.key.span);
        }
        match key {
            "rolling" => rolling(cx, entry),
            "all_at_once" => block(cx, entry, &[]).map_or((), |_| ()),
            "order" => match &entry.value.kind {
                SchedValueKind::Ident(order) if ORDERS.contains(&order.as_str()) => {}
                SchedValueKind::Ident(order) => {
                    let help = did_you_mean(order, ORDERS.iter().copied());
                    cx.report(
                        codes::UNKNOWN_ORDER,
                        entry.value.span,
                        format!("unknown order `{order}`"),
                        |d| {
                            d.label("not an order")
                                .note(format!("orders are `{}`", ORDERS.join("`, `")))
                                .maybe_help(help)
                        },
                    );
                }
                _ => bad_value(cx, entry, "an order such as `node_id`"),
            },
            "healthy_for" | "timeout" => duration(cx, entry),
            "canary" => canary(cx, entry),
            "window" => window(cx, entry),
            "after" => {
                if !matches!(entry.value.kind, SchedValueKind::Str(_)) {
                    bad_value(cx, entry, "a quoted node-id pattern such as `\"db-*\"`");
                }
            }
            other => unknown_key(cx, &entry.key, other, TOP_KEYS, "schedule"),
        }
    }
    if strategies.len() != 1 {
        let span = strategies.get(1).copied().unwrap_or(first.span);
        let many = strategies.len() > 1;
        cx.report(codes::NO_STRATEGY, span, if many { "the schedule has more than one rollout strategy" } else { "the schedule has no rollout strategy" }, |d| {
            let d = d.label(if many { "a second strategy" } else { "no `rolling` or `all_at_once`" });
            let d = match strategies.first() {
                Some(s) if many => d.also(*s, "the first strategy"),
                _ => d,
            };
            d.help("give exactly one: `rolling { batch: 1, max_unavailable: 1 }` or `all_at_once { }`")
        });
    }
    against_each_other(cx, &first.entries);
}

/// Settings that are each well-formed but contradict each other. The schedule has no cluster
/// size, so `canary` cannot be compared with one; one node's upgrade takes at least
/// `healthy_for` (a node counts as done only after that long healthy), the one part of its
/// length the spec knows.
fn against_each_other(cx: &mut Cx, entries: &[SchedEntry]) {
    let find = |key: &str| entries.iter().find(|e| e.key.name == key);
    let duration_of = |key: &str| {
        find(key).and_then(|e| match e.value.kind {
            SchedValueKind::Duration(ms) if ms > 0 => Some((ms, e.value.span)),
            _ => None,
        })
    };
    let Some((healthy, healthy_span)) = duration_of("healthy_for") else {
        return;
    };
    if let Some((timeout, timeout_span)) = duration_of("timeout") {
        if timeout < healthy {
            let (t, h) = (format_ms(timeout), format_ms(healthy));
            let total = format_ms(timeout.saturating_add(healthy));
            cx.report(codes::TIMEOUT_SHORTER_THAN_HEALTH, timeout_span, format!("`timeout` ({t}) is shorter than `healthy_for` ({h})"), |d| {
                d.label("shorter than the health hold")
                    .also(healthy_span, "a node is done only after this long healthy")
                    .note(format!("the timeout counts only until a node runs the new version; the health hold comes after it, so one node may take up to {total}"))
                    .help(format!("to bound a node's whole upgrade, make `timeout` at least `healthy_for`: `timeout: {h}`"))
            });
        }
    }
    let window = find("window").and_then(|e| match &e.value.kind {
        SchedValueKind::Range(from, to) => Some((parse_hhmm(from)?, parse_hhmm(to)?, e.value.span)),
        _ => None,
    });
    if let Some((from, to, span)) = window.filter(|(from, to, _)| from != to) {
        let minutes = u64::from((to + 1440 - from) % 1440);
        if minutes.saturating_mul(60_000) < healthy {
            let (w, h) = (
                format_ms(minutes.saturating_mul(60_000)),
                format_ms(healthy),
            );
            cx.report(codes::WINDOW_SHORTER_THAN_UPGRADE, span, format!("the window ({w}) is shorter than one node's upgrade (`healthy_for` {h})"), |d| {
                d.label("no node can finish inside this window")
                    .also(healthy_span, "each node holds this long before it is done")
                    .note("the next batch starts only when the last one is done, so at most one batch starts per window and every node finishes outside it")
                    .help(format!("widen the window to at least {h}, or shorten `healthy_for`"))
            });
        }
    }
}

/// `90000` -> `90s`, `120000` -> `2m`: the largest unit that divides the duration.
fn format_ms(ms: u64) -> String {
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000)] {
        if ms.is_multiple_of(size) {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

fn unknown_key(cx: &mut Cx, key: &lang::ast::Ident, name: &str, known: &[&str], within: &str) {
    let help = did_you_mean(name, known.iter().copied());
    cx.report(
        codes::UNKNOWN_SCHEDULE_KEY,
        key.span,
        format!("unknown {within} setting `{name}`"),
        |d| {
            d.label("not a setting")
                .note(format!("settings are `{}`", known.join("`, `")))
                .maybe_help(help)
        },
    );
}

fn bad_value(cx: &mut Cx, entry: &SchedEntry, wanted: &str) {
    let key = entry.key.name.clone();
    cx.report(
        codes::BAD_SCHEDULE_VALUE,
        entry.value.span,
        format!("`{key}` needs {wanted}"),
        |d| d.label("a value of another kind"),
    );
}

fn block<'e>(cx: &mut Cx, entry: &'e SchedEntry, known: &[&str]) -> Option<&'e [SchedEntry]> {
    let SchedValueKind::Block(entries) = &entry.value.kind else {
        let key = entry.key.name.clone();
        cx.report(
            codes::BAD_SCHEDULE_VALUE,
            entry.value.span,
            format!("`{key}` needs a block of settings"),
            |d| {
                d.label("not a block")
                    .help(format!("write `{key} {{ ... }}`"))
            },
        );
        return None;
    };
    for inner in entries {
        if !known.contains(&inner.key.name.as_str()) {
            let name = inner.key.name.clone();
            unknown_key(
                cx,
                &inner.key,
                &name,
                known,
                &format!("`{}`", entry.key.name),
            );
        }
    }
    Some(entries)
}

fn rolling(cx: &mut Cx, entry: &SchedEntry) {
    let Some(entries) = block(cx, entry, ROLLING_KEYS) else {
        return;
    };
    for inner in entries
        .iter()
        .filter(|e| ROLLING_KEYS.contains(&e.key.name.as_str()))
    {
        positive_int(cx, inner, &inner.value);
    }
}

fn positive_int(cx: &mut Cx, entry: &SchedEntry, value: &SchedValue) {
    match value.kind {
        SchedValueKind::Int(0) => {
            let key = entry.key.name.clone();
            cx.report(
                codes::NONPOSITIVE_SCHEDULE,
                value.span,
                format!("`{key}` must be at least 1"),
                |d| d.label("zero would never upgrade a node"),
            );
        }
        SchedValueKind::Int(_) => {}
        _ => bad_value(cx, entry, "a whole number"),
    }
}

fn duration(cx: &mut Cx, entry: &SchedEntry) {
    match entry.value.kind {
        SchedValueKind::Duration(0) => {
            let key = entry.key.name.clone();
            cx.report(
                codes::NONPOSITIVE_SCHEDULE,
                entry.value.span,
                format!("`{key}` must be longer than zero"),
                |d| d.label("a zero duration"),
            );
        }
        SchedValueKind::Duration(_) => {}
        _ => bad_value(cx, entry, "a duration such as `30s`"),
    }
}

fn canary(cx: &mut Cx, entry: &SchedEntry) {
    match &entry.value.kind {
        SchedValueKind::Int(_) => positive_int(cx, entry, &entry.value),
        SchedValueKind::Then(count, action) => {
            positive_int(cx, entry, count);
            if !CANARY_ACTIONS.contains(&action.name.as_str()) {
                let help = did_you_mean(&action.name, CANARY_ACTIONS.iter().copied());
                cx.report(codes::UNKNOWN_CANARY_ACTION, action.span, format!("unknown canary action `{}`", action.name), |d| {
                    d.label("not an action")
                        .note("after the canary the rollout can `pause` (until `upstart resume`) or `continue`")
                        .maybe_help(help)
                });
            }
        }
        _ => bad_value(
            cx,
            entry,
            "a node count, optionally followed by `then pause`",
        ),
    }
}

fn window(cx: &mut Cx, entry: &SchedEntry) {
    let SchedValueKind::Range(from, to) = &entry.value.kind else {
        bad_value(cx, entry, "a time range such as `\"02:00\" .. \"04:00\"`");
        return;
    };
    for t in [from, to] {
        if parse_hhmm(t).is_none() {
            let t = t.clone();
            cx.report(
                codes::BAD_WINDOW,
                entry.value.span,
                format!("`{t}` is not a time of day"),
                |d| {
                    d.label("malformed window")
                        .help("write times as `HH:MM` in UTC, from `00:00` to `23:59`")
                },
            );
        }
    }
    if from == to && parse_hhmm(from).is_some() {
        cx.report(
            codes::BAD_WINDOW,
            entry.value.span,
            "the window is empty",
            |d| d.label("starts and ends at the same time"),
        );
    }
}

/// Minutes after midnight of `HH:MM`.
pub fn parse_hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}
