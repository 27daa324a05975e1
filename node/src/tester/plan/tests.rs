//! Plans: generation from a seed, their JSON, validation and the timeline.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
use super::*;

/// Plans over the chain 1 -> 2 -> 3 on one to seven nodes (the shrinker's tests use them too).
pub(crate) fn chain() -> PlanSettings {
    PlanSettings {
        versions: vec![1, 2, 3],
        nodes: (1, 7),
        ..PlanSettings::default()
    }
}

/// A plan of seed `seed` whose nodes upgrade one at a time in `order`, with `steps`.
pub(crate) fn by_hand(seed: u64, order: Vec<usize>, steps: Vec<Step>) -> Plan {
    let mut p = generate(seed, &chain());
    p.nodes = order.len();
    p.order = order;
    p.batch = 1;
    p.steps = steps;
    p
}

#[test]
fn the_same_seed_gives_the_same_plan_and_seeds_differ() {
    let s = chain();
    for seed in 0..200 {
        assert_eq!(generate(seed, &s), generate(seed, &s));
    }
    let distinct: std::collections::BTreeSet<String> =
        (0..50).map(|seed| generate(seed, &s).to_json()).collect();
    assert!(distinct.len() > 45, "{}", distinct.len());
}

#[test]
fn generated_plans_are_valid_and_cover_every_kind_of_step() {
    let s = chain();
    let mut kinds = std::collections::BTreeSet::new();
    let mut sizes = std::collections::BTreeSet::new();
    for seed in 0..500 {
        let p = generate(seed, &s);
        p.validate()
            .unwrap_or_else(|e| panic!("seed {seed}: {e}\n{p:?}"));
        sizes.insert(p.nodes);
        for step in &p.steps {
            let json = serde_json::to_value(step).unwrap();
            kinds.insert(json["step"].as_str().unwrap().to_string());
        }
        assert_eq!(p.first_version(), 1);
        assert!(p.final_version().is_some());
    }
    assert_eq!(sizes, (1..=7).collect());
    for k in [
        "hop",
        "kill_agent_at",
        "crash_program",
        "server_down",
        "pause",
        "resume",
        "wait",
        "await_rollout",
        "rollback",
    ] {
        assert!(kinds.contains(k), "no `{k}` in 500 plans: {kinds:?}");
    }
    // The default size is three nodes.
    assert!((0..50).all(|seed| generate(seed, &PlanSettings::default()).nodes == 3));
    // Without faults, none.
    let calm = PlanSettings {
        faults: false,
        ..chain()
    };
    assert!((0..200).all(|seed| generate(seed, &calm).counts().1 == 0));
}

#[test]
fn a_plan_round_trips_through_json_and_a_bad_one_is_refused() {
    let p = generate(42, &chain());
    assert_eq!(Plan::from_json(&p.to_json()).unwrap(), p);
    let mut bad = p.clone();
    bad.steps.insert(0, Step::CrashProgram { node: 9 });
    let e = Plan::from_json(&bad.to_json()).unwrap_err();
    assert!(e.contains("no node 9"), "{e}");
    let mut bad = p.clone();
    bad.steps.insert(0, Step::Hop { from: 2, to: 1 });
    assert!(Plan::from_json(&bad.to_json()).is_err());
    assert!(Plan::from_json("{}").unwrap_err().contains("not a plan"));
}

#[test]
fn the_final_version_follows_hops_and_the_rollback() {
    let mut p = generate(1, &chain());
    p.steps = vec![
        Step::Hop { from: 1, to: 2 },
        Step::AwaitRollout,
        Step::Hop { from: 2, to: 3 },
        Step::AwaitRollout,
    ];
    assert_eq!(p.final_version(), Some(3));
    p.steps.push(Step::Rollback);
    assert_eq!(p.final_version(), Some(2));
    p.validate().unwrap();
    p.steps.push(Step::AwaitRollout);
    assert!(p.validate().unwrap_err().contains("after the rollback"));
    // The hop before is rolled back next, then there is none left.
    p.steps.pop();
    p.steps.extend([Step::Wait { ms: 1 }, Step::Rollback]);
    p.validate().unwrap();
    assert_eq!(p.final_version(), Some(1));
    p.steps.push(Step::Rollback);
    assert!(p.validate().unwrap_err().contains("more hops"));
}

