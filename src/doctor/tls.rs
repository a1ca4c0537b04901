//! The tls check: paths from workspace members to OpenSSL / native-tls crates.

use std::collections::BTreeSet;

use anyhow::{Context, Result};
use cargo_metadata::Package;

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};
use super::kb::KnowledgeBase;
use crate::cli::DoctorArgs;
use crate::error::Failure;
use crate::workspace::{cargo_error_line, Workspace};

/// Crates whose presence means native TLS / OpenSSL in the binary.
pub const NATIVE_TLS: &[&str] = &[
    "openssl-sys",
    "openssl",
    "native-tls",
    "hyper-tls",
    "tokio-native-tls",
    "postgres-native-tls",
];

/// `cargo tree` with the real feature resolver for the target, normal edges only.
pub fn cargo_tree(ws: &Workspace, args: &DoctorArgs) -> Result<String> {
    let mut cmd = std::process::Command::new(crate::toolchain::cargo());
    cmd.args([
        "tree",
        "--workspace",
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
        if let Some(p) = g.path(s, &hit) {
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
    Vec::new()
}

fn feature_of(g: &Graph, n: usize) -> String {
    match &g.nodes[n] {
        Node::Feature { feature, .. } => feature.clone(),
        Node::Package { name, .. } => name.clone(),
    }
}

/// Every member → direct dependency route to a native TLS crate, one finding per (member, direct dependency).
pub fn check(ws: &Workspace, g: &Graph, kb: &KnowledgeBase) -> Vec<Finding> {
    let members: BTreeSet<&str> = ws.members().iter().map(|p| p.name.as_str()).collect();
    let bad = |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if NATIVE_TLS.contains(&name.as_str()));
    let sys = |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if name == "openssl-sys");
    let mut out = Vec::new();
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
        // Each direct dependency (package node reached through its feature nodes, or directly).
        let mut seen = BTreeSet::new();
        for &child in &g.edges[root] {
            let dep_pkg = match &g.nodes[child] {
                Node::Package { .. } => Some(child),
                Node::Feature { name, .. } => g.edges[child]
                    .iter()
                    .copied()
                    .find(|&n| matches!(&g.nodes[n], Node::Package { name: nm, .. } if nm == name)),
            };
            let Some(dep_pkg) = dep_pkg else { continue };
            let dep_name = g.nodes[dep_pkg].name().to_string();
            if members.contains(dep_name.as_str()) || !seen.insert(dep_name.clone()) {
                continue;
            }
            let path = if bad(dep_pkg) && !sys(dep_pkg) {
                g.path(dep_pkg, sys).or_else(|| Some(vec![dep_pkg]))
            } else {
                g.path(dep_pkg, sys).or_else(|| {
                    if bad(dep_pkg) {
                        Some(vec![dep_pkg])
                    } else {
                        g.path(dep_pkg, bad)
                    }
                })
            };
            let Some(path) = path else { continue };
            out.push(finding(ws, g, kb, member_pkg, root, &path));
        }
    }
    out
}

fn finding(
    ws: &Workspace,
    g: &Graph,
    kb: &KnowledgeBase,
    member: &Package,
    root: usize,
    path: &[usize],
) -> Finding {
    // Package nodes along the path, each with the feature node that entered it.
    let mut chain = vec![member.name.to_string()];
    let pkgs: Vec<usize> = path
        .iter()
        .copied()
        .filter(|&n| matches!(g.nodes[n], Node::Package { .. }))
        .collect();
    let entry_of = |n: usize| -> Option<usize> {
        let i = path.iter().position(|&x| x == n)?;
        (i > 0 && matches!(g.nodes[path[i - 1]], Node::Feature { .. })).then(|| path[i - 1])
    };
    let direct = pkgs[0];
    // The member's requested features of the direct dependency.
    let direct_entry = g.edges[root]
        .iter()
        .copied()
        .find(|&n| matches!(&g.nodes[n], Node::Feature { name, feature } if name == g.nodes[direct].name() && feature == "default"))
        .or_else(|| g.edges[root].iter().copied().find(|&n| matches!(&g.nodes[n], Node::Feature { name, .. } if name == g.nodes[direct].name())));
    for (i, &p) in pkgs.iter().enumerate() {
        let Node::Package { name, version } = &g.nodes[p] else {
            continue;
        };
        let next = pkgs.get(i + 1).map(|&n| g.nodes[n].name().to_string());
        let feats = match (next, package(ws, name, version)) {
            (Some(next), Some(pkg)) => {
                let entry = if i == 0 { direct_entry } else { entry_of(p) };
                feature_chain(ws, g, pkg, entry, &next)
            }
            _ => Vec::new(),
        };
        if feats.is_empty() {
            chain.push(name.clone());
        } else {
            chain.push(format!("{name} [{}]", feats.join(" → ")));
        }
    }
    let Node::Package {
        name: dname,
        version: dver,
    } = &g.nodes[direct]
    else {
        unreachable!()
    };
    let decl = member
        .dependencies
        .iter()
        .find(|d| &d.name == dname && d.kind == cargo_metadata::DependencyKind::Normal);
    let file = member.manifest_path.to_string();
    let key = decl
        .map(|d| d.rename.clone().unwrap_or_else(|| d.name.clone()))
        .unwrap_or(dname.clone());
    let line = std::fs::read_to_string(&file)
        .ok()
        .and_then(|t| dep_line(&t, &key));
    let target = g.nodes[*pkgs.last().unwrap()].name().to_string();
    let entry = kb.get(dname, dver);
    let (code, fix) = match (entry, decl) {
        (Some(e), Some(d)) => ("tls-native", Some(fix_line(&key, d, e))),
        _ => (
            "tls-native-unknown",
            Some(format!(
                "find a rustls feature of `{dname}` (cargo info {dname}@{dver}), or vendor OpenSSL: openssl = {{ version = \"0.10\", features = [\"vendored\"] }}"
            )),
        ),
    };
    Finding {
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
    }
}

/// The replacement declaration: the user's features minus the native ones, plus the rustls ones and
/// (with `default-features = false`) the crate's other defaults.
pub fn fix_line(key: &str, d: &cargo_metadata::Dependency, e: &super::kb::Entry) -> String {
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
        for f in &e.other_defaults {
            push(f, &mut feats);
        }
    }
    let mut s = format!(
        "{key} = {{ version = \"{}\"",
        d.req.to_string().trim_start_matches('^')
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
