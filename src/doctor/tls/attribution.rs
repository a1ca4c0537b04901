//! Attribution: which feature of which crate turned on each hop of a route to native TLS, and
//! where the fix goes (the last workspace package on the route and the crate it declares).

use std::collections::BTreeSet;

use cargo_metadata::Package;

use crate::doctor::graph::{Graph, Node};

/// A route explained crate by crate.
#[derive(Debug)]
pub struct Attribution<'a> {
    /// The member, then `crate [feature → feature]` per crate on the route: what the finding shows.
    pub chain: Vec<String>,
    /// The last workspace package on the route: its manifest is where the fix goes.
    pub owner: &'a Package,
    /// The owner's features on the route.
    pub owner_features: Vec<String>,
    /// The crates below the owner with their locked versions, nearest (the one the owner declares)
    /// first; empty when the route never leaves the workspace's packages.
    pub crates: Vec<(String, String)>,
    /// The crate the route ends at.
    pub target: String,
}

/// The package `name` at `version`.
pub fn package<'a>(packages: &'a [Package], name: &str, version: &str) -> Option<&'a Package> {
    packages
        .iter()
        .find(|p| p.name.as_str() == name && p.version.to_string() == version)
}

/// Explains the route `path` (graph nodes, from the member's first dependency on) of `member`;
/// `packages` are cargo metadata's.
pub fn attribute<'a>(
    packages: &'a [Package],
    g: &Graph,
    member: &'a Package,
    path: &[usize],
) -> Attribution<'a> {
    // The user's own packages: workspace members and local path dependencies (their manifests are
    // the user's to change, wherever they live).
    let own: Vec<&Package> = packages.iter().filter(|p| p.source.is_none()).collect();
    let members: BTreeSet<&str> = own.iter().map(|p| p.name.as_str()).collect();
    let gs = groups(g, path);
    let mut chain = vec![member.name.to_string()];
    // Feature lists per crate, computed from the end: a hop that is not an optional dependency is explained
    // by the feature of this crate that enables the next crate's first shown feature (`sqlx-core/_tls-native-tls`).
    let mut shown_all: Vec<Vec<String>> = vec![Vec::new(); gs.len()];
    for i in (0..gs.len()).rev() {
        let (name, pkg_node, feats) = &gs[i];
        let version = version_of(g, name).unwrap_or_default();
        let mut shown: Vec<String> = feats.iter().map(|&n| feature_of(g, n)).collect();
        if let (Some(next), Some(pkg)) = (gs.get(i + 1), package(packages, name, &version)) {
            let fc = if pkg_node.is_some() {
                feature_chain(g, pkg, feats.first().copied(), &next.0)
            } else {
                Vec::new()
            };
            let via = shown_all[i + 1]
                .first()
                .and_then(|nf| enabling_feature(g, pkg, &next.0, nf, feats.first().copied()));
            if !fc.is_empty() {
                shown = fc;
            } else if let Some(v) = via {
                shown = v;
            }
        }
        shown_all[i] = shown;
    }
    // Where to fix: the last workspace member on the route (or the root member) and the crate it depends on.
    let mut owner = member;
    let mut owner_feats: Vec<String> = Vec::new();
    let mut direct = 0;
    for (i, (name, _, feats)) in gs.iter().enumerate() {
        if members.contains(name.as_str()) {
            if let Some(p) = own.iter().copied().find(|p| p.name.as_str() == name) {
                owner = p;
                owner_feats = feats.iter().map(|&n| feature_of(g, n)).collect();
                direct = i + 1;
            }
        } else {
            break;
        }
    }
    // The user-facing feature first: when the owner's declaration names a feature of the crate
    // that leads to the first feature on the route (`runtime-tokio-native-tls` → `tls-native-tls`),
    // the route starts there, not at an internal feature or at `default`.
    if let Some((dname, _, _)) = gs.get(direct) {
        let dver = version_of(g, dname).unwrap_or_default();
        let declared = owner
            .dependencies
            .iter()
            .find(|d| &d.name == dname && d.kind == cargo_metadata::DependencyKind::Normal);
        if let (Some(d), Some(pkg)) = (declared, package(packages, dname, &dver)) {
            let shown = &mut shown_all[direct];
            let first = shown.first().cloned().unwrap_or_default();
            let start = usize::from(first == "default" && shown.len() > 1);
            if let Some(goal) = shown.get(start).cloned() {
                if !d.features.contains(&goal) {
                    if let Some(f) = d.features.iter().find(|f| feature_reaches(pkg, f, &goal)) {
                        shown.splice(0..start, [f.clone()]);
                    }
                }
            }
        }
    }
    for (i, (name, _, _)) in gs.iter().enumerate() {
        let mut shown = shown_all[i].clone();
        if shown == ["default"] && i > 0 {
            shown.clear();
        }
        if shown.is_empty() {
            chain.push(name.clone());
        } else {
            chain.push(format!("{name} [{}]", shown.join(" → ")));
        }
    }
    Attribution {
        chain,
        owner,
        owner_features: owner_feats,
        crates: gs[direct..]
            .iter()
            .map(|(n, _, _)| (n.clone(), version_of(g, n).unwrap_or_default()))
            .collect(),
        target: gs.last().map(|l| l.0.clone()).unwrap_or_default(),
    }
}

