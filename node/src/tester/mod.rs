//! `upstart test`: random mixed-version plans with faults, run against a real cluster on
//! loopback, checked by oracles, failing plans shrunk and replayable.
//!
//! ```sh
//! upstart test specs/kv/kv-1-2.ups specs/kv/kv-2-3.ups \
//!     --program 1=target/debug/kv-v1 --program 2=target/debug/kv-v2 --program 3=target/debug/kv-v3 \
//!     --seed 7 --plans 5
//! ```
//!
//! - [`plan`]: plans generated from a seed, their timeline and JSON;
//! - [`workload`]: the calls (`upstartc workload`) and the client that makes them;
//! - [`runner`]: one plan against a fresh cluster;
//! - [`oracle`]: what a run must satisfy, each check named;
//! - [`shrink`]: a failing plan reduced to a smallest one failing the same oracle.

pub mod oracle;
pub mod plan;
mod rng;
pub mod runner;
pub mod shrink;
pub mod workload;

use crate::cli::{CliError, CliResult};
use plan::{generate, Plan, PlanSettings};
use runner::{spec_versions, Hop, Outcome, Setup};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The specs of the chain (`kv-1-2.ups kv-2-3.ups`).
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PathBuf>,
    /// The node program of a version, as `upstart node` runs it: `VERSION=PATH`. One for
    /// every version of the chain.
    #[arg(long = "program", value_name = "VERSION=PATH", value_parser = parse_program, required = true)]
    pub programs: Vec<(u64, PathBuf)>,
    /// The first plan's seed (default: from the clock, printed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How many plans, seeds `SEED`, `SEED+1`, ...
    #[arg(long, default_value_t = 1)]
    pub plans: u64,
    /// Run this saved plan (JSON, as `upstart test` saves them) instead of generating any.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["seed", "plans"])]
    pub plan: Option<PathBuf>,
    /// Cluster size: `N` or a range `A-B` (1 to 7) drawn from per plan.
    #[arg(long, default_value = "3", value_parser = parse_nodes)]
    pub nodes: (usize, usize),
    /// Calls of each sequential client (at most 128).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u16).range(0..=128))]
    pub calls: u16,
    /// Generate plans without faults.
    #[arg(long)]
    pub no_faults: bool,
    /// Only print the plans.
    #[arg(long)]
    pub dry_run: bool,
    /// Most plans run while shrinking one failure (0: do not shrink).
    #[arg(long, default_value_t = 40)]
    pub shrink_budget: usize,
    /// Where runs, logs and saved plans go (default: a new temporary directory, removed when
    /// every plan passed).
    #[arg(long, value_name = "DIR")]
    pub work: Option<PathBuf>,
    /// The `upstartc` to compile specs and derive the workload with (default: beside this
    /// program, else on `PATH`).
    #[arg(long, value_name = "PATH")]
    pub upstartc: Option<PathBuf>,
    /// Run node programs under this LD_PRELOAD library (`upstart node --preload`).
    #[arg(long, value_name = "LIB")]
    pub preload: Option<PathBuf>,
    /// `healthy_for` of the schedules compiled for the plans.
    #[arg(long, default_value = "1s")]
    pub healthy_for: String,
    /// Stop at the first failing plan (after shrinking it).
    #[arg(long)]
    pub stop_on_failure: bool,
    /// Keep the directories of plans that passed too (logs, states).
    #[arg(long)]
    pub keep: bool,
    /// One JSON object on stdout at the end (progress goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// A method that writes only the node it is called on (a peer-only method, like the kv
    /// example's `replicate`): the model oracles apply its writes to that node alone. Others'
    /// writes reach every node. Repeatable.
    #[arg(long = "local-method", value_name = "METHOD")]
    pub local_methods: Vec<String>,
}

fn parse_program(text: &str) -> Result<(u64, PathBuf), String> {
    let (v, p) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not `VERSION=PATH`"))?;
    let v = v
        .parse()
        .map_err(|_| format!("`{v}` is not a version number"))?;
    Ok((v, PathBuf::from(p)))
}

