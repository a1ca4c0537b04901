//! Renderers: human (stderr), json and github (stdout).

use std::io::Write;

use anyhow::Context;
use std::path::Path;

use super::findings::{Finding, Severity};
use crate::shell::{escape, Shell, BOLD, CYAN, RED, YELLOW};

/// `--format`: human (stderr), json (one object a line) or github (workflow annotations), both on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Github,
}

/// Version of the `--format json` schema.
pub const JSON_VERSION: u32 = 1;

/// Writes the findings; fails when stdout cannot be written (a full disk), not when the reader
/// stopped reading (`| head`: it has what it wanted).
pub fn render(
    format: Format,
    findings: &[Finding],
    root: &Path,
    shell: &Shell,
) -> anyhow::Result<()> {
    let written = match format {
        Format::Human => {
            shell.print_err(human(
                findings,
                root,
                shell.color() != crate::shell::Color::Never,
            ));
            Ok(())
        }
        Format::Json => {
            let mut out = std::io::stdout().lock();
            findings.iter().try_for_each(|f| {
                let mut v = serde_json::to_value(f).unwrap_or_default();
                if let (Some(o), Some(file)) = (v.as_object_mut(), &f.file) {
                    o.insert("file".into(), rel(file, root).into());
                }
                let mut obj = serde_json::Map::new();
                obj.insert("version".into(), JSON_VERSION.into());
                if let Some(o) = v.as_object() {
                    obj.extend(o.clone());
                }
                obj.insert("help".into(), f.help_url().into());
                writeln!(out, "{}", serde_json::Value::Object(obj))
            })
        }
        Format::Github => {
            // Annotations name files relative to the repository (GitHub's checkout), not to the
            // Cargo workspace, which may sit in a subdirectory.
            let base = std::env::var_os("GITHUB_WORKSPACE")
                .map(std::path::PathBuf::from)
                .or_else(|| std::env::current_dir().ok())
                .and_then(|b| b.canonicalize().ok());
            let base = base
                .as_deref()
                .filter(|b| root.starts_with(b))
                .unwrap_or(root);
            write!(std::io::stdout().lock(), "{}", github(findings, base))
        }
    };
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(e).context("writing the report to stdout")
        }
        _ => Ok(()),
    }
}

fn rel(file: &str, root: &Path) -> String {
    Path::new(file)
        .strip_prefix(root)
        .map(|p| p.display().to_string())
        .unwrap_or(file.to_string())
}

pub fn github(findings: &[Finding], root: &Path) -> String {
    let mut s = String::new();
    for f in findings {
        let level = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut loc = String::new();
        if let Some(file) = &f.file {
            loc.push_str(&format!(
                " file={}",
                escape_property(&escape(&rel(file, root)))
            ));
            if let Some(l) = f.line {
                loc.push_str(&format!(",line={l}"));
            }
        }
        let mut msg = format!("{} ({})", f.message, f.code);
        if !f.path.is_empty() {
            msg.push_str(&format!(": {}", f.path.join(" → ")));
        }
        if let Some(fix) = &f.fix {
            msg.push_str(&format!(". Fix: {fix}"));
        }
        msg.push_str(&format!(". Help: {}", f.help_url()));
        // Control characters first (a log viewer renders ESC sequences; CR/LF would end the
        // command), then GitHub's own escapes.
        s.push_str(&format!("::{level}{loc}::{}\n", escape_data(&escape(&msg))));
    }
    s
}

/// A workflow command's message, escaped per GitHub's rules: `%`, CR and LF.
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A workflow command's property value (`file=`, `line=`): the data escapes, then `:` and `,`.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

