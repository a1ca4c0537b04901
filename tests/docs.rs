//! The book (docs/) and the README against the code and against themselves: every
//! `[*.metadata.tiny]` key the code reads has its heading in the configuration reference and no other
//! heading is there; every doctor finding code has its section in the findings reference, and the
//! checks write no code the list lacks; every relative link and `#anchor` of the README and the book
//! points at a file and a heading that exist; every page is in SUMMARY.md; the README stays a front
//! page.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The lines of a Markdown text outside fenced code blocks.
fn prose(text: &str) -> Vec<&str> {
    let mut fenced = false;
    text.lines()
        .filter(|l| {
            if l.trim_start().starts_with("```") {
                fenced = !fenced;
                return false;
            }
            !fenced
        })
        .collect()
}

/// `### `name`` headings of the `## Keys` section of the configuration reference.
fn documented_keys(text: &str) -> Vec<String> {
    let mut in_keys = false;
    let mut keys = Vec::new();
    for l in prose(text) {
        if let Some(h) = l.strip_prefix("## ") {
            in_keys = h.trim() == "Keys";
        } else if let (true, Some(h)) = (in_keys, l.strip_prefix("### ")) {
            keys.push(h.trim().trim_matches('`').to_string());
        }
    }
    keys
}

/// What is in `a` and not in `b`, and the other way round, as one message (empty when equal).
fn difference(a_name: &str, a: &[String], b_name: &str, b: &[String]) -> String {
    let (sa, sb): (BTreeSet<_>, BTreeSet<_>) = (a.iter().collect(), b.iter().collect());
    let mut msg = String::new();
    let only_a: Vec<_> = sa.difference(&sb).collect();
    let only_b: Vec<_> = sb.difference(&sa).collect();
    if !only_a.is_empty() {
        msg.push_str(&format!("in {a_name} but not in {b_name}: {only_a:?}\n"));
    }
    if !only_b.is_empty() {
        msg.push_str(&format!("in {b_name} but not in {a_name}: {only_b:?}\n"));
    }
    let dups: Vec<_> = a
        .iter()
        .filter(|k| a.iter().filter(|x| x == k).count() > 1)
        .collect();
    if !dups.is_empty() {
        msg.push_str(&format!("twice in {a_name}: {dups:?}\n"));
    }
    msg
}

#[test]
fn every_metadata_key_is_in_the_configuration_reference() {
    let code: Vec<String> = cargo_tiny::config::KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    let docs = documented_keys(&read("docs/src/configuration.md"));
    assert!(
        !docs.is_empty(),
        "no `### `key`` heading under `## Keys` in docs/src/configuration.md"
    );
    let msg = difference(
        "docs/src/configuration.md (### headings under ## Keys)",
        &docs,
        "config::KEYS (src/config.rs)",
        &code,
    );
    assert!(msg.is_empty(), "{msg}");
}

#[test]
fn the_key_check_fails_on_a_missing_or_unknown_key() {
    let text = read("docs/src/configuration.md");
    let mut keys = documented_keys(&text);
    assert!(keys.contains(&"stop-signal".to_string()), "{keys:?}");
    let code: Vec<String> = cargo_tiny::config::KEYS
        .iter()
        .map(|k| k.to_string())
        .collect();
    keys.retain(|k| k != "stop-signal");
    keys.push("no-such-key".into());
    let msg = difference("docs", &keys, "code", &code);
    assert!(
        msg.contains("\"no-such-key\"") && msg.contains("\"stop-signal\""),
        "{msg}"
    );
}

/// The `## code` headings of the findings reference.
fn documented_codes() -> Vec<String> {
    prose(&read("docs/src/reference/doctor-findings.md"))
        .iter()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().to_string())
        .collect()
}

#[test]
fn every_doctor_code_is_in_the_findings_reference() {
    let code: Vec<String> = cargo_tiny::doctor::findings::CODES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let msg = difference(
        "docs/src/reference/doctor-findings.md (## headings)",
        &documented_codes(),
        "doctor::findings::CODES",
        &code,
    );
    assert!(msg.is_empty(), "{msg}");
}

/// The codes the checks write: `code: "…"` in a `Finding`, the first argument of a `finding(…)`
/// helper, and the arms that choose one (`IssueKind::… => "native-static"`), outside test modules.
fn codes_in_sources(dir: &Path, out: &mut BTreeSet<String>) {
    let pattern = regex::Regex::new(
        r#"(?:code:\s*|finding\(\s*|IssueKind::\w+(?:\s*\{[^}]*\})?\s*=>\s*)"([a-z0-9]+(?:-[a-z0-9]+)+)""#,
    )
    .unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            codes_in_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.split("#[cfg(test)]").next().unwrap_or_default();
            out.extend(pattern.captures_iter(text).map(|c| c[1].to_string()));
        }
    }
}

#[test]
fn the_checks_write_only_listed_codes() {
    let mut found = BTreeSet::new();
    codes_in_sources(&repo().join("src/doctor"), &mut found);
    // The scan sees the codes (so it can fail): a code of each kind of writer.
    for c in [
        "pid1-signals",
        "toolchain-cmake",
        "native-static",
        "build-check",
    ] {
        assert!(found.contains(c), "{c} not found in src/doctor: {found:?}");
    }
    let listed: BTreeSet<String> = cargo_tiny::doctor::findings::CODES
        .iter()
        .map(|c| c.to_string())
        .collect();
    let unlisted: Vec<_> = found.difference(&listed).collect();
    assert!(
        unlisted.is_empty(),
        "codes written in src/doctor but not in doctor::findings::CODES: {unlisted:?}"
    );
}

