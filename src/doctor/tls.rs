//! The tls check: paths from workspace members to OpenSSL / native-tls crates.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use cargo_metadata::Package;

use super::findings::{Edit, Finding, Severity};
use super::graph::{Graph, Node};
use crate::cli::DoctorArgs;
use crate::error::Failure;
use crate::knowledge::{Entry, KnowledgeBase};
use crate::workspace::{cargo_error_line, Workspace};

/// The activated graph for the target: the forward tree, completed by the inverted tree of the
/// packages the checks look at (see graph.rs for why).
pub fn resolve_graph(ws: &Workspace, args: &DoctorArgs) -> Result<Graph> {
    let mut g = Graph::parse(&cargo_tree(ws, args, &[])?);
    let known = &crate::knowledge::get().crates;
    let interesting = |p: &cargo_metadata::Package| {
        let n = p.name.as_str();
        known.is_native_tls(n) || p.links.is_some() || known.graph_inverted.iter().any(|c| c == n)
    };
    // Only packages the forward tree has: `-i` on a package outside the selected graph (say, with
    // `-p`) is an error, and every activated package is in the forward tree (its feature edges are
    // what may be missing).
    let in_graph = |p: &cargo_metadata::Package| {
        g.index.contains_key(&Node::Package {
            name: p.name.to_string(),
            version: p.version.to_string(),
        })
    };
    let specs: Vec<String> = ws
        .metadata
        .packages
        .iter()
        .filter(|p| interesting(p) && in_graph(p))
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    if !specs.is_empty() {
        g.merge_inverted(&cargo_tree(ws, args, &specs)?);
    }
    Ok(g)
}

/// `cargo tree` with the real feature resolver for the target, normal edges only; inverted on
/// `invert` (package specs) when not empty.
pub fn cargo_tree(ws: &Workspace, args: &DoctorArgs, invert: &[String]) -> Result<String> {
    let mut cmd = std::process::Command::new(crate::toolchain::cargo());
    cmd.args([
        "tree",
        "-e",
        "normal,features",
        "--prefix",
        "depth",
        "-f",
        "{p}",
    ])
    .args([
        "--target",
        &args.target,
        "--manifest-path",
        ws.manifest_path.as_str(),
    ])
    .args(args.resolve.cargo_args());
    if args.package.is_empty() {
        cmd.arg("--workspace");
    }
    for p in &args.package {
        cmd.args(["-p", p]);
    }
    for spec in invert {
        cmd.args(["-i", spec]);
    }
    let f = &args.features;
    if f.all_features {
        cmd.arg("--all-features");
    }
    if f.no_default_features {
        cmd.arg("--no-default-features");
    }
    let list = f.list();
    if !list.is_empty() {
        cmd.arg("--features").arg(list.join(","));
    }
    let out = cmd.output().context("running cargo tree")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(format!("cargo tree failed: {}", cargo_error_line(&err))).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Workspace members and path dependencies: the packages whose manifests are the user's.
pub fn local_packages(ws: &Workspace) -> Vec<&Package> {
    ws.metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .collect()
}

fn package<'a>(ws: &'a Workspace, name: &str, version: &str) -> Option<&'a Package> {
    ws.metadata
        .packages
        .iter()
        .find(|p| p.name.as_str() == name && p.version.to_string() == version)
}

/// Does feature value `v` of a package enable its dependency known as `key`?
fn enables(v: &str, key: &str) -> bool {
    let v = v.strip_prefix("dep:").unwrap_or(v);
    v == key || v.starts_with(&format!("{key}/"))
}

