//! One agent per data directory: `DATA/agent.lock`, held with an exclusive `flock` for the
//! agent's life and holding its pid, so a second agent on the same directory stops before it
//! reads the record, stops an "orphan" or binds a port, and says which process holds it.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The held lock; released when dropped (or when the process ends, however it ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Takes the lock at `path` without waiting.
    pub fn acquire(path: &Path) -> Result<DirLock, String> {
        let shown = path.display();
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| format!("cannot open the lock `{shown}`: {e}"))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another agent".to_string()
                } else {
                    format!("the agent with pid {holder}")
                };
                let dir = path.parent().unwrap_or(path).display();
                return Err(format!(
                    "the data directory `{dir}` is in use by {who} (it holds `{shown}`)\n  \
                     help: one agent runs per data directory; stop that agent or give this one \
                     another `--data`"
                ));
            }
            Err(TryLockError::Error(e)) => {
                return Err(format!("cannot lock `{shown}`: {e}"));
            }
        }
        let pid = std::process::id().to_string();
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)).map(|_| ()))
            .and_then(|()| file.write_all(pid.as_bytes()))
            .and_then(|()| file.sync_all())
            .map_err(|e| format!("cannot write `{shown}`: {e}"))?;
        Ok(DirLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn a_second_lock_is_refused_with_the_holder_named_and_taken_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agent.lock");
        let held = DirLock::acquire(&path).unwrap();
        let e = DirLock::acquire(&path).unwrap_err();
        assert!(e.contains("is in use"), "{e}");
        assert!(e.contains(&std::process::id().to_string()), "{e}");
        drop(held);
        let again = DirLock::acquire(&path).unwrap();
        assert_eq!(again.path(), path);
    }
}