/// A heading's anchor as mdBook makes it (and GitHub, for these headings): lowercase, spaces to `-`,
/// only letters, digits, `-` and `_` kept.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_whitespace() => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn anchors(text: &str) -> BTreeSet<String> {
    prose(text)
        .iter()
        .filter_map(|l| {
            l.trim_start_matches('#')
                .strip_prefix(' ')
                .filter(|_| l.starts_with('#'))
        })
        .map(anchor)
        .collect()
}

/// The link targets of a Markdown text: `[text](target)` and `[label]: target`, outside code.
fn links(text: &str) -> Vec<String> {
    let inline = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let reference = regex::Regex::new(r"^\[[^\]]+\]:\s*(\S+)").unwrap();
    let code_span = regex::Regex::new(r"`[^`]*`").unwrap();
    let mut out = Vec::new();
    for l in prose(text) {
        let l = code_span.replace_all(l, "``");
        out.extend(inline.captures_iter(&l).map(|c| c[1].to_string()));
        out.extend(reference.captures_iter(&l).map(|c| c[1].to_string()));
    }
    out
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            markdown_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
}

/// Every broken relative link of `file`: a missing file, a missing `#anchor`, or (in the book) a
/// file outside docs/src, which the rendered book would not have.
fn broken_links(file: &Path, book: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let in_book = file.starts_with(book);
    let mut broken = Vec::new();
    for target in links(&text) {
        if target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        let (path, frag) = match target.split_once('#') {
            Some((p, f)) => (p, Some(f)),
            None => (target.as_str(), None),
        };
        let dest = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        let Ok(dest) = dest.canonicalize() else {
            broken.push(format!("{target}: no such file"));
            continue;
        };
        if in_book && !dest.starts_with(book) {
            broken.push(format!(
                "{target}: outside docs/src (link to GitHub instead)"
            ));
            continue;
        }
        if let Some(frag) = frag {
            let Ok(text) = std::fs::read_to_string(&dest) else {
                broken.push(format!("{target}: an anchor into a directory"));
                continue;
            };
            if !anchors(&text).contains(frag) {
                broken.push(format!("{target}: no heading with the anchor #{frag}"));
            }
        }
    }
    broken
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let book = repo().join("docs/src").canonicalize().unwrap();
    let mut files = vec![repo().join("README.md")];
    markdown_files(&book, &mut files);
    let mut report = String::new();
    let mut checked = 0;
    for f in &files {
        checked += links(&std::fs::read_to_string(f).unwrap()).len();
        for b in broken_links(&f.canonicalize().unwrap(), &book) {
            report.push_str(&format!(
                "{}: {b}\n",
                f.strip_prefix(repo()).unwrap().display()
            ));
        }
    }
    assert!(
        checked > 100,
        "only {checked} links found: the link scan is broken"
    );
    assert!(report.is_empty(), "broken links:\n{report}");
}

#[test]
fn the_link_check_finds_a_broken_link_and_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().canonicalize().unwrap();
    std::fs::write(book.join("a.md"), "# A\n\n## The image\n").unwrap();
    std::fs::write(
        book.join("b.md"),
        "[ok](a.md#the-image) [gone](missing.md) [bad](a.md#no-such) [out](../x.md)\n```\n[code](nowhere.md)\n```\n",
    )
    .unwrap();
    let broken = broken_links(&book.join("b.md"), &book);
    assert_eq!(broken.len(), 3, "{broken:?}");
    assert!(
        broken[0].starts_with("missing.md: no such file"),
        "{broken:?}"
    );
    assert!(broken[1].contains("#no-such"), "{broken:?}");
    assert!(broken[2].starts_with("../x.md"), "{broken:?}");
    assert_eq!(anchor("SBOM formats and VEX"), "sbom-formats-and-vex");
    assert_eq!(
        anchor("Push to ghcr.io from the default branch"),
        "push-to-ghcrio-from-the-default-branch"
    );
    assert_eq!(
        anchor("`cargo tiny push` and `build --push`"),
        "cargo-tiny-push-and-build---push"
    );
}

#[test]
fn every_page_is_in_the_summary() {
    let book = repo().join("docs/src");
    let summary = read("docs/src/SUMMARY.md");
    let listed: BTreeSet<String> = links(&summary).into_iter().collect();
    let mut files = Vec::new();
    markdown_files(&book, &mut files);
    let pages: BTreeSet<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(&book)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/")
        })
        .filter(|p| p != "SUMMARY.md")
        .collect();
    let orphans: Vec<_> = pages.difference(&listed).collect();
    let missing: Vec<_> = listed.difference(&pages).collect();
    assert!(
        orphans.is_empty(),
        "pages not in docs/src/SUMMARY.md: {orphans:?}"
    );
    assert!(
        missing.is_empty(),
        "SUMMARY.md entries without a page: {missing:?}"
    );
}

#[test]
fn the_readme_is_a_front_page() {
    let lines = read("README.md").lines().count();
    assert!(
        lines <= 250,
        "README.md has {lines} lines: move the details into the book (docs/src)"
    );
}