fn parse_nodes(text: &str) -> Result<(usize, usize), String> {
    let bad = || format!("`{text}` is not a cluster size from 1 to 7 (`3` or `1-7`)");
    let (a, b) = text.split_once('-').unwrap_or((text, text));
    let (a, b): (usize, usize) = (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
    if (1..=7).contains(&a) && (a..=7).contains(&b) {
        Ok((a, b))
    } else {
        Err(bad())
    }
}

/// One plan's result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct PlanReport {
    plan: Plan,
    outcome: Outcome,
    /// The smallest plan found failing the same oracle, and the runs it took.
    shrunk: Option<ShrunkReport>,
}

#[derive(Debug, Serialize)]
struct ShrunkReport {
    plan: Plan,
    runs: usize,
    seconds: f64,
    saved: PathBuf,
}

pub fn run(args: &Args) -> CliResult {
    let (work, temporary) = crate::cli::work_dir(args.work.as_deref(), "test")?;
    let work = work.canonicalize().unwrap_or(work);
    let mut out = Out { json: args.json };
    let (hops, system) = chain(&args.specs)?;
    let programs: BTreeMap<u64, PathBuf> = args.programs.iter().cloned().collect();
    let versions: Vec<u64> = {
        let mut v: Vec<u64> = hops.iter().map(|h| h.from).collect();
        v.extend(hops.last().map(|h| h.to));
        v
    };
    for v in &versions {
        match programs.get(v) {
            Some(p) if p.is_file() => {}
            Some(p) => {
                return Err(CliError(format!(
                    "the program of version {v}, `{}`, is not a file",
                    p.display()
                )))
            }
            None => {
                return Err(CliError(format!(
                    "no program for version {v}\n  help: add `--program {v}=PATH`"
                )))
            }
        }
    }
    let settings = PlanSettings {
        versions: versions.clone(),
        nodes: args.nodes,
        calls: usize::from(args.calls),
        faults: !args.no_faults,
    };
    let plans: Vec<Plan> = match &args.plan {
        Some(file) => {
            let text = std::fs::read_to_string(file)
                .map_err(|e| CliError(format!("cannot read `{}`: {e}", file.display())))?;
            vec![Plan::from_json(&text)
                .map_err(|e| CliError(format!("`{}`: {e}", file.display())))?]
        }
        None => {
            let seed = args.seed.unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs())
            });
            out.say(&format!(
                "upstart test: {} plan{} from seed {seed} (replay one with `--seed N --plans 1`)",
                args.plans,
                if args.plans == 1 { "" } else { "s" }
            ));
            (seed..seed.saturating_add(args.plans))
                .map(|s| generate(s, &settings))
                .collect()
        }
    };
    if args.dry_run {
        for p in &plans {
            out.say(&p.timeline());
        }
        return Ok(());
    }
    let upstart =
        std::env::current_exe().map_err(|e| CliError(format!("cannot find this program: {e}")))?;
    let upstartc = args.upstartc.clone().unwrap_or_else(|| {
        let beside = upstart.with_file_name("upstartc");
        if beside.is_file() {
            beside
        } else {
            PathBuf::from("upstartc")
        }
    });
    let ws = crate::demo::build::workspace();
    let first = |v: u64| programs.get(&v).cloned().unwrap_or_default();
    let tools = crate::demo::build::Tools {
        workspace: ws,
        kv_v1: first(versions.first().copied().unwrap_or(1)),
        kv_v2: first(versions.get(1).copied().unwrap_or(2)),
        upstartc: upstartc.clone(),
        preload: args.preload.clone().unwrap_or_default(),
    };
    let mut setup = Setup::new(
        upstart,
        tools,
        hops,
        programs,
        args.preload.clone(),
        system,
        work.clone(),
        args.healthy_for.clone(),
    );
    setup.local = args.local_methods.clone();
    out.say(&format!("work directory: {}", work.display()));
    let mut reports = Vec::new();
    let total = plans.len();
    for (k, plan) in plans.iter().enumerate() {
        out.say(&format!(
            "\n[{}/{total}] {}",
            k + 1,
            plan.timeline().trim_end()
        ));
        let outcome = run_one(&setup, plan, &mut out)?;
        let mut shrunk = None;
        if let Some(f) = outcome.failures.first() {
            for f in &outcome.failures {
                out.say(&format!("  FAILED {}: {}", f.oracle, f.detail));
            }
            out.say(&format!("  logs and states: {}", outcome.dir.display()));
            let saved = work.join(format!("failing-{}.json", plan.seed));
            let _ = std::fs::write(&saved, plan.to_json());
            out.say(&format!(
                "  saved: {} (replay with `--plan {}`)",
                saved.display(),
                saved.display()
            ));
            if args.shrink_budget > 0 {
                shrunk = Some(shrink_one(
                    &setup,
                    plan,
                    &f.oracle,
                    args.shrink_budget,
                    &mut out,
                )?);
            }
        } else {
            out.say(&format!(
                "  ok: {} calls ({} disallowed, {} resent) in {:.1} s{}{}",
                outcome.calls.ok + outcome.calls.disallowed,
                outcome.calls.disallowed,
                outcome.calls.resent,
                outcome.seconds,
                if outcome.differential {
                    ", differential checked"
                } else {
                    ""
                },
                if outcome.models {
                    ", models checked"
                } else {
                    ""
                }
            ));
            if !args.keep {
                let _ = std::fs::remove_dir_all(&outcome.dir);
            }
        }
        let failed = !outcome.passed();
        reports.push(PlanReport {
            plan: plan.clone(),
            outcome,
            shrunk,
        });
        if failed && args.stop_on_failure {
            break;
        }
    }
    let failed = reports.iter().filter(|r| !r.outcome.passed()).count();
    summary(&reports, &mut out);
    // A temporary work directory of plans that all passed holds nothing to look at (plugins,
    // removed run directories): it goes, as every temporary of the runs went.
    if temporary && failed == 0 && !args.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    if args.json {
        let json = serde_json::json!({ "plans": reports, "failed": failed });
        println!("{json}");
    }
    if failed > 0 {
        Err(CliError(format!(
            "{failed} of {} plans failed",
            reports.len()
        )))
    } else {
        Ok(())
    }
}

