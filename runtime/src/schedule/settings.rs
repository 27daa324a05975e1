//! The schedule's settings, parsed from the key/value text a plugin's manifest (and so a
//! bundle's) carries: `rolling.batch` -> `1`, `order` -> `node_id`, `healthy_for` -> `5s`,
//! `canary` -> `1 then pause`, `window` -> `02:00..04:00`, `after` -> `db-*`, `timeout` -> `2m`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A rollout strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Batches of `batch` nodes, each batch done before the next starts, at most
    /// `max_unavailable` nodes down at a time.
    Rolling { batch: u32, max_unavailable: u32 },
    /// Every node at once (after the canary, if any).
    AllAtOnce,
}

/// The order nodes upgrade in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// By node id, digit runs compared as numbers (`n2` before `n10`).
    NodeId,
    /// The reverse of `node_id`.
    ReverseNodeId,
    /// Shuffled by the rollout's seed: stable for one rollout, different between rollouts.
    Random,
}

/// `canary: N` or `canary: N then pause|continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    pub count: u32,
    /// Pause the rollout once the canary nodes are done, until `upstart resume`.
    pub then_pause: bool,
}

/// A daily UTC window, in minutes after midnight; `start > end` crosses midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start_min: u32,
    pub end_min: u32,
}

impl Window {
    /// Whether `minute` (after midnight) is inside: `[start, end)`, wrapping at midnight.
    pub fn contains(&self, minute: u32) -> bool {
        if self.start_min <= self.end_min {
            self.start_min <= minute && minute < self.end_min
        } else {
            minute >= self.start_min || minute < self.end_min
        }
    }

    /// Minutes from `minute` until the window opens (0 when inside).
    pub fn opens_in(&self, minute: u32) -> u32 {
        if self.contains(minute) {
            0
        } else {
            (self.start_min + 1440 - minute) % 1440
        }
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}..{} UTC", hm(self.start_min), hm(self.end_min))
    }
}

/// A whole schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub strategy: Strategy,
    pub order: Order,
    /// How long an upgraded node must stay healthy before it counts as done, in ms.
    pub healthy_for_ms: u64,
    /// How long a node may take from being told to upgrade to being upgraded, in ms.
    pub timeout_ms: Option<u64>,
    pub canary: Option<Canary>,
    pub window: Option<Window>,
    /// Nodes not matching this glob wait until the nodes matching it are done.
    pub after: Option<String>,
}

impl Default for Schedule {
    /// One node at a time, in node id order, done as soon as it is upgraded and healthy.
    fn default() -> Schedule {
        Schedule {
            strategy: Strategy::Rolling {
                batch: 1,
                max_unavailable: 1,
            },
            order: Order::NodeId,
            healthy_for_ms: 0,
            timeout_ms: None,
            canary: None,
            window: None,
            after: None,
        }
    }
}

/// A schedule setting this runtime cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleError {
    pub key: String,
    pub value: String,
    pub reason: String,
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "schedule setting `{}` = `{}`: {}",
            self.key, self.value, self.reason
        )
    }
}

impl std::error::Error for ScheduleError {}

