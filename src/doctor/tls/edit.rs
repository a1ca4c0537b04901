//! The edit: the replacement declaration (or feature value) for a route's owner, the table and
//! manifest it goes in (the member's, or the root's `[workspace.dependencies]` for an inherited
//! one), and the Cargo.toml line a finding points at.

use cargo_metadata::Package;

use crate::doctor::findings::Edit;
use crate::knowledge::Entry;
use crate::workspace::Workspace;

/// The table a declaration lives in: `[dependencies]` or `[target.'cfg(…)'.dependencies]`.
pub fn declared_table(d: &cargo_metadata::Dependency) -> Vec<String> {
    let mut table: Vec<String> = d.target.iter().map(|t| t.to_string()).collect();
    if !table.is_empty() {
        table.insert(0, "target".into());
    }
    table.push("dependencies".into());
    table
}

/// The edit that gives the owner's declaration `d` (key `key`) the inline-table `value`: in the
/// owner's manifest, or — for `workspace = true` — in the root's `[workspace.dependencies]`, where
/// default-features can be turned off (the member's own features stay in the member).
/// Returns (file, line, edit, fix text).
pub fn dependency_edit(
    ws: &Workspace,
    owner_manifest: &str,
    d: &cargo_metadata::Dependency,
    key: &str,
    value: &str,
) -> (String, Option<usize>, Edit, String) {
    let text = std::fs::read_to_string(owner_manifest).unwrap_or_default();
    let table = declared_table(d);
    if inherits(&text, &table, key) {
        let root = ws.root().join("Cargo.toml").to_string();
        let root_text = std::fs::read_to_string(&root).unwrap_or_default();
        let value = without_features(value, &member_only_features(&text, &table, &root_text, key));
        let line = dep_line(&root_text, key);
        let edit = Edit::Dependency {
            table: vec!["workspace".into(), "dependencies".into()],
            key: key.to_string(),
            value: value.clone(),
        };
        let fix = format!(
            "in [workspace.dependencies]: {key} = {value} (members keep `workspace = true`)"
        );
        (root, line, edit, fix)
    } else {
        let edit = Edit::Dependency {
            table,
            key: key.to_string(),
            value: value.to_string(),
        };
        let line = dep_line(&text, key);
        (
            owner_manifest.to_string(),
            line,
            edit,
            format!("{key} = {value}"),
        )
    }
}

/// The locked version's own default features that stay on when the TLS default goes: its
/// `default` list minus the native features (the data's `other_defaults` are a release's, and a
/// feature added in 0.12.16 does not exist in 0.12.15).
pub fn locked_defaults(p: &Package, e: &Entry) -> Vec<String> {
    p.features
        .get("default")
        .map(|d| {
            d.iter()
                .filter(|f| !e.native.contains(f) && p.features.contains_key(f.as_str()))
                .cloned()
                .collect()
        })
        .unwrap_or_else(|| e.other_defaults.clone())
}

/// The version requirement to print: the user's, or — for `*` or none — the locked major.minor.
pub fn shown_req(req: &str, locked: &str) -> String {
    let req = req.trim_start_matches('^');
    if req.is_empty() || req == "*" {
        let mut parts = locked.split('.');
        format!(
            "{}.{}",
            parts.next().unwrap_or("0"),
            parts.next().unwrap_or("0")
        )
    } else {
        req.to_string()
    }
}

/// The declaration of `key` in the dependency table at `table`.
fn declaration<'a>(
    doc: &'a toml_edit::DocumentMut,
    table: &[String],
    key: &str,
) -> Option<&'a toml_edit::Item> {
    // `cfg(…)` keys match however the user spaced them, as --fix matches them.
    let mut item = doc.as_item();
    for part in table {
        let t = item.as_table_like()?;
        item = t
            .iter()
            .find(|(k, _)| crate::doctor::fix::same_key(k, part))?
            .1;
    }
    item.get(key)
}

