//! The crate knowledge (src/knowledge/*.toml) checked against the crates it describes, through
//! `cargo metadata` on tests/fixtures/doctor/kb-features (nothing compiled; the lockfile pins the
//! versions, cargo's cache keeps it fast after the first run). Stale data fails here, not for a user:
//! - tls.toml: every feature name must exist in the crate's real feature table, at the version the
//!   lockfile pins for each crate and major;
//! - crates.toml: every crate it names must exist, and each `[[native]]` crate's locked versions
//!   must have its `static` features and be no older than its `static_since`.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use cargo_tiny::knowledge::{self, major};

/// A package of the fixture's lockfile: version, feature names.
struct Locked {
    version: String,
    features: Vec<String>,
}

/// The fixture's packages by name (every locked version).
fn locked() -> (String, BTreeMap<String, Vec<Locked>>) {
    let dir = common::repo().join("tests/fixtures/doctor/kb-features");
    let out = common::isolate(&mut Command::new(env!("CARGO")))
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
    let mut by_name: BTreeMap<String, Vec<Locked>> = BTreeMap::new();
    for p in meta["packages"].as_array().unwrap() {
        by_name
            .entry(p["name"].as_str().unwrap().to_string())
            .or_default()
            .push(Locked {
                version: p["version"].as_str().unwrap().to_string(),
                features: p["features"].as_object().unwrap().keys().cloned().collect(),
            });
    }
    let fixture = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    (fixture, by_name)
}

#[test]
fn knowledge_base_names_real_features() {
    let kb = &knowledge::get().tls;
    let (fixture, packages) = locked();
    let mut problems = Vec::new();
    for e in &kb.crates {
        let (name, m) = (e.name.as_str(), e.major.as_str());
        let decl = format!("package = \"{name}\", version = \"{m}\"");
        assert!(
            fixture.contains(&decl),
            "tls.toml has {name} {m}, tests/fixtures/doctor/kb-features/Cargo.toml does not: add it and run `cargo update` there"
        );
        let Some(p) = packages
            .get(name)
            .into_iter()
            .flatten()
            .find(|p| major(&p.version) == m)
        else {
            problems.push(format!("{name} {m}: no such version in the lockfile"));
            continue;
        };
        for n in e.features() {
            if !p.features.contains(n) {
                problems.push(format!("{name} {}: no feature `{n}`", p.version));
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

fn semver(v: &str) -> (u64, u64, u64) {
    let mut it = v.split(['.', '+', '-']).map(|x| x.parse().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

#[test]
fn crate_lists_name_real_crates_and_features() {
    let c = &knowledge::get().crates;
    let (fixture, packages) = locked();
    let mut problems = Vec::new();
    let named = c
        .native_tls
        .iter()
        .chain(&c.graph_inverted)
        .chain(&c.trust_store.system)
        .chain(&c.trust_store.built_in)
        .chain(c.native.iter().map(|n| &n.name));
    for name in named {
        if !fixture.contains(&format!("package = \"{name}\"")) {
            problems.push(format!(
                "{name}: not declared in tests/fixtures/doctor/kb-features/Cargo.toml (add `known-{name} = {{ package = \"{name}\", version = \"*\", default-features = false }}` and run `cargo update` there)"
            ));
        } else if !packages.contains_key(name.as_str()) {
            problems.push(format!("{name}: not in the fixture's lockfile"));
        }
    }
    for n in &c.native {
        // Every locked version (the fixture declares the newest; others come through other crates)
        // has the features that build the library from source, and is no older than `static_since`.
        for p in packages.get(&n.name).into_iter().flatten() {
            for f in n.static_features.iter().chain(&n.system_features) {
                if !p.features.contains(f) {
                    problems.push(format!("{} {}: no feature `{f}`", n.name, p.version));
                }
            }
            if let Some(since) = &n.static_since {
                if semver(&p.version) < semver(since) {
                    problems.push(format!(
                        "{} {}: older than static_since {since}",
                        n.name, p.version
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "stale src/knowledge/crates.toml:\n{}",
        problems.join("\n")
    );
}

/// size.toml: every crate it names is a real crate (in the fixture's lockfile, through some
/// dependency), and every feature exists in `via` at its major version.
#[test]
fn size_advice_names_real_crates_and_features() {
    let s = &knowledge::get().size;
    let (_, packages) = locked();
    let mut problems = Vec::new();
    let names = s
        .lighter
        .iter()
        .flat_map(|l| std::iter::once(&l.name).chain(&l.crates))
        .chain(s.feature.iter().flat_map(|f| [&f.name, &f.via]));
    for name in names {
        if !packages.contains_key(name.as_str()) {
            problems.push(format!(
                "{name}: not in tests/fixtures/doctor/kb-features/Cargo.lock"
            ));
        }
    }
    for f in &s.feature {
        match packages
            .get(&f.via)
            .into_iter()
            .flatten()
            .find(|p| major(&p.version) == f.major)
        {
            Some(p) if p.features.contains(&f.feature) => {}
            Some(p) => problems.push(format!(
                "{} {}: no feature `{}`",
                f.via, p.version, f.feature
            )),
            None => problems.push(format!(
                "{} {}: no such version in the lockfile",
                f.via, f.major
            )),
        }
    }
    assert!(!s.lighter.is_empty() && !s.feature.is_empty());
    assert!(
        problems.is_empty(),
        "stale src/knowledge/size.toml:\n{}",
        problems.join("\n")
    );
}
