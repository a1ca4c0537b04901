//! The knowledge base (src/doctor/tls.toml) checked against the crates it describes: every feature
//! name it holds must exist in that crate's real feature table, at the version the lockfile of
//! tests/fixtures/doctor/kb-features pins for each crate and major. Stale data fails here, not for a user.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use cargo_tiny::doctor::kb::{major, KnowledgeBase};

#[test]
fn knowledge_base_names_real_features() {
    let kb = KnowledgeBase::builtin();
    let dir = common::repo().join("tests/fixtures/doctor/kb-features");
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // (name, major) → (version, feature names).
    let mut tables: BTreeMap<(String, String), (String, Vec<String>)> = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap().to_string();
        let version = p["version"].as_str().unwrap().to_string();
        let feats = p["features"].as_object().unwrap().keys().cloned().collect();
        tables.insert((name, major(&version)), (version, feats));
    }
    let fixture = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let mut problems = Vec::new();
    for e in &kb.crates {
        let (name, m) = (e.name.as_str(), e.major.as_str());
        let decl = format!("package = \"{name}\", version = \"{m}\"");
        assert!(
            fixture.contains(&decl),
            "tls.toml has {name} {m}, tests/fixtures/doctor/kb-features/Cargo.toml does not: add it and run `cargo update` there"
        );
        let Some((version, feats)) = tables.get(&(name.to_string(), m.to_string())) else {
            problems.push(format!("{name} {m}: no such version in the lockfile"));
            continue;
        };
        let names = [
            &e.native,
            &e.rustls,
            &e.rustls_native_roots,
            &e.other_defaults,
        ]
        .into_iter()
        .flatten()
        .chain(
            e.replace
                .iter()
                .flat_map(|(k, vs)| std::iter::once(k).chain(vs)),
        )
        .chain(e.vendored.iter());
        for n in names {
            if !feats.contains(n) {
                problems.push(format!("{name} {version}: no feature `{n}`"));
            }
        }
    }
    assert!(kb.crates.len() > 50, "{} entries", kb.crates.len());
    assert!(
        problems.is_empty(),
        "stale knowledge base:\n{}",
        problems.join("\n")
    );
}
