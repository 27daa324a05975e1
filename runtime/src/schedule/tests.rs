//! The evaluator and settings, case by case: rolling batches and max unavailable, orders,
//! canaries, pause and resume, windows (also across midnight), `after`, `healthy_for`,
//! timeouts and failures.

use super::order::{glob_match, natural_cmp, shuffle_key, sort_ids};
use super::settings::{duration_ms, format_ms, hhmm};
use super::*;
use crate::api::{Phase, RolloutState};
use std::cmp::Ordering;

const MIN: u64 = 60_000;
/// 2023-11-14 22:13:20 UTC: minute 1333 of the day.
const T0: u64 = 1_700_000_000_000;

fn sched(entries: &[(&str, &str)]) -> Schedule {
    let entries: Vec<(String, String)> = entries
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Schedule::from_entries(&entries).unwrap()
}

/// A simulated cluster: nodes at version 1 upgrading to 2.
struct Sim {
    schedule: Schedule,
    state: RolloutState,
    canary_passed: bool,
    now: u64,
    nodes: Vec<SimNode>,
}

#[derive(Clone)]
struct SimNode {
    id: String,
    version: u64,
    phase: Phase,
    healthy: bool,
    last_seen: u64,
    healthy_since: Option<u64>,
    assigned: Option<Assignment>,
}

impl Sim {
    fn new(schedule: Schedule, ids: &[&str]) -> Sim {
        let nodes = ids
            .iter()
            .map(|id| SimNode {
                id: id.to_string(),
                version: 1,
                phase: Phase::Serving,
                healthy: true,
                last_seen: T0,
                healthy_since: None,
                assigned: None,
            })
            .collect();
        Sim {
            schedule,
            state: RolloutState::Running,
            canary_passed: false,
            now: T0,
            nodes,
        }
    }

    /// What the evaluator sees of the nodes.
    fn node_views(&self) -> Vec<NodeView<'_>> {
        self.nodes
            .iter()
            .map(|n| NodeView {
                id: &n.id,
                version: n.version,
                phase: n.phase,
                healthy: n.healthy,
                last_seen_ms: n.last_seen,
                healthy_since_ms: n.healthy_since,
                phase_since_ms: None,
                assigned: n.assigned,
            })
            .collect()
    }

    fn plan(&self) -> Plan {
        self.view().evaluate(&self.node_views())
    }

    /// Asserts that the plan says it waits for `why`.
    fn assert_waiting(&self, why: &str) {
        let waiting = self.plan().waiting;
        assert!(waiting.contains(why), "{waiting}");
    }

    fn view(&self) -> RolloutView<'_> {
        RolloutView {
            schedule: &self.schedule,
            state: self.state,
            from: 1,
            to: 2,
            canary_passed: self.canary_passed,
            seed: 7,
            now_ms: self.now,
            offline_after_ms: 30_000,
            after_elsewhere: Vec::new(),
        }
    }

    /// Evaluates and applies the plan as the server does; returns the started ids.
    fn step(&mut self) -> Vec<String> {
        let plan = self.plan();
        if plan.canary_passed {
            self.canary_passed = true;
        }
        if plan.pause.is_some() {
            self.state = RolloutState::Paused;
        }
        if plan.complete {
            self.state = RolloutState::Done;
        }
        for (id, batch) in &plan.start {
            let now = self.now;
            self.node(id).assigned = Some(Assignment {
                batch: *batch,
                at_ms: now,
            });
        }
        plan.start.into_iter().map(|(id, _)| id).collect()
    }

    fn node(&mut self, id: &str) -> &mut SimNode {
        self.nodes.iter_mut().find(|n| n.id == id).unwrap()
    }

    /// The node goes down, transforms, comes back upgraded and healthy.
    fn upgrade(&mut self, id: &str) {
        let now = self.now;
        let n = self.node(id);
        n.version = 2;
        n.phase = Phase::Upgraded;
        n.healthy_since = Some(now);
    }

    fn fail(&mut self, id: &str) {
        self.node(id).phase = Phase::Failed;
    }

    fn tick(&mut self, ms: u64) {
        self.now += ms;
        for n in &mut self.nodes {
            n.last_seen = self.now;
        }
    }
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

// ---- settings ----

