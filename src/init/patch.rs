//! The pure part of `cargo tiny init`: manifest text in, patched text out, with toml_edit so that
//! everything the user wrote (comments, order, quoting, dotted keys, inline tables) stays as written.

use anyhow::Result;
use toml_edit::{DocumentMut, InlineTable, Item, Table, TableLike};

use crate::size_profile::{Setting, SizeProfile, Value};

/// What a patch did to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The key was missing and was added.
    Added { key: String, value: String },
    /// The key had another value and `--force` replaced it.
    Replaced {
        key: String,
        old: String,
        value: String,
    },
}

/// A key the user set to another value, left alone (no `--force`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub key: String,
    pub value: String,
    pub wanted: String,
}

/// The result of patching a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patch {
    pub new_text: String,
    pub changes: Vec<Change>,
    pub kept: Vec<Kept>,
}

impl Patch {
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }
}

/// Cargo's root profiles: `inherits` must not be specified in them.
pub const ROOT_PROFILES: &[&str] = &["dev", "release"];

/// The keys `init` writes for `sp`: `inherits = "release"` first for a custom profile, then the size
/// settings from [`SizeProfile::settings`] (the same ones `cargo tiny build` passes as `--config`).
/// `dev` and `release` are cargo's root profiles, where `inherits` is an error: they get the
/// settings alone.
pub fn manifest_settings(sp: &SizeProfile) -> Vec<Setting> {
    let mut v = Vec::new();
    if !ROOT_PROFILES.contains(&sp.profile.as_str()) {
        v.push(Setting {
            key: "inherits",
            value: Value::Str("release"),
            shown: "release",
        });
    }
    v.extend(sp.settings());
    v
}

/// Patches `[profile.<name>]` of a manifest. Fails (one line) when the text is not TOML or when
/// `profile` / `profile.<name>` is not a table.
pub fn patch(text: &str, sp: &SizeProfile, force: bool) -> Result<Patch> {
    let crlf = text.contains("\r\n");
    // toml_edit keeps `\r\n` in decor but writes `\n` for what it creates: work in `\n`, restore after.
    let lf_text = if crlf {
        text.replace("\r\n", "\n")
    } else {
        text.to_string()
    };
    let mut doc: DocumentMut = match lf_text.parse() {
        Ok(d) => d,
        Err(e) => crate::fail!(
            hint = "fix the TOML syntax first (`cargo metadata` shows the same error)",
            "the manifest is not valid TOML: {}",
            e.to_string().lines().next().unwrap_or("parse error")
        ),
    };
    let name = sp.profile.as_str();
    let mut doc_trailing_moved = false;
    let last_position = max_position(doc.as_table());
    let mut changes = Vec::new();
    let mut kept = Vec::new();

    // A comment or blank lines after the last item are the document's trailing decor, which
    // toml_edit writes after any new table: move it in front of the table we create, so the text
    // before `[profile.<name>]` stays byte-identical.
    let trailing = doc.trailing().as_str().unwrap_or("").to_string();
    if doc.get("profile").is_none() {
        let mut t = Table::new();
        t.set_implicit(true);
        doc.insert("profile", Item::Table(t));
    }
    let inline_parent = doc.get("profile").is_some_and(Item::is_inline_table);
    let profiles = match doc.get_mut("profile").and_then(Item::as_table_like_mut) {
        Some(t) => t,
        None => crate::fail!(
            hint = "make `profile` a table, as cargo expects",
            "`profile` in the manifest is not a table"
        ),
    };
    let created = profiles.get(name).is_none();
    if created {
        if inline_parent {
            insert(profiles, true, name, InlineTable::new().into());
        } else {
            profiles.insert(name, Item::Table(Table::new()));
        }
    }
    // A new table, or one that only existed implicitly (`[profile.release.package."*"]` alone), gets
    // its header written last in the file.
    if let Some(Item::Table(t)) = profiles.get_mut(name) {
        if created || t.is_implicit() {
            t.set_implicit(false);
            t.set_position(Some(last_position + 1));
            if !trailing.is_empty() {
                let nl = if trailing.ends_with('\n') { "" } else { "\n" };
                t.decor_mut().set_prefix(format!("{trailing}{nl}\n"));
                doc_trailing_moved = true;
            }
        }
    }
    let inline = profiles.get(name).is_some_and(Item::is_inline_table);
    let table = match profiles.get_mut(name).and_then(Item::as_table_like_mut) {
        Some(t) => t,
        None => crate::fail!(
            hint = "make it a table, as cargo expects",
            "`profile.{name}` in the manifest is not a table"
        ),
    };

    for s in manifest_settings(sp) {
        let wanted = s.value.toml();
        match table.get_mut(s.key) {
            None => {
                insert(table, inline, s.key, s.value.to_toml_edit());
                changes.push(Change::Added {
                    key: s.key.to_string(),
                    value: wanted,
                });
            }
            Some(item) => {
                let current = item.as_value().cloned();
                if current.as_ref().is_some_and(|v| s.value.matches(v)) {
                    continue;
                }
                let old = match &current {
                    Some(v) => v.clone().decorated("", "").to_string(),
                    None => item.to_string().trim().to_string(),
                };
                if force {
                    let mut v = s.value.to_toml_edit();
                    if let Some(cur) = &current {
                        let d = cur.decor();
                        *v.decor_mut() = d.clone();
                    }
                    *item = Item::Value(v);
                    changes.push(Change::Replaced {
                        key: s.key.to_string(),
                        old,
                        value: wanted,
                    });
                } else {
                    kept.push(Kept {
                        key: s.key.to_string(),
                        value: old,
                        wanted,
                    });
                }
            }
        }
    }

    if doc_trailing_moved {
        doc.set_trailing("");
    }
    let new_text = if changes.is_empty() {
        text.to_string()
    } else {
        let mut out = doc.to_string();
        if crlf {
            out = out.replace('\n', "\r\n");
        }
        out
    };
    Ok(Patch {
        new_text,
        changes,
        kept,
    })
}

