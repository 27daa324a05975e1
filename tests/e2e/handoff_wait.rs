//! Hand-off for every event loop: a program under the LD_PRELOAD library sees a handed-off
//! connection as soon as it arrives, whether it waits with `epoll`, `poll`, `ppoll`, `select`,
//! `pselect` or a blocking `accept`. The programs (`apps/waiters`) wait without a timeout, so
//! a connection whose arrival does not wake them is never answered. Each test prints the
//! latencies it measured (a fresh connection through the shim, handed off, answered; and the
//! same program reached directly); only a generous sanity bound is asserted.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]
#![allow(clippy::panic, clippy::indexing_slicing, reason = "tests")]

mod support;

use shim::Shim;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use support::WAIT;

/// Handed-off connections measured per program (after one to warm up).
const CONNECTIONS: usize = 40;
/// The sanity bound: an answer later than this means the program did not wake up for it.
const ANSWER_WITHIN: Duration = Duration::from_secs(5);

fn waiters() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("apps")
        .join("waiters")
}

/// `apps/waiters/echo_wait.c`, built once per test binary with the system's C compiler.
fn c_program() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let out = dir.join(format!("echo_wait.{}", std::process::id()));
        let status = Command::new("cc")
            .args(["-O2", "-D_FORTIFY_SOURCE=2", "-Wall", "-o"])
            .arg(&out)
            .arg(waiters().join("echo_wait.c"))
            .status()
            .expect("a C compiler (`cc`) runs");
        assert!(status.success(), "echo_wait.c does not build");
        out
    })
}

fn c_waiter(mode: &str) -> Command {
    let mut command = Command::new(c_program());
    command.arg(mode);
    command
}

fn python_waiter(mode: &str) -> Command {
    let mut command = Command::new("python3");
    command.arg(waiters().join("echo_wait.py")).arg(mode);
    command
}

/// Connects to `addr`, sends a line, reads its echo; the time it took.
fn answered(addr: SocketAddr, i: usize) -> Duration {
    let start = Instant::now();
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(ANSWER_WITHIN)).unwrap();
    let mut writer = stream.try_clone().unwrap();
    writeln!(writer, "hello {i}").unwrap();
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .unwrap_or_else(|e| panic!("no answer within {ANSWER_WITHIN:?} (connection {i}): {e}"));
    let took = start.elapsed();
    assert_eq!(line, format!("echo hello {i}\n"));
    took
}

fn micros(mut times: Vec<Duration>) -> (u128, u128) {
    times.sort();
    (
        times[times.len() / 2].as_micros(),
        times[times.len() - 1].as_micros(),
    )
}

/// Runs `command` under the library behind a shim with hand-off, and checks that fresh
/// connections through the shim are handed off to it and answered promptly.
fn handed_off_promptly(kind: &str, mut command: Command) {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("shim.sock");
    let runtime = support::runtime();
    let config = support::handoff_config("echo", 1, &[Some(1)], &socket);
    let shim = runtime.block_on(Shim::start(config, None)).unwrap();
    command.envs(support::preload_env(&socket));
    let mut program = e2e::process::ChildGuard::spawn(kind, &mut command).unwrap();
    let node: SocketAddr = program
        .line_after("listening", WAIT)
        .unwrap()
        .parse()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while !shim.handoff_registered(node) {
        assert!(
            Instant::now() < deadline,
            "{kind}: the program never registered"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    shim.set_node(node);
    let port = shim.addrs().listeners[0].0;

    answered(port, 0);
    let through: Vec<Duration> = (1..=CONNECTIONS).map(|i| answered(port, i)).collect();
    // The shim counts a hand-off just after the send, which the answer may overtake.
    let deadline = Instant::now() + WAIT;
    while shim.stats().handed_off < CONNECTIONS as u64 + 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stats = shim.stats();
    assert_eq!(
        stats.handed_off,
        CONNECTIONS as u64 + 1,
        "{kind}: {stats:?}"
    );
    assert_eq!(stats.fast_path, 0, "{kind}: none copied: {stats:?}");
    // The program's own socket still works, and gives the reference.
    let direct: Vec<Duration> = (1..=CONNECTIONS).map(|i| answered(node, i)).collect();
    let (median, max) = micros(through);
    let (direct_median, direct_max) = micros(direct);
    println!(
        "hand-off latency, {kind}: connect + line + echo through the shim, handed off: median \
         {median} us, max {max} us; straight to the program: median {direct_median} us, max \
         {direct_max} us ({CONNECTIONS} connections)"
    );
}

upstart_test_support::test_cases! { handed_off_promptly;
    c_epoll_sees_handed_off_connections: ("c epoll", c_waiter("epoll")),
    c_poll_sees_handed_off_connections: ("c poll", c_waiter("poll")),
    c_ppoll_sees_handed_off_connections: ("c ppoll", c_waiter("ppoll")),
    c_select_sees_handed_off_connections: ("c select", c_waiter("select")),
    c_pselect_sees_handed_off_connections: ("c pselect", c_waiter("pselect")),
    c_blocking_accept_sees_handed_off_connections: ("c accept", c_waiter("accept")),
    python_poll_selector_sees_handed_off_connections: ("python PollSelector", python_waiter("poll")),
    python_select_selector_sees_handed_off_connections: ("python SelectSelector", python_waiter("select")),
    python_epoll_selector_sees_handed_off_connections: ("python EpollSelector", python_waiter("epoll")),
    python_blocking_accept_sees_handed_off_connections: ("python accept", python_waiter("accept")),
}
