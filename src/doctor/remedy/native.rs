//! Candidate fixes for a native crate (c, d, e): a feature that builds its library from source —
//! the package's own (diesel_cli's `postgres-bundled`), one of the declared dependency that turns it
//! on (rusqlite's `bundled`), or the crate's own, through a direct dependency (features unify) —
//! then, for a library that cannot be built or had, the feature that pulls the crate in, turned off.
//! Before those: a feature that makes the crate link the system's library instead of building its
//! own (zstd's `pkg-config`), dropped from the workspace declaration that turns it on.
//! Feature names come from the locked versions' feature tables (cargo metadata).

use std::collections::BTreeSet;

use cargo_metadata::Package;

use super::{package, Candidate, Kind};
use crate::doctor::findings::Edit;
use crate::doctor::graph::{Graph, Node};
use crate::doctor::native::{IssueKind, NativeIssue};
use crate::doctor::tls::{self, Route};
use crate::workspace::Workspace;

pub fn candidates(ws: &Workspace, g: &Graph, i: &NativeIssue) -> Vec<Candidate> {
    let Some(r) = &i.route else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let (features, upgrade) = match &i.kind {
        IssueKind::Static { features, since } if features.is_empty() => {
            // The locked version has none: every feature the knowledge names, at a version that
            // has it (cargo picks the newest the other requirements allow; the requirement is
            // narrowed to it once the candidate is kept, see `narrowed`).
            let all = crate::knowledge::get()
                .crates
                .native(&i.krate)
                .map(|k| k.static_features.clone())
                .unwrap_or_default();
            (all, since.clone())
        }
        IssueKind::Static { features, .. } | IssueKind::Unknown { features } => {
            (features.clone(), None)
        }
        IssueKind::SystemOnly | IssueKind::SystemRequested { .. } => (Vec::new(), None),
    };
    // Only where the crate builds its own unless asked not to (the knowledge says so) or is not
    // known: a crate that links the system's library anyway does not build it without the feature.
    if matches!(
        i.kind,
        IssueKind::SystemRequested { .. } | IssueKind::Unknown { .. }
    ) {
        out.extend(drop_system_request(ws, g, i));
    }
    if upgrade.is_none() {
        for f in &features {
            out.extend(own_feature(ws, r, &i.krate, f));
        }
        for f in &features {
            out.extend(forwarded(ws, r, &i.krate, f));
        }
    }
    for f in &features {
        out.extend(direct(ws, r, i, f, upgrade.as_deref()));
    }
    out.extend(drop_own(ws, g, r, &i.krate));
    out.extend(drop_dependency(ws, g, r, &i.krate));
    let mut seen = BTreeSet::new();
    out.retain(|c| seen.insert((c.file.clone(), format!("{:?}", c.edit))));
    out
}

/// d: the features of the crate that make it link the system's library (the knowledge's list, or
/// names that read so), on in the graph because a declaration of the workspace turns them on —
/// directly or through the declared crate's own features (`zstd = { features = ["pkg-config"] }`
/// → zstd-safe/pkg-config → zstd-sys/pkg-config): each such declaration without them.
fn drop_system_request(ws: &Workspace, g: &Graph, i: &NativeIssue) -> Vec<Candidate> {
    let Some(p) = package(ws, &i.krate, &i.version) else {
        return Vec::new();
    };
    let known = crate::knowledge::get().crates.native(&i.krate);
    let on: Vec<&String> = p
        .features
        .keys()
        .filter(|f| {
            known.is_some_and(|k| k.system_features.contains(f))
                || crate::doctor::native::looks_system(f)
        })
        .filter(|f| crate::doctor::native::feature_on(g, &i.krate, f))
        .collect();
    if on.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for lp in tls::local_packages(ws) {
        for d in &lp.dependencies {
            if d.kind == cargo_metadata::DependencyKind::Development {
                continue;
            }
            let Some(dp) = resolved(ws, lp, &d.name) else {
                continue;
            };
            let asks = |f: &String| {
                on.iter()
                    .any(|sf| turns_on_feature(ws, g, dp, f, &i.krate, sf, 0))
            };
            let dropped: Vec<String> = d.features.iter().filter(|f| asks(f)).cloned().collect();
            if dropped.is_empty() {
                continue;
            }
            let feats: Vec<String> = d.features.iter().filter(|f| !asks(f)).cloned().collect();
            let value = declaration(
                &tls::shown_req(&d.req.to_string(), &dp.version.to_string()),
                !d.uses_default_features,
                &feats,
            );
            let key = d.rename.clone().unwrap_or_else(|| d.name.clone());
            let (file, line, edit, fix) =
                tls::dependency_edit(ws, lp.manifest_path.as_str(), d, &key, &value);
            let shown: Vec<String> = dropped.iter().map(|f| format!("`{f}`")).collect();
            out.push(Candidate {
                kind: Kind::DropSystemRequest,
                file,
                line,
                edit,
                fix: format!(
                    "in {}: {fix} (without {}, which makes {} link the system's library; it builds its own)",
                    lp.name,
                    shown.join(", "),
                    i.krate
                ),
                risky: false,
                code_change: None,
            });
        }
    }
    out
}

