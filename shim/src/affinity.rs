//! CPU affinity: where the shim and the node program run. A translated request crosses four
//! sockets (caller → shim → node → shim → caller), and each crossing wakes the thread on the
//! other side; when the shim and the node program sit on different CPUs, every wake-up between
//! them is an inter-processor one (tens of microseconds on a VM whose idle CPUs halt), which is
//! most of a translated call's cost. [`pin_process`] binds every thread of this process to a
//! [`CpuList`] (threads and programs started afterwards inherit it), so that the node agent,
//! its shim and the node program it starts share those CPUs (`upstart node --cpus`).
//! [`pin_thread`] binds the calling thread only.

use rustix::process::Pid;
use rustix::thread::{sched_getaffinity, sched_setaffinity, CpuSet};
use std::fmt;

/// A set of CPU numbers, written as in `taskset -c` and `/proc/*/status`: `1`, `0,2`, `0-3`,
/// `0-1,4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(Vec<usize>);

impl CpuList {
    /// Parses `0-1,4`; refuses an empty list, a reversed range and CPUs beyond the kernel's
    /// set size.
    pub fn parse(text: &str) -> Result<CpuList, String> {
        let bad = |why: &str| {
            format!("`{text}` is not a list of CPUs such as `1`, `0,2` or `0-3`: {why}")
        };
        let number = |word: &str| -> Result<usize, String> {
            let cpu: usize = word
                .trim()
                .parse()
                .map_err(|_| bad(&format!("`{}` is not a CPU number", word.trim())))?;
            if cpu >= CpuSet::MAX_CPU {
                return Err(bad(&format!(
                    "CPU {cpu} is beyond the largest this system can name ({})",
                    CpuSet::MAX_CPU - 1
                )));
            }
            Ok(cpu)
        };
        let mut cpus = Vec::new();
        for part in text.split(',') {
            match part.split_once('-') {
                Some((first, last)) => {
                    let (first, last) = (number(first)?, number(last)?);
                    if first > last {
                        return Err(bad(&format!("the range `{}` is reversed", part.trim())));
                    }
                    cpus.extend(first..=last);
                }
                None => cpus.push(number(part)?),
            }
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuList(cpus))
    }

    /// The CPUs the calling thread may run on now.
    pub fn current() -> std::io::Result<CpuList> {
        let set = sched_getaffinity(None)?;
        Ok(CpuList(
            (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
        ))
    }

    /// The CPU numbers, ascending.
    pub fn cpus(&self) -> &[usize] {
        &self.0
    }

    fn set(&self) -> CpuSet {
        let mut set = CpuSet::new();
        for &cpu in &self.0 {
            set.set(cpu);
        }
        set
    }
}

impl fmt::Display for CpuList {
    /// Ranges folded: `0-2,5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0.iter().copied().peekable();
        let mut first = true;
        while let Some(start) = rest.next() {
            let mut end = start;
            while rest.peek() == Some(&(end + 1)) {
                end += 1;
                rest.next();
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if end == start {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
        }
        Ok(())
    }
}

/// Binds the calling thread to `cpus` (threads it starts afterwards inherit them).
pub fn pin_thread(cpus: &CpuList) -> std::io::Result<()> {
    sched_setaffinity(None, &cpus.set()).map_err(|e| refused(cpus, e))
}

/// Binds every thread of this process to `cpus`; threads and child processes started
/// afterwards inherit them. Call it early (before the node program starts): a thread that a
/// thread not yet bound starts meanwhile is bound by a second look at the process's threads.
pub fn pin_process(cpus: &CpuList) -> std::io::Result<()> {
    let set = cpus.set();
    // The caller first: it may be the only thread, and `/proc` may be missing.
    sched_setaffinity(None, &set).map_err(|e| refused(cpus, e))?;
    let mut bound = std::collections::BTreeSet::new();
    // Twice: a thread started while the first look ran by a thread not bound yet.
    for _ in 0..2 {
        for tid in threads()? {
            if bound.insert(tid) {
                let Some(pid) = Pid::from_raw(tid) else {
                    continue;
                };
                match sched_setaffinity(Some(pid), &set) {
                    Ok(()) => {}
                    // The thread ended meanwhile.
                    Err(rustix::io::Errno::SRCH) => {}
                    Err(e) => return Err(refused(cpus, e)),
                }
            }
        }
    }
    Ok(())
}

/// The ids of this process's threads.
fn threads() -> std::io::Result<Vec<i32>> {
    let mut tids = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task")? {
        if let Some(tid) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) {
            tids.push(tid);
        }
    }
    Ok(tids)
}

fn refused(cpus: &CpuList, e: rustix::io::Errno) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        format!(
            "cannot run on CPUs `{cpus}`: {e}\n  help: name CPUs this machine has and this \
             process may use (`taskset -pc $$` shows them)"
        ),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;

    #[test]
    fn lists_parse_and_print_folded() {
        let l = CpuList::parse("3,0-1, 5").unwrap();
        assert_eq!(l.cpus(), &[0, 1, 3, 5]);
        assert_eq!(l.to_string(), "0-1,3,5");
        assert_eq!(CpuList::parse("2").unwrap().to_string(), "2");
        assert_eq!(CpuList::parse("0-2,1").unwrap().to_string(), "0-2");
    }

    #[test]
    fn bad_lists_are_refused_with_the_word_at_fault() {
        for (text, word) in [
            ("", "`` is not a CPU number"),
            ("1,x", "`x`"),
            ("3-1", "`3-1` is reversed"),
            ("-1", "`` is not a CPU number"),
            ("99999", "CPU 99999 is beyond"),
        ] {
            let e = CpuList::parse(text).unwrap_err();
            assert!(e.contains(word), "{text}: {e}");
            assert!(
                e.starts_with(&format!("`{text}` is not a list of CPUs")),
                "{e}"
            );
        }
    }
}
