//! What `cargo tiny size` and a build with a size budget tell: the report (text, or one JSON message
//! after the build's; schema in docs/src/commands/size.md), where it was written, and the budget's
//! headroom lines.

use std::path::Path;

use anyhow::Result;

use crate::shell::Shell;
use crate::size_report::budget::Verdict;
use crate::size_report::model::Report;
use crate::size_report::text;

/// The report on stdout (text, or the `size-report` JSON message), then the `Report` line naming its
/// files.
pub fn size_report(
    report: &Report,
    json_path: &Path,
    html_path: &Path,
    shell: &Shell,
    json: bool,
) -> Result<()> {
    if json {
        let mut v = serde_json::Map::new();
        v.insert("reason".into(), "size-report".into());
        v.insert("report_path".into(), json_path.display().to_string().into());
        v.insert("html_path".into(), html_path.display().to_string().into());
        if let serde_json::Value::Object(fields) = serde_json::to_value(report)? {
            v.extend(fields);
        }
        println!("{}", serde_json::to_string(&serde_json::Value::Object(v))?);
    } else {
        print!("{}", text::render(report));
    }
    shell.status(
        "Report",
        format!(
            "{} and {} (open it in a browser: treemap)",
            crate::fsutil::shown_path(json_path).display(),
            crate::fsutil::shown_path(html_path).display()
        ),
    );
    Ok(())
}

/// Within the budget: one `Budget` line per bin with its headroom.
pub fn budget(verdicts: &[Verdict], shell: &Shell) {
    let mut bins: Vec<&str> = verdicts.iter().map(|v| v.bin.as_str()).collect();
    bins.dedup();
    for bin in bins {
        let parts: Vec<String> = verdicts
            .iter()
            .filter(|v| v.bin == bin)
            .map(Verdict::describe)
            .collect();
        shell.status("Budget", format!("{bin}: {}", parts.join(", ")));
    }
}