/// The package a local package's dependency on `name` resolved to.
fn resolved<'a>(ws: &'a Workspace, lp: &Package, name: &str) -> Option<&'a Package> {
    ws.node(&lp.id)?
        .deps
        .iter()
        .map(|d| ws.package(&d.pkg))
        .find(|p| p.name.as_str() == name)
}

/// Whether feature `f` of package `p` turns on feature `kf` of `krate`: itself (when `p` is the
/// crate), or through `p`'s feature table and the features of its dependencies it turns on.
fn turns_on_feature(
    ws: &Workspace,
    g: &Graph,
    p: &Package,
    f: &str,
    krate: &str,
    kf: &str,
    depth: usize,
) -> bool {
    if depth > 5 {
        return false;
    }
    let own = own_features(p, f);
    if p.name.as_str() == krate {
        return own.contains(kf);
    }
    own.iter().any(|v| {
        let Some((key, sub)) = v.split_once('/') else {
            return false;
        };
        let key = key.trim_end_matches('?');
        let Some(d) = p
            .dependencies
            .iter()
            .find(|d| d.rename.as_deref().unwrap_or(&d.name) == key)
        else {
            return false;
        };
        version_in_graph(g, &d.name)
            .and_then(|ver| package(ws, &d.name, &ver))
            .is_some_and(|dp| turns_on_feature(ws, g, dp, sub, krate, kf, depth + 1))
    })
}

/// The features of `p` that feature `f` turns on, through its feature table (`f` included).
fn own_features<'a>(p: &'a Package, f: &'a str) -> BTreeSet<&'a str> {
    let mut own = BTreeSet::new();
    let mut stack = vec![f];
    while let Some(x) = stack.pop() {
        if own.insert(x) {
            stack.extend(p.features.get(x).into_iter().flatten().map(String::as_str));
        }
    }
    own
}

/// The version of package `name` in the graph (the first, when several).
fn version_in_graph(g: &Graph, name: &str) -> Option<String> {
    g.nodes.iter().find_map(|n| match n {
        Node::Package { name: m, version } if m == name => Some(version.clone()),
        _ => None,
    })
}

/// Whether feature value `v` of a package turns on feature `f` of its dependency `key`.
fn turns_on(v: &str, key: &str, f: &str) -> bool {
    v == format!("{key}/{f}") || v == format!("{key}?/{f}")
}

/// The keys (renames) under which `p` declares a dependency on `name`.
fn keys_of(p: &Package, name: &str) -> Vec<String> {
    p.dependencies
        .iter()
        .filter(|d| d.name == name)
        .map(|d| d.rename.clone().unwrap_or_else(|| d.name.clone()))
        .collect()
}

/// Features of `p` that turn on `krate/f`: directly, or through one of `p`'s other features.
fn features_enabling(p: &Package, krate: &str, f: &str) -> Vec<String> {
    let keys = keys_of(p, krate);
    let direct: BTreeSet<&String> = p
        .features
        .iter()
        .filter(|(_, vs)| vs.iter().any(|v| keys.iter().any(|k| turns_on(v, k, f))))
        .map(|(name, _)| name)
        .collect();
    let mut out: Vec<String> = p
        .features
        .iter()
        .filter(|(name, vs)| direct.contains(name) || vs.iter().any(|v| direct.contains(v)))
        .map(|(name, _)| name.clone())
        // `default` is not one to add, and `__x` features are a crate's internals (diesel's
        // `__with_asan_tests`).
        .filter(|n| n != "default" && !n.starts_with("__"))
        .collect();
    // The feature that does it itself first, then the ones that include it.
    out.sort_by_key(|n| !direct.contains(n));
    out
}

