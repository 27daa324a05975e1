//! The command line's writes. Results go to stdout through [`print`]: when the reader has
//! closed the pipe (`upstartc explain U0060 | head -1`) the process ends quietly with status
//! 141 (128 + SIGPIPE, what a Unix tool killed by the closed pipe reports) instead of
//! panicking in `println!` (exit 101). Messages go to stderr through [`eprint`], which never
//! fails the process: there is nowhere left to report that they could not be written.

use std::io::{ErrorKind, Write};

/// The exit status after stdout's reader went away.
pub const CLOSED_PIPE_STATUS: i32 = 141;

/// Writes `text` to stdout and flushes it; ends the process on a closed pipe (see the module
/// header) or, with status 2, on another write error.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(CLOSED_PIPE_STATUS),
        Err(e) => {
            eprint(&format!("error: cannot write to stdout: {e}\n"));
            std::process::exit(2);
        }
    }
}

/// [`print`] with a line end.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Writes `text` to stderr; a failure is ignored.
pub fn eprint(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// [`eprint`] with a line end.
pub fn eprintln(text: &str) {
    eprint(&format!("{text}\n"));
}

/// `println!` to stdout through [`print`] (a closed pipe ends the process quietly).
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::println(&format!($($arg)*))
    };
}

/// `print!` to stdout through [`print`].
#[macro_export]
macro_rules! out_raw {
    ($($arg:tt)*) => {
        $crate::output::print(&format!($($arg)*))
    };
}

/// `eprintln!` that never panics (see [`eprint`]).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::eprintln(&format!($($arg)*))
    };
}
