//! Spawning processes, in one place: a program that cannot be started is a one-line error naming it
//! and saying how to fix it; a run whose failure is itself the answer (git outside a checkout, a
//! missing toolchain) is a [`probe`].

use std::process::{Child, Command, ExitStatus, Output};

use anyhow::{Context, Result};

use crate::error::Failure;

/// `could not run `PROGRAM`: …`, with `hint` when there is one.
fn not_started(cmd: &Command, e: std::io::Error, hint: &str) -> anyhow::Error {
    let f = Failure::new(format!(
        "could not run `{}`: {e}",
        cmd.get_program().to_string_lossy()
    ));
    if hint.is_empty() { f } else { f.hint(hint) }.into()
}

/// Starts `cmd`.
pub fn spawn(cmd: &mut Command, hint: &str) -> Result<Child> {
    cmd.spawn().map_err(|e| not_started(cmd, e, hint))
}

/// Runs `cmd` to its end, its output captured.
pub fn output(cmd: &mut Command, hint: &str) -> Result<Output> {
    cmd.output().map_err(|e| not_started(cmd, e, hint))
}

/// Runs `cmd` to its end, its output where ours goes.
pub fn status(cmd: &mut Command, hint: &str) -> Result<ExitStatus> {
    cmd.status().map_err(|e| not_started(cmd, e, hint))
}

/// The trimmed stdout of `cmd` when it started and succeeded; `None` otherwise.
pub fn probe(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The stdout of `cmd`, which must succeed: else `` `PROGRAM ARGS` failed: `` and the first error
/// line of its stderr.
pub fn capture(cmd: &mut Command, hint: &str) -> Result<String> {
    let out = output(cmd, hint)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let mut words = vec![cmd.get_program().to_string_lossy().into_owned()];
        words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
        return Err(Failure::new(format!(
            "`{}` failed: {}",
            words.join(" "),
            crate::workspace::cargo_error_line(&stderr)
        ))
        .into());
    }
    String::from_utf8(out.stdout).context("non-UTF-8 output")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_one_line_naming_it() {
        let err = output(
            &mut Command::new("cargo-tiny-no-such-program"),
            "install it",
        )
        .unwrap_err();
        let (_, message, hint) = crate::error::report(&err);
        assert!(
            message.starts_with("could not run `cargo-tiny-no-such-program`: "),
            "{message}"
        );
        assert!(!message.contains('\n'));
        assert_eq!(hint.as_deref(), Some("install it"));
    }

    #[test]
    fn capture_names_the_failed_command() {
        let err = capture(
            Command::new("sh").args(["-c", "echo 'error: bad' >&2; exit 3"]),
            "",
        )
        .unwrap_err();
        let (_, message, _) = crate::error::report(&err);
        assert_eq!(message, "`sh -c echo 'error: bad' >&2; exit 3` failed: bad");
    }

    #[test]
    fn probe_is_none_on_failure_and_stdout_on_success() {
        assert_eq!(probe(Command::new("sh").args(["-c", "exit 1"])), None);
        assert_eq!(
            probe(Command::new("sh").args(["-c", "echo ' hi '"])).as_deref(),
            Some("hi")
        );
        assert_eq!(probe(&mut Command::new("cargo-tiny-no-such-program")), None);
    }
}