impl Schedule {
    /// Parses the manifest's entries. Missing settings take their defaults (`rolling` with
    /// batch 1; `max_unavailable` defaults to the batch size). Unknown keys are refused.
    pub fn from_entries(entries: &[(String, String)]) -> Result<Schedule, ScheduleError> {
        let mut s = Schedule::default();
        let mut batch = None;
        let mut max_unavailable = None;
        let mut rolling_block = false;
        for (key, value) in entries {
            let err = |reason: &str| ScheduleError {
                key: key.clone(),
                value: value.clone(),
                reason: reason.to_string(),
            };
            let v = value.trim();
            match key.as_str() {
                "rolling" => rolling_block = true,
                "rolling.batch" => batch = Some(positive(v).ok_or_else(|| err("needs a whole number of at least 1"))?),
                "rolling.max_unavailable" => {
                    max_unavailable = Some(positive(v).ok_or_else(|| err("needs a whole number of at least 1"))?)
                }
                "all_at_once" => {
                    s.strategy = Strategy::AllAtOnce;
                }
                "order" => {
                    s.order = match v {
                        "node_id" => Order::NodeId,
                        "reverse_node_id" => Order::ReverseNodeId,
                        "random" => Order::Random,
                        _ => return Err(err("orders are `node_id`, `reverse_node_id`, `random`")),
                    }
                }
                "healthy_for" => s.healthy_for_ms = duration_ms(v).ok_or_else(|| err("needs a duration such as `5s`"))?,
                "timeout" => {
                    let ms = duration_ms(v).filter(|ms| *ms > 0).ok_or_else(|| err("needs a positive duration such as `2m`"))?;
                    s.timeout_ms = Some(ms);
                }
                "canary" => s.canary = Some(canary(v).ok_or_else(|| err("needs a node count, optionally `then pause` or `then continue`"))?),
                "window" => s.window = Some(window(v).ok_or_else(|| err("needs a UTC time range such as `02:00..04:00`"))?),
                "after" => {
                    if v.is_empty() {
                        return Err(err("needs a node-id pattern such as `db-*`"));
                    }
                    s.after = Some(v.to_string());
                }
                _ => return Err(err("unknown setting; settings are `rolling`, `all_at_once`, `order`, `healthy_for`, `timeout`, `canary`, `window`, `after`")),
            }
        }
        let rolling = rolling_block || batch.is_some() || max_unavailable.is_some();
        if rolling && s.strategy == Strategy::AllAtOnce {
            return Err(ScheduleError {
                key: "all_at_once".into(),
                value: String::new(),
                reason: "a schedule has one strategy, but this one also sets `rolling`".into(),
            });
        }
        if s.strategy != Strategy::AllAtOnce {
            let batch = batch.unwrap_or(1);
            s.strategy = Strategy::Rolling {
                batch,
                max_unavailable: max_unavailable.unwrap_or(batch),
            };
        }
        Ok(s)
    }

    /// One line for people: `rolling batch 1, max unavailable 1; order node_id; ...`.
    pub fn describe(&self) -> String {
        let mut parts = vec![match self.strategy {
            Strategy::Rolling {
                batch,
                max_unavailable,
            } => format!("rolling batch {batch}, max unavailable {max_unavailable}"),
            Strategy::AllAtOnce => "all at once".to_string(),
        }];
        parts.push(format!(
            "order {}",
            match self.order {
                Order::NodeId => "node_id",
                Order::ReverseNodeId => "reverse_node_id",
                Order::Random => "random",
            }
        ));
        if self.healthy_for_ms > 0 {
            parts.push(format!("healthy for {}", format_ms(self.healthy_for_ms)));
        }
        if let Some(c) = self.canary {
            parts.push(format!(
                "canary {}{}",
                c.count,
                if c.then_pause { " then pause" } else { "" }
            ));
        }
        if let Some(w) = self.window {
            parts.push(format!("window {w}"));
        }
        if let Some(a) = &self.after {
            parts.push(format!("after `{a}`"));
        }
        if let Some(t) = self.timeout_ms {
            parts.push(format!("timeout {}", format_ms(t)));
        }
        parts.join("; ")
    }
}

fn positive(v: &str) -> Option<u32> {
    v.parse::<u32>().ok().filter(|n| *n >= 1)
}

/// `250ms`, `5s`, `10m`, `2h`, `1d` in milliseconds.
pub fn duration_ms(v: &str) -> Option<u64> {
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

/// A duration for people: `5s`, `2m`, `1h30m`, `250ms`.
pub fn format_ms(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let s = ms / 1000;
    match (s / 3600, (s % 3600) / 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

fn canary(v: &str) -> Option<Canary> {
    let (count, then) = match v.split_once(" then ") {
        Some((c, action)) => (c.trim(), Some(action.trim())),
        None => (v, None),
    };
    let count = positive(count)?;
    let then_pause = match then {
        None | Some("continue") => false,
        Some("pause") => true,
        Some(_) => return None,
    };
    Some(Canary { count, then_pause })
}

fn window(v: &str) -> Option<Window> {
    let (a, b) = v.split_once("..")?;
    let w = Window {
        start_min: hhmm(a.trim().trim_matches('"'))?,
        end_min: hhmm(b.trim().trim_matches('"'))?,
    };
    (w.start_min != w.end_min).then_some(w)
}

/// Minutes after midnight of `HH:MM`.
pub fn hhmm(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}