#[test]
fn settings_from_the_design_example() {
    let s = sched(&[
        ("rolling.batch", "1"),
        ("rolling.max_unavailable", "1"),
        ("order", "node_id"),
        ("healthy_for", "5s"),
        ("canary", "1 then pause"),
    ]);
    assert_eq!(
        s.strategy,
        Strategy::Rolling {
            batch: 1,
            max_unavailable: 1
        }
    );
    assert_eq!(s.order, Order::NodeId);
    assert_eq!(s.healthy_for_ms, 5000);
    assert_eq!(
        s.canary,
        Some(Canary {
            count: 1,
            then_pause: true
        })
    );
    assert_eq!(
        s.describe(),
        "rolling batch 1, max unavailable 1; order node_id; healthy for 5s; canary 1 then pause"
    );
}

#[test]
fn settings_every_key() {
    let s = sched(&[
        ("all_at_once", ""),
        ("order", "random"),
        ("timeout", "2m"),
        ("window", "22:00..04:00"),
        ("after", "db-*"),
        ("canary", "2 then continue"),
    ]);
    assert_eq!(s.strategy, Strategy::AllAtOnce);
    assert_eq!(s.order, Order::Random);
    assert_eq!(s.timeout_ms, Some(120_000));
    assert_eq!(
        s.window,
        Some(Window {
            start_min: 22 * 60,
            end_min: 4 * 60
        })
    );
    assert_eq!(s.after.as_deref(), Some("db-*"));
    assert_eq!(
        s.canary,
        Some(Canary {
            count: 2,
            then_pause: false
        })
    );
}

#[test]
fn settings_defaults() {
    assert_eq!(sched(&[]), Schedule::default());
    let s = sched(&[("rolling.batch", "3")]);
    assert_eq!(
        s.strategy,
        Strategy::Rolling {
            batch: 3,
            max_unavailable: 3
        }
    );
    let s = sched(&[("rolling", ""), ("order", "reverse_node_id")]);
    assert_eq!(
        s.strategy,
        Strategy::Rolling {
            batch: 1,
            max_unavailable: 1
        }
    );
    assert_eq!(s.order, Order::ReverseNodeId);
}

#[test]
fn settings_refusals_name_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("rolling.batch", "0")],
            "schedule setting `rolling.batch` = `0`: needs a whole number of at least 1",
        ),
        (
            &[("order", "alphabetical")],
            "schedule setting `order` = `alphabetical`: orders are",
        ),
        (
            &[("healthy_for", "5 parsecs")],
            "`healthy_for` = `5 parsecs`: needs a duration",
        ),
        (
            &[("timeout", "0s")],
            "`timeout` = `0s`: needs a positive duration",
        ),
        (
            &[("canary", "1 then explode")],
            "`canary` = `1 then explode`",
        ),
        (&[("window", "02:00..02:00")], "`window` = `02:00..02:00`"),
        (&[("window", "25:00..02:00")], "`window` = `25:00..02:00`"),
        (&[("speed", "fast")], "`speed` = `fast`: unknown setting"),
        (
            &[("all_at_once", ""), ("rolling.batch", "1")],
            "one strategy",
        ),
        (&[("after", "")], "`after`"),
    ];
    for (entries, want) in cases {
        let entries: Vec<(String, String)> = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let e = Schedule::from_entries(&entries).unwrap_err().to_string();
        assert!(e.contains(want), "{want}: {e}");
    }
}

#[test]
fn durations_and_times() {
    assert_eq!(duration_ms("250ms"), Some(250));
    assert_eq!(duration_ms("5s"), Some(5000));
    assert_eq!(duration_ms("10m"), Some(600_000));
    assert_eq!(duration_ms("2h"), Some(7_200_000));
    assert_eq!(duration_ms("1d"), Some(86_400_000));
    assert_eq!(duration_ms("5"), None);
    assert_eq!(duration_ms("s"), None);
    assert_eq!(duration_ms("99999999999999999999d"), None);
    assert_eq!(format_ms(250), "250ms");
    assert_eq!(format_ms(5000), "5s");
    assert_eq!(format_ms(90_000), "1m30s");
    assert_eq!(format_ms(3_600_000), "1h");
    assert_eq!(format_ms(5_400_000), "1h30m");
    assert_eq!(hhmm("02:00"), Some(120));
    assert_eq!(hhmm("23:59"), Some(1439));
    assert_eq!(hhmm("24:00"), None);
    assert_eq!(hhmm("2:00"), None);
    assert_eq!(hhmm("+1:00"), None);
}

