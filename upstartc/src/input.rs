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
use std::path::Path;

/// The largest spec file read, in bytes.
pub const MAX_SPEC_BYTES: u64 = 8 << 20;

/// Reads the spec at `path`; the error is the whole message (lowercase, help after a blank
/// line), ready for `error: ...`.
pub fn read_spec(path: &Path) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    let too_large = |size: u64| {
        format!(
            "cannot read `{shown}`: it is {} MiB, more than the {} MiB a spec may have\n\n\
             help: a spec this large is not a spec written by hand; split the upgrade into \
             several specs, or check that this is the file you meant",
            size.div_ceil(1 << 20),
            MAX_SPEC_BYTES >> 20
        )
    };
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
        .map_err(|e| format!("cannot read `{shown}`: {e}"))?;
    if bytes.len() as u64 > MAX_SPEC_BYTES {
        return Err(too_large(bytes.len() as u64));
    }
    String::from_utf8(bytes)
        .map_err(|_| format!("cannot read `{shown}`: stream did not contain valid UTF-8"))
}
