//! The note for a switch to rustls that leaves the owner's code calling OpenSSL-only API.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::package;
use crate::doctor::tls::Route;
use crate::workspace::Workspace;

/// When the switch to rustls leaves the owner's code calling the crate's OpenSSL / native-tls
/// API (`bind_openssl`, `use_native_tls`), a note that code changes follow: the crate's public
/// function names with `openssl` / `native_tls` in them, searched for in the owner's sources.
pub fn openssl_api_note(ws: &Workspace, r: &Route) -> Option<String> {
    let dep = package(ws, &r.dname, &r.dver)?;
    let src = dep.manifest_path.parent()?.join("src");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for text in rust_files(src.as_std_path())
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
    {
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.contains("openssl") || name.contains("native_tls") {
                names.insert(name);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let owner = ws
        .members()
        .into_iter()
        .find(|p| p.name.as_str() == r.owner)?;
    let dir = owner.manifest_path.parent()?.as_std_path().to_path_buf();
    for f in rust_files(&dir) {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some(n) = names.iter().find(|n| contains_word(line, n)) {
                let shown = f.strip_prefix(&dir).unwrap_or(&f).display().to_string();
                return Some(format!(
                    "code changes needed: {shown}:{} calls `{n}`, an OpenSSL / native-tls API of {}",
                    i + 1,
                    r.dname
                ));
            }
        }
    }
    None
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        edge(before) && edge(after)
    })
}

/// `.rs` files below `dir` (not `target/` or hidden directories), at most a few thousand.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") && out.len() < 5000 {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert!(contains_word("    .bind_openssl(addr, b)?", "bind_openssl"));
        assert!(!contains_word("fn my_bind_openssl2()", "bind_openssl"));
    }
}