#[test]
fn windows_within_a_day_and_across_midnight() {
    let day = Window {
        start_min: 120,
        end_min: 240,
    };
    assert!(!day.contains(119));
    assert!(day.contains(120));
    assert!(day.contains(239));
    assert!(!day.contains(240));
    assert_eq!(day.opens_in(60), 60);
    assert_eq!(day.opens_in(300), 1440 - 300 + 120);
    let night = Window {
        start_min: 22 * 60,
        end_min: 2 * 60,
    };
    assert!(night.contains(23 * 60));
    assert!(night.contains(0));
    assert!(night.contains(119));
    assert!(!night.contains(120));
    assert!(!night.contains(21 * 60 + 59));
    assert_eq!(night.opens_in(21 * 60), 60);
    assert_eq!(night.to_string(), "22:00..02:00 UTC");
}

// ---- orders and globs ----

#[test]
fn natural_order_compares_numbers() {
    let mut v = vec!["n10", "n2", "n1", "m5", "n02"];
    sort_ids(&mut v, Order::NodeId, 0);
    assert_eq!(v, ["m5", "n1", "n02", "n2", "n10"]);
    sort_ids(&mut v, Order::ReverseNodeId, 0);
    assert_eq!(v, ["n10", "n2", "n02", "n1", "m5"]);
    assert_eq!(natural_cmp("a", "a1"), Ordering::Less);
    assert_eq!(natural_cmp("a9b", "a10a"), Ordering::Less);
}

#[test]
fn random_order_is_stable_per_seed_and_varies_between_seeds() {
    let base: Vec<String> = (0..50).map(|i| format!("node-{i}")).collect();
    let mut a: Vec<&str> = base.iter().map(String::as_str).collect();
    let mut b = a.clone();
    b.reverse();
    sort_ids(&mut a, Order::Random, 42);
    sort_ids(&mut b, Order::Random, 42);
    assert_eq!(
        a, b,
        "the same seed gives the same order whatever the input order"
    );
    let mut c: Vec<&str> = base.iter().map(String::as_str).collect();
    sort_ids(&mut c, Order::Random, 43);
    assert_ne!(a, c);
    let mut sorted = a.clone();
    sort_ids(&mut sorted, Order::NodeId, 0);
    assert_ne!(a, sorted, "a shuffle is not the natural order");
    assert_ne!(shuffle_key(1, "x"), shuffle_key(2, "x"));
}

#[test]
fn globs() {
    assert!(glob_match("db-*", "db-1"));
    assert!(glob_match("db-*", "db-"));
    assert!(!glob_match("db-*", "web-1"));
    assert!(glob_match("*-1", "web-1"));
    assert!(glob_match("n?", "n1"));
    assert!(!glob_match("n?", "n10"));
    assert!(glob_match("*", ""));
    assert!(glob_match("a*b*c", "axxbyyc"));
    assert!(!glob_match("a*b*c", "axxbyy"));
    assert!(glob_match("exact", "exact"));
}

// ---- evaluation ----

#[test]
fn rolling_one_at_a_time_in_order() {
    let mut sim = Sim::new(sched(&[("rolling.batch", "1")]), &["n3", "n1", "n2"]);
    assert_eq!(sim.step(), ids(&["n1"]));
    assert_eq!(sim.step(), Vec::<String>::new(), "batch full");
    sim.assert_waiting("batch 0: waiting for `n1`");
    sim.upgrade("n1");
    assert_eq!(sim.step(), ids(&["n2"]));
    sim.upgrade("n2");
    assert_eq!(sim.step(), ids(&["n3"]));
    sim.upgrade("n3");
    let plan = sim.plan();
    assert!(plan.complete);
    assert_eq!(plan.progress.done, 3);
    sim.step();
    assert_eq!(sim.state, RolloutState::Done);
}

#[test]
fn reverse_order() {
    let mut sim = Sim::new(sched(&[("order", "reverse_node_id")]), &["n1", "n2", "n10"]);
    assert_eq!(sim.step(), ids(&["n10"]));
}

