//! The profile check: the workspace root's release profile against the size profile, and member
//! profiles cargo ignores.

use toml_edit::{DocumentMut, Item};

use super::findings::{Finding, Severity};
use crate::size_profile::{Value, SIZE_SETTINGS};
use crate::workspace::Workspace;

fn same(item: Option<&Item>, want: &Value, shown: &str) -> bool {
    let Some(v) = item.and_then(Item::as_value) else {
        return false;
    };
    match want {
        Value::Str(s) => v.as_str() == Some(s),
        Value::Bool(b) => v.as_bool() == Some(*b) || v.as_str() == Some(shown),
        Value::Int(i) => v.as_integer() == Some(*i),
    }
}

pub fn check(ws: &Workspace) -> Vec<Finding> {
    let mut out = Vec::new();
    let root = ws.root_manifest();
    let text = std::fs::read_to_string(&root).unwrap_or_default();
    let doc: DocumentMut = text.parse().unwrap_or_default();
    let release = doc.get("profile").and_then(|p| p.get("release"));
    let differ: Vec<String> = SIZE_SETTINGS
        .iter()
        .filter(|s| !same(release.and_then(|r| r.get(s.key)), &s.value, s.shown))
        .map(|s| {
            let now = release
                .and_then(|r| r.get(s.key))
                .and_then(Item::as_value)
                .map(|v| v.to_string().trim().to_string())
                .unwrap_or("unset".into());
            format!("{} ({now} → {})", s.key, s.value.toml())
        })
        .collect();
    if !differ.is_empty() {
        out.push(Finding {
            code: "profile-size",
            severity: Severity::Info,
            message: format!(
                "[profile.release] differs from the size profile: {} (`cargo tiny build` applies it anyway; `cargo tiny init` writes it)",
                differ.join(", ")
            ),
            path: Vec::new(),
            fix: Some("cargo tiny init".into()),
            file: Some(root.to_string()),
            line: super::spans::key_line(&text, &["profile", "release"]),
        edit: None,
        verified: None,
        });
    }
    for m in ws.members() {
        if m.manifest_path == root {
            continue;
        }
        let t = std::fs::read_to_string(&m.manifest_path).unwrap_or_default();
        let d: DocumentMut = t.parse().unwrap_or_default();
        if d.get("profile").is_some() {
            out.push(Finding {
                code: "profile-ignored",
                severity: Severity::Warning,
                message: format!("`{}` sets [profile.*] in a member manifest: cargo ignores it (profiles belong in the workspace root)", m.name),
                path: Vec::new(),
                fix: Some(format!("move the profile to {root}")),
                file: Some(m.manifest_path.to_string()),
                line: super::spans::key_line(&t, &["profile"]),
                edit: None,
                verified: None,
            });
        }
    }
    out
}