/// Whether the manifest declares `key` in `table` with `workspace = true`.
fn inherits(text: &str, table: &[String], key: &str) -> bool {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return false;
    };
    declaration(&doc, table, key)
        .and_then(|i| i.get("workspace"))
        .and_then(toml_edit::Item::as_bool)
        == Some(true)
}

fn declared_features(item: Option<&toml_edit::Item>) -> Vec<String> {
    item.and_then(|i| i.get("features"))
        .and_then(toml_edit::Item::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// Features the member adds to an inherited dependency that the workspace entry does not list.
fn member_only_features(member: &str, table: &[String], root: &str, key: &str) -> Vec<String> {
    let parse = |t: &str| t.parse::<toml_edit::DocumentMut>().ok();
    let (Some(m), Some(r)) = (parse(member), parse(root)) else {
        return Vec::new();
    };
    let ws = declared_features(
        r.get("workspace")
            .and_then(|w| w.get("dependencies"))
            .and_then(|d| d.get(key)),
    );
    declared_features(declaration(&m, table, key))
        .into_iter()
        .filter(|f| !ws.contains(f))
        .collect()
}

/// The inline table `value` with `drop` removed from its `features`.
fn without_features(value: &str, drop: &[String]) -> String {
    let Ok(toml_edit::Value::InlineTable(mut t)) = value.parse::<toml_edit::Value>() else {
        return value.to_string();
    };
    if let Some(toml_edit::Value::Array(a)) = t.get_mut("features") {
        a.retain(|v| !v.as_str().is_some_and(|f| drop.iter().any(|d| d == f)));
        a.fmt();
    }
    t.fmt();
    t.to_string().trim().to_string()
}

/// 1-based line of feature `name` in the `[features]` table.
pub fn feature_line(text: &str, name: &str) -> Option<usize> {
    let mut in_f = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_f = t == "[features]";
            continue;
        }
        if in_f {
            if let Some(rest) = t.strip_prefix(name) {
                if rest.trim_start().starts_with('=') {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// The replacement declaration's inline table: the user's features minus the native ones, plus the
/// rustls ones and (with `default-features = false`) the crate's other defaults.
pub fn fix_value(
    d: &cargo_metadata::Dependency,
    e: &Entry,
    other_defaults: &[String],
    locked: &str,
) -> String {
    let mut feats: Vec<String> = Vec::new();
    let push = |f: &str, feats: &mut Vec<String>| {
        if !feats.iter().any(|x| x == f) {
            feats.push(f.to_string());
        }
    };
    let drop_defaults = e.default_native && d.uses_default_features;
    for f in &e.rustls {
        push(f, &mut feats);
    }
    for f in &d.features {
        if e.native.contains(f) {
            for r in e.replace.get(f).into_iter().flatten() {
                push(r, &mut feats);
            }
        } else {
            push(f, &mut feats);
        }
    }
    if drop_defaults {
        for f in other_defaults {
            push(f, &mut feats);
        }
    }
    let mut s = format!("{{ version = \"{}\"", shown_req(&d.req.to_string(), locked));
    if drop_defaults || !d.uses_default_features {
        s.push_str(", default-features = false");
    }
    let list: Vec<String> = feats.iter().map(|f| format!("\"{f}\"")).collect();
    s.push_str(&format!(", features = [{}] }}", list.join(", ")));
    s
}

/// 1-based line where `key` is declared in a `[dependencies]`-like table.
pub fn dep_line(text: &str, key: &str) -> Option<usize> {
    let mut in_deps = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_deps = t.ends_with("dependencies]")
                && !t.contains("dev-dependencies")
                && !t.contains("build-dependencies");
            if t == format!("[dependencies.{key}]") || t.ends_with(&format!(".dependencies.{key}]"))
            {
                return Some(i + 1);
            }
            continue;
        }
        if in_deps {
            if let Some(rest) = t.strip_prefix(key) {
                let rest = rest.trim_start();
                if rest.starts_with('=') || rest.starts_with('.') {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}
