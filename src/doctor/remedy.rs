//! The fix search for a route to OpenSSL: candidate edits in order of preference, each tried on a
//! scratch copy of the workspace and kept only when cargo, re-resolving it, no longer reaches
//! OpenSSL through that dependency (or links it vendored).
//!
//! The kinds, in order (the finding says which one it is and why the earlier ones did not apply):
//! - a. the knowledge base's entry for the crate and major version (`src/knowledge/tls.toml`);
//! - b. rustls features derived from the locked version's own feature table (`default-tls` →
//!   `rustls-tls`, `runtime-tokio-native-tls` → `runtime-tokio-rustls`, …), the locked defaults kept;
//! - c. a feature of the user's own package that selects rustls or vendored OpenSSL;
//! - d. the crate's own vendored feature, then a direct `openssl-sys` with `vendored`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_metadata::Package;

use super::findings::{Edit, Finding, Severity};
use super::graph;
use super::tls::{self, Route};
use crate::cli::DoctorArgs;
use crate::knowledge::KnowledgeBase;
use crate::workspace::{LoadOptions, Workspace};

/// Which kind of fix a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    KnowledgeBase,
    Derived,
    OwnFeature,
    CrateVendored,
    OpensslSys,
}

impl Kind {
    /// Order of preference.
    pub fn rank(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::KnowledgeBase => "a (knowledge base)",
            Kind::Derived => "b (rustls feature derived from the crate's feature table)",
            Kind::OwnFeature => "c (the package's own feature)",
            Kind::CrateVendored => "d (the crate's vendored OpenSSL feature)",
            Kind::OpensslSys => "d (direct openssl-sys with `vendored`)",
        }
    }
}

/// One candidate fix: the edits (manifest → edit), the line to print, and whether it switches to
/// rustls (then code calling the crate's OpenSSL-only API needs changes).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub kind: Kind,
    pub file: String,
    pub line: Option<usize>,
    pub edit: Edit,
    pub fix: String,
    pub rustls: bool,
}

/// Replaces each error finding's fix by the first candidate that verifies; a finding no candidate
/// clears keeps its advice (`tls-native-unknown`). Findings sharing one root cause (the same edit)
/// are merged.
pub fn resolve(
    ws: &Workspace,
    args: &DoctorArgs,
    kb: &KnowledgeBase,
    routes: Vec<(Finding, Option<Route>)>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    // The fixes chosen so far: their finding's index in `out`, and the crates whose routes are
    // still errors once the fix is applied (one re-resolution answers for every later route).
    let mut chosen_so_far: Vec<(usize, BTreeSet<String>)> = Vec::new();
    'routes: for (mut f, route) in routes {
        let mut new_choice: Option<BTreeSet<String>> = None;
        if let (Some(r), Severity::Error) = (&route, f.severity) {
            // One finding per root cause: a fix already chosen that clears this path too (vendoring
            // OpenSSL for one route vendors it for all) takes this path in.
            for (i, left) in &chosen_so_far {
                if !left.contains(&r.dname) {
                    let o = &mut out[*i];
                    const ALSO: &str = "; the same fix also clears the paths through ";
                    let named = format!("`{}`", r.dname);
                    if !o.message.contains(&named) {
                        let sep = if o.message.contains(ALSO) { ", " } else { ALSO };
                        o.message.push_str(&format!("{sep}{named}"));
                    }
                    continue 'routes;
                }
            }
        }
        if let (Some(r), Severity::Error) = (route, f.severity) {
            let (chosen, rejected) = search(ws, args, kb, &r, &f);
            match chosen {
                Some((c, left)) => {
                    let mut why = format!("fix kind {}", c.kind.label());
                    if !rejected.is_empty() {
                        why.push_str(&format!("; {}", rejected.join("; ")));
                    }
                    f.code = "tls-native";
                    f.message = format!("{} — {why}", f.message);
                    f.fix = Some(match c.rustls.then(|| openssl_api_note(ws, &r)).flatten() {
                        Some(note) => format!("{} — {note}", c.fix),
                        None => c.fix,
                    });
                    f.file = Some(c.file);
                    f.line = c.line;
                    f.edit = Some(c.edit);
                    new_choice = Some(left);
                }
                None => {
                    f.code = "tls-native-unknown";
                    f.edit = None;
                    if !rejected.is_empty() {
                        f.message =
                            format!("{} — no verified fix: {}", f.message, rejected.join("; "));
                    }
                }
            }
        }
        // One finding per root cause: the same edit of the same file.
        if let Some(o) = out
            .iter_mut()
            .find(|o| o.edit.is_some() && o.edit == f.edit && o.file == f.file)
        {
            if f.path.len() > o.path.len() {
                o.path = f.path;
            }
            continue;
        }
        if let Some(left) = new_choice {
            chosen_so_far.push((out.len(), left));
        }
        out.push(f);
    }
    out
}

