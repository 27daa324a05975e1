//! Shrinking a failing plan: smaller plans are tried one by one (fewer nodes, fewer steps and
//! faults, fewer calls and clients, smaller batches, shorter waits) and the first that still
//! fails the same way replaces the plan, until no smaller plan fails or the budget of runs is
//! spent. The result is a plan that fails the same oracle and from which no single step, node
//! or fault can be removed.

use super::plan::{Plan, Step};

/// Smaller plans than `plan`, the most promising first; every one is valid.
pub fn candidates(plan: &Plan) -> Vec<Plan> {
    let mut out = Vec::new();
    // Drop whole hops from the end (with the steps after them).
    if let Some(last_hop) = plan
        .steps
        .iter()
        .rposition(|s| matches!(s, Step::Hop { .. }))
    {
        if last_hop > 0 {
            let mut p = plan.clone();
            p.steps.truncate(last_hop);
            trim_tail(&mut p);
            out.push(p);
        }
    }
    // Remove one step (a pause with its resume).
    for (i, s) in plan.steps.iter().enumerate() {
        let mut p = plan.clone();
        match s {
            Step::Hop { .. } | Step::AwaitRollout => continue,
            Step::Pause => {
                let resume = p.steps.iter().skip(i).position(|s| *s == Step::Resume);
                if let Some(r) = resume {
                    p.steps.remove(i + r);
                }
                p.steps.remove(i);
            }
            Step::Resume => continue,
            _ => {
                p.steps.remove(i);
            }
        }
        out.push(p);
    }
    // One node fewer (each in turn), faults at it dropped.
    if plan.nodes > 1 {
        for gone in 0..plan.nodes {
            let mut p = plan.clone();
            p.nodes -= 1;
            p.order.retain(|&n| n != gone);
            for n in &mut p.order {
                if *n > gone {
                    *n -= 1;
                }
            }
            p.steps.retain(|s| !at_node(s, gone));
            for s in &mut p.steps {
                if let Step::KillAgentAt { node, .. } | Step::CrashProgram { node } = s {
                    if *node > gone {
                        *node -= 1;
                    }
                }
                renumber_network_fault(s, gone);
            }
            p.batch = p.batch.min(p.nodes);
            out.push(p);
        }
    }
    if plan.batch > 1 {
        let mut p = plan.clone();
        p.batch = 1;
        out.push(p);
    }
    // The first half of the sequential calls, or the second.
    if plan.calls > 0 {
        let mut p = plan.clone();
        p.calls /= 2;
        out.push(p);
        let mut p = plan.clone();
        p.skip += plan.calls / 2;
        p.calls -= plan.calls / 2;
        out.push(p);
    }
    if plan.concurrent > 0 {
        let mut p = plan.clone();
        p.concurrent = 0;
        out.push(p);
    }
    for i in 1..plan.clients.len() {
        let mut p = plan.clone();
        p.clients.remove(i);
        out.push(p);
    }
    // Shorter waits and outages.
    for (i, s) in plan.steps.iter().enumerate() {
        let shorter = match s {
            Step::Wait { ms } if *ms > 0 => Step::Wait { ms: ms / 2 },
            Step::ServerDown { ms } if *ms > 100 => Step::ServerDown { ms: ms / 2 },
            s if s.is_network_fault() => match smaller_network_fault(s) {
                Some(smaller) => smaller,
                None => continue,
            },
            _ => continue,
        };
        let mut p = plan.clone();
        if let Some(slot) = p.steps.get_mut(i) {
            *slot = shorter;
        }
        out.push(p);
    }
    out.retain(|p| p.validate().is_ok() && p != plan);
    out
}

/// Whether step `s` acts on node `node`.
fn at_node(s: &Step, node: usize) -> bool {
    matches!(s, Step::KillAgentAt { node: n, .. } | Step::CrashProgram { node: n } if *n == node)
        || network_fault_at(s, node)
}

/// Whether `s` is a network fault at node `node` (either end of a route).
fn network_fault_at(s: &Step, node: usize) -> bool {
    match s {
        Step::DelayRoute { node: n, peer, .. } | Step::CutRoute { node: n, peer, .. } => {
            *n == node || *peer == node
        }
        Step::IdleBurst { node: n, .. } => *n == node,
        _ => false,
    }
}

/// After node `gone` was removed: the nodes of a network fault after it move down one.
fn renumber_network_fault(s: &mut Step, gone: usize) {
    let down = |n: &mut usize| {
        if *n > gone {
            *n -= 1;
        }
    };
    match s {
        Step::DelayRoute { node, peer, .. } | Step::CutRoute { node, peer, .. } => {
            down(node);
            down(peer);
        }
        Step::IdleBurst { node, .. } => down(node),
        _ => {}
    }
}

/// A network fault made smaller: half as long, half the delay, half the connections (`None`
/// once it is small).
fn smaller_network_fault(s: &Step) -> Option<Step> {
    match s.clone() {
        Step::CutRoute { node, peer, ms } if ms > 100 => Some(Step::CutRoute {
            node,
            peer,
            ms: ms / 2,
        }),
        Step::DelayRoute {
            node,
            peer,
            delay_ms,
            ms,
        } if ms > 100 || delay_ms > 10 => Some(Step::DelayRoute {
            node,
            peer,
            delay_ms: if ms > 100 { delay_ms } else { delay_ms / 2 },
            ms: if ms > 100 { ms / 2 } else { ms },
        }),
        Step::IdleBurst {
            node,
            connections,
            ms,
        } if connections > 10 => Some(Step::IdleBurst {
            node,
            connections: connections / 2,
            ms,
        }),
        _ => None,
    }
}

