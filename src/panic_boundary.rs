//! The boundary a panic does not cross: a bug anywhere ends as one `error: internal error …` line
//! and exit code [`INTERNAL`], not Rust's stack-trace message and exit 101. The unwinding runs every
//! destructor on the way (the output lock is released, staged temp files are removed, held signals
//! are unblocked), so nothing half-written is left. `RUST_BACKTRACE=1` keeps Rust's own message
//! and backtrace as well, for the report.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Mutex;

/// The exit code of an internal error (`EX_SOFTWARE` of sysexits.h).
pub const INTERNAL: i32 = 70;

/// Where the issues of this tool are reported.
const REPORT_AT: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/issues");

/// The first panic's message and location, kept by the hook for the one line.
static PANICKED: Mutex<Option<String>> = Mutex::new(None);

/// Runs `body`; a panic in it (or in a thread it joins and re-panics) becomes `Err` with the line's
/// text. The panic hook is replaced for the whole process: silent, unless `RUST_BACKTRACE` asks for
/// Rust's message and backtrace.
pub fn run<T>(body: impl FnOnce() -> T) -> Result<T, String> {
    let backtrace = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let mut first = PANICKED.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert(format!("{what}{at}"));
        drop(first);
        if backtrace {
            default(info);
        }
    }));
    panic::catch_unwind(AssertUnwindSafe(body)).map_err(|_| {
        let what = PANICKED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
            .unwrap_or_else(|| "a panic".into());
        format!("internal error: {what}")
    })
}

/// The hint printed with an internal error.
pub fn hint() -> String {
    format!(
        "this is a bug in cargo-tiny {}: please report it at {REPORT_AT} with the command you ran \
         (RUST_BACKTRACE=1 adds a backtrace)",
        env!("CARGO_PKG_VERSION")
    )
}

/// Debug builds only: panics when `CARGO_TINY_TEST_PANIC` names `point`, so the tests can show
/// what a bug at that point leaves behind. Nothing in a release build.
#[track_caller]
pub fn test_point(point: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("CARGO_TINY_TEST_PANIC").is_ok_and(|p| p == point) {
        panic!("CARGO_TINY_TEST_PANIC at {point}");
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}

/// Debug builds only: sleeps when `CARGO_TINY_TEST_PAUSE` is `point:MILLISECONDS`, so a test can
/// widen a window between two steps (another build's files written between a tarball's rename and
/// its SBOM's). Nothing in a release build.
pub fn test_pause(point: &str) {
    #[cfg(debug_assertions)]
    if let Some(ms) = std::env::var("CARGO_TINY_TEST_PAUSE").ok().and_then(|v| {
        v.strip_prefix(point)?
            .strip_prefix(':')?
            .parse::<u64>()
            .ok()
    }) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    #[cfg(not(debug_assertions))]
    let _ = point;
}
