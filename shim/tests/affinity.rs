//! `shim::pin_process` binds every thread of the process, those already running and those
//! started later, and the programs it starts (how `upstart node --cpus` puts the agent, its
//! shim and the node program on the same CPUs). Its own test binary: it binds the whole
//! process.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]

use shim::CpuList;

/// `Cpus_allowed_list` of a `/proc/.../status` text.
fn allowed(status: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn pinning_the_process_binds_running_threads_new_threads_and_children_or_refuses() {
    let all = CpuList::current().unwrap();
    // A CPU the machine lacks is refused, with help, and changes nothing.
    let missing = all.cpus().last().unwrap() + 1;
    let e = shim::pin_process(&CpuList::parse(&missing.to_string()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("cannot run on CPUs `{missing}`")),
        "{e}"
    );
    assert!(e.contains("help: "), "{e}");
    assert_eq!(CpuList::current().unwrap(), all);
    // The last CPU this process may use: a real change wherever it may use more than one.
    let one = CpuList::parse(&all.cpus().last().unwrap().to_string()).unwrap();
    // A thread running before the pin, waiting to be asked for its view.
    let (ask, asked) = std::sync::mpsc::channel::<()>();
    let (tell, told) = std::sync::mpsc::channel();
    let before = std::thread::spawn(move || {
        asked.recv().unwrap();
        tell.send(CpuList::current().unwrap()).unwrap();
    });

    shim::pin_process(&one).unwrap();

    ask.send(()).unwrap();
    assert_eq!(told.recv().unwrap(), one, "a thread that ran before");
    before.join().unwrap();
    assert_eq!(CpuList::current().unwrap(), one, "the calling thread");
    let after = std::thread::spawn(|| CpuList::current().unwrap());
    assert_eq!(after.join().unwrap(), one, "a thread started after");
    let out = std::process::Command::new("cat")
        .arg("/proc/self/status")
        .output()
        .unwrap();
    let child = allowed(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(child, one.to_string(), "a program started after");

    // Back to every CPU: a thread may widen its own set again.
    shim::pin_thread(&all).unwrap();
    assert_eq!(CpuList::current().unwrap(), all);
}
