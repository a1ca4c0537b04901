//! `--fix`: apply the edits with toml_edit (comments and formatting kept), re-resolve, roll back on failure.

use std::collections::BTreeMap;

use anyhow::Result;
use toml_edit::{DocumentMut, Item, Value};

use super::findings::{Edit, Finding};
use crate::error::Failure;

/// Apply one edit to a manifest text. A text without a final newline gets none.
pub fn apply(text: &str, edit: &Edit) -> Result<String> {
    let out = apply_edit(text, edit)?;
    Ok(match out.strip_suffix('\n') {
        Some(trimmed) if !text.is_empty() && !text.ends_with('\n') => trimmed.to_string(),
        _ => out,
    })
}

fn apply_edit(text: &str, edit: &Edit) -> Result<String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| Failure::new(format!("cannot parse manifest: {e}")))?;
    match edit {
        Edit::Dependency { table, key, value } | Edit::Upgrade { table, key, value } => {
            let name = format!("[{}]", table.join("."));
            let mut item = Some(doc.as_item_mut());
            for part in table {
                item = item.and_then(|i| child_mut(i, part));
            }
            let deps = item
                .and_then(Item::as_table_like_mut)
                .ok_or_else(|| Failure::new(format!("no {name} table")))?;
            let Some(item) = deps.get_mut(key) else {
                crate::fail!("`{key}` is not declared in {name}");
            };
            merge(item, key, value)?;
            if let Edit::Upgrade { .. } = edit {
                set_version(item, value)?;
            }
        }
        Edit::FeatureValue { feature, old, new } => {
            let arr = doc
                .get_mut("features")
                .and_then(|f| f.get_mut(feature))
                .and_then(Item::as_array_mut)
                .ok_or_else(|| Failure::new(format!("feature `{feature}` not found")))?;
            for v in arr.iter_mut() {
                if v.as_str() == Some(old.as_str()) {
                    let decor = v.decor().clone();
                    *v = Value::from(new.as_str());
                    *v.decor_mut() = decor;
                }
            }
        }
        Edit::AddFeatureValue { feature, value } => {
            let features = doc
                .entry("features")
                .or_insert_with(toml_edit::table)
                .as_table_like_mut()
                .ok_or_else(|| Failure::new("[features] is not a table"))?;
            if !features.contains_key(feature) {
                features.insert(feature, Item::Value(Value::Array(Default::default())));
            }
            let arr = features
                .get_mut(feature)
                .and_then(Item::as_array_mut)
                .ok_or_else(|| Failure::new(format!("feature `{feature}` is not a list")))?;
            if !arr.iter().any(|v| v.as_str() == Some(value.as_str())) {
                // A list written one item a line (or an empty one holding comments) gets the new
                // item on its own line, indented like the others.
                let last_prefix = arr
                    .iter()
                    .last()
                    .and_then(|v| v.decor().prefix())
                    .and_then(|p| p.as_str())
                    .map(str::to_string);
                let prefix = match last_prefix {
                    Some(p) if p.contains('\n') => Some(p),
                    Some(_) => None,
                    None => arr
                        .trailing()
                        .as_str()
                        .is_some_and(|t| t.contains('\n'))
                        .then(|| "\n    ".to_string()),
                };
                match prefix {
                    Some(p) => arr.push_formatted(Value::from(value.as_str()).decorated(p, "")),
                    None => arr.push(value.as_str()),
                }
            }
        }
        Edit::RemoveFeatureValues { feature, values } => {
            let arr = doc
                .get_mut("features")
                .and_then(|f| f.get_mut(feature))
                .and_then(Item::as_array_mut)
                .ok_or_else(|| Failure::new(format!("feature `{feature}` not found")))?;
            for value in values {
                let Some(i) = arr.iter().position(|v| v.as_str() == Some(value.as_str())) else {
                    crate::fail!("feature `{feature}` does not list \"{value}\"");
                };
                // The next item takes the removed one's place and its leading whitespace (the
                // list's layout, one a line or all on one, stays as it was).
                let removed = arr.remove(i);
                if let Some(next) = arr.get_mut(i) {
                    if let Some(p) = removed.decor().prefix().cloned() {
                        next.decor_mut().set_prefix(p);
                    }
                }
            }
        }
        Edit::AddDependency { table, key, value } => {
            let mut item = doc.as_item_mut();
            for part in table {
                let t = item
                    .as_table_like_mut()
                    .ok_or_else(|| Failure::new(format!("[{}] is not a table", table.join("."))))?;
                let found = t
                    .iter()
                    .map(|(k, _)| k.to_string())
                    .find(|k| same_key(k, part));
                let k = found.unwrap_or_else(|| part.clone());
                if !t.contains_key(&k) {
                    let mut new = toml_edit::Table::new();
                    new.set_implicit(true);
                    t.insert(&k, Item::Table(new));
                }
                item = t.get_mut(&k).expect("inserted");
            }
            let deps = item
                .as_table_like_mut()
                .ok_or_else(|| Failure::new(format!("[{}] is not a table", table.join("."))))?;
            match deps.get_mut(key) {
                Some(existing) => merge(existing, key, value)?,
                None => {
                    let v: Value = value
                        .parse()
                        .map_err(|e| Failure::new(format!("bad declaration `{value}`: {e}")))?;
                    deps.insert(key, Item::Value(v.decorated(" ", "")));
                }
            }
        }
    }
    Ok(doc.to_string())
}