/// After truncation: a rollout that was pushed is awaited, a pause is resumed.
fn trim_tail(p: &mut Plan) {
    while matches!(
        p.steps.last(),
        Some(Step::Wait { .. } | Step::KillAgentAt { .. })
    ) {
        p.steps.pop();
    }
}

/// What a shrink did.
#[derive(Debug, Clone)]
pub struct Shrunk {
    pub plan: Plan,
    /// Plans run while shrinking.
    pub runs: usize,
    /// Smaller plans that still failed (each replaced the plan).
    pub steps_taken: usize,
}

/// Shrinks `plan`, which fails: `fails(candidate)` runs a candidate and says whether it fails
/// the same way. At most `budget` candidates are run.
pub fn shrink(plan: &Plan, budget: usize, mut fails: impl FnMut(&Plan) -> bool) -> Shrunk {
    let mut current = plan.clone();
    let mut runs = 0;
    let mut taken = 0;
    'outer: while runs < budget {
        for c in candidates(&current) {
            if runs >= budget {
                break 'outer;
            }
            runs += 1;
            if fails(&c) {
                current = c;
                taken += 1;
                continue 'outer;
            }
        }
        break;
    }
    Shrunk {
        plan: current,
        runs,
        steps_taken: taken,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::tester::plan::generate;
    use crate::tester::plan::tests::{by_hand, chain as settings};

    /// The plans of seeds 0..400 that `buggy` finds failing, each shrunk (with a budget of 500
    /// runs) and checked by `check`; at least six of them.
    fn shrinks_each_failing(buggy: impl Fn(&Plan) -> bool + Copy, check: impl Fn(&Plan)) {
        let mut found = 0;
        for seed in 0..400 {
            let p = generate(seed, &settings());
            if !buggy(&p) {
                continue;
            }
            found += 1;
            let s = shrink(&p, 500, buggy);
            assert!(buggy(&s.plan));
            check(&s.plan);
        }
        assert!(found > 5, "{found}");
    }

    #[test]
    fn every_candidate_is_valid_and_smaller() {
        for seed in 0..300 {
            let p = generate(seed, &settings());
            let size = |p: &Plan| {
                (
                    p.steps.len() + p.nodes + p.calls + p.clients.len() + p.batch + p.concurrent,
                    p.to_json().len(),
                )
            };
            for c in candidates(&p) {
                c.validate().unwrap();
                let (a, b) = (size(&c), size(&p));
                assert!(
                    a.0 < b.0 || (a.0 == b.0 && a.1 <= b.1),
                    "seed {seed}:\n{}\n{}",
                    p.timeline(),
                    c.timeline()
                );
            }
        }
    }

    #[test]
    fn a_failure_that_needs_one_fault_shrinks_to_that_fault_alone() {
        // The "bug": a crash of a program during the hop to version 3, on any cluster.
        let buggy = |p: &Plan| {
            let mut to = 0;
            p.steps.iter().any(|s| {
                if let Step::Hop { to: t, .. } = s {
                    to = *t;
                }
                matches!(s, Step::CrashProgram { .. }) && to == 3
            })
        };
        shrinks_each_failing(buggy, |p| {
            assert_eq!(p.nodes, 1, "{}", p.timeline());
            assert_eq!(p.counts().1, 1, "{}", p.timeline());
            // Hop 1 -> 2, its await, hop 2 -> 3, the crash, its await.
            assert_eq!(p.steps.len(), 5, "{}", p.timeline());
            assert_eq!(
                (p.calls, p.batch, p.concurrent, p.clients.len()),
                (0, 1, 0, 1)
            );
        });
    }

    #[test]
    fn a_failure_that_needs_a_cut_route_shrinks_to_the_cut_between_two_nodes() {
        // The "bug": a peer route cut for at least a second, on any cluster.
        let buggy = |p: &Plan| {
            p.steps
                .iter()
                .any(|s| matches!(s, Step::CutRoute { ms, .. } if *ms >= 1000))
        };
        shrinks_each_failing(buggy, |p| {
            assert_eq!(p.nodes, 2, "{}", p.timeline());
            assert_eq!(p.counts().1, 1, "{}", p.timeline());
            // Hop 1 -> 2, the cut, its await (after hop 2 -> 3 and its await when the cut
            // came in that hop's rollout); the cut as short as still fails.
            assert!(matches!(p.steps.len(), 3 | 5), "{}", p.timeline());
            assert!(
                p.steps
                    .iter()
                    .any(|s| matches!(s, Step::CutRoute { ms, .. } if *ms < 2000)),
                "{}",
                p.timeline()
            );
        });
        // Shrinking renumbers the nodes of a route as nodes go.
        let p = by_hand(
            1,
            vec![0, 1, 2],
            vec![
                Step::Hop { from: 1, to: 2 },
                Step::CutRoute {
                    node: 2,
                    peer: 1,
                    ms: 1000,
                },
                Step::AwaitRollout,
            ],
        );
        let fewer: Vec<Plan> = candidates(&p)
            .into_iter()
            .filter(|c| c.nodes == 2)
            .collect();
        assert_eq!(fewer.len(), 3);
        assert!(fewer[0].steps.contains(&Step::CutRoute {
            node: 1,
            peer: 0,
            ms: 1000
        }));
        assert!(!fewer[1].steps.iter().any(Step::is_route_fault));
        assert!(!fewer[2].steps.iter().any(Step::is_route_fault));
    }

    #[test]
    fn the_budget_bounds_the_runs() {
        let p = generate(9, &settings());
        let s = shrink(&p, 3, |_| true);
        assert_eq!(s.runs, 3);
        let s = shrink(&p, 100, |_| false);
        assert_eq!(s.plan, p);
        assert_eq!(s.steps_taken, 0);
    }
}
