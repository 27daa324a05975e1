//! `upstart demo`: a key-value cluster on loopback upgraded live from version 1 to 2 under a
//! client load, with the rollout on screen and a summary at the end.
//!
//! Steps: build the key-value programs and `upstartc` ([`build`]); compile `specs/kv/kv-1-2.ups`
//! with a short schedule; make a key and sign the bundle; start `upstart server` and one
//! `upstart node` per node, each running `kv-v1` behind its shim ([`cluster`]); run clients of
//! version 1 on every node ([`load`]); push the bundle; add clients of version 2 once every node
//! has the future rules; show the rollout until it is done; with `--rollback`, keep the load on
//! (writes are now taken at version 2), roll the rollout back and show the nodes going back
//! one by one, their version-2 writes carried back by the spec's reverse transform; stop the
//! load, check every acknowledged write on every node, and print the summary. Exits 0 when no
//! call failed and no write was lost.

pub mod build;
pub mod cluster;
pub mod load;

use crate::cli::status::render;
use crate::cli::{CliError, CliResult};
use cluster::{node_specs, Agent, Launch, Server};
use load::{Load, LoadConfig, Target, WorkerReport};
use runtime::api::{RolloutState, Status};
use runtime::bundle::{BuildInput, HealthProbe, ProgramSpec};
use runtime::client::Client;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// How many nodes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=9))]
    pub nodes: u8,
    /// How long each upgraded node must stay healthy before the next one starts.
    #[arg(long, default_value = "2s", value_parser = duration)]
    pub healthy_for: String,
    /// The bound on the demo once the cluster starts, in seconds.
    #[arg(long, default_value_t = 180)]
    pub timeout: u64,
    /// Where the demo's files go (default: a new temporary directory, removed after a
    /// successful run).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Cargo's target directory for the programs the demo builds (default: the workspace's).
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
    /// Print progress lines instead of redrawing a table, even on a terminal.
    #[arg(long)]
    pub plain: bool,
    /// After the upgrade, take writes at version 2 for a while, then roll back to version 1:
    /// every write, those taken at version 2 included, must still be there.
    #[arg(long)]
    pub rollback: bool,
    /// The example system: `kv` (the Rust key-value programs, state in a JSON file) or `kvsql`
    /// (examples/kvsql, a Python service with its own flags and its state in SQLite, upgraded
    /// by specs/kvsql/kvsql-1-2.ups).
    #[arg(long, default_value = "kv", value_parser = ["kv", "kvsql"])]
    pub app: String,
}

/// `python3 examples/kvsql/kvsql.py` at schema 1 and 2: the program's own command lines.
const KVSQL_V1: &str =
    "python3 {program} --listen-port {port} --db {state} --schema 1 {peers:--peer %}";
const KVSQL_V2: &str =
    "python3 {program} --schema 2 --db {state} --listen-port {port} {peers:--peer %}";

fn duration(text: &str) -> Result<String, String> {
    match runtime::schedule::settings::duration_ms(text) {
        Some(ms) if ms > 0 => Ok(text.to_string()),
        _ => Err(format!("`{text}` is not a duration such as `2s`")),
    }
}

pub fn run(args: &Args) -> CliResult {
    let (dir, temporary) = crate::cli::work_dir(args.dir.as_deref(), "demo")?;
    let result = Demo::new(args, &dir).and_then(|mut d| d.run());
    match &result {
        Ok(()) if temporary => {
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(()) => {}
        Err(_) => eprintln!("the demo's files and logs are in `{}`", dir.display()),
    }
    result.map_err(CliError)
}

/// One run of the demo.
struct Demo<'a> {
    args: &'a Args,
    dir: PathBuf,
    rt: tokio::runtime::Runtime,
    live: bool,
    started: Instant,
}

fn step(n: u32, of: u32, text: &str) {
    println!("[{n}/{of}] {text}");
    let _ = std::io::stdout().flush();
}

