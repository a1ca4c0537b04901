//! The knowledge base (src/doctor/tls.toml) checked against the crates it describes: every feature
//! name it holds must exist in that crate's real feature table, at the version the lockfile of
//! tests/fixtures/doctor/kb-features pins for each crate and major. Stale data fails here, not for a user.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

fn major(version: &str) -> String {
    let mut parts = version.split('.');
    let a = parts.next().unwrap_or("0");
    if a == "0" {
        format!("0.{}", parts.next().unwrap_or("0"))
    } else {
        a.to_string()
    }
}

#[test]
fn knowledge_base_names_real_features() {
    let kb: toml::Table = toml::from_str(
        &std::fs::read_to_string(common::repo().join("src/doctor/tls.toml")).unwrap(),
    )
    .unwrap();
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
    let entries = kb["crate"].as_array().unwrap();
    for e in entries {
        let name = e["name"].as_str().unwrap();
        let m = e["major"].as_str().unwrap();
        let decl = format!("package = \"{name}\", version = \"{m}\"");
        assert!(
            fixture.contains(&decl),
            "tls.toml has {name} {m}, tests/fixtures/doctor/kb-features/Cargo.toml does not: add it and run `cargo update` there"
        );
        let Some((version, feats)) = tables.get(&(name.to_string(), m.to_string())) else {
            problems.push(format!("{name} {m}: no such version in the lockfile"));
            continue;
        };
        let mut names: Vec<String> = Vec::new();
        for key in ["native", "rustls", "rustls_native_roots", "other_defaults"] {
            for v in e[key].as_array().unwrap() {
                names.push(v.as_str().unwrap().to_string());
            }
        }
        if let Some(r) = e.get("replace").and_then(|r| r.as_table()) {
            for (k, vs) in r {
                names.push(k.clone());
                names.extend(
                    vs.as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_str().unwrap().to_string()),
                );
            }
        }
        if let Some(v) = e.get("vendored") {
            names.push(v.as_str().unwrap().to_string());
        }
        for n in names {
            if !feats.contains(&n) {
                problems.push(format!("{name} {version}: no feature `{n}`"));
            }
        }
    }
    assert!(entries.len() > 50, "{} entries", entries.len());
    assert!(
        problems.is_empty(),
        "stale knowledge base:\n{}",
        problems.join("\n")
    );
}
