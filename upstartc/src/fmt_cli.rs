//! `upstartc fmt FILE... [--check]`: the file IO around [`format`](upstart_fmt::format), at the edge
//! like `render`. Files are rewritten atomically (a temporary file beside it, then a rename)
//! and only when formatting changes them; `--check` writes nothing and lists, on stdout, the
//! files that would change.
//!
//! Exit codes: 0 every file formatted (or, with `--check`, already formatted); 1 some file has
//! syntax errors (it is left untouched, its diagnostics on stderr) or, with `--check`, would
//! change; 2 a file could not be read or written.

use crate::render;
use crate::{out, say};
use codespan_reporting::term::termcolor::ColorChoice;
use lang::span::SourceMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Formats `files` in place, or with `check` only reports which would change.
pub fn run(files: &[PathBuf], check: bool) -> ExitCode {
    let color = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let mut worst = 0u8;
    for path in files {
        let code = one(path, check, color);
        worst = worst.max(code);
    }
    ExitCode::from(worst)
}

fn one(path: &Path, check: bool, color: ColorChoice) -> u8 {
    let text = match crate::input::read_spec(path) {
        Ok(t) => t,
        Err(e) => {
            say!("error: {e}");
            return 2;
        }
    };
    let formatted = match upstart_fmt::format(&text) {
        Ok(f) => f,
        Err(upstart_fmt::FormatError::Syntax(diagnostics)) => {
            let mut sources = SourceMap::new();
            sources.add(path.display().to_string(), text);
            render::human_to_stderr(&sources, &diagnostics, color);
            say!(
                "error: `{}` not formatted: it has syntax errors",
                path.display()
            );
            return 1;
        }
        Err(e) => {
            say!("error: `{}` not formatted: {e}", path.display());
            return 1;
        }
    };
    if formatted == text {
        return 0;
    }
    if check {
        out!("{}", path.display());
        return 1;
    }
    match write_atomically(path, &formatted) {
        Ok(()) => 0,
        Err(e) => {
            say!("error: cannot write `{}`: {e}", path.display());
            2
        }
    }
}

/// Writes `text` to a temporary file beside `path`, with `path`'s permissions, then renames it
/// over `path`: readers see the old file or the new one, never half of one.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.upstartc-fmt-{}.tmp", std::process::id()));
    let result = (|| {
        std::fs::write(&tmp, text)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
