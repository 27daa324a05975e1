//! Per-node unavailability during the demo's rolling upgrade: three key-value nodes, each run
//! by `upstart node`, under clients of versions 1 and 2; 1 -> 2 pushed; for each drain grace,
//! how long each node was unavailable (the agent's measure: from the drain to the new program
//! answering its first probe, the shim holding new calls meanwhile), the slowest client call
//! on each node (what a client saw), the time per node and for the whole rollout.
//!
//! ```sh
//! cargo bench -p upstart --bench unavailability
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};
use upstart::demo::build;
use upstart::demo::cluster::{node_specs, Agent, Launch, Server};
use upstart::demo::load::{self, Load, LoadConfig, Target};

fn main() -> Result<(), String> {
    let upstart = Path::new(env!("CARGO_BIN_EXE_upstart"));
    let ws = build::workspace();
    let target = ws.join("target").join("node-tests");
    let tools = build::build_tools(&ws, &target, &mut |l| eprintln!("{l}"))?;
    let scratch = std::env::temp_dir().join(format!("upstart-bench-{}", std::process::id()));
    let spec = build::short_spec(&ws, &scratch, "1s")?;
    let plugin = upstart_test_support::plugins::build(&spec);
    let mut rows = Vec::new();
    for grace in ["100ms", "300ms", "1s"] {
        for round in 0..2 {
            let dir = scratch.join(format!("{grace}-{round}"));
            rows.extend(run(upstart, &tools, &spec, &plugin, &dir, grace)?);
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("| drain grace | node | unavailable (agent) | of which transform | slowest client call | upgraded in | calls resent |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for r in &rows {
        println!(
            "| {} | {} | {} ms | {} ms | {} ms | {} ms | {} |",
            r.grace, r.node, r.unavailable_ms, r.transform_ms, r.slowest_ms, r.took_ms, r.resent
        );
    }
    let mut by_grace: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in &rows {
        by_grace.entry(r.grace).or_default().push(r);
    }
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        (
            v.get(v.len() / 2).copied().unwrap_or(0),
            v.last().copied().unwrap_or(0),
        )
    };
    for (grace, rs) in by_grace {
        let (unavailable, max) = median(rs.iter().map(|r| r.unavailable_ms).collect());
        let (transform, _) = median(rs.iter().map(|r| r.transform_ms).collect());
        let (beyond, _) = median(
            rs.iter()
                .map(|r| r.unavailable_ms.saturating_sub(r.transform_ms))
                .collect(),
        );
        println!(
            "drain grace {grace}: unavailable median {unavailable} ms (max {max} ms), transform \
             median {transform} ms, beyond the transform median {beyond} ms (bar: under 50 ms), {} \
             nodes",
            rs.len()
        );
    }
    Ok(())
}

struct Row {
    grace: &'static str,
    node: String,
    unavailable_ms: u64,
    transform_ms: u64,
    slowest_ms: u128,
    took_ms: u64,
    resent: u64,
}

fn run(
    upstart: &Path,
    tools: &build::Tools,
    spec: &Path,
    plugin: &Path,
    dir: &Path,
    grace: &'static str,
) -> Result<Vec<Row>, String> {
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    let (key, public) = build::keygen(dir)?;
    let bundle = dir.join("kv.bundle");
    let input = runtime::bundle::BuildInput {
        plugin: plugin.to_path_buf(),
        binary: tools.kv_v2.clone(),
        spec: spec.to_path_buf(),
        release: 1,
        program: runtime::bundle::ProgramSpec::default(),
    };
    build::bundle(&input, &key, &bundle)?;
    let server = Server::start(
        upstart,
        &dir.join("upgrades.db"),
        &public,
        &key,
        "127.0.0.1:0".parse().map_err(|_| "address")?,
        Some(&dir.join("server.log")),
    )?;
    let mut specs = node_specs(dir, 3, &[1, 2])?;
    let mut agents = Vec::new();
    for s in &mut specs {
        // As the demo runs them: same-version clients handed to the program.
        s.extra = vec![
            "--drain-grace".into(),
            grace.into(),
            "--poll-wait".into(),
            "2s".into(),
            "--preload".into(),
            tools.preload.display().to_string(),
        ];
        let log = s.dir.with_extension("log");
        let launch = Launch {
            upstart,
            trust: &public,
            binary: &tools.kv_v1,
        };
        agents.push(Agent::start(&launch, &server, s, Some(&log))?);
    }
    let targets = |v: u64| -> Vec<Target> {
        specs
            .iter()
            .zip(&agents)
            .filter_map(|(s, a)| {
                a.port(v).map(|addr| Target {
                    node: s.id.clone(),
                    addr,
                    version: v,
                })
            })
            .collect()
    };
    let v2 = targets(2);
    let mut load = Load::start(&targets(1), LoadConfig::default());
    std::thread::sleep(Duration::from_secs(1));
    let pushed = std::process::Command::new(upstart)
        .arg("push")
        .arg(&bundle)
        .args(["--server", &server.url])
        .env("UPSTART_KEY", &server.operator)
        .output()
        .map_err(|e| e.to_string())?;
    if !pushed.status.success() {
        return Err(String::from_utf8_lossy(&pushed.stderr).into_owned());
    }
    for a in &mut agents {
        a.proc.wait_line("rules 1,2", Duration::from_secs(30))?;
    }
    load.add(&v2);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut done = BTreeMap::new();
    while done.len() < agents.len() {
        if Instant::now() > deadline {
            return Err(format!(
                "the rollout with drain grace {grace} did not finish"
            ));
        }
        for a in &mut agents {
            if let Ok(rest) = a
                .proc
                .wait_line("upgraded 2 in ", Duration::from_millis(100))
            {
                done.insert(a.spec.id.clone(), rest);
            }
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let reports = load.stop();
    let total = load::total(&reports);
    if total.failed > 0 || total.wrong > 0 {
        return Err(format!("calls failed with drain grace {grace}: {total:?}"));
    }
    let mut rows = Vec::new();
    for (node, rest) in done {
        let words: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| {
            words
                .get(i)
                .and_then(|w| w.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let mine: Vec<&load::WorkerReport> =
            reports.iter().filter(|r| r.target.node == node).collect();
        rows.push(Row {
            grace,
            unavailable_ms: num(3),
            transform_ms: num(6),
            took_ms: num(0),
            slowest_ms: mine
                .iter()
                .map(|r| r.max_latency.as_millis())
                .max()
                .unwrap_or(0),
            resent: mine.iter().map(|r| r.counts.retried).sum(),
            node,
        });
    }
    Ok(rows)
}