/// c: a feature of the owner (or the member) that builds the library from source, added to `default`.
fn own_feature(ws: &Workspace, r: &Route, krate: &str, f: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for name in [&r.owner, &r.member] {
        let Some(p) = tls::local_packages(ws)
            .into_iter()
            .find(|p| p.name.as_str() == name)
        else {
            continue;
        };
        let default = p.features.get("default").cloned().unwrap_or_default();
        let Some(feature) = features_enabling(p, krate, f)
            .into_iter()
            .find(|x| !default.contains(x))
        else {
            continue;
        };
        let file = p.manifest_path.to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        out.push(Candidate {
            kind: Kind::OwnFeature,
            line: tls::feature_line(&text, "default"),
            file,
            edit: Edit::AddFeatureValue {
                feature: "default".into(),
                value: feature.clone(),
            },
            fix: format!("in [features] of {}, add \"{feature}\" to default", p.name),
            risky: false,
            code_change: None,
        });
    }
    out
}

/// d: a feature of the dependency the owner declares that turns on `krate/f` (directly, or
/// through a crate between them on the route), added to the declaration.
fn forwarded(ws: &Workspace, r: &Route, krate: &str, f: &str) -> Option<Candidate> {
    if r.dname == krate {
        return None;
    }
    let dep = package(ws, &r.dname, &r.dver)?;
    let mut feature = features_enabling(dep, krate, f).into_iter().next();
    if feature.is_none() {
        // One crate between: the declared crate's feature that turns on the middle one's.
        for (mid, mv) in r.crates.iter().skip(1) {
            if mid == krate {
                break;
            }
            let Some(m) = package(ws, mid, mv) else {
                continue;
            };
            for mf in features_enabling(m, krate, f) {
                if let Some(x) = features_enabling(dep, mid, &mf).into_iter().next() {
                    feature = Some(x);
                    break;
                }
            }
            if feature.is_some() {
                break;
            }
        }
    }
    let feature = feature?;
    let d = &r.decl;
    let mut feats = d.features.clone();
    feats.push(feature);
    let value = declaration(
        &tls::shown_req(&d.req.to_string(), &r.dver),
        !d.uses_default_features,
        &feats,
    );
    let (file, line, edit, fix) = tls::dependency_edit(ws, &r.owner_manifest, d, &r.key, &value);
    Some(Candidate {
        kind: Kind::Forwarded,
        file,
        line,
        edit,
        fix,
        risky: false,
        code_change: None,
    })
}

/// d: the crate's own feature through a direct dependency of the owner (features unify); with
/// `upgrade`, at the first version that has it.
fn direct(
    ws: &Workspace,
    r: &Route,
    i: &NativeIssue,
    f: &str,
    upgrade: Option<&str>,
) -> Option<Candidate> {
    let req = match upgrade {
        Some(since) => format!(">={since}"),
        None => tls::shown_req("*", &i.version),
    };
    let owner = tls::local_packages(ws)
        .into_iter()
        .find(|p| p.name.as_str() == r.owner)?;
    let existing = owner
        .dependencies
        .iter()
        .find(|d| d.name == i.krate && d.kind == cargo_metadata::DependencyKind::Normal);
    let text = std::fs::read_to_string(&r.owner_manifest).unwrap_or_default();
    let (edit, fix, line) = match existing {
        Some(d) => {
            let mut feats = d.features.clone();
            feats.push(f.to_string());
            let value = declaration(&req, !d.uses_default_features, &feats);
            let key = d.rename.clone().unwrap_or_else(|| d.name.clone());
            let (_, line, edit, fix) = tls::dependency_edit(ws, &r.owner_manifest, d, &key, &value);
            let edit = match (upgrade, edit) {
                (Some(_), Edit::Dependency { table, key, value }) => {
                    Edit::Upgrade { table, key, value }
                }
                (_, e) => e,
            };
            (edit, fix, line)
        }
        None => {
            let value = declaration(&req, false, &[f.to_string()]);
            let table = r.table.clone();
            let fix = format!(
                "in [{}] of {}: {} = {value}",
                table.join("."),
                r.owner,
                i.krate
            );
            let line = tls::dep_line(&text, &r.key);
            let edit = Edit::AddDependency {
                table,
                key: i.krate.clone(),
                value,
            };
            (edit, fix, line)
        }
    };
    let fix = match upgrade {
        Some(_) => format!("{fix} (upgrades {} {})", i.krate, i.version),
        None => fix,
    };
    Some(Candidate {
        kind: Kind::BuildFromSource,
        file: r.owner_manifest.clone(),
        line,
        edit,
        fix,
        risky: upgrade.is_some(),
        code_change: None,
    })
}

