//! Candidate fixes b, c and d (a, the knowledge base's, is the tls check's own): rustls features
//! derived from the crate's feature table, the package's own feature, vendored OpenSSL.

use std::collections::BTreeSet;

use cargo_metadata::Package;

use super::package;
use super::{Candidate, Kind};
use crate::doctor::findings::Edit;
use crate::doctor::tls::{self, Route};
use crate::knowledge::KnowledgeBase;
use crate::workspace::Workspace;

/// The candidates after the knowledge base's, in order of preference.
pub fn candidates(ws: &Workspace, kb: &KnowledgeBase, r: &Route) -> Vec<Candidate> {
    let mut out = Vec::new();
    let Some(dep) = package(ws, &r.dname, &r.dver) else {
        return out;
    };
    if !kb.get(&r.dname, &r.dver).is_some_and(|e| e.has_rustls()) {
        out.extend(derived(ws, r, dep));
    }
    out.extend(own_feature(ws, r));
    out.extend(crate_vendored(ws, kb, r));
    out.extend(openssl_sys(ws, r));
    out
}

/// Feature names that say "native TLS / OpenSSL".
pub fn native_name(f: &str) -> bool {
    let f = f.to_ascii_lowercase();
    [
        "native-tls",
        "native_tls",
        "nativetls",
        "openssl",
        "default-tls",
        "opentls",
        "tls-native",
    ]
    .iter()
    .any(|n| f.contains(n))
}

/// The features of `p` that (through its own feature table) bring native TLS: they name it, turn
/// on a native TLS crate, or a dependency's native feature.
pub fn native_features(p: &Package) -> BTreeSet<String> {
    let dep_is_native = |key: &str| {
        p.dependencies.iter().any(|d| {
            d.rename.as_deref().unwrap_or(&d.name) == key
                && crate::knowledge::get().crates.is_native_tls(&d.name)
        })
    };
    let value_native = |v: &str| -> bool {
        let v = v.strip_prefix("dep:").unwrap_or(v);
        match v.split_once('/') {
            Some((dep, f)) => dep_is_native(dep.trim_end_matches('?')) || native_name(f),
            None => !p.features.contains_key(v) && dep_is_native(v),
        }
    };
    let mut out: BTreeSet<String> = BTreeSet::new();
    // Fixed point over the feature table.
    loop {
        let before = out.len();
        for (f, vs) in &p.features {
            if out.contains(f) {
                continue;
            }
            if native_name(f)
                || vs
                    .iter()
                    .any(|v| value_native(v) || out.contains(v.as_str()))
            {
                out.insert(f.clone());
            }
        }
        if out.len() == before {
            return out;
        }
    }
}

/// The rustls feature of `p` that pairs with native feature `n`: the same name with the TLS part
/// swapped (webpki roots first), else the crate's plainest rustls feature.
pub fn rustls_pair(p: &Package, n: &str, native: &BTreeSet<String>) -> Option<String> {
    let ok = |f: &str| p.features.contains_key(f) && !native.contains(f);
    let swaps = [
        ("default-tls", "rustls-tls"),
        ("native-tls", "rustls-tls"),
        ("native-tls", "rustls"),
        ("native_tls", "rustls"),
        ("nativetls", "rustls"),
        ("tls-native", "tls-rustls"),
        ("opentls", "rustls"),
        ("openssl", "rustls"),
        ("native", "rustls"),
    ];
    for (from, to) in swaps {
        if !n.contains(from) {
            continue;
        }
        let base = n.replace(from, to);
        for suffix in [
            "",
            "-webpki-roots",
            "-tls-webpki-roots",
            "-native-roots",
            "-tls-native-roots",
        ] {
            let c = format!("{base}{suffix}");
            if ok(&c) {
                return Some(c);
            }
        }
    }
    let rank = |f: &str| {
        let bad = [
            "no-provider",
            "manual",
            "unstable",
            "dangerous",
            "native-roots",
            "native-certs",
        ];
        (
            usize::from(bad.iter().any(|b| f.contains(b))),
            usize::from(!f.contains("webpki")),
            f.len(),
        )
    };
    p.features
        .keys()
        .filter(|f| f.contains("rustls") && ok(f))
        .min_by_key(|f| rank(f))
        .cloned()
}