pub fn human(findings: &[Finding], root: &Path, color: bool) -> String {
    let st = |s: anstyle::Style| if color { s } else { anstyle::Style::new() };
    let mut s = String::new();
    for sev in [Severity::Error, Severity::Warning, Severity::Info] {
        for f in findings.iter().filter(|f| f.severity == sev) {
            let (style, word) = match sev {
                Severity::Error => (st(RED), "error"),
                Severity::Warning => (st(YELLOW), "warning"),
                Severity::Info => (st(CYAN), "info"),
            };
            // Every field names things the workspace, its registry or its sources control:
            // escaped one by one (the styles around them are ours).
            s.push_str(&format!(
                "{style}{word}[{}]{style:#}: {}\n",
                f.code,
                escape(&f.message)
            ));
            if let Some(file) = &f.file {
                let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
                s.push_str(&format!(
                    "  {}-->{:#} {}{line}\n",
                    st(CYAN),
                    st(CYAN),
                    escape(&rel(file, root))
                ));
            }
            if !f.path.is_empty() {
                s.push_str(&format!("   path: {}\n", escape(&f.path.join(" → "))));
            }
            if let Some(fix) = &f.fix {
                s.push_str(&format!(
                    "   {}fix{:#}: {}\n",
                    st(BOLD),
                    st(BOLD),
                    escape(fix)
                ));
            }
            if let (Some(by), Some(_)) = (f.verified, &f.edit) {
                let by = match by {
                    "cargo-check" => "cargo check of a fixed copy",
                    _ => "cargo's re-resolved graph of a fixed copy (not built)",
                };
                s.push_str(&format!("   verified: {by}\n"));
            }
            s.push_str(&format!("   help: {}\n", f.help_url()));
            s.push('\n');
        }
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
    if findings.is_empty() {
        s.push_str("doctor: nothing keeps this workspace from a static musl build\n");
    } else {
        s.push_str(&format!(
            "doctor: {errors} error(s), {warnings} warning(s)\n"
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hostile() -> Finding {
        Finding {
            code: "x",
            severity: Severity::Warning,
            message: "crate `e\u{1b}[2Jvil\r\n::error file=a.rs::forged%0A`\u{202e}".into(),
            path: vec!["app".into(), "e\u{8}vil\n::notice::x".into()],
            fix: Some("set\u{9b}31m x\n::warning::y".into()),
            file: Some("/r/dir\n::error::z/\u{1b}]0;t\u{7}/Cargo.toml".into()),
            line: Some(1),
            edit: None,
            verified: None,
        }
    }

    #[test]
    fn hostile_names_reach_no_terminal_and_no_workflow_command_raw() {
        let out = github(&[hostile()], Path::new("/r"));
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(
            out.starts_with("::warning file=dir\\n%3A%3Aerror%3A%3Az/"),
            "{out}"
        );
        assert!(
            !out.chars()
                .any(|c| c != '\n' && crate::shell::unsafe_char(c)),
            "{out:?}"
        );
        // `%0A` in the input is data, not a line break GitHub would decode.
        assert!(out.contains("forged%250A"), "{out}");
        let text = human(&[hostile()], Path::new("/r"), false);
        assert!(
            !text
                .chars()
                .any(|c| c != '\n' && crate::shell::unsafe_char(c)),
            "{text:?}"
        );
        // Lines: the finding's 5 (message, location, path, fix, help), a blank one, the summary.
        assert_eq!(text.lines().count(), 7, "{text}");
        assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");
    }

    #[test]
    fn workflow_command_values_are_escaped() {
        let f = Finding {
            code: "x",
            severity: Severity::Error,
            message: "50% of\r\nlines, a:b".into(),
            path: Vec::new(),
            fix: None,
            file: Some("/r/we,ird:dir/100%/Cargo.toml".into()),
            line: Some(3),
            edit: None,
            verified: None,
        };
        let out = github(&[f], Path::new("/r"));
        assert_eq!(out.lines().count(), 1, "{out}");
        // CR and LF are written as text (`\r\n`): no byte of theirs reaches the log.
        assert!(
            out.starts_with("::error file=we%2Cird%3Adir/100%25/Cargo.toml,line=3::50%25 of\\r\\nlines, a:b (x). Help: https://"),
            "{out}"
        );
    }
}