/// A kept upgrade candidate (`version = ">=0.5.0"`) with its requirement narrowed to the
/// major.minor cargo resolved it to (`"0.7"`): the same lockfile, a requirement people write.
pub fn narrowed(c: &Candidate, resolved: &str) -> Candidate {
    let mut c = c.clone();
    let req = tls::shown_req("*", resolved);
    let fix_req = |v: &mut String| {
        if let Some(start) = v.find("version = \">=") {
            let rest = &v[start + 11..];
            if let Some(end) = rest.find('"') {
                v.replace_range(start + 11..start + 11 + end, &req);
            }
        }
    };
    match &mut c.edit {
        Edit::AddDependency { value, .. } | Edit::Upgrade { value, .. } => fix_req(value),
        _ => return c,
    }
    fix_req(&mut c.fix);
    c
}

/// `{ version = "…", default-features = false, features = [...] }`.
fn declaration(req: &str, no_defaults: bool, features: &[String]) -> String {
    let mut v = format!("{{ version = \"{req}\"");
    if no_defaults {
        v.push_str(", default-features = false");
    }
    let list: Vec<String> = features.iter().map(|f| format!("\"{f}\"")).collect();
    v.push_str(&format!(", features = [{}] }}", list.join(", ")));
    v
}

/// Whether feature `feature` of package `p` is what brings package `krate` in: through `p`'s
/// feature table (cargo metadata), the optional dependencies it enables (`dep:x`, `x`, `x/f`) whose
/// packages reach `krate` in the graph, and the features of dependencies it turns on (`x/f`, looked
/// at the same way). In cargo tree's feature graph an optional dependency hangs under the package,
/// not under the feature that enabled it: the feature table says which.
fn reaches(ws: &Workspace, g: &Graph, p: &Package, feature: &str, krate: &str) -> bool {
    reaches_depth(ws, g, p, feature, krate, 0)
}

fn reaches_depth(
    ws: &Workspace,
    g: &Graph,
    p: &Package,
    feature: &str,
    krate: &str,
    depth: usize,
) -> bool {
    if depth > 4 {
        return false;
    }
    let own = own_features(p, feature);
    let leads_to_krate = |name: &str| {
        name == krate
            || g.nodes.iter().enumerate().any(|(i, n)| {
                matches!(n, Node::Package { name: m, .. } if m == name)
                    && g.path(
                        i,
                        |j| matches!(&g.nodes[j], Node::Package { name, .. } if name == krate),
                    )
                    .is_some()
            })
    };
    for v in own
        .iter()
        .filter(|v| !p.features.contains_key(**v) || v.contains('/'))
    {
        let v = v.strip_prefix("dep:").unwrap_or(v);
        let (key, sub) = match v.split_once('/') {
            Some((k, f)) => (k.trim_end_matches('?'), Some(f)),
            None => (v, None),
        };
        let Some(d) = p
            .dependencies
            .iter()
            .find(|d| d.rename.as_deref().unwrap_or(&d.name) == key)
        else {
            continue;
        };
        // A weak `x?/f` does not enable `x`; `x/f` and `dep:x` do when `x` is optional.
        let enables = d.optional && !v.contains("?/");
        if enables && leads_to_krate(&d.name) {
            return true;
        }
        if let (Some(f), Some(ver)) = (sub, version_in_graph(g, &d.name)) {
            if let Some(dp) = package(ws, &d.name, &ver) {
                if reaches_depth(ws, g, dp, f, krate, depth + 1) {
                    return true;
                }
            }
        }
    }
    false
}