/// b: swap the native features the owner asks of the crate (declared, or by default) for their
/// rustls pairs, keeping every other default of the locked version.
fn derived(ws: &Workspace, r: &Route, dep: &Package) -> Option<Candidate> {
    let native = native_features(dep);
    let d = &r.decl;
    let default_native = d.uses_default_features
        && dep
            .features
            .get("default")
            .is_some_and(|vs| vs.iter().any(|v| native.contains(v)));
    let declared: Vec<&String> = d.features.iter().filter(|f| native.contains(*f)).collect();
    if !default_native && declared.is_empty() {
        return None;
    }
    let mut feats: Vec<String> = Vec::new();
    let mut push = |f: String| {
        if !feats.contains(&f) {
            feats.push(f);
        }
    };
    let mut any = false;
    for f in &d.features {
        if native.contains(f) {
            let p = rustls_pair(dep, f, &native)?;
            push(p);
            any = true;
        } else {
            push(f.clone());
        }
    }
    if default_native {
        for f in dep.features.get("default").into_iter().flatten() {
            if native.contains(f) {
                if !any {
                    push(rustls_pair(dep, f, &native)?);
                    any = true;
                }
            } else if dep.features.contains_key(f.as_str()) {
                push(f.clone());
            }
        }
    }
    let req = tls::shown_req(&d.req.to_string(), &r.dver);
    let mut value = format!("{{ version = \"{req}\"");
    if default_native || !d.uses_default_features {
        value.push_str(", default-features = false");
    }
    let list: Vec<String> = feats.iter().map(|f| format!("\"{f}\"")).collect();
    value.push_str(&format!(", features = [{}] }}", list.join(", ")));
    let (file, line, edit, fix) = tls::dependency_edit(ws, &r.owner_manifest, d, &r.key, &value);
    Some(Candidate {
        kind: Kind::Derived,
        file,
        line,
        edit,
        fix,
        risky: true,
        code_change: None,
    })
}

/// c: the owner's (or the member's) own feature that selects rustls or vendored OpenSSL: swap a
/// native switch in `default` for the rustls one, else add the vendored one to `default`.
fn own_feature(ws: &Workspace, r: &Route) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for name in [&r.owner, &r.member] {
        let Some(p) = tls::local_packages(ws)
            .into_iter()
            .find(|p| p.name.as_str() == name)
        else {
            continue;
        };
        if !seen.insert(p.manifest_path.to_string()) {
            continue;
        }
        let file = p.manifest_path.to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let native = native_features(p);
        let selects = |f: &str, what: &str| {
            f.contains(what)
                || p.features.get(f).is_some_and(|vs| {
                    vs.iter()
                        .any(|v| v.split_once('/').is_some_and(|(_, x)| x.contains(what)))
                })
        };
        let rustls: Vec<&String> = p
            .features
            .keys()
            .filter(|f| selects(f, "rustls") && !native.contains(*f))
            .collect();
        let vendored: Vec<&String> = p
            .features
            .keys()
            .filter(|f| {
                (f.contains("vendored") && (f.contains("ssl") || f.contains("tls")))
                    || p.features.get(*f).is_some_and(|vs| {
                        vs.iter().any(|v| {
                            v.split_once('/').is_some_and(|(dep, x)| {
                                (x == "vendored" && dep.contains("ssl"))
                                    || x.contains("vendored-openssl")
                                    || x == "static-ssl"
                                    || x == "native-tls-vendored"
                            })
                        })
                    })
            })
            .collect();
        let default: Vec<String> = p.features.get("default").cloned().unwrap_or_default();
        let line = tls::feature_line(&text, "default");
        if let Some(n) = default.iter().find(|f| native.contains(*f)) {
            if let Some(rl) = rustls.first() {
                out.push(Candidate {
                    kind: Kind::OwnFeature,
                    file: file.clone(),
                    line,
                    edit: Edit::FeatureValue {
                        feature: "default".into(),
                        old: n.clone(),
                        new: rl.to_string(),
                    },
                    fix: format!(
                        "in [features] of {}, default: replace \"{n}\" with \"{rl}\"",
                        p.name
                    ),
                    risky: true,
                    code_change: None,
                });
            }
        }
        if let Some(v) = vendored.iter().find(|v| !default.contains(v)) {
            out.push(Candidate {
                kind: Kind::OwnFeature,
                file,
                line,
                edit: Edit::AddFeatureValue {
                    feature: "default".into(),
                    value: v.to_string(),
                },
                fix: format!("in [features] of {}, add \"{v}\" to default", p.name),
                risky: false,
                code_change: None,
            });
        }
    }
    out
}

/// The vendored-OpenSSL feature of a crate, if it has one.
pub fn vendored_feature(p: &Package) -> Option<String> {
    [
        "vendored",
        "vendored-openssl",
        "vendored_openssl",
        "openssl-vendored",
        "native-tls-vendored",
        "static-ssl",
        "vendored-tls",
    ]
    .iter()
    .find(|f| p.features.contains_key(**f))
    .map(|f| f.to_string())
}

/// d: the directly declared crate's own vendored feature (the knowledge base's, else one by its
/// usual names), added to the user's declaration.
fn crate_vendored(ws: &Workspace, kb: &KnowledgeBase, r: &Route) -> Option<Candidate> {
    let dep = package(ws, &r.dname, &r.dver)?;
    let v = kb
        .get(&r.dname, &r.dver)
        .and_then(|e| e.vendored.clone())
        .or_else(|| vendored_feature(dep))?;
    let d = &r.decl;
    let req = tls::shown_req(&d.req.to_string(), &r.dver);
    let mut feats: Vec<String> = d.features.clone();
    if !feats.contains(&v) {
        feats.push(v);
    }
    let list: Vec<String> = feats.iter().map(|f| format!("\"{f}\"")).collect();
    let mut value = format!("{{ version = \"{req}\"");
    if !d.uses_default_features {
        value.push_str(", default-features = false");
    }
    value.push_str(&format!(", features = [{}] }}", list.join(", ")));
    let (file, line, edit, fix) = tls::dependency_edit(ws, &r.owner_manifest, d, &r.key, &value);
    Some(Candidate {
        kind: Kind::CrateVendored,
        file,
        line,
        edit,
        fix,
        risky: false,
        code_change: None,
    })
}