#[test]
fn batches_are_strict_and_max_unavailable_caps_them() {
    let mut sim = Sim::new(
        sched(&[("rolling.batch", "2"), ("rolling.max_unavailable", "1")]),
        &["a", "b", "c", "d"],
    );
    assert_eq!(sim.step(), ids(&["a"]), "one at a time: max unavailable 1");
    sim.node("a").phase = Phase::Draining;
    assert_eq!(sim.step(), Vec::<String>::new());
    sim.assert_waiting("1 node(s) unavailable");
    sim.upgrade("a");
    assert_eq!(
        sim.step(),
        ids(&["b"]),
        "a is available again: b joins batch 0"
    );
    assert_eq!(sim.node("b").assigned.unwrap().batch, 0);
    assert_eq!(
        sim.step(),
        Vec::<String>::new(),
        "batch 0 is full until a and b are done"
    );
    sim.upgrade("b");
    assert_eq!(sim.step(), ids(&["c"]));
    assert_eq!(sim.node("c").assigned.unwrap().batch, 1);
}

#[test]
fn batch_of_two_starts_two() {
    let mut sim = Sim::new(
        sched(&[("rolling.batch", "2"), ("rolling.max_unavailable", "2")]),
        &["a", "b", "c"],
    );
    assert_eq!(sim.step(), ids(&["a", "b"]));
    sim.upgrade("a");
    assert_eq!(sim.step(), Vec::<String>::new(), "b is not done yet");
    sim.upgrade("b");
    assert_eq!(sim.step(), ids(&["c"]));
}

/// Nodes `a` and `b` under `healthy_for 5s`, `a` just upgraded.
fn a_of_two_upgraded_healthy_for_5s() -> Sim {
    let mut sim = Sim::new(sched(&[("healthy_for", "5s")]), &["a", "b"]);
    sim.step();
    sim.upgrade("a");
    sim
}

#[test]
fn healthy_for_delays_done() {
    let mut sim = a_of_two_upgraded_healthy_for_5s();
    sim.tick(4_999);
    assert_eq!(sim.step(), Vec::<String>::new());
    sim.assert_waiting("(healthy for 5s)");
    sim.tick(1);
    assert_eq!(sim.step(), ids(&["b"]));
}

#[test]
fn unhealthy_upgraded_node_is_not_done() {
    let mut sim = a_of_two_upgraded_healthy_for_5s();
    sim.tick(10_000);
    sim.node("a").healthy = false;
    assert_eq!(sim.step(), Vec::<String>::new());
    assert_eq!(sim.plan().progress.in_flight, 1);
}

#[test]
fn all_at_once_starts_everyone() {
    let mut sim = Sim::new(sched(&[("all_at_once", "")]), &["a", "b", "c"]);
    assert_eq!(sim.step(), ids(&["a", "b", "c"]));
}

#[test]
fn canary_then_pause_then_resume() {
    let mut sim = Sim::new(
        sched(&[
            ("rolling.batch", "2"),
            ("rolling.max_unavailable", "2"),
            ("canary", "1 then pause"),
            ("healthy_for", "5s"),
        ]),
        &["a", "b", "c", "d"],
    );
    assert_eq!(sim.step(), ids(&["a"]), "the canary goes alone");
    assert_eq!(sim.step(), Vec::<String>::new());
    sim.upgrade("a");
    sim.tick(5_000);
    let plan = sim.plan();
    assert!(plan.canary_passed);
    assert!(
        plan.pause
            .as_deref()
            .unwrap()
            .starts_with("the canary (`a`) is healthy"),
        "{plan:?}"
    );
    assert!(plan.start.is_empty());
    sim.step();
    assert_eq!(sim.state, RolloutState::Paused);
    assert_eq!(sim.step(), Vec::<String>::new(), "paused: nothing starts");
    sim.assert_waiting("upstart resume");
    sim.state = RolloutState::Running;
    assert_eq!(sim.step(), ids(&["b", "c"]), "after resume: a batch of 2");
    assert_eq!(sim.node("b").assigned.unwrap().batch, 1);
}

#[test]
fn canary_then_continue_does_not_pause() {
    let mut sim = Sim::new(
        sched(&[
            ("canary", "2"),
            ("rolling.batch", "1"),
            ("rolling.max_unavailable", "2"),
        ]),
        &["a", "b", "c"],
    );
    assert_eq!(sim.step(), ids(&["a", "b"]));
    sim.upgrade("a");
    sim.upgrade("b");
    let plan = sim.plan();
    assert!(plan.canary_passed && plan.pause.is_none());
    assert_eq!(sim.step(), ids(&["c"]));
}