/// e: the owner's (or member's) `default` features that lead to the crate, removed from `default`.
fn drop_own(ws: &Workspace, g: &Graph, r: &Route, krate: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    for name in [&r.owner, &r.member] {
        let Some(p) = tls::local_packages(ws)
            .into_iter()
            .find(|p| p.name.as_str() == name)
        else {
            continue;
        };
        let default = p.features.get("default").cloned().unwrap_or_default();
        let values: Vec<String> = default
            .iter()
            .filter(|f| p.features.contains_key(f.as_str()) && reaches(ws, g, p, f, krate))
            .cloned()
            .collect();
        if values.is_empty()
            || out
                .iter()
                .any(|c: &Candidate| c.file == p.manifest_path.as_str())
        {
            continue;
        }
        let file = p.manifest_path.to_string();
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let shown: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
        out.push(Candidate {
            kind: Kind::DropOwn,
            line: tls::feature_line(&text, "default"),
            file,
            edit: Edit::RemoveFeatureValues {
                feature: "default".into(),
                values,
            },
            fix: format!(
                "in [features] of {}, remove {} from default (it pulls in {krate})",
                p.name,
                shown.join(", ")
            ),
            risky: true,
            code_change: None,
        });
    }
    out
}

/// e: the declared dependency without the features (its defaults or the declared ones) that lead
/// to the crate; its other defaults kept.
fn drop_dependency(ws: &Workspace, g: &Graph, r: &Route, krate: &str) -> Option<Candidate> {
    if r.dname == krate {
        return None;
    }
    let dep = package(ws, &r.dname, &r.dver)?;
    let d = &r.decl;
    let leads = |f: &str| reaches(ws, g, dep, f, krate);
    let default_leads = d.uses_default_features && leads("default");
    let declared_lead = d.features.iter().any(|f| leads(f));
    if !default_leads && !declared_lead {
        return None;
    }
    let mut feats: Vec<String> = d.features.iter().filter(|f| !leads(f)).cloned().collect();
    if d.uses_default_features {
        for f in dep.features.get("default").into_iter().flatten() {
            if dep.features.contains_key(f.as_str()) && !leads(f) && !feats.contains(f) {
                feats.push(f.clone());
            }
        }
    }
    let value = declaration(&tls::shown_req(&d.req.to_string(), &r.dver), true, &feats);
    let (file, line, edit, fix) = tls::dependency_edit(ws, &r.owner_manifest, d, &r.key, &value);
    Some(Candidate {
        kind: Kind::DropDependency,
        file,
        line,
        edit,
        fix: format!("{fix} (without the features that pull in {krate})"),
        risky: true,
        code_change: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing;
    use serde_json::json;

    #[test]
    fn features_that_turn_on_a_dependencys_feature() {
        let p = testing::package(
            "diesel_cli",
            "2.3.0",
            true,
            vec![testing::dependency("pq-sys", true, &[])],
            json!({
                "default": ["postgres"],
                "postgres": ["diesel/postgres"],
                "postgres-bundled": ["postgres", "dep:pq-sys", "pq-sys/bundled"],
                "all-bundled": ["postgres-bundled"],
                "weak": ["pq-sys?/bundled"],
                "__asan": ["pq-sys/bundled"]
            }),
        );
        assert_eq!(
            features_enabling(&p, "pq-sys", "bundled"),
            ["postgres-bundled", "weak", "all-bundled"]
        );
        assert!(features_enabling(&p, "pq-sys", "bundled_without_openssl").is_empty());
    }

    #[test]
    fn an_upgrade_is_narrowed_to_what_cargo_resolved() {
        let c = Candidate {
            kind: Kind::BuildFromSource,
            file: "/x/Cargo.toml".into(),
            line: None,
            edit: Edit::AddDependency {
                table: vec!["dependencies".into()],
                key: "pq-sys".into(),
                value: "{ version = \">=0.5.0\", features = [\"bundled\"] }".into(),
            },
            fix: "in [dependencies] of app: pq-sys = { version = \">=0.5.0\", features = [\"bundled\"] } (upgrades pq-sys 0.4.8)".into(),
            risky: true,
            code_change: None,
        };
        let n = narrowed(&c, "0.7.8");
        assert_eq!(
            n.edit,
            Edit::AddDependency {
                table: vec!["dependencies".into()],
                key: "pq-sys".into(),
                value: "{ version = \"0.7\", features = [\"bundled\"] }".into(),
            }
        );
        assert!(
            n.fix.contains("pq-sys = { version = \"0.7\", features"),
            "{}",
            n.fix
        );
    }

    #[test]
    fn declarations() {
        assert_eq!(
            declaration("0.6", false, &["bundled".into()]),
            "{ version = \"0.6\", features = [\"bundled\"] }"
        );
        assert_eq!(
            declaration("4", true, &[]),
            "{ version = \"4\", default-features = false, features = [] }"
        );
    }
}