/// The first candidate fix for route `r` (finding `f`) that verifies, with the crates whose routes
/// are still errors once it is applied; and why the other kinds did not apply, in kind order.
fn search(
    ws: &Workspace,
    args: &DoctorArgs,
    kb: &KnowledgeBase,
    r: &Route,
    f: &Finding,
) -> (Option<(Candidate, BTreeSet<String>)>, Vec<String>) {
    let kb_candidate = f.edit.clone().map(|edit| Candidate {
        kind: Kind::KnowledgeBase,
        file: f.file.clone().unwrap_or_default(),
        line: f.line,
        edit,
        fix: f.fix.clone().unwrap_or_default(),
        rustls: true,
    });
    let mut rejected: Vec<String> = Vec::new();
    if kb_candidate.is_none() {
        let known = kb.get(&r.dname, &r.dver).is_some();
        rejected.push(format!(
            "a: {} {} {}",
            if known {
                "the knowledge base knows no rustls option of"
            } else {
                "no knowledge-base entry for"
            },
            r.dname,
            crate::knowledge::major(&r.dver)
        ));
    }
    let mut chosen: Option<(Candidate, BTreeSet<String>)> = None;
    let mut tried: Vec<Kind> = Vec::new();
    for c in kb_candidate.into_iter().chain(candidates(ws, kb, r)) {
        if chosen.is_none() {
            tried.push(c.kind);
        }
        match still_failing(ws, args, &c) {
            Ok(left) if !left.contains(&r.dname) => {
                chosen = Some((c, left));
                break;
            }
            Ok(_) => rejected.push(format!(
                "{}: `{}` leaves the path",
                &c.kind.label()[..1],
                c.fix
            )),
            Err(e) => rejected.push(format!(
                "{}: `{}` does not resolve ({})",
                &c.kind.label()[..1],
                c.fix,
                crate::error::report(&e).1
            )),
        }
    }
    // Kinds before the chosen one that had no candidate at all: say why.
    let rank = chosen.as_ref().map_or(usize::MAX, |(c, _)| c.kind.rank());
    for (k, why) in [
        (
            Kind::Derived,
            format!(
                "b: no rustls feature of {} pairs with the native one the package asks for",
                r.dname
            ),
        ),
        (
            Kind::OwnFeature,
            format!(
                "c: no feature of `{}` selects rustls or vendored OpenSSL",
                r.owner
            ),
        ),
        (
            Kind::CrateVendored,
            format!("d: {} has no vendored OpenSSL feature", r.dname),
        ),
    ] {
        let skipped_b =
            k == Kind::Derived && kb.get(&r.dname, &r.dver).is_some_and(|e| e.has_rustls());
        if k.rank() < rank && !tried.contains(&k) && !skipped_b {
            rejected.push(why);
        }
    }
    // In the order of the kinds (a, b, c, d), each kind's lines in the order tried.
    rejected.sort_by_key(|w| w.chars().next());
    (chosen, rejected)
}

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