#[test]
fn a_failed_node_pauses_the_rollout() {
    let mut sim = Sim::new(sched(&[]), &["a", "b"]);
    sim.step();
    sim.fail("a");
    let plan = sim.plan();
    assert_eq!(plan.pause.as_deref(), Some("node `a` failed to upgrade"));
    assert_eq!(plan.progress.failed, 1);
    sim.step();
    assert_eq!(sim.state, RolloutState::Paused);
    // The server clears the failed node's assignment on resume: it is retried.
    sim.state = RolloutState::Running;
    sim.node("a").assigned = None;
    sim.node("a").phase = Phase::Serving;
    assert_eq!(sim.step(), ids(&["a"]));
}

#[test]
fn a_rolled_back_node_counts_as_failed() {
    let mut sim = Sim::new(sched(&[]), &["a"]);
    sim.step();
    sim.node("a").phase = Phase::RolledBack;
    assert!(sim.plan().pause.is_some());
}

#[test]
fn timeout_fails_a_slow_node() {
    let mut sim = Sim::new(sched(&[("timeout", "2m")]), &["a", "b"]);
    sim.step();
    sim.node("a").phase = Phase::Transforming;
    sim.tick(2 * MIN);
    assert!(
        sim.plan().pause.is_none(),
        "exactly the timeout is still in time"
    );
    sim.tick(1);
    assert_eq!(
        sim.plan().pause.as_deref(),
        Some("node `a` was not upgraded within the timeout of 2m")
    );
}

#[test]
fn window_holds_new_starts_but_not_the_current_batch_members() {
    // T0 is 22:13 UTC.
    let mut sim = Sim::new(
        sched(&[("window", "02:00..04:00"), ("rolling.batch", "1")]),
        &["a", "b"],
    );
    assert_eq!(sim.step(), Vec::<String>::new());
    assert!(
        sim.plan()
            .waiting
            .contains("outside the window 02:00..04:00 UTC: it opens in 3h47m"),
        "{}",
        sim.plan().waiting
    );
    sim.tick(3 * 60 * MIN + 47 * MIN);
    assert_eq!(sim.step(), ids(&["a"]));
    sim.tick(2 * 60 * MIN);
    sim.upgrade("a");
    assert_eq!(
        sim.step(),
        Vec::<String>::new(),
        "the window closed at 04:00"
    );
}

#[test]
fn window_across_midnight() {
    let mut sim = Sim::new(sched(&[("window", "22:00..02:00")]), &["a"]);
    assert_eq!(sim.step(), ids(&["a"]), "22:13 is inside 22:00..02:00");
}

#[test]
fn after_lets_matching_nodes_go_first() {
    let mut sim = Sim::new(
        sched(&[("after", "db-*"), ("rolling.batch", "1")]),
        &["app-1", "db-2", "db-1"],
    );
    assert_eq!(sim.step(), ids(&["db-1"]));
    sim.upgrade("db-1");
    assert_eq!(sim.step(), ids(&["db-2"]));
    sim.assert_waiting("batch 1");
    sim.upgrade("db-2");
    assert_eq!(sim.step(), ids(&["app-1"]));
}

#[test]
fn after_waits_for_nodes_of_other_rollouts() {
    let sim = Sim::new(sched(&[("after", "db-*")]), &["app-1"]);
    let mut view = sim.view();
    view.after_elsewhere = vec!["db-1"];
    let n = &sim.nodes[0];
    let nodes = [NodeView {
        id: &n.id,
        version: 1,
        phase: Phase::Serving,
        healthy: true,
        last_seen_ms: T0,
        healthy_since_ms: None,
        phase_since_ms: None,
        assigned: None,
    }];
    let plan = view.evaluate(&nodes);
    assert!(plan.start.is_empty());
    assert_eq!(
        plan.waiting,
        "waiting for the nodes matching `db-*` to be done"
    );
}

