//! The tls check: paths from workspace members to OpenSSL / native-tls crates, each with the
//! Cargo.toml fix. Three steps, one module each:
//! - [`search`]: the routes from each member to a native TLS crate in the activated graph;
//! - [`attribution`]: which feature of which crate turned each hop on, and where the fix goes;
//! - [`edit`]: the replacement declaration or feature value, and where it is written.

pub mod attribution;
pub mod edit;
pub mod search;

use cargo_metadata::Package;

use super::findings::{Edit, Finding, Severity};
use super::graph::{Graph, Node};
use crate::knowledge::{KnowledgeBase, TlsEntry};
use crate::workspace::Workspace;
use attribution::package;
pub use edit::{dep_line, dependency_edit, feature_line, shown_req};

/// Workspace members and path dependencies: the packages whose manifests are the user's.
pub fn local_packages(ws: &Workspace) -> Vec<&Package> {
    ws.metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .collect()
}

/// The problem key of a route: the owner (where the fix goes) and the crate it declares.
pub fn key(f: &Finding, r: Option<&Route>) -> String {
    match r {
        Some(r) => format!("tls:{}>{}", r.owner, r.dname),
        None => format!("tls:{}", f.path.join(">")),
    }
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

/// [`check`]'s findings with the route behind each (none for a path the workspace does not
/// declare). Once OpenSSL is vendored every route is a warning: it builds, nothing is left to fix.
pub fn routes(ws: &Workspace, g: &Graph, kb: &KnowledgeBase) -> Vec<(Finding, Option<Route>)> {
    let mut out: Vec<(Finding, Option<Route>)> = Vec::new();
    for &root in &g.roots {
        let Node::Package {
            name: member,
            version: mv,
        } = &g.nodes[root]
        else {
            continue;
        };
        let Some(member_pkg) = package(&ws.metadata.packages, member, mv) else {
            continue;
        };
        for path in search::member_routes(g, root, member) {
            let (f, r) = finding(
                ws,
                kb,
                attribution::attribute(&ws.metadata.packages, g, member_pkg, &path),
            );
            // One finding per place to fix: the longest route explains it.
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
    // Vendored OpenSSL builds: not an error (doctor reports none of these; `-v` says it is vendored).
    if search::openssl_vendored(g) {
        for (f, _) in &mut out {
            f.severity = Severity::Warning;
            f.message = f.message.replace(" (OpenSSL does not link statically for musl)", "")
                + ", vendored (openssl-sys/vendored): built from source and linked statically, at the cost of size and a C toolchain (musl-gcc, perl, make)";
            // Already vendored: no "vendor OpenSSL" advice; a rustls switch stays on offer.
            if f.code == "tls-native-unknown" {
                f.fix = None;
            }
        }
    }
    out
}

/// The route behind an attribution: where it enters the graph from the workspace (none when the
/// owner does not declare the crate itself).
pub fn route_of(a: &attribution::Attribution) -> Option<Route> {
    let (dname, dver) = a.crates.first().cloned()?;
    let owner = a.owner;
    let d = owner
        .dependencies
        .iter()
        .find(|d| d.name == dname && d.kind == cargo_metadata::DependencyKind::Normal)?;
    Some(Route {
        member: a.chain[0].clone(),
        owner: owner.name.to_string(),
        owner_manifest: owner.manifest_path.to_string(),
        decl: d.clone(),
        key: d.rename.clone().unwrap_or_else(|| d.name.clone()),
        table: edit::declared_table(d),
        dname,
        dver,
        crates: a.crates.clone(),
    })
}

/// The finding for one attributed route: the knowledge base's rustls switch as an edit of the
/// owner's manifest, or — for a crate it does not know — advice without an edit.
fn finding(
    ws: &Workspace,
    kb: &KnowledgeBase,
    a: attribution::Attribution,
) -> (Finding, Option<Route>) {
    let (owner, target) = (a.owner, &a.target);
    let member = a.chain[0].clone();
    let mut file = owner.manifest_path.to_string();
    let Some((dname, dver)) = a.crates.first().cloned() else {
        let f = Finding {
            code: "tls-native-unknown",
            severity: Severity::Error,
            message: format!("`{member}` depends on {target}"),
            path: a.chain,
            fix: None,
            file: Some(file),
            line: None,
            edit: None,
            verified: None,
        };
        return (f, None);
    };
    let text = std::fs::read_to_string(&file).unwrap_or_default();
    let route = route_of(&a);
    let decl = route.as_ref().map(|r| &r.decl);
    let key = route.as_ref().map_or(dname.clone(), |r| r.key.clone());
    let mut line = dep_line(&text, &key);
    let mut edit = None;
    let (code, fix) = match (kb.get(&dname, &dver), decl) {
        (Some(e), Some(d)) if e.has_rustls() => {
            let fix = match owner_feature_enabling(owner, &a.owner_features, &key, e, d) {
                // Enabled by one of the owner's own features: that feature's value changes.
                Some((of, v)) => {
                    line = feature_line(&text, &of).or(line);
                    let native_f = v.split_once('/').map(|x| x.1).unwrap_or_default();
                    let rep = e
                        .replace
                        .get(native_f)
                        .and_then(|r| r.first())
                        .or(e.rustls.first())
                        .cloned()
                        .unwrap_or_default();
                    edit = Some(Edit::FeatureValue {
                        feature: of.clone(),
                        old: v.clone(),
                        new: format!("{key}/{rep}"),
                    });
                    format!(
                        "in [features] of {}, `{of}` enables \"{v}\": replace it with \"{key}/{rep}\"",
                        owner.name
                    )
                }
                // Else the declaration changes.
                None => {
                    let defaults = package(&ws.metadata.packages, &dname, &dver)
                        .map(|p| edit::locked_defaults(p, e))
                        .unwrap_or_default();
                    let value = edit::fix_value(d, e, &defaults, &dver);
                    let (f, ln, ed, text) =
                        dependency_edit(ws, owner.manifest_path.as_ref(), d, &key, &value);
                    file = f;
                    line = ln;
                    edit = Some(ed);
                    text
                }
            };
            ("tls-native", Some(fix))
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
            "`{member}` pulls in {target} through `{dname}` (OpenSSL does not link statically for musl)"
        ),
        path: a.chain,
        fix,
        file: Some(file),
        line,
        edit,
        verified: None,
    };
    (f, route)
}

/// The owner's feature (and its value) that turns on a native feature of its dependency `key`
/// (`native = ["reqwest/native-tls"]`), when the declaration itself does not.
fn owner_feature_enabling(
    owner: &Package,
    on_route: &[String],
    key: &str,
    e: &TlsEntry,
    d: &cargo_metadata::Dependency,
) -> Option<(String, String)> {
    let declared_native = d.features.iter().any(|f| e.native.contains(f))
        || (e.default_native && d.uses_default_features);
    if declared_native {
        return None;
    }
    on_route.iter().chain(owner.features.keys()).find_map(|of| {
        owner.features.get(of)?.iter().find_map(|v| {
            let (k, f) = v.split_once('/')?;
            (k.trim_end_matches('?') == key && e.native.iter().any(|n| n == f))
                .then(|| (of.clone(), v.clone()))
        })
    })
}