fn package<'a>(ws: &'a Workspace, name: &str, version: &str) -> Option<&'a Package> {
    tls::attribution::package(&ws.metadata.packages, name, version)
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
        rustls: true,
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
                    rustls: true,
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
                rustls: false,
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
        rustls: false,
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
        rustls: false,
    })
}

/// Applies `c` to a scratch copy of the workspace (manifests, lockfile and empty target files) and
/// re-resolves it: true when no error route through `r.dname` is left.
pub fn verify(ws: &Workspace, args: &DoctorArgs, r: &Route, c: &Candidate) -> Result<bool> {
    Ok(!still_failing(ws, args, c)?.contains(&r.dname))
}

/// The crates through which error routes to OpenSSL are left once `c` is applied (on a scratch copy).
pub fn still_failing(ws: &Workspace, args: &DoctorArgs, c: &Candidate) -> Result<BTreeSet<String>> {
    let scratch = Scratch::new(ws)?;
    let file = scratch.map(Path::new(&c.file))?;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let new = super::fix::apply(&text, &c.edit)?;
    std::fs::write(&file, new)?;
    let mut a = args.clone();
    // The edit may add packages to the lockfile (rustls, openssl-src): no --locked here.
    a.resolve.locked = false;
    a.resolve.offline |= a.resolve.frozen;
    a.resolve.frozen = false;
    let manifest = scratch.map(ws.manifest_path.as_std_path())?;
    a.common.manifest_path = Some(manifest.clone());
    let ws2 = Workspace::load(&LoadOptions {
        manifest_path: Some(manifest),
        features: a.features.clone(),
        resolve: a.resolve.clone(),
        target: Some(a.target.clone()),
        no_deps: false,
    })?;
    let g = graph::resolve(&ws2, &a)?;
    Ok(tls::routes(&ws2, &g, &crate::knowledge::get().tls)
        .into_iter()
        .filter(|(f, _)| f.severity == Severity::Error)
        .filter_map(|(_, r)| r.map(|r| r.dname))
        .collect())
}

/// A scratch copy of the workspace's local packages: manifests, lockfile, cargo config, toolchain
/// file, and an empty file for each target (cargo metadata reads manifests, not sources).
struct Scratch {
    dir: tempfile::TempDir,
    base: PathBuf,
}

impl Scratch {
    fn new(ws: &Workspace) -> Result<Scratch> {
        let root = ws.root().as_std_path().to_path_buf();
        let local: Vec<&Package> = ws
            .metadata
            .packages
            .iter()
            .filter(|p| p.source.is_none())
            .collect();
        let mut base = root.clone();
        for p in &local {
            let dir = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path())
                .unwrap_or(&root);
            while !dir.starts_with(&base) {
                if !base.pop() {
                    break;
                }
            }
        }
        let s = Scratch {
            dir: tempfile::Builder::new()
                .prefix("cargo-tiny-fix-")
                .tempdir()?,
            base,
        };
        let copy = |from: &Path| -> Result<()> {
            let to = s.map(from)?;
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
            Ok(())
        };
        let mut manifests: BTreeSet<PathBuf> = local
            .iter()
            .map(|p| p.manifest_path.as_std_path().to_path_buf())
            .collect();
        manifests.insert(ws.root_manifest().into_std_path_buf());
        manifests.insert(ws.manifest_path.as_std_path().to_path_buf());
        for m in &manifests {
            copy(m)?;
        }
        for extra in [
            "Cargo.lock",
            ".cargo/config.toml",
            ".cargo/config",
            "rust-toolchain.toml",
            "rust-toolchain",
        ] {
            let f = root.join(extra);
            if f.is_file() {
                copy(&f)?;
            }
        }
        for p in &local {
            for t in &p.targets {
                // A target file outside the copied tree: cargo metadata does not read sources.
                let Ok(to) = s.map(t.src_path.as_std_path()) else {
                    continue;
                };
                if !to.exists() {
                    if let Some(parent) = to.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&to, "")?;
                }
            }
        }
        Ok(s)
    }

    /// Where `path` is in the scratch copy; an error for a path outside the copied tree (never
    /// the user's own file: everything written goes below the scratch directory).
    fn map(&self, path: &Path) -> Result<PathBuf> {
        match path.strip_prefix(&self.base) {
            // Plain names only: cargo does not normalise a target's `path`, and a `..` in it
            // (`path = "../common/main.rs"`) would lead out of the scratch directory.
            Ok(rel)
                if !rel.as_os_str().is_empty()
                    && rel
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                Ok(self.dir.path().join(rel))
            }
            _ => Err(crate::error::Failure::new(format!(
                "{} is outside the copied workspace {}",
                path.display(),
                self.base.display()
            ))
            .into()),
        }
    }
}

