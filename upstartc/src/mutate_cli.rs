//! `upstartc mutate FILE... [--seed N] [--cases N] [--json] [--fail-under PCT]`: the file IO
//! around [`compiler::mutate`]. Each spec is mutated and verified alone; the table of each
//! (per rule: mutants, killed, survived, kill rate; then the survivors) and the total go to
//! stdout, or with `--json` one object with every report and the totals.
//!
//! Exit codes: 0 done (and the total kill rate is at least `--fail-under`); 1 a spec does not
//! check or fails `verify` itself, or the kill rate is under `--fail-under`; 2 a file could
//! not be read.

use crate::{out, say};
use compiler::mutate::{mutate, MutateOptions, MutationReport};
use std::path::PathBuf;
use std::process::ExitCode;

/// Mutation-tests `files` with `options`; `fail_under`: the least total kill rate (percent).
pub fn run(
    files: &[PathBuf],
    options: &MutateOptions,
    json: bool,
    fail_under: Option<f64>,
) -> ExitCode {
    let mut reports: Vec<MutationReport> = Vec::new();
    for path in files {
        let text = match crate::input::read_spec(path) {
            Ok(t) => t,
            Err(e) => {
                say!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let name = path.display().to_string();
        match mutate(&name, &text, options) {
            Ok(report) => {
                if !json {
                    out!("{report}\n");
                }
                reports.push(report);
            }
            Err(e) => {
                say!(
                    "error: cannot mutate `{name}`: {e}\n\nhelp: `upstartc verify {name}` shows why"
                );
                return ExitCode::from(1);
            }
        }
    }
    let killed: usize = reports.iter().map(MutationReport::killed).sum();
    let total: usize = reports.iter().map(MutationReport::total).sum();
    let rate = compiler::mutate::rate(killed, total);
    let (sim_killed, sim_total) = reports
        .iter()
        .map(MutationReport::simulated)
        .fold((0, 0), |(k, t), (k2, t2)| (k + k2, t + t2));
    let sim_rate = compiler::mutate::rate(sim_killed, sim_total);
    if json {
        let value = serde_json::json!({
            "specs": reports.iter().map(MutationReport::to_json).collect::<Vec<_>>(),
            "killed": killed,
            "total": total,
            "kill_rate": rate,
            "simulated_killed": sim_killed,
            "simulated_total": sim_total,
            "simulated_kill_rate": sim_rate,
        });
        out!("{value}");
    } else {
        out!(
            "total: {killed} of {total} mutants killed ({rate:.1}%); in the rules verify simulates \
             with their answers compared: {sim_killed} of {sim_total} ({sim_rate:.1}%)"
        );
    }
    match fail_under {
        Some(least) if rate < least => {
            say!("error: the kill rate {rate:.1}% is under `--fail-under {least}`");
            ExitCode::from(1)
        }
        _ => ExitCode::SUCCESS,
    }
}
