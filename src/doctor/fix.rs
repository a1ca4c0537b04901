//! `--fix`: apply the edits with toml_edit (comments and formatting kept), re-resolve, roll back on failure.

use std::collections::BTreeMap;

use anyhow::Result;
use toml_edit::{DocumentMut, Item, Value};

use super::findings::{Edit, Finding};
use crate::error::Failure;

/// Apply one edit to a manifest text.
pub fn apply(text: &str, edit: &Edit) -> Result<String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| Failure::new(format!("cannot parse manifest: {e}")))?;
    match edit {
        Edit::Dependency { key, value } => {
            let new: Value = value
                .parse()
                .map_err(|e| Failure::new(format!("bad replacement `{value}`: {e}")))?;
            let deps = doc
                .get_mut("dependencies")
                .and_then(Item::as_table_like_mut)
                .ok_or_else(|| Failure::new("no [dependencies] table"))?;
            let Some(item) = deps.get_mut(key) else {
                crate::fail!("`{key}` is not declared in [dependencies]");
            };
            match item {
                Item::Value(v) => {
                    let decor = v.decor().clone();
                    *v = new;
                    *v.decor_mut() = decor;
                }
                Item::Table(t) => {
                    // [dependencies.key] table: rewrite its keys.
                    let Value::InlineTable(it) = new else {
                        crate::fail!("bad replacement")
                    };
                    t.clear();
                    for (k, v) in it.iter() {
                        t.insert(k, Item::Value(v.clone()));
                    }
                }
                _ => crate::fail!("unexpected declaration of `{key}`"),
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
    }
    Ok(doc.to_string())
}

/// The new text of every manifest the findings' edits touch: path → (old, new).
pub fn plan(findings: &[Finding]) -> Result<BTreeMap<String, (String, String)>> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for f in findings {
        let (Some(file), Some(edit)) = (&f.file, &f.edit) else {
            continue;
        };
        let entry = match out.get(file) {
            Some(e) => e.clone(),
            None => {
                let t = std::fs::read_to_string(file)
                    .map_err(|e| Failure::new(format!("cannot read {file}: {e}")))?;
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
}