/// `item[key]`, where a `cfg(…)` key matches however the user spaced it (cargo metadata prints
/// `cfg(not(target_arch = "wasm32"))` for `'cfg(not(target_arch="wasm32"))'`).
fn child_mut<'a>(item: &'a mut Item, key: &str) -> Option<&'a mut Item> {
    let table = item.as_table_like_mut()?;
    let found = table
        .iter()
        .map(|(k, _)| k.to_string())
        .find(|k| same_key(k, key))?;
    table.get_mut(&found)
}

/// Table keys that name the same thing: equal but for whitespace (`cfg(unix)` keys).
pub fn same_key(a: &str, b: &str) -> bool {
    a.chars()
        .filter(|c| !c.is_whitespace())
        .eq(b.chars().filter(|c| !c.is_whitespace()))
}

/// Merges the replacement declaration `value` into the user's: `default-features` and `features`
/// are set (under the spelling the user already uses), every other key — `version`, `path`, `git`,
/// `optional`, `package`, … — and the formatting stay as they were. A plain `"0.12"` becomes an
/// inline table.
fn merge(item: &mut Item, key: &str, value: &str) -> Result<()> {
    let new: Value = value
        .parse()
        .map_err(|e| Failure::new(format!("bad replacement `{value}`: {e}")))?;
    let Value::InlineTable(new) = new else {
        crate::fail!("bad replacement `{value}`")
    };
    if let Item::Value(Value::String(_)) = item {
        let version = item.as_value().cloned().expect("a string value");
        let decor = version.decor().clone();
        let mut t = toml_edit::InlineTable::new();
        t.insert("version", version.decorated("", ""));
        let mut v = Value::InlineTable(t);
        *v.decor_mut() = decor;
        *item = Item::Value(v);
    }
    let table = item
        .as_table_like_mut()
        .ok_or_else(|| Failure::new(format!("unexpected declaration of `{key}`")))?;
    // `default-features = false` reads best before `features`, as the printed fix line has it.
    // The moved `features` keeps its decor (an inline `# note` after the value).
    let mut moved_decor = None;
    if new.contains_key("default-features")
        && !table.contains_key("default-features")
        && !table.contains_key("default_features")
    {
        if let Some(Item::Value(v)) = table.remove("features") {
            moved_decor = Some(v.decor().clone());
        }
    }
    for (k, v) in new.iter() {
        let k = match k {
            "default-features" if table.contains_key("default_features") => "default_features",
            "version" => {
                if !table.contains_key("version")
                    && !table.contains_key("path")
                    && !table.contains_key("git")
                {
                    table.insert("version", Item::Value(v.clone().decorated(" ", "")));
                }
                continue;
            }
            k => k,
        };
        match table.get_mut(k) {
            Some(Item::Value(old)) => {
                let decor = old.decor().clone();
                *old = v.clone();
                *old.decor_mut() = decor;
            }
            _ => {
                let mut v = v.clone().decorated(" ", "");
                if k == "features" {
                    if let Some(d) = moved_decor.take() {
                        *v.decor_mut() = d;
                    }
                }
                table.insert(k, Item::Value(v));
            }
        }
    }
    if let Some(t) = item.as_inline_table_mut() {
        t.fmt();
    }
    Ok(())
}