/// d: a direct `openssl-sys` dependency with `vendored`, at the locked version's major.minor, in
/// the table the route's crate is declared in.
fn openssl_sys(ws: &Workspace, r: &Route) -> Option<Candidate> {
    let sys = ws
        .metadata
        .packages
        .iter()
        .filter(|p| p.name.as_str() == "openssl-sys")
        .max_by(|a, b| a.version.cmp(&b.version))?;
    let req = tls::shown_req("*", &sys.version.to_string());
    let owner = ws
        .members()
        .into_iter()
        .find(|p| p.name.as_str() == r.owner)?;
    let existing = owner
        .dependencies
        .iter()
        .find(|d| d.name == "openssl-sys" && d.kind == cargo_metadata::DependencyKind::Normal);
    let mut feats: Vec<String> = existing.map(|d| d.features.clone()).unwrap_or_default();
    if !feats.iter().any(|f| f == "vendored") {
        feats.push("vendored".into());
    }
    let list: Vec<String> = feats.iter().map(|f| format!("\"{f}\"")).collect();
    let value = format!(
        "{{ version = \"{req}\", features = [{}] }}",
        list.join(", ")
    );
    let table = r.table.clone();
    let text = std::fs::read_to_string(&r.owner_manifest).unwrap_or_default();
    let where_ = format!("[{}]", table.join("."));
    Some(Candidate {
        kind: Kind::OpensslSys,
        file: r.owner_manifest.clone(),
        line: tls::dep_line(&text, "openssl-sys").or_else(|| tls::dep_line(&text, &r.key)),
        edit: Edit::AddDependency {
            table,
            key: "openssl-sys".into(),
            value: value.clone(),
        },
        fix: format!("in {where_} of {}: openssl-sys = {value}", r.owner),
        risky: false,
        code_change: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A package with just a feature table and optional dependencies, as cargo metadata gives it.
    fn pkg(features: serde_json::Value, deps: &[&str]) -> Package {
        let deps = deps
            .iter()
            .map(|d| crate::doctor::testing::dependency(d, true, &[]))
            .collect();
        crate::doctor::testing::package("x", "0.1.0", true, deps, features)
    }

    #[test]
    fn native_features_follow_the_feature_table() {
        let p = pkg(
            serde_json::json!({
                "default": ["tls"], "tls": ["dep:native-tls"], "json": [],
                "rustls-tls": ["dep:rustls"], "wrapper": ["reqwest/default-tls"]
            }),
            &["native-tls", "rustls", "reqwest"],
        );
        let n = native_features(&p);
        assert_eq!(
            n.into_iter().collect::<Vec<_>>(),
            ["default", "tls", "wrapper"],
            "a native dependency, a dependency's native feature, and what enables them"
        );
    }

    #[test]
    fn rustls_pairs() {
        let p = pkg(
            serde_json::json!({
                "default": ["default-tls"], "default-tls": [], "native-tls": [],
                "rustls-tls": [], "rustls-tls-native-roots": [], "rustls-tls-manual-roots": [],
                "runtime-tokio-native-tls": [], "runtime-tokio-rustls": []
            }),
            &[],
        );
        let n = native_features(&p);
        assert_eq!(
            rustls_pair(&p, "default-tls", &n).as_deref(),
            Some("rustls-tls")
        );
        assert_eq!(
            rustls_pair(&p, "native-tls", &n).as_deref(),
            Some("rustls-tls")
        );
        assert_eq!(
            rustls_pair(&p, "runtime-tokio-native-tls", &n).as_deref(),
            Some("runtime-tokio-rustls")
        );
        // tungstenite's naming: only the roots variants exist; webpki roots preferred.
        let t = pkg(
            serde_json::json!({"native-tls": [], "rustls-tls-native-roots": [], "rustls-tls-webpki-roots": []}),
            &[],
        );
        let n = native_features(&t);
        assert_eq!(
            rustls_pair(&t, "native-tls", &n).as_deref(),
            Some("rustls-tls-webpki-roots")
        );
        // Nothing with rustls in its name: no pair.
        let none = pkg(serde_json::json!({"vendored": [], "alpn": []}), &[]);
        assert_eq!(rustls_pair(&none, "default", &native_features(&none)), None);
    }

    #[test]
    fn native_names() {
        for n in [
            "native-tls",
            "default-tls",
            "runtime-tokio-native-tls",
            "with_nativetls",
            "openssl-tls",
            "tls-native-tls",
        ] {
            assert!(native_name(n), "{n}");
        }
        for n in ["rustls-tls", "json", "tls", "vendored"] {
            assert!(!native_name(n), "{n}");
        }
    }
}
