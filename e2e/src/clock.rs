//! A wrong clock for one process: libfaketime (Debian's `faketime` package), preloaded.

use std::path::PathBuf;

/// Where Debian puts the library.
const CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// libfaketime, if it is installed.
pub fn libfaketime() -> Option<PathBuf> {
    CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists())
}

/// The environment that runs a process with its wall clock `offset_seconds` off (positive:
/// ahead). Only the wall clock: the monotonic clock, which timers and ZooKeeper's session
/// bookkeeping use, is left alone, as a skewed host's would be. Run processes (whose
/// environment the worker clears) are not affected.
pub fn skewed_clock_env(offset_seconds: i64) -> Vec<(String, String)> {
    let lib = libfaketime().unwrap_or_else(|| {
        panic!(
            "libfaketime is missing (none of {CANDIDATES:?}): install Debian's `faketime` \
             (make test does)"
        )
    });
    vec![
        ("LD_PRELOAD".into(), lib.display().to_string()),
        ("FAKETIME".into(), format!("{offset_seconds:+}s")),
        ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
    ]
}