#[test]
fn earlier_hops_are_rolled_back_less_often_than_the_last() {
    let s = chain();
    let (mut last, mut earlier) = (0, 0);
    for seed in 0..2000 {
        let p = generate(seed, &s);
        let n = p.steps.iter().filter(|s| **s == Step::Rollback).count();
        let hops = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Hop { .. }))
            .count();
        assert!(n <= hops, "seed {seed}: {}", p.timeline());
        last += usize::from(n >= 1);
        earlier += usize::from(n >= 2);
        if n == 2 {
            assert_eq!(p.final_version(), Some(1), "{}", p.timeline());
        }
    }
    assert!(earlier > 20 && earlier * 2 < last, "{last} {earlier}");
}

#[test]
fn network_faults_come_during_rollouts_and_leave_the_rest_of_the_plan_alone() {
    let s = chain();
    let mut kinds = std::collections::BTreeSet::new();
    for seed in 0..500 {
        let p = generate(seed, &s);
        let calm = generate(
            seed,
            &PlanSettings {
                faults: false,
                ..chain()
            },
        );
        for (i, step) in p.steps.iter().enumerate() {
            if !step.is_network_fault() {
                continue;
            }
            kinds.insert(
                serde_json::to_value(step).unwrap()["step"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            // Between a hop and the wait for its rollout.
            let before = p.steps.get(..i).unwrap();
            let last = before
                .iter()
                .rposition(|s| matches!(s, Step::Hop { .. } | Step::AwaitRollout));
            assert!(
                matches!(last.map(|l| &p.steps[l]), Some(Step::Hop { .. })),
                "seed {seed}:\n{}",
                p.timeline()
            );
            if let Step::DelayRoute { node, peer, .. } | Step::CutRoute { node, peer, .. } = step {
                assert!(node != peer && *node < p.nodes && *peer < p.nodes);
            }
        }
        // The network faults come from their own stream, added to the plan as it was
        // before they existed.
        let mut without = p.clone();
        without.steps.retain(|s| !s.is_network_fault());
        network_faults(seed, without.nodes, &mut without.steps);
        assert_eq!(without, p);
        assert!(calm.steps.iter().all(|s| !s.is_network_fault()));
    }
    for k in ["delay_route", "cut_route", "idle_burst"] {
        assert!(kinds.contains(k), "no `{k}` in 500 plans: {kinds:?}");
    }
    // A route needs two nodes.
    let one = PlanSettings {
        nodes: (1, 1),
        ..chain()
    };
    assert!((0..200).all(|seed| !generate(seed, &one).steps.iter().any(Step::is_route_fault)));
}

#[test]
fn network_faults_round_trip_and_bad_ones_are_refused() {
    let p = by_hand(
        3,
        vec![1, 0],
        vec![
            Step::Hop { from: 1, to: 2 },
            Step::CutRoute {
                node: 0,
                peer: 1,
                ms: 1500,
            },
            Step::DelayRoute {
                node: 1,
                peer: 0,
                delay_ms: 200,
                ms: 1000,
            },
            Step::IdleBurst {
                node: 1,
                connections: 300,
                ms: 500,
            },
            Step::AwaitRollout,
        ],
    );
    assert_eq!(Plan::from_json(&p.to_json()).unwrap(), p);
    assert_eq!(p.counts(), (5, 3));
    let t = p.timeline();
    assert!(
        t.contains("cut: n2's route to n1 is cut for 1500 ms"),
        "{t}"
    );
    assert!(
        t.contains("delay: n1's route to n2 holds each frame 200 ms, for 1000 ms"),
        "{t}"
    );
    assert!(
        t.contains("idle burst: 300 idle connections to n1 for 500 ms"),
        "{t}"
    );
    for bad in [
        Step::CutRoute {
            node: 0,
            peer: 0,
            ms: 1,
        },
        Step::DelayRoute {
            node: 0,
            peer: 2,
            delay_ms: 1,
            ms: 1,
        },
        Step::IdleBurst {
            node: 5,
            connections: 1,
            ms: 1,
        },
    ] {
        let mut b = p.clone();
        b.steps.insert(1, bad);
        assert!(Plan::from_json(&b.to_json()).is_err());
    }
}

#[test]
fn the_timeline_names_nodes_in_upgrade_order_and_every_step() {
    let p = by_hand(
        3,
        vec![2, 0, 1],
        vec![
            Step::KillAgentAt {
                node: 2,
                point: "switched".into(),
            },
            Step::Hop { from: 1, to: 2 },
            Step::CrashProgram { node: 0 },
            Step::AwaitRollout,
        ],
    );
    let t = p.timeline();
    assert!(
        t.contains("n1's agent is killed (SIGKILL) at `switched`"),
        "{t}"
    );
    assert!(t.contains("SIGKILL of n2's program"), "{t}");
    assert!(t.contains("end: every node at version 2"), "{t}");
    assert_eq!(t.lines().count(), 6, "{t}");
}