/// The feature chain inside `pkg` that turned on its (optional) dependency on `next`, starting at `entry`.
fn feature_chain(
    ws: &Workspace,
    g: &Graph,
    pkg: &Package,
    entry: Option<usize>,
    next: &str,
) -> Vec<String> {
    let Some(dep) = pkg
        .dependencies
        .iter()
        .find(|d| d.name == next && d.optional)
    else {
        return Vec::new();
    };
    let key = dep.rename.clone().unwrap_or_else(|| dep.name.clone());
    let _ = ws;
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

/// Every member → direct dependency route to a native TLS crate, one finding per place to fix.
pub fn check(ws: &Workspace, g: &Graph, kb: &KnowledgeBase) -> Vec<Finding> {
    routes(ws, g, kb).into_iter().map(|(f, _)| f).collect()
}

/// Where a route to native TLS enters the graph from the workspace: what [`super::remedy`] needs to
/// build and try other fixes than the knowledge base's.
#[derive(Debug, Clone)]
pub struct Route {
    /// The member the route starts at, and the member (last on the route) that declares `dname`.
    pub member: String,
    pub owner: String,
    /// The owner's manifest (absolute).
    pub owner_manifest: String,
    /// The owner's declaration of the crate, its key (a rename) and its table (`["dependencies"]`,
    /// `["target", "cfg(unix)", "dependencies"]`).
    pub decl: cargo_metadata::Dependency,
    pub key: String,
    pub table: Vec<String>,
    /// The crate the owner depends on, at its locked version.
    pub dname: String,
    pub dver: String,
    /// The crates on the route below the owner, with their locked versions, nearest first.
    pub crates: Vec<(String, String)>,
}

/// [`check`]'s findings with the route behind each error one (none for a path the workspace does
/// not declare, and none once OpenSSL is vendored: nothing is left to fix then).
pub fn routes(ws: &Workspace, g: &Graph, kb: &KnowledgeBase) -> Vec<(Finding, Option<Route>)> {
    let native = &crate::knowledge::get().crates;
    let bad =
        |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if native.is_native_tls(name));
    let sys = |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if name == "openssl-sys");
    let mut out: Vec<(Finding, Option<Route>)> = Vec::new();
    for &root in &g.roots {
        let Node::Package {
            name: member,
            version: mv,
        } = &g.nodes[root]
        else {
            continue;
        };
        let Some(member_pkg) = package(ws, member, mv) else {
            continue;
        };
        // Shortest route per direct dependency, starting at the feature node the member enables.
        let mut best: Vec<(String, Vec<usize>)> = Vec::new();
        for child in direct_dependencies(g, root, member) {
            let dep_name = g.nodes[child].name().to_string();
            let path = if bad(child) {
                g.path(child, sys).or_else(|| Some(vec![child]))
            } else {
                g.path(child, sys).or_else(|| g.path(child, bad))
            };
            let Some(path) = path else { continue };
            let rank = |p: &Vec<usize>| {
                (
                    p.iter()
                        .filter(|&&n| matches!(g.nodes[n], Node::Package { .. }))
                        .count(),
                    p.len(),
                )
            };
            match best.iter_mut().find(|(n, _)| *n == dep_name) {
                Some((_, p)) if rank(p) <= rank(&path) => {}
                Some((_, p)) => *p = path,
                None => best.push((dep_name, path)),
            }
        }
        for (_, path) in best {
            let (f, r) = finding(ws, g, kb, member_pkg, &path);
            if let Some(i) = out
                .iter()
                .position(|(o, _)| o.file == f.file && o.line == f.line && o.fix == f.fix)
            {
                if out[i].0.path.len() < f.path.len() {
                    out[i] = (f, r);
                }
            } else {
                out.push((f, r));
            }
        }
    }
    // With OpenSSL vendored (openssl-sys's `vendored` feature, e.g. through `openssl/vendored` or
    // `git2/vendored-openssl`) the build works: OpenSSL is compiled from source and linked
    // statically. Still worth knowing — it costs size and a C toolchain — but not an error.
    let vendored = g.index.contains_key(&Node::Feature {
        name: "openssl-sys".into(),
        feature: "vendored".into(),
    }) || g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::Package { name, .. } if name == "openssl-src"));
    if vendored {
        for (f, r) in &mut out {
            f.severity = Severity::Warning;
            f.message = f.message.replace(" (OpenSSL does not link statically for musl)", "")
                + ", vendored (openssl-sys/vendored): built from source and linked statically, at the cost of size and a C toolchain (musl-gcc, perl, make)";
            // Already vendored: no "vendor OpenSSL" advice; a rustls switch stays on offer.
            if f.code == "tls-native-unknown" {
                f.fix = None;
            }
            *r = None;
        }
    }
    out
}