/// Sets the declaration's `version` to `value`'s.
fn set_version(item: &mut Item, value: &str) -> Result<()> {
    let new: Value = value
        .parse()
        .map_err(|e| Failure::new(format!("bad replacement `{value}`: {e}")))?;
    let Some(v) = new
        .as_inline_table()
        .and_then(|t| t.get("version"))
        .cloned()
    else {
        return Ok(());
    };
    let table = item
        .as_table_like_mut()
        .ok_or_else(|| Failure::new("unexpected declaration"))?;
    match table.get_mut("version") {
        Some(Item::Value(old)) => {
            let decor = old.decor().clone();
            *old = v;
            *old.decor_mut() = decor;
        }
        _ => {
            table.insert("version", Item::Value(v.decorated(" ", "")));
        }
    }
    if let Some(t) = item.as_inline_table_mut() {
        t.fmt();
    }
    Ok(())
}

/// The new text of every manifest the findings' edits touch: path → (old, new).
pub fn plan(findings: &[Finding]) -> Result<BTreeMap<String, (String, String)>> {
    plan_edits(
        findings
            .iter()
            .filter_map(|f| Some((f.file.as_deref()?, f.edit.as_ref()?))),
    )
}

/// The new text of every manifest `edits` (file → edit, applied in order) touch: path → (old, new).
pub fn plan_edits<'a>(
    edits: impl Iterator<Item = (&'a str, &'a Edit)>,
) -> Result<BTreeMap<String, (String, String)>> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (file, edit) in edits {
        let file = &file.to_string();
        let entry = match out.get(file) {
            Some(e) => e.clone(),
            None => {
                // BOM and CRLF stripped here, put back on write (crate::manifest_file).
                let t = crate::manifest_file::ManifestFile::read(std::path::Path::new(file), false)
                    .map_err(|e| Failure::new(format!("cannot read {file}: {e:#}")))?
                    .text;
                (t.clone(), t)
            }
        };
        let new = apply(&entry.1, edit)?;
        out.insert(file.clone(), (entry.0, new));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_comments_and_order() {
        let text =
            "[dependencies]\n# http\nreqwest = { version = \"0.12\" } # client\nserde = \"1\"\n";
        let e = Edit::Dependency {
            table: vec!["dependencies".into()],
            key: "reqwest".into(),
            value: "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\"] }"
                .into(),
        };
        let out = apply(text, &e).unwrap();
        assert_eq!(
            out,
            "[dependencies]\n# http\nreqwest = { version = \"0.12\", default-features = false, features = [\"rustls-tls\"] } # client\nserde = \"1\"\n"
        );
    }

    #[test]
    fn keeps_the_users_other_keys() {
        let e = |v: &str| Edit::Dependency {
            table: vec!["dependencies".into()],
            key: "reqwest".into(),
            value: v.into(),
        };
        let rep = "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\", \"json\"] }";
        // A plain version string.
        assert_eq!(
            apply("[dependencies]\nreqwest = \"0.12.4\" # pinned\n", &e(rep)).unwrap(),
            "[dependencies]\nreqwest = { version = \"0.12.4\", default-features = false, features = [\"rustls-tls\", \"json\"] } # pinned\n"
        );
        // optional, a rename and the underscore spelling survive.
        assert_eq!(
            apply("[dependencies]\nhttp = { package = \"reqwest\", version = \"0.12\", optional = true, default_features = true }\n", &Edit::Dependency { table: vec!["dependencies".into()], key: "http".into(), value: rep.into() }).unwrap(),
            "[dependencies]\nhttp = { package = \"reqwest\", version = \"0.12\", optional = true, default_features = false, features = [\"rustls-tls\", \"json\"] }\n"
        );
        // A [dependencies.reqwest] table keeps its comments and a git source gets no version.
        let text = "[dependencies.reqwest]\n# upstream main\ngit = \"https://github.com/seanmonstar/reqwest\"\nfeatures = [\"json\"]\n";
        assert_eq!(
            apply(text, &e(rep)).unwrap(),
            "[dependencies.reqwest]\n# upstream main\ngit = \"https://github.com/seanmonstar/reqwest\"\ndefault-features = false\nfeatures = [\"rustls-tls\", \"json\"]\n"
        );
    }

    #[test]
    fn an_inline_comment_after_a_rewritten_value_stays() {
        let text =
            "[dependencies.reqwest]\nversion = \"0.12\" # pinned\nfeatures = [\"json\"] # note\n";
        let e = Edit::Dependency {
            table: vec!["dependencies".into()],
            key: "reqwest".into(),
            value: "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\", \"json\"] }".into(),
        };
        assert_eq!(
            apply(text, &e).unwrap(),
            "[dependencies.reqwest]\nversion = \"0.12\" # pinned\ndefault-features = false\nfeatures = [\"rustls-tls\", \"json\"] # note\n"
        );
    }

    #[test]
    fn feature_added_to_a_list_as_the_user_writes_it() {
        let add = |text: &str| {
            apply(
                text,
                &Edit::AddFeatureValue {
                    feature: "default".into(),
                    value: "vendored-openssl".into(),
                },
            )
            .unwrap()
        };
        assert_eq!(
            add("[features]\ndefault = []\n"),
            "[features]\ndefault = [\"vendored-openssl\"]\n"
        );
        assert_eq!(
            add("[features]\ndefault = [\"a\"] # on\n"),
            "[features]\ndefault = [\"a\", \"vendored-openssl\"] # on\n"
        );
        assert_eq!(
            add("[features]\ndefault = [\n    # \"sqlite\",\n]\n"),
            "[features]\ndefault = [\n    \"vendored-openssl\"\n    # \"sqlite\",\n]\n"
        );
        assert_eq!(
            add("[features]\ndefault = [\n    \"a\",\n    \"b\",\n]\n"),
            "[features]\ndefault = [\n    \"a\",\n    \"b\",\n    \"vendored-openssl\",\n]\n"
        );
        // No [features] table or no `default`: created.
        assert_eq!(
            add("[package]\nname = \"x\"\n"),
            "[package]\nname = \"x\"\n\n[features]\ndefault = [\"vendored-openssl\"]\n"
        );
    }

    #[test]
    fn a_missing_final_newline_stays_missing() {
        let e = Edit::AddDependency {
            table: vec!["dependencies".into()],
            key: "openssl-sys".into(),
            value: "{ version = \"0.9\", features = [\"vendored\"] }".into(),
        };
        assert_eq!(
            apply("[package]\nname = \"x\"", &e).unwrap(),
            "[package]\nname = \"x\"\n\n[dependencies]\nopenssl-sys = { version = \"0.9\", features = [\"vendored\"] }"
        );
        assert!(apply("[dependencies]\n", &e).unwrap().ends_with("}\n"));
    }

    #[test]
    fn feature_removed_from_a_list_as_the_user_wrote_it() {
        let rm = |text: &str| {
            apply(
                text,
                &Edit::RemoveFeatureValues {
                    feature: "default".into(),
                    values: vec!["alsa".into()],
                },
            )
            .unwrap()
        };
        assert_eq!(
            rm("[features]\ndefault = [\"alsa\", \"tls\"] # on\n"),
            "[features]\ndefault = [\"tls\"] # on\n"
        );
        assert_eq!(
            rm("[features]\ndefault = [\"tls\", \"alsa\"]\n"),
            "[features]\ndefault = [\"tls\"]\n"
        );
        assert_eq!(
            rm("[features]\ndefault = [\n    \"alsa\",\n    \"tls\",\n]\n"),
            "[features]\ndefault = [\n    \"tls\",\n]\n"
        );
        assert!(apply(
            "[features]\ndefault = []\n",
            &Edit::RemoveFeatureValues {
                feature: "default".into(),
                values: vec!["alsa".into()]
            }
        )
        .is_err());
    }

    #[test]
    fn dependency_added_in_its_table() {
        let e = |table: &[&str]| Edit::AddDependency {
            table: table.iter().map(|s| s.to_string()).collect(),
            key: "openssl-sys".into(),
            value: "{ version = \"0.9\", features = [\"vendored\"] }".into(),
        };
        assert_eq!(
            apply("[dependencies]\n# db\npostgres-openssl = \"0.5\"\n\n[workspace]\n", &e(&["dependencies"])).unwrap(),
            "[dependencies]\n# db\npostgres-openssl = \"0.5\"\nopenssl-sys = { version = \"0.9\", features = [\"vendored\"] }\n\n[workspace]\n"
        );
        // Already declared: its features gain `vendored`, the rest stays.
        assert_eq!(
            apply("[dependencies]\nopenssl-sys = { version = \"0.9.100\", optional = true }\n", &e(&["dependencies"])).unwrap(),
            "[dependencies]\nopenssl-sys = { version = \"0.9.100\", optional = true, features = [\"vendored\"] }\n"
        );
        // A target table that does not exist yet.
        assert_eq!(
            apply("[package]\nname = \"x\"\n", &e(&["target", "cfg(unix)", "dependencies"])).unwrap(),
            "[package]\nname = \"x\"\n\n[target.\"cfg(unix)\".dependencies]\nopenssl-sys = { version = \"0.9\", features = [\"vendored\"] }\n"
        );
    }

    #[test]
    fn target_specific_tables() {
        let text = "[target.'cfg(not(target_arch=\"wasm32\"))'.dependencies]\nreqwest = \"0.12\"\n";
        let e = Edit::Dependency {
            table: vec![
                "target".into(),
                "cfg(not(target_arch = \"wasm32\"))".into(),
                "dependencies".into(),
            ],
            key: "reqwest".into(),
            value: "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\"] }"
                .into(),
        };
        assert_eq!(
            apply(text, &e).unwrap(),
            "[target.'cfg(not(target_arch=\"wasm32\"))'.dependencies]\nreqwest = { version = \"0.12\", default-features = false, features = [\"rustls-tls\"] }\n"
        );
    }

    #[test]
    fn workspace_dependency_is_patched_in_the_root() {
        let text = "[workspace]\nmembers = [\"app\"]\n\n[workspace.dependencies]\n# shared client\nreqwest = { version = \"0.12\", features = [\"json\"] }\n";
        let e = Edit::Dependency {
            table: vec!["workspace".into(), "dependencies".into()],
            key: "reqwest".into(),
            value: "{ version = \"0.12\", default-features = false, features = [\"rustls-tls\", \"json\"] }".into(),
        };
        assert_eq!(
            apply(text, &e).unwrap(),
            "[workspace]\nmembers = [\"app\"]\n\n[workspace.dependencies]\n# shared client\nreqwest = { version = \"0.12\", default-features = false, features = [\"rustls-tls\", \"json\"] }\n"
        );
    }
}