#[test]
fn offline_and_unhealthy_nodes_are_skipped_and_count_as_unavailable() {
    let mut sim = Sim::new(
        sched(&[("rolling.batch", "2"), ("rolling.max_unavailable", "2")]),
        &["a", "b", "c"],
    );
    sim.node("a").last_seen = T0 - 31_000;
    sim.node("b").healthy = false;
    assert_eq!(sim.step(), Vec::<String>::new(), "two unavailable: no room");
    sim.node("b").healthy = true;
    assert_eq!(sim.step(), ids(&["b"]), "a is offline, c waits for room");
}

#[test]
fn pending_but_all_unreachable_says_so() {
    let mut sim = Sim::new(sched(&[("rolling.max_unavailable", "5")]), &["a"]);
    sim.node("a").healthy = false;
    assert_eq!(sim.step(), Vec::<String>::new());
    assert_eq!(
        sim.plan().waiting,
        "1 pending node(s) are offline or unhealthy"
    );
}

#[test]
fn no_nodes_never_completes() {
    let sim = Sim::new(sched(&[]), &[]);
    let plan = sim.plan();
    assert!(!plan.complete);
    assert_eq!(plan.waiting, "no node at version 1 has registered");
}

#[test]
fn nodes_already_at_the_target_count_when_healthy() {
    let mut sim = Sim::new(sched(&[]), &["a", "b"]);
    sim.upgrade("b");
    assert_eq!(sim.plan().progress.done, 1);
    assert_eq!(sim.step(), ids(&["a"]));
}

#[test]
fn a_node_upgrading_unassigned_is_in_flight() {
    let mut sim = Sim::new(sched(&[]), &["a", "b"]);
    sim.node("a").phase = Phase::Transforming;
    let plan = sim.plan();
    assert_eq!(plan.progress.in_flight, 1);
    assert!(
        plan.start.is_empty(),
        "a is down: max unavailable 1 is reached"
    );
}

#[test]
fn not_running_states_start_nothing() {
    for state in [
        RolloutState::Pending,
        RolloutState::Paused,
        RolloutState::RolledBack,
    ] {
        let mut sim = Sim::new(sched(&[]), &["a"]);
        sim.state = state;
        assert!(sim.plan().start.is_empty(), "{state}");
    }
}

#[test]
fn random_order_follows_the_seed() {
    let names: Vec<String> = (0..20).map(|i| format!("n{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut sim = Sim::new(sched(&[("order", "random")]), &refs);
    let first = sim.step();
    let mut expected = refs.clone();
    sort_ids(&mut expected, Order::Random, 7);
    assert_eq!(first, ids(&expected[..1]));
}

#[test]
fn ten_thousand_nodes_evaluate_quickly() {
    let names: Vec<String> = (0..10_000).map(|i| format!("node-{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut sim = Sim::new(
        sched(&[("rolling.batch", "100"), ("rolling.max_unavailable", "100")]),
        &refs,
    );
    assert_eq!(sim.step().len(), 100);
    let plan = sim.plan();
    assert_eq!(plan.progress.total, 10_000);
    assert_eq!(plan.progress.in_flight, 100);
}

#[test]
fn a_rollback_goes_back_paced_and_in_reverse_order() {
    let mut sim = Sim::new(
        sched(&[("rolling.batch", "1"), ("rolling.max_unavailable", "1")]),
        &["n1", "n2", "n3"],
    );
    for n in &mut sim.nodes {
        n.version = 2;
        n.phase = Phase::Upgraded;
    }
    sim.state = RolloutState::RolledBack;
    let now = |sim: &Sim, going: &[&str]| sim.view().rollback_now(&sim.node_views(), going);
    // One at a time, the last upgraded first.
    assert_eq!(now(&sim, &[]), ["n3"]);
    // Sent back, still on its way: no one else goes.
    sim.nodes[2].phase = Phase::Draining;
    sim.nodes[2].healthy = false;
    assert_eq!(now(&sim, &["n3"]), ["n3"]);
    // Back at version 1 and serving: the next one goes.
    sim.nodes[2].version = 1;
    sim.nodes[2].phase = Phase::RolledBack;
    sim.nodes[2].healthy = true;
    assert_eq!(now(&sim, &["n3"]), ["n2"]);
    // A node that is down goes back at once (it is unavailable anyway) and holds the others.
    sim.nodes[0].healthy = false;
    assert_eq!(now(&sim, &[]), ["n1"]);
}