/// The nodes a member's dependency edges start at: its direct children, and the dependency
/// features its own `[features]` turn on (reached through the member's feature nodes, which the
/// graph has from the inverted tree's `(command-line)` lines).
fn direct_dependencies(g: &Graph, root: usize, member: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut seen = vec![false; g.nodes.len()];
    let mut queue: std::collections::VecDeque<usize> = g.edges[root].iter().copied().collect();
    while let Some(n) = queue.pop_front() {
        if std::mem::replace(&mut seen[n], true) {
            continue;
        }
        match &g.nodes[n] {
            Node::Feature { name, .. } if name == member => {
                queue.extend(g.edges[n].iter().copied())
            }
            Node::Package { name, .. } if name == member => {}
            _ => out.push(n),
        }
    }
    out
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

fn finding(
    ws: &Workspace,
    g: &Graph,
    kb: &KnowledgeBase,
    member: &Package,
    path: &[usize],
) -> (Finding, Option<Route>) {
    // The user's own packages: workspace members and local path dependencies (their manifests are
    // the user's to change, wherever they live).
    let own = local_packages(ws);
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
        if let (Some(next), Some(pkg)) = (gs.get(i + 1), package(ws, name, &version)) {
            let fc = if pkg_node.is_some() {
                feature_chain(ws, g, pkg, feats.first().copied(), &next.0)
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
        if let (Some(d), Some(pkg)) = (declared, package(ws, dname, &dver)) {
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
    let target = gs.last().map(|l| l.0.clone()).unwrap_or_default();
    let mut file = owner.manifest_path.to_string();
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let Some((dname, _, dfeats)) = gs.get(direct) else {
        let f = Finding {
            code: "tls-native-unknown",
            severity: Severity::Error,
            message: format!("`{}` depends on {target}", member.name),
            path: chain,
            fix: None,
            file: Some(file),
            line: None,
            edit: None,
        };
        return (f, None);
    };
    let dver = version_of(g, dname).unwrap_or_default();
    let decl = owner
        .dependencies
        .iter()
        .find(|d| &d.name == dname && d.kind == cargo_metadata::DependencyKind::Normal);
    let key = decl
        .map(|d| d.rename.clone().unwrap_or_else(|| d.name.clone()))
        .unwrap_or(dname.clone());
    let mut line = dep_line(&text, &key);
    let route = decl.map(|d| Route {
        member: member.name.to_string(),
        owner: owner.name.to_string(),
        owner_manifest: owner.manifest_path.to_string(),
        decl: d.clone(),
        key: key.clone(),
        table: declared_table(d),
        dname: dname.clone(),
        dver: dver.clone(),
        crates: gs[direct..]
            .iter()
            .map(|(n, _, _)| (n.clone(), version_of(g, n).unwrap_or_default()))
            .collect(),
    });
    let entry = kb.get(dname, &dver);
    let mut edit = None;
    let (code, fix) = match (entry, decl) {
        (Some(e), Some(d)) if e.has_rustls() => {
            let declared_native = d.features.iter().any(|f| e.native.contains(f)) || (e.default_native && d.uses_default_features);
            let enabled: Vec<String> = dfeats.iter().map(|&n| feature_of(g, n)).filter(|f| e.native.contains(f)).collect();
            // Enabled by one of the owner's own features (`native = ["reqwest/native-tls"]`)?
            let via_feature = owner_feats.iter().chain(owner.features.keys()).find_map(|of| {
                owner.features.get(of)?.iter().find_map(|v| {
                    let (k, f) = v.split_once('/')?;
                    (k.trim_end_matches('?') == key && e.native.iter().any(|n| n == f)).then(|| (of.clone(), v.clone()))
                })
            });
            match via_feature {
                Some((of, v)) if !declared_native => {
                    line = feature_line(&text, &of).or(line);
                    let native_f = v.split_once('/').map(|x| x.1).unwrap_or_default();
                    let rep = e.replace.get(native_f).and_then(|r| r.first()).or(e.rustls.first()).cloned().unwrap_or_default();
                    edit = Some(Edit::FeatureValue { feature: of.clone(), old: v.clone(), new: format!("{key}/{rep}") });
                    ("tls-native", Some(format!("in [features] of {}, `{of}` enables \"{v}\": replace it with \"{key}/{rep}\"", owner.name)))
                }
                _ => {
                    let _ = enabled;
                    let defaults = package(ws, dname, &dver).map(|p| locked_defaults(p, e)).unwrap_or_default();
                    let l = fix_line(&key, d, e, &defaults, &dver);
                    let value = l.split_once(" = ").map(|x| x.1.to_string()).unwrap_or_default();
                    let (f, ln, ed, text) = dependency_edit(ws, owner.manifest_path.as_ref(), d, &key, &value);
                    file = f;
                    line = ln;
                    edit = Some(ed);
                    ("tls-native", Some(text))
                }
            }
        }
        _ => (
            "tls-native-unknown",
            Some(format!(
                "find a rustls feature of `{dname}` (cargo info {dname}@{dver}), or vendor OpenSSL: openssl = {{ version = \"0.10\", features = [\"vendored\"] }}"
            )),
        ),
    };
    let f = Finding {
        code,
        severity: Severity::Error,
        message: format!(
            "`{}` pulls in {target} through `{dname}` (OpenSSL does not link statically for musl)",
            member.name
        ),
        path: chain,
        fix,
        file: Some(file),
        line,
        edit,
    };
    (f, route)
}

/// The table a declaration lives in: `[dependencies]` or `[target.'cfg(…)'.dependencies]`.
fn declared_table(d: &cargo_metadata::Dependency) -> Vec<String> {
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
pub fn locked_defaults(p: &Package, e: &Entry) -> Vec<String> {
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
        item = t.iter().find(|(k, _)| super::fix::same_key(k, part))?.1;
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

/// 1-based line of feature `name` in the `[features]` table.
pub fn feature_line(text: &str, name: &str) -> Option<usize> {
    let mut in_f = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_f = t == "[features]";
            continue;
        }
        if in_f {
            if let Some(rest) = t.strip_prefix(name) {
                if rest.trim_start().starts_with('=') {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}

/// The replacement declaration: the user's features minus the native ones, plus the rustls ones and
/// (with `default-features = false`) the crate's other defaults.
pub fn fix_line(
    key: &str,
    d: &cargo_metadata::Dependency,
    e: &Entry,
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
    let mut s = format!(
        "{key} = {{ version = \"{}\"",
        shown_req(&d.req.to_string(), locked)
    );
    if drop_defaults || !d.uses_default_features {
        s.push_str(", default-features = false");
    }
    let list: Vec<String> = feats.iter().map(|f| format!("\"{f}\"")).collect();
    s.push_str(&format!(", features = [{}] }}", list.join(", ")));
    s
}

/// 1-based line where `key` is declared in a `[dependencies]`-like table.
pub fn dep_line(text: &str, key: &str) -> Option<usize> {
    let mut in_deps = false;
    for (i, l) in text.lines().enumerate() {
        let t = l.trim();
        if t.starts_with('[') {
            in_deps = t.ends_with("dependencies]")
                && !t.contains("dev-dependencies")
                && !t.contains("build-dependencies");
            if t == format!("[dependencies.{key}]") || t.ends_with(&format!(".dependencies.{key}]"))
            {
                return Some(i + 1);
            }
            continue;
        }
        if in_deps {
            if let Some(rest) = t.strip_prefix(key) {
                let rest = rest.trim_start();
                if rest.starts_with('=') || rest.starts_with('.') {
                    return Some(i + 1);
                }
            }
        }
    }
    None
}