/// Inserts a key at the end of a table-like, formatted like its neighbours.
fn insert(table: &mut dyn TableLike, inline: bool, key: &str, value: toml_edit::Value) {
    if inline {
        // `{ a = 1 }` style: one space around, as toml_edit formats new inline keys.
        table.insert(key, Item::Value(value));
        if let Some(mut k) = table.key_mut(key) {
            k.leaf_decor_mut().set_prefix(" ");
        }
        if let Some(v) = table.get_mut(key).and_then(Item::as_value_mut) {
            v.decor_mut().set_prefix(" ");
            v.decor_mut().set_suffix(" ");
        }
        // The previous last value carried the trailing space: drop it so spacing stays single.
        let keys: Vec<String> = table.iter().map(|(k, _)| k.to_string()).collect();
        if keys.len() >= 2 {
            if let Some(v) = table
                .get_mut(&keys[keys.len() - 2])
                .and_then(Item::as_value_mut)
            {
                v.decor_mut().set_suffix("");
            }
        }
    } else {
        table.insert(key, Item::Value(value));
    }
}

/// Every top-level item except `profile`, rendered: what `init` must never change.
pub fn non_profile_items(text: &str) -> Option<Vec<(String, String)>> {
    let doc: DocumentMut = text.replace("\r\n", "\n").parse().ok()?;
    Some(
        doc.iter()
            .filter(|(k, _)| *k != "profile")
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// The largest document position of any table in `t` (recursively).
fn max_position(t: &Table) -> isize {
    let mut max = t.position().unwrap_or(0);
    for (_, item) in t.iter() {
        if let Item::Table(sub) = item {
            max = max.max(max_position(sub));
        } else if let Item::ArrayOfTables(a) = item {
            for sub in a.iter() {
                max = max.max(max_position(sub));
            }
        }
    }
    max
}
