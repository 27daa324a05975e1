//! Reading spec files for the command line, with a size cap: a spec larger than
//! [`MAX_SPEC_BYTES`] is refused before it is read, with a clear error, instead of being
//! parsed for a minute in gigabytes of memory (a 50 MB file took 78 s and 2.9 GB).
//!
//! Why 8 MiB: hand-written specs are a few KiB, and the generated 10,000-line benchmark spec
//! (`synth::large_spec(10_000)`) is 267 KB, checked in 39 ms in a release build
//! (BENCHMARKS.md); at that rate 8 MiB checks in about 1.2 s. Measured on a generated spec of
//! 7.9 MiB (`large_spec(300_000)`), a debug build of `upstartc check` took 14 s and 325 MiB.
//! So the cap leaves thirty times the largest real spec and keeps a check within seconds and
//! a few hundred MiB.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest spec file read, in bytes.
pub const MAX_SPEC_BYTES: u64 = 8 << 20;

/// Why a spec file was not read. Its `Display` is the whole message (lowercase, help after a
/// blank line), ready for `error: ...`; an IO failure is also its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read `{}`: {error}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
    /// The file is larger than [`MAX_SPEC_BYTES`].
    #[error(
        "cannot read `{}`: it is {} MiB, more than the {} MiB a spec may have\n\n\
         help: a spec this large is not a spec written by hand; split the upgrade into \
         several specs, or check that this is the file you meant",
        .path.display(),
        .size.div_ceil(1 << 20),
        MAX_SPEC_BYTES >> 20
    )]
    TooLarge { path: PathBuf, size: u64 },
    /// The file is not UTF-8.
    #[error("cannot read `{}`: stream did not contain valid UTF-8", .path.display())]
    NotUtf8 { path: PathBuf },
}

/// Reads the spec at `path`, refusing files over [`MAX_SPEC_BYTES`].
pub fn read_spec(path: &Path) -> Result<String, InputError> {
    let io = |error| InputError::Io {
        path: path.to_path_buf(),
        error,
    };
    let too_large = |size: u64| InputError::TooLarge {
        path: path.to_path_buf(),
        size,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    if let Ok(meta) = file.metadata() {
        if meta.len() > MAX_SPEC_BYTES {
            return Err(too_large(meta.len()));
        }
    }
    // The file may grow while it is read (or not be a regular file): read one byte past the
    // cap at most.
    let mut bytes = Vec::new();
    file.take(MAX_SPEC_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes).map_err(|_| InputError::NotUtf8 {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use std::error::Error;

    #[test]
    fn an_io_failure_is_the_source_and_the_message_names_the_file() {
        let path = Path::new("/nonexistent/upstart/spec.ups");
        let e = read_spec(path).unwrap_err();
        assert!(e.source().is_some());
        let text = e.to_string();
        assert!(
            text.starts_with("cannot read `/nonexistent/upstart/spec.ups`: "),
            "{text}"
        );
    }
}