/// Progress for people: stdout, or stderr under `--json`.
struct Out {
    json: bool,
}

impl Out {
    fn say(&mut self, line: &str) {
        // A closed pipe (`| head`) is no reason to stop the run.
        if self.json {
            let _ = writeln!(std::io::stderr(), "{line}");
        } else {
            let mut out = std::io::stdout();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
    }
}

fn run_one(setup: &Setup, plan: &Plan, out: &mut Out) -> Result<Outcome, CliError> {
    let steps = plan.steps.len();
    let started = Instant::now();
    let mut progress = |i: usize, what: &str| {
        let done = i.min(steps);
        let bar: String = (0..steps.max(1))
            .map(|k| if k < done { '#' } else { '-' })
            .collect();
        out.say(&format!(
            "  [{bar}] {:>5.1} s  {i}/{steps} {what}",
            started.elapsed().as_secs_f64()
        ));
    };
    setup.run(plan, &mut progress).map_err(CliError)
}

fn shrink_one(
    setup: &Setup,
    plan: &Plan,
    oracle: &str,
    budget: usize,
    out: &mut Out,
) -> Result<ShrunkReport, CliError> {
    out.say(&format!(
        "  shrinking (the same oracle `{oracle}` must fail, at most {budget} runs)"
    ));
    let started = Instant::now();
    let mut errors = Vec::new();
    let s = shrink::shrink(plan, budget, |candidate| {
        let mut quiet = |_: usize, _: &str| {};
        match setup.run(candidate, &mut quiet) {
            Ok(o) => {
                let same = o.failures.iter().any(|f| f.oracle == oracle);
                out.say(&format!(
                    "    {} steps, {} nodes: {}",
                    candidate.steps.len(),
                    candidate.nodes,
                    if same { "still fails" } else { "passes" }
                ));
                if o.passed() {
                    let _ = std::fs::remove_dir_all(&o.dir);
                }
                same
            }
            Err(e) => {
                errors.push(e);
                false
            }
        }
    });
    let saved = setup.work.join(format!("shrunk-{}.json", plan.seed));
    let _ = std::fs::write(&saved, s.plan.to_json());
    out.say(&format!(
        "  shrunk in {} runs ({:.1} s) to:\n{}  saved: {} (replay with `--plan {}`)",
        s.runs,
        started.elapsed().as_secs_f64(),
        s.plan.timeline(),
        saved.display(),
        saved.display()
    ));
    for e in errors.iter().take(3) {
        out.say(&format!("    a candidate could not run: {e}"));
    }
    Ok(ShrunkReport {
        plan: s.plan,
        runs: s.runs,
        seconds: started.elapsed().as_secs_f64(),
        saved,
    })
}

fn summary(reports: &[PlanReport], out: &mut Out) {
    out.say("\nsummary");
    out.say("  seed          nodes  steps  faults  calls ok  disallowed  failed  resent  seconds  result");
    for r in reports {
        let (steps, faults) = r.plan.counts();
        let c = &r.outcome.calls;
        let result = match r.outcome.failures.first() {
            None => "ok".to_string(),
            Some(f) => match &r.shrunk {
                Some(s) => format!(
                    "FAILED {} (shrunk to {} steps, {} nodes)",
                    f.oracle,
                    s.plan.steps.len(),
                    s.plan.nodes
                ),
                None => format!("FAILED {}", f.oracle),
            },
        };
        out.say(&format!(
            "  {:<12}  {:>5}  {:>5}  {:>6}  {:>8}  {:>10}  {:>6}  {:>6}  {:>7.1}  {result}",
            r.plan.seed,
            r.plan.nodes,
            steps,
            faults,
            c.ok,
            c.disallowed,
            c.failed,
            c.resent,
            r.outcome.seconds
        ));
    }
}

/// The hops of `specs`, in chain order, and the system's name.
fn chain(specs: &[PathBuf]) -> Result<(Vec<Hop>, String), CliError> {
    let mut hops = Vec::new();
    let mut system = None;
    for path in specs {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError(format!("cannot read `{}`: {e}", path.display())))?;
        let (name, from, to) = spec_versions(&text).ok_or_else(|| {
            CliError(format!(
                "`{}` has no `upgrade NAME FROM -> TO` line",
                path.display()
            ))
        })?;
        if system.as_ref().is_some_and(|s| *s != name) {
            return Err(CliError(format!(
                "`{}` upgrades `{name}`, the other specs another system",
                path.display()
            )));
        }
        system = Some(name);
        let spec = path.canonicalize().unwrap_or_else(|_| path.clone());
        hops.push(Hop { from, to, spec });
    }
    hops.sort_by_key(|h| h.from);
    for pair in hops.windows(2) {
        if let [a, b] = pair {
            if a.to != b.from {
                return Err(CliError(format!(
                    "the specs do not form a chain: {} -> {} then {} -> {}",
                    a.from, a.to, b.from, b.to
                )));
            }
        }
    }
    Ok((hops, system.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn programs_and_sizes_parse() {
        assert_eq!(
            parse_program("2=bin/kv-v2").unwrap(),
            (2, PathBuf::from("bin/kv-v2"))
        );
        assert!(parse_program("kv-v2").unwrap_err().contains("VERSION=PATH"));
        assert_eq!(parse_nodes("3").unwrap(), (3, 3));
        assert_eq!(parse_nodes("1-7").unwrap(), (1, 7));
        assert!(parse_nodes("0").is_err());
        assert!(parse_nodes("5-2").is_err());
        assert!(parse_nodes("8").is_err());
    }

    #[test]
    fn specs_must_form_a_chain() {
        let root = crate::demo::build::workspace().join("specs").join("kv");
        let (hops, system) = chain(&[root.join("kv-2-3.ups"), root.join("kv-1-2.ups")]).unwrap();
        assert_eq!(system, "kv");
        assert_eq!(
            hops.iter().map(|h| (h.from, h.to)).collect::<Vec<_>>(),
            [(1, 2), (2, 3)]
        );
        let e = chain(&[root.join("kv-2-3.ups"), root.join("kv-2-3.ups")]).unwrap_err();
        assert!(e.0.contains("chain"), "{}", e.0);
    }
}
