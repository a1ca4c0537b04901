//! User-facing failures: one line saying what went wrong and how to fix it.
//!
//! Any `anyhow::Error` can carry a [`Failure`] somewhere in its chain; `main` looks for it to pick the exit
//! code and the hint. Errors without one are reported with their context chain on one line and exit 1.

use std::fmt;

/// A failure the user can act on.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong (no trailing period).
    pub message: String,
    /// How to fix it, when we know.
    pub hint: Option<String>,
    /// The process exit code to use.
    pub code: i32,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failure {}

/// Shorthand: `bail_user!(hint = "...", "message {}", x)`.
#[macro_export]
macro_rules! fail {
    (hint = $hint:expr, $($arg:tt)+) => {
        return Err(anyhow::Error::new($crate::error::Failure::new(format!($($arg)+)).hint($hint)))
    };
    ($($arg:tt)+) => {
        return Err(anyhow::Error::new($crate::error::Failure::new(format!($($arg)+))))
    };
}

/// The exit code, message and hint `main` prints for an error.
pub fn report(err: &anyhow::Error) -> (i32, String, Option<String>) {
    let failure = err.chain().find_map(|e| e.downcast_ref::<Failure>());
    // The whole context chain on one line, like anyhow's `{:#}`, with newlines folded.
    let message = format!("{err:#}").replace('\n', " ");
    match failure {
        Some(f) => (f.code, message, f.hint.clone()),
        None => (1, message, None),
    }
}
