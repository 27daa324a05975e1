//! `upstart node --cpus LIST`: the agent (every thread, its shim's included) and the node
//! program it starts run on those CPUs only, so that a translated call's hand-overs between
//! the shim and the program stay on one CPU (BENCHMARKS.md, "Translated path").
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

mod support;

use support::Cluster;

/// `Cpus_allowed_list` and `PPid` of every thread of process `pid`.
fn threads_of(pid: u32) -> Vec<(String, u32)> {
    let mut seen = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let status = std::fs::read_to_string(task.unwrap().path().join("status")).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap()
                .trim()
                .to_string()
        };
        seen.push((field("Cpus_allowed_list:"), field("PPid:").parse().unwrap()));
    }
    seen
}

#[test]
fn the_agent_and_its_program_run_on_the_cpus_given() {
    let all = shim::CpuList::current().unwrap();
    // The last CPU the tests may use: a change wherever they may use more than one.
    let cpu = all.cpus().last().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let mut c = Cluster::start(dir.path(), 1, &["--cpus", &cpu]);
    let pid = support::program_pids(&c.agents[0].lines())[0];
    let program = threads_of(pid);
    assert!(
        program.iter().all(|(cpus, _)| *cpus == cpu),
        "the program's threads: {program:?}, want CPU {cpu}"
    );
    // The program's parent is the agent.
    let agent = threads_of(program[0].1);
    assert!(
        agent.len() > 1 && agent.iter().all(|(cpus, _)| *cpus == cpu),
        "the agent's threads: {agent:?}, want CPU {cpu}"
    );
}