/// Does feature value `v` of a package enable its dependency known as `key`?
fn enables(v: &str, key: &str) -> bool {
    let v = v.strip_prefix("dep:").unwrap_or(v);
    v == key || v.starts_with(&format!("{key}/"))
}

/// The feature chain inside `pkg` that turned on its (optional) dependency on `next`, starting at `entry`.
fn feature_chain(g: &Graph, pkg: &Package, entry: Option<usize>, next: &str) -> Vec<String> {
    let Some(dep) = pkg
        .dependencies
        .iter()
        .find(|d| d.name == next && d.optional)
    else {
        return Vec::new();
    };
    let key = dep.rename.clone().unwrap_or_else(|| dep.name.clone());
    let name = pkg.name.as_str();
    let hit = |n: usize| match &g.nodes[n] {
        Node::Feature { name: nm, feature } if nm == name => {
            feature == &key
                || pkg
                    .features
                    .get(feature)
                    .is_some_and(|vs| vs.iter().any(|v| enables(v, &key)))
        }
        _ => false,
    };
    let mut starts: Vec<usize> = entry.into_iter().collect();
    if starts.is_empty() {
        starts = (0..g.nodes.len())
            .filter(|&n| matches!(&g.nodes[n], Node::Feature { name: nm, feature } if nm == name && feature == "default"))
            .collect();
    }
    for s in starts {
        if hit(s) {
            return vec![feature_of(g, s)];
        }
        if let Some(p) = g.path(s, hit) {
            let feats: Vec<String> = p
                .iter()
                .filter(|&&n| matches!(&g.nodes[n], Node::Feature { name: nm, .. } if nm == name))
                .map(|&n| feature_of(g, n))
                .collect();
            if p.iter().all(|&n| g.nodes[n].name() == name) {
                return feats;
            }
        }
    }
    // Enabled from outside (another crate's feature): name the feature that turns the dependency on.
    (0..g.nodes.len())
        .find(|&n| hit(n))
        .map(|n| vec![feature_of(g, n)])
        .unwrap_or_default()
}

/// The chain of `pkg`'s enabled features (from `entry`) ending at one that enables `next/nf`.
fn enabling_feature(
    g: &Graph,
    pkg: &Package,
    next: &str,
    nf: &str,
    entry: Option<usize>,
) -> Option<Vec<String>> {
    let dep = pkg.dependencies.iter().find(|d| d.name == next)?;
    let key = dep.rename.clone().unwrap_or_else(|| dep.name.clone());
    let name = pkg.name.as_str();
    let wanted = [format!("{key}/{nf}"), format!("{key}?/{nf}")];
    let hit = |n: usize| match &g.nodes[n] {
        Node::Feature { name: nm, feature } if nm == name => pkg
            .features
            .get(feature)
            .is_some_and(|vs| vs.iter().any(|v| wanted.contains(v))),
        _ => false,
    };
    if let Some(e) = entry {
        if hit(e) {
            return Some(vec![feature_of(g, e)]);
        }
        if let Some(p) = g.path(e, hit) {
            if p.iter().all(|&n| g.nodes[n].name() == name) {
                return Some(p.iter().map(|&n| feature_of(g, n)).collect());
            }
        }
    }
    (0..g.nodes.len())
        .find(|&n| hit(n))
        .map(|n| vec![feature_of(g, n)])
}

/// Whether feature `from` of `pkg` turns on its feature `to` (through its own feature table).
fn feature_reaches(pkg: &Package, from: &str, to: &str) -> bool {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut stack = vec![from];
    while let Some(f) = stack.pop() {
        if f == to {
            return true;
        }
        if seen.insert(f) {
            stack.extend(
                pkg.features
                    .get(f)
                    .into_iter()
                    .flatten()
                    .map(String::as_str),
            );
        }
    }
    false
}

fn feature_of(g: &Graph, n: usize) -> String {
    match &g.nodes[n] {
        Node::Feature { feature, .. } => feature.clone(),
        Node::Package { name, .. } => name.clone(),
    }
}

