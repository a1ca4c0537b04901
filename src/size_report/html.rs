//! The report as one self-contained HTML page (no network): a treemap per binary (owners, then their
//! symbols; a click shows one owner alone), each image's files as a bar, the diff, advice and budget.
//! The page is `report.html` with the report's JSON in it; the drawing is its own script.

use anyhow::Result;

use super::model::{OwnerSymbols, Report};

const TEMPLATE: &str = include_str!("report.html");

/// The page for `report`, with the treemap symbols of each of its binaries (in order).
pub fn render(report: &Report, treemaps: &[Vec<OwnerSymbols>]) -> Result<String> {
    let mut v = serde_json::to_value(report)?;
    v["treemaps"] = serde_json::to_value(treemaps)?;
    // Inside <script>: no `<` may start a tag; JSON keeps the text as `\u003c`.
    let json = serde_json::to_string(&v)?.replace('<', "\\u003c");
    Ok(TEMPLATE.replacen("/*REPORT*/", &json, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_report::model::BinaryReport;

    #[test]
    fn the_page_is_self_contained_and_script_safe() {
        let r = Report {
            version: 1,
            binaries: vec![BinaryReport {
                bin: "</script><b>".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let page = render(&r, &[Vec::new()]).unwrap();
        assert!(!page.contains("</script><b>"));
        assert!(page.contains("\\u003c/script>\\u003cb>"));
        for remote in ["http://", "https://", "src=", "@import"] {
            assert!(!page.contains(remote), "{remote}");
        }
    }
}
