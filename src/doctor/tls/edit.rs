//! The edit: the replacement declaration (or feature value) for a route's owner, the table and
//! manifest it goes in (the member's, or the root's `[workspace.dependencies]` for an inherited
//! one), and the Cargo.toml line a finding points at.

use cargo_metadata::Package;

use crate::doctor::findings::Edit;
use crate::doctor::spans;
use crate::knowledge::TlsEntry;
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
pub fn locked_defaults(p: &Package, e: &TlsEntry) -> Vec<String> {
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

/// The replacement declaration's inline table: the user's features minus the native ones, plus the
/// rustls ones and (with `default-features = false`) the crate's other defaults.
pub fn fix_value(
    d: &cargo_metadata::Dependency,
    e: &TlsEntry,
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

/// 1-based line of feature `name` in the `[features]` table.
pub fn feature_line(text: &str, name: &str) -> Option<usize> {
    spans::key_line(text, &["features", name])
}

/// 1-based line where `key` is first declared in a dependency table: `[dependencies]`,
/// `[workspace.dependencies]` or `[target.'…'.dependencies]` (not dev- or build-dependencies), as
/// `key = …`, `key.version = …` or a `[dependencies.key]` table.
pub fn dep_line(text: &str, key: &str) -> Option<usize> {
    let doc = spans::parse(text)?;
    fn deps(t: Option<&toml_edit::Item>) -> Option<&dyn toml_edit::TableLike> {
        t?.get("dependencies")?.as_table_like()
    }
    let mut tables = vec![deps(Some(doc.as_item())), deps(doc.get("workspace"))];
    if let Some(targets) = doc.get("target").and_then(toml_edit::Item::as_table_like) {
        tables.extend(targets.iter().map(|(_, t)| deps(Some(t))));
    }
    tables
        .into_iter()
        .flatten()
        .filter_map(|t| spans::line_of(text, t.key(key)?))
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::{declared, package};

    const MANIFEST: &str = "\u{feff}[package]\nname = \"app\"\n\n[dev-dependencies]\nreqwest = \"0.12\"\n\n[dependencies]\nreqwest-middleware = \"0.4\"\n\"reqwest\" = { version = \"0.12\" }\n\n[target.'cfg(unix)'.dependencies.openssl]\nversion = \"0.10\"\n\n[workspace.dependencies]\ngit2.version = \"0.20\"\n\n[features]\nnative-tls = [\"reqwest/native-tls\"]\n";

    #[test]
    fn lines_come_from_the_spans() {
        // A quoted key, after a key it prefixes; the dev-dependency above does not count.
        assert_eq!(dep_line(MANIFEST, "reqwest"), Some(9));
        assert_eq!(dep_line(MANIFEST, "reqwest-middleware"), Some(8));
        // A `[target.….dependencies.key]` table and a dotted key in [workspace.dependencies].
        assert_eq!(dep_line(MANIFEST, "openssl"), Some(11));
        assert_eq!(dep_line(MANIFEST, "git2"), Some(15));
        assert_eq!(dep_line(MANIFEST, "serde"), None);
        assert_eq!(feature_line(MANIFEST, "native-tls"), Some(18));
        assert_eq!(feature_line(MANIFEST, "native"), None);
        // CRLF line ends count the same; an unreadable manifest has no line.
        let crlf = MANIFEST.replace('\n', "\r\n");
        assert_eq!(dep_line(&crlf, "reqwest"), Some(9));
        assert_eq!(dep_line("[dependencies\nreqwest = 1", "reqwest"), None);
    }

    #[test]
    fn fix_value_swaps_native_for_rustls_and_keeps_the_rest() {
        let kb = &crate::knowledge::get().tls;
        let e = kb.get("reqwest", "0.12.28").unwrap();
        let d = declared("reqwest", "^0.12", true, &["json", "native-tls"]);
        assert_eq!(
            fix_value(&d, e, &["charset".into(), "http2".into()], "0.12.28"),
            "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\", \"json\", \"charset\", \"http2\"] }"
        );
        // Defaults already off stay off; no other defaults come back.
        let d = declared("reqwest", "*", false, &["default-tls"]);
        assert_eq!(
            fix_value(&d, e, &["charset".into()], "0.12.28"),
            "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\"] }"
        );
    }

    #[test]
    fn locked_defaults_are_the_locked_versions() {
        let e = crate::knowledge::get()
            .tls
            .get("reqwest", "0.12.0")
            .unwrap();
        let p = package(
            "reqwest",
            "0.12.15",
            false,
            vec![],
            serde_json::json!({"default": ["default-tls", "charset", "gone"], "default-tls": [], "charset": []}),
        );
        assert_eq!(locked_defaults(&p, e), ["charset"]);
        let bare = package("reqwest", "0.12.15", false, vec![], serde_json::json!({}));
        assert_eq!(locked_defaults(&bare, e), e.other_defaults);
    }

    #[test]
    fn inherited_declarations() {
        let member = "[dependencies]\nreqwest = { workspace = true, features = [\"json\", \"native-tls\"] }\n[target.\"cfg( unix )\".dependencies]\ngit2 = { workspace = true }\n";
        let root = "[workspace.dependencies]\nreqwest = { version = \"0.12\", features = [\"native-tls\"] }\n";
        let deps = ["dependencies".to_string()];
        assert!(inherits(member, &deps, "reqwest"));
        assert!(!inherits(member, &deps, "git2"));
        let unix = ["target".into(), "cfg(unix)".into(), "dependencies".into()];
        assert!(
            inherits(member, &unix, "git2"),
            "cfg keys match however spaced"
        );
        assert_eq!(
            member_only_features(member, &deps, root, "reqwest"),
            ["json"]
        );
        assert_eq!(
            without_features(
                "{ version = \"0.12\", features = [\"rustls-tls\", \"json\"] }",
                &["json".into()]
            ),
            "{ version = \"0.12\", features = [\"rustls-tls\"] }"
        );
        assert_eq!(without_features("\"0.12\"", &["json".into()]), "\"0.12\"");
    }

    #[test]
    fn tables_and_requirements() {
        let mut d = declared("openssl", "^0.10", true, &[]);
        assert_eq!(declared_table(&d), ["dependencies"]);
        d.target = Some("cfg(unix)".parse().unwrap());
        assert_eq!(declared_table(&d), ["target", "cfg(unix)", "dependencies"]);
        assert_eq!(shown_req("*", "0.10.10"), "0.10");
        assert_eq!(shown_req("^0.11", "0.11.27"), "0.11");
        assert_eq!(shown_req("=1.2.3", "1.2.3"), "=1.2.3");
    }
}