/// The path cut into one group per crate: (crate, package node if on the path, features on the path).
fn groups(g: &Graph, path: &[usize]) -> Vec<(String, Option<usize>, Vec<usize>)> {
    let mut out: Vec<(String, Option<usize>, Vec<usize>)> = Vec::new();
    for &n in path {
        let name = g.nodes[n].name().to_string();
        if out.last().is_none_or(|l| l.0 != name) {
            out.push((name, None, Vec::new()));
        }
        let last = out.last_mut().expect("pushed");
        match g.nodes[n] {
            Node::Package { .. } => last.1 = Some(n),
            Node::Feature { .. } => last.2.push(n),
        }
    }
    out
}

fn version_of(g: &Graph, name: &str) -> Option<String> {
    g.nodes.iter().find_map(|n| match n {
        Node::Package { name: nm, version } if nm == name => Some(version.clone()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::testing::{dependency, package};
    use serde_json::json;

    /// reqwest whose `native-tls` feature turns on `default-tls`, which turns on hyper-tls.
    fn registry() -> Vec<Package> {
        vec![
            package(
                "reqwest",
                "0.12.28",
                false,
                vec![dependency("hyper-tls", true, &[])],
                json!({"default": ["default-tls"], "default-tls": ["dep:hyper-tls"], "native-tls": ["default-tls"]}),
            ),
            package(
                "hyper-tls",
                "0.6.0",
                false,
                vec![dependency("native-tls", false, &[])],
                json!({}),
            ),
            package(
                "native-tls",
                "0.2.18",
                false,
                vec![dependency("openssl-sys", false, &[])],
                json!({}),
            ),
            package("openssl-sys", "0.9.100", false, vec![], json!({})),
        ]
    }

    const BELOW_REQWEST: &str = "hyper-tls v0.6.0\n6native-tls v0.2.18\n7openssl-sys v0.9.100\n";

    fn explain(
        packages: &[Package],
        tree: &str,
        member: &str,
    ) -> (Vec<String>, String, Vec<String>) {
        let g = Graph::parse(tree);
        let root = g.roots[0];
        let path = crate::doctor::tls::search::member_routes(&g, root, member).remove(0);
        let m = packages.iter().find(|p| p.name.as_str() == member).unwrap();
        let a = attribute(packages, &g, m, &path);
        let crates = a.crates.iter().map(|(n, v)| format!("{n}@{v}")).collect();
        (a.chain, a.owner.name.to_string(), crates)
    }

    #[test]
    fn each_hop_is_explained_by_the_features_that_turned_it_on() {
        let mut packages = registry();
        packages.push(package(
            "app",
            "0.1.0",
            true,
            vec![dependency("reqwest", false, &["native-tls"])],
            json!({}),
        ));
        let tree = format!(
            "0app v0.1.0 (/x)\n1reqwest feature \"native-tls\"\n2reqwest feature \"default-tls\"\n3reqwest v0.12.28\n4{}",
            BELOW_REQWEST.replace("6n", "5n").replace("7o", "6o")
        );
        let (chain, owner, crates) = explain(&packages, &tree, "app");
        assert_eq!(
            chain,
            [
                "app",
                "reqwest [native-tls → default-tls]",
                "hyper-tls",
                "native-tls",
                "openssl-sys"
            ]
        );
        assert_eq!(owner, "app");
        assert_eq!(
            crates,
            [
                "reqwest@0.12.28",
                "hyper-tls@0.6.0",
                "native-tls@0.2.18",
                "openssl-sys@0.9.100"
            ]
        );
    }

    #[test]
    fn the_fix_goes_to_the_last_workspace_package_on_the_route() {
        let mut packages = registry();
        packages.push(package(
            "app",
            "0.1.0",
            true,
            vec![dependency("net", false, &[])],
            json!({}),
        ));
        packages.push(package(
            "net",
            "0.1.0",
            true,
            vec![dependency("reqwest", false, &[])],
            json!({}),
        ));
        let tree = format!(
            "0app v0.1.0 (/x)\n1net v0.1.0 (/x/net)\n2reqwest feature \"default\"\n3reqwest feature \"default-tls\"\n4reqwest v0.12.28\n5{BELOW_REQWEST}"
        );
        let (chain, owner, crates) = explain(&packages, &tree, "app");
        assert_eq!(
            chain,
            [
                "app",
                "net",
                "reqwest [default → default-tls]",
                "hyper-tls",
                "native-tls",
                "openssl-sys"
            ]
        );
        assert_eq!(owner, "net");
        assert_eq!(crates[0], "reqwest@0.12.28");
    }

    #[test]
    fn feature_tables() {
        let p = &registry()[0];
        assert!(feature_reaches(p, "native-tls", "default-tls"));
        assert!(!feature_reaches(p, "default-tls", "native-tls"));
        assert!(
            enables("dep:hyper-tls", "hyper-tls") && enables("hyper-tls/vendored", "hyper-tls")
        );
        assert!(!enables("hyper-tls-x", "hyper-tls"));
    }
}