/// When the switch to rustls leaves the owner's code calling the crate's OpenSSL / native-tls
/// API (`bind_openssl`, `use_native_tls`), a note that code changes follow: the crate's public
/// function names with `openssl` / `native_tls` in them, searched for in the owner's sources.
pub fn openssl_api_note(ws: &Workspace, r: &Route) -> Option<String> {
    let dep = package(ws, &r.dname, &r.dver)?;
    let src = dep.manifest_path.parent()?.join("src");
    let mut names: BTreeSet<String> = BTreeSet::new();
    for text in rust_files(src.as_std_path())
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
    {
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("pub fn ") else {
                continue;
            };
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if name.contains("openssl") || name.contains("native_tls") {
                names.insert(name);
            }
        }
    }
    if names.is_empty() {
        return None;
    }
    let owner = ws
        .members()
        .into_iter()
        .find(|p| p.name.as_str() == r.owner)?;
    let dir = owner.manifest_path.parent()?.as_std_path().to_path_buf();
    for f in rust_files(&dir) {
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            if let Some(n) = names.iter().find(|n| contains_word(line, n)) {
                let shown = f.strip_prefix(&dir).unwrap_or(&f).display().to_string();
                return Some(format!(
                    "code changes needed: {shown}:{} calls `{n}`, an OpenSSL / native-tls API of {}",
                    i + 1,
                    r.dname
                ));
            }
        }
    }
    None
}

fn contains_word(line: &str, word: &str) -> bool {
    line.match_indices(word).any(|(i, _)| {
        let before = line[..i].chars().next_back();
        let after = line[i + word.len()..].chars().next();
        let edge = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        edge(before) && edge(after)
    })
}

/// `.rs` files below `dir` (not `target/` or hidden directories), at most a few thousand.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(p);
                }
            } else if name.ends_with(".rs") && out.len() < 5000 {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_copy_never_maps_a_path_outside_itself() {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
            base: PathBuf::from("/w/proj"),
        };
        assert!(s.map(Path::new("/w/proj/src/main.rs")).is_ok());
        for outside in [
            "/w/proj/../common/main.rs",
            "/w/proj/src/../../x.rs",
            "/w/other/main.rs",
            "/w/proj",
        ] {
            assert!(s.map(Path::new(outside)).is_err(), "{outside}");
        }
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

    #[test]
    fn words() {
        assert!(contains_word("    .bind_openssl(addr, b)?", "bind_openssl"));
        assert!(!contains_word("fn my_bind_openssl2()", "bind_openssl"));
    }

    #[test]
    fn shown_versions_are_never_a_star() {
        assert_eq!(tls::shown_req("*", "0.10.10"), "0.10");
        assert_eq!(tls::shown_req("^0.11", "0.11.27"), "0.11");
        assert_eq!(tls::shown_req("", "1.2.3"), "1.2");
    }
}

#[cfg(test)]
mod feature_table_tests {
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
}