/// What [`Demo::watch`] waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The rollout is done.
    Done,
    /// The rollout is rolled back and every node serves version `from` again.
    Back { from: u64 },
}

impl Demo<'_> {
    fn new<'a>(args: &'a Args, dir: &Path) -> Result<Demo<'a>, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        Ok(Demo {
            args,
            dir: dir.to_path_buf(),
            rt,
            live: !args.plain && std::io::stdout().is_terminal(),
            started: Instant::now(),
        })
    }

    /// The number of steps shown.
    fn steps(&self) -> u32 {
        if self.args.rollback {
            7
        } else {
            6
        }
    }

    fn status(&self, client: &Client) -> Result<Status, String> {
        self.rt
            .block_on(async { tokio::time::timeout(Duration::from_secs(5), client.status()).await })
            .map_err(|_| "the upgrade server did not answer within 5 s".to_string())?
            .map_err(|e| e.to_string())
    }

    fn run(&mut self) -> Result<(), String> {
        let n = usize::from(self.args.nodes);
        println!(
            "upstart demo: {n} key-value nodes on 127.0.0.1 upgraded live from version 1 to 2 \
             under client load\n"
        );
        let ws = build::workspace();
        let target = self
            .args
            .target_dir
            .clone()
            .unwrap_or_else(|| ws.join("target"));
        step(
            1,
            self.steps(),
            "building kv-v1, kv-v2 and upstartc with cargo",
        );
        let t0 = Instant::now();
        let tools = build::build_tools(&ws, &target, &mut |l| println!("      {l}"))?;
        println!("      built in {:.1} s", t0.elapsed().as_secs_f64());

        let healthy_for = &self.args.healthy_for;
        let kvsql = self.args.app == "kvsql";
        let source = if kvsql {
            "specs/kvsql/kvsql-1-2.ups"
        } else {
            "specs/kv/kv-1-2.ups"
        };
        step(
            2,
            self.steps(),
            &format!(
                "compiling {source} with upstartc (schedule: one node at a time, \
                 healthy for {healthy_for})"
            ),
        );
        let spec = if kvsql {
            build::short_spec_of(&ws.join(source), &self.dir, healthy_for)?
        } else {
            build::short_spec(&ws, &self.dir, healthy_for)?
        };
        let python_app = ws.join("examples/kvsql/kvsql.py");
        let t0 = Instant::now();
        let plugin = build::compile(&tools, &spec, &self.dir.join("plugin"))?;
        println!(
            "      plugin `{}` ({:.1} s)",
            plugin.display(),
            t0.elapsed().as_secs_f64()
        );

        step(
            3,
            self.steps(),
            "making keys (one signs bundles, one the operator's requests) and signing the bundle (plugin + kv-v2, release 1)",
        );
        let (key, public) = build::keygen(&self.dir)?;
        let bundle_path = self.dir.join(format!("{}-1-2.bundle", self.args.app));
        let (binary, program) = if kvsql {
            let program = ProgramSpec {
                exec: Some(KVSQL_V2.into()),
                stop_signal: None,
                health: Some(HealthProbe::new(
                    "get",
                    serde_json::json!({"key": "upstart-health-probe"}),
                )),
            };
            (python_app.clone(), program)
        } else {
            (tools.kv_v2.clone(), ProgramSpec::default())
        };
        let input = BuildInput {
            plugin,
            binary,
            spec,
            release: 1,
            program,
        };
        let id = build::bundle(&input, &key, &bundle_path)?;
        println!("      bundle {}", short(&id));

        step(
            4,
            self.steps(),
            &format!(
                "starting the upgrade server and {n} nodes at version 1, each enrolled with the key its agent made"
            ),
        );
        self.started = Instant::now();
        let upstart =
            std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
        let (operator, _) = build::keygen_named(&self.dir, "operator.key")?;
        let server = Server::start(
            &upstart,
            &self.dir.join("upgrades.db"),
            &public,
            &operator,
            "127.0.0.1:0"
                .parse()
                .map_err(|_| "bad address".to_string())?,
            Some(&self.dir.join("server.log")),
        )?;
        println!(
            "      server {} (log: {})",
            server.url,
            self.dir.join("server.log").display()
        );
        let mut specs = node_specs(&self.dir, n, &[1, 2])?;
        for s in &mut specs {
            s.extra = ["--drain-grace", "300ms", "--poll-wait", "2s", "--preload"]
                .map(String::from)
                .to_vec();
            s.extra.push(tools.preload.display().to_string());
            if kvsql {
                s.system = "kvsql".into();
                s.state_file = "state.db".into();
                s.extra.extend(["--exec".to_owned(), KVSQL_V1.to_owned()]);
            }
        }
        let launch = Launch {
            upstart: &upstart,
            trust: &public,
            binary: if kvsql { &python_app } else { &tools.kv_v1 },
        };
        let mut agents = Vec::new();
        for s in &specs {
            let log = s.dir.with_extension("log");
            let a = Agent::start(&launch, &server, s, Some(&log))?;
            println!(
                "      node {}: enrolled with key {}, shim {} (version-1 clients {}, version-2 clients {}), log {}",
                s.id,
                a.key_id,
                s.main,
                a.port(1).map(|p| p.to_string()).unwrap_or_default(),
                a.port(2).map(|p| p.to_string()).unwrap_or_default(),
                log.display()
            );
            agents.push(a);
        }

        step(
            5,
            self.steps(),
            &format!("client load: {n} version-1 clients; pushing the 1 -> 2 bundle"),
        );
        let targets = |version: u64| -> Vec<Target> {
            agents
                .iter()
                .filter_map(|a| {
                    a.port(version).map(|addr| Target {
                        node: a.spec.id.clone(),
                        addr,
                        version,
                    })
                })
                .collect()
        };
        let config = LoadConfig {
            pause: Duration::from_millis(10),
            ..LoadConfig::default()
        };
        let mut load = Load::start(&targets(1), config);
        let v2_targets = targets(2);
        std::thread::sleep(Duration::from_secs(2));
        let client = Client::new(&server.url)
            .map_err(|e| e.to_string())?
            .with_key(
                runtime::bundle::keys::read_signing_key(&operator).map_err(|e| e.to_string())?,
            );
        let bytes = std::fs::read(&bundle_path)
            .map_err(|e| format!("cannot read `{}`: {e}", bundle_path.display()))?;
        let rollout = self.rt.block_on(async {
            let info = client.push(bytes, false).await.map_err(|e| e.to_string())?;
            client
                .start_rollout(&info.id, None)
                .await
                .map_err(|e| e.to_string())
        })?;
        println!("      rollout {} started: {}", rollout.id, rollout.schedule);
        let pushed_at = Instant::now();

        step(
            6,
            self.steps(),
            "the rollout, live (follow it elsewhere with `upstart status --server URL`)",
        );
        let v1_ports: BTreeMap<String, std::net::SocketAddr> = agents
            .iter()
            .filter_map(|a| a.port(1).map(|p| (a.spec.id.clone(), p)))
            .collect();
        let mut outcome = self.watch(
            &client,
            &mut agents,
            &mut load,
            &v2_targets,
            rollout.id,
            Until::Done,
        );
        let mut rolled_back = None;
        if self.args.rollback && outcome.is_ok() {
            step(
                7,
                self.steps(),
                "writes at version 2 for 3 s, then `upstart rollback`: the nodes go back one by \
                 one, the reverse transform carrying their writes back",
            );
            std::thread::sleep(Duration::from_secs(3));
            let asked = Instant::now();
            outcome = self
                .rt
                .block_on(client.control(Some(rollout.id), runtime::client::Control::Rollback))
                .map_err(|e| e.to_string())
                .and_then(|_| {
                    self.watch(
                        &client,
                        &mut agents,
                        &mut load,
                        &v2_targets,
                        rollout.id,
                        Until::Back { from: 1 },
                    )
                });
            rolled_back = Some(asked.elapsed());
        }
        std::thread::sleep(Duration::from_secs(1));
        let reports = load.stop();
        let final_status = self.status(&client).ok();
        let lines: BTreeMap<String, Vec<String>> = agents
            .iter_mut()
            .map(|a| (a.spec.id.clone(), a.lines()))
            .collect();
        let status = outcome?;
        print!("{}", render(&status, 10));
        println!();
        let rolled = pushed_at.elapsed();
        // Both example systems replicate each write to every peer before answering: every
        // acknowledged write reads back on every node.
        let missing = load::verify(&reports, &v1_ports);
        let ok = summary(&reports, &lines, &missing, rolled, final_status.as_ref());
        if let Some(took) = rolled_back {
            println!(
                "  rolled back in {:.1} s; the writes taken at version 2 were carried back ({})",
                took.as_secs_f64(),
                if missing.is_empty() {
                    "every one read back at version 1"
                } else {
                    "some are missing, see above"
                }
            );
        }
        drop(agents);
        drop(server);
        if ok {
            Ok(())
        } else {
            Err("calls failed or writes were lost during the upgrade (see above)".into())
        }
    }

    /// Shows the rollout until it is done (or the bound passes); adds the version-2 clients
    /// once every node has the future rules. The final status.
    fn watch(
        &self,
        client: &Client,
        agents: &mut [Agent],
        load: &mut Load,
        v2: &[Target],
        rollout: u64,
        until: Until,
    ) -> Result<Status, String> {
        let deadline = self.started + Duration::from_secs(self.args.timeout);
        let mut v2_started = false;
        // The events shown so far, by sequence number (0: none yet).
        let mut last_event: u64 = 0;
        loop {
            if Instant::now() > deadline {
                return Err(format!(
                    "the rollout did not complete within {} s of the start (see the logs)",
                    self.args.timeout
                ));
            }
            let mut news = Vec::new();
            for a in agents.iter_mut() {
                for l in a.proc.poll_lines() {
                    news.push(format!("{}: {l}", a.spec.id));
                }
                if let Some(status) = a.proc.exited() {
                    return Err(format!("the agent of {} ended ({status})", a.spec.id));
                }
            }
            if !v2_started
                && agents
                    .iter_mut()
                    .all(|a| a.lines().iter().any(|l| l.starts_with("rules 1,2")))
            {
                load.add(v2);
                v2_started = true;
                news.push("every node has the future rules: version-2 clients start".into());
            }
            let status = match self.status(client) {
                Ok(s) => s,
                Err(e) => {
                    println!("      {e}");
                    std::thread::sleep(Duration::from_millis(500));
                    continue;
                }
            };
            let c = load.counts();
            let counts = format!(
                "clients: {} calls ok, {} disallowed by the spec, {} failed, {} wrong, {} sent again after a restart; slowest call {} ms",
                c.ok,
                c.disallowed,
                c.failed,
                c.wrong,
                c.retried,
                load.max_latency().as_millis()
            );
            if self.live {
                let mut out = std::io::stdout();
                let _ = write!(out, "\x1b[H\x1b[2J{}\n{counts}\n", render(&status, 10));
                let _ = out.flush();
            } else {
                for e in &status.events {
                    if e.seq + 1 > last_event {
                        println!("      event: {}", e.message);
                        last_event = e.seq + 1;
                    }
                }
                for n in &news {
                    println!("      {n}");
                }
                if !news.is_empty() {
                    println!("      {counts}");
                }
            }
            let state = status
                .rollouts
                .iter()
                .find(|r| r.id == rollout)
                .map(|r| r.state);
            if let Until::Back { from } = until {
                let back = status
                    .nodes
                    .iter()
                    .all(|n| n.version == from && !n.phase.is_in_progress() && n.healthy);
                if state == Some(RolloutState::RolledBack) && back {
                    return Ok(status);
                }
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            match state {
                Some(RolloutState::Done) => return Ok(status),
                Some(RolloutState::Paused | RolloutState::RolledBack) => {
                    return Err(format!(
                        "the rollout stopped: {}",
                        status
                            .rollouts
                            .iter()
                            .find(|r| r.id == rollout)
                            .map(|r| r.reason.clone())
                            .unwrap_or_default()
                    ))
                }
                _ => {}
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Prints the summary; whether the run was clean.
fn summary(
    reports: &[WorkerReport],
    lines: &BTreeMap<String, Vec<String>>,
    missing: &[String],
    rolled: Duration,
    status: Option<&Status>,
) -> bool {
    let total = load::total(reports);
    println!("summary");
    println!(
        "  rollout done {:.1} s after the push",
        rolled.as_secs_f64()
    );
    println!(
        "  requests: {} served ({} answered, {} refused by the spec's declared disallows), {} failed, {} wrong",
        total.total(),
        total.ok,
        total.disallowed,
        total.failed,
        total.wrong
    );
    println!(
        "  {} calls were sent again on a new connection when it closed as its node stopped for the upgrade",
        total.retried
    );
    if total.unsure > 0 {
        println!(
            "  {} writes sent again were refused or failed the last time: their first sending may have taken effect (a later read of the key says which)",
            total.unsure
        );
    }
    let keys: usize = reports.iter().map(|r| r.touched.len()).sum();
    if missing.is_empty() {
        println!("  writes: all {keys} keys written read back with their last acknowledged value on every node that keeps them");
    } else {
        println!("  writes: {} problems:", missing.len());
        for m in missing.iter().take(10) {
            println!("    {m}");
        }
    }
    println!("  per node:");
    println!("    node  upgraded in  unavailable  slowest client call  version");
    for (node, l) in lines {
        let upgraded = l.iter().find_map(|l| l.strip_prefix("upgraded 2 in "));
        let (took, unavailable) = match upgraded.and_then(parse_upgraded) {
            Some((a, b)) => (format!("{:.2} s", a as f64 / 1000.0), format!("{b} ms")),
            None => ("-".into(), "-".into()),
        };
        let slowest = reports
            .iter()
            .filter(|r| &r.target.node == node)
            .map(|r| r.max_latency)
            .max()
            .unwrap_or_default();
        let version = status
            .and_then(|s| s.nodes.iter().find(|n| &n.id == node))
            .map_or_else(|| "?".to_string(), |n| n.version.to_string());
        println!(
            "    {node:<5} {took:>11}  {unavailable:>11}  {:>16} ms  {version:>7}",
            slowest.as_millis()
        );
    }
    println!("  (unavailable: from the drain to the new program serving; the shim held new calls meanwhile)");
    for r in reports.iter().filter(|r| !r.problems.is_empty()).take(5) {
        for p in r.problems.iter().take(3) {
            println!("  problem: {p}");
        }
    }
    let clean = total.failed == 0 && total.wrong == 0 && missing.is_empty();
    println!(
        "{}",
        if clean {
            "ok: no failed call, no lost write"
        } else {
            "FAILED"
        }
    );
    clean
}

/// `MS ms unavailable MS ms` -> (took, unavailable).
fn parse_upgraded(rest: &str) -> Option<(u64, u64)> {
    let mut words = rest.split_whitespace();
    let took = words.next()?.parse().ok()?;
    let unavailable = words.nth(2)?.parse().ok()?;
    Some((took, unavailable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgraded_lines_parse() {
        assert_eq!(
            parse_upgraded("1341 ms unavailable 324 ms"),
            Some((1341, 324))
        );
        assert_eq!(parse_upgraded("soon"), None);
    }
}
