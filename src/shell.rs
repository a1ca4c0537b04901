//! Status output on stderr in cargo's style: a right-aligned, coloured verb and a message.

use std::io::Write;

use anstream::{AutoStream, ColorChoice};
use anstyle::{AnsiColor, Style};

/// How chatty to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// The `--color` choice, as cargo spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Color {
    #[default]
    Auto,
    Always,
    Never,
}

impl Color {
    pub fn as_str(self) -> &'static str {
        match self {
            Color::Auto => "auto",
            Color::Always => "always",
            Color::Never => "never",
        }
    }

    fn choice(self) -> ColorChoice {
        match self {
            Color::Auto => ColorChoice::Auto,
            Color::Always => ColorChoice::Always,
            Color::Never => ColorChoice::Never,
        }
    }
}

pub const GREEN: Style = AnsiColor::Green.on_default().bold();
pub const CYAN: Style = AnsiColor::Cyan.on_default().bold();
pub const YELLOW: Style = AnsiColor::Yellow.on_default().bold();
pub const RED: Style = AnsiColor::Red.on_default().bold();
pub const BOLD: Style = Style::new().bold();

/// The one place human output goes through.
pub struct Shell {
    verbosity: Verbosity,
    color: Color,
}

impl Shell {
    pub fn new(verbosity: Verbosity, color: Color) -> Self {
        Shell { verbosity, color }
    }

    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    pub fn color(&self) -> Color {
        self.color
    }

    fn err(&self) -> AutoStream<std::io::Stderr> {
        AutoStream::new(std::io::stderr(), self.color.choice())
    }

    /// `   Compiling foo` — green verb, right-aligned to 12 columns.
    pub fn status(&self, verb: &str, message: impl std::fmt::Display) {
        self.status_with(GREEN, verb, message)
    }

    /// Like `status`, in cyan, for notes cargo prints the same way (`Packaging`, `Summary`).
    pub fn note(&self, verb: &str, message: impl std::fmt::Display) {
        self.status_with(CYAN, verb, message)
    }

    /// Printed only with `-v`.
    pub fn verbose(&self, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity >= Verbosity::Verbose {
            self.status_with(CYAN, verb, message)
        }
    }

    fn status_with(&self, style: Style, verb: &str, message: impl std::fmt::Display) {
        if self.verbosity == Verbosity::Quiet {
            return;
        }
        let message = message.to_string();
        let _ = writeln!(
            self.err(),
            "{style}{verb:>12}{style:#} {}",
            escape(&message)
        );
    }

    /// `warning: ...` — shown even with `-q`, as cargo does.
    pub fn warn(&self, message: impl std::fmt::Display) {
        let message = message.to_string();
        let _ = writeln!(
            self.err(),
            "{YELLOW}warning{YELLOW:#}: {}",
            escape(&message)
        );
    }

    /// `error: ...; help: ...` on one line.
    pub fn error(&self, message: &str, hint: Option<&str>) {
        let mut out = self.err();
        let message = escape(message);
        let hint = hint.map(escape);
        let _ = match hint {
            Some(h) => writeln!(out, "{RED}error{RED:#}: {message}; {BOLD}help{BOLD:#}: {h}"),
            None => writeln!(out, "{RED}error{RED:#}: {message}"),
        };
    }

    /// Plain text to stderr (tables, diffs); still silenced by `-q`.
    pub fn print_err(&self, text: impl std::fmt::Display) {
        if self.verbosity != Verbosity::Quiet {
            let _ = write!(self.err(), "{text}");
        }
    }
}

/// `text` with every control character (ESC, CR, backspace, DEL, the C1 controls, the
/// bidirectional overrides) written as a Rust escape (`\u{1b}`), so text a tarball, a registry or a
/// source file controls cannot move the cursor, rewrite a line or restyle the terminal. Newlines are
/// escaped too: a status line or an error is one line.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A control character or a bidirectional override/isolate/mark: what [`escape`] rewrites.
pub fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Multi-line text (a diff, a report) with each line passed through [`escape`]: the text's own line
/// breaks stay, every other control character is escaped. Text that puts a line break inside one
/// of its values must escape that value with [`escape`] first.
pub fn escape_lines(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c != '\n' && unsafe_char(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&escape(line));
    }
    std::borrow::Cow::Owned(out)
}

/// Human-readable size: `312344 bytes (305.0 KiB)`.
pub fn human_size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if b >= KIB * KIB {
        format!("{:.2} MiB", b / (KIB * KIB))
    } else {
        format!("{:.1} KiB", b / KIB)
    }
}

#[cfg(test)]
mod tests {
    use super::{escape, escape_lines, human_size};

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("plain text: ok"), "plain text: ok");
        assert_eq!(
            escape("a\x1b[31mred\rover\x08\x7f\u{9b}\u{202e}\nb"),
            "a\\u{1b}[31mred\\rover\\u{8}\\u{7f}\\u{9b}\\u{202e}\\nb"
        );
    }

    #[test]
    fn multi_line_text_keeps_its_lines_only() {
        assert_eq!(escape_lines("a\nb\n"), "a\nb\n");
        assert_eq!(
            escape_lines("-x = \"\x1b]0;t\x07\"\r\n+y\u{2066}\n"),
            "-x = \"\\u{1b}]0;t\\u{7}\"\\r\n+y\\u{2066}\n"
        );
    }

    #[test]
    fn sizes_read_like_cargo() {
        assert_eq!(human_size(312_344), "305.0 KiB");
        assert_eq!(human_size(3 * 1024 * 1024 + 512 * 1024), "3.50 MiB");
        assert_eq!(human_size(0), "0.0 KiB");
    }
}
