//! The native check: every crate of the target's graph that compiles or links native code — a
//! `links` key, a build dependency on cc, cmake, pkg-config, bindgen or cxx-build — and what it does
//! for a static musl build:
//! - builds its library from source (the knowledge says so, or it only compiles its own sources):
//!   fine, given the tools it needs (`toolchain-cmake`, `toolchain-cxx`, see [`needs`]);
//! - links the system's library (no musl build of it exists): an error, fixed by the feature of the
//!   **locked** version that builds it from source, read from its feature table (`native-static`);
//!   a crate that builds its own but has a feature on that makes it ask the system instead
//!   (zstd-sys's `pkg-config`, turned on by a declaration `zstd = { features = ["pkg-config"] }`):
//!   the same error, fixed by dropping that feature where the workspace asks for it;
//! - a library a FROM-scratch image cannot have (ALSA, D-Bus, udev, X11, …): an error, fixed only
//!   by the package feature that drops it (`native-system`);
//! - a crate the knowledge does not know that may link a system library: a warning that says why
//!   (`native-unknown`); `--check` and `--fix` build it to find out.
//!
//! Which crate does what is data (`src/knowledge/crates.toml`, `[[native]]`).

use cargo_metadata::Package;

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};
use super::tls::{self, attribution, Route};
use crate::knowledge::{Native, NativeDefault};
use crate::workspace::Workspace;

/// Build dependencies that compile C/C++ code, and those that look for a system library.
const COMPILERS: &[&str] = &["cc", "cmake", "cxx-build", "autotools", "nasm-rs"];
const PROBES: &[&str] = &["pkg-config", "system-deps", "vcpkg", "metadeps", "bindgen"];

/// A native crate that blocks (or may block) the static musl build, with what the fix search needs.
#[derive(Debug, Clone)]
pub struct NativeIssue {
    pub krate: String,
    pub version: String,
    pub kind: IssueKind,
    /// Where it enters the graph from the workspace (the shortest route from a member).
    pub route: Option<Route>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueKind {
    /// Links the system's library: these features of the locked version build it from source
    /// (empty: the locked version has none; `since` is the first version that does).
    Static {
        features: Vec<String>,
        since: Option<String>,
    },
    /// A library a FROM-scratch image cannot have.
    SystemOnly,
    /// Builds its library from source, but these features of it, on, make it link the system's.
    SystemRequested { features: Vec<String> },
    /// Not known: may link a system library; these of its features look like a build from source.
    Unknown { features: Vec<String> },
}

/// The problem key of a native crate (see [`super::remedy`]).
pub fn key(krate: &str) -> String {
    format!("native:{krate}")
}

/// One native crate of the graph, as read from cargo metadata.
struct Crate<'a> {
    pkg: &'a Package,
    /// Its build dependencies that compile or probe.
    compiles: Vec<String>,
    probes: Vec<String>,
    known: Option<&'a Native>,
}

/// The native crates of the graph (native TLS ones are the tls check's).
fn crates<'a>(ws: &'a Workspace, g: &Graph) -> Vec<Crate<'a>> {
    let kb = &crate::knowledge::get().crates;
    let mut out: Vec<Crate<'a>> = Vec::new();
    for n in &g.nodes {
        let Node::Package { name, version } = n else {
            continue;
        };
        if kb.is_native_tls(name) || out.iter().any(|c| c.pkg.name.as_str() == name) {
            continue;
        }
        let Some(pkg) = attribution::package(&ws.metadata.packages, name, version) else {
            continue;
        };
        let build: Vec<String> = ws
            .node(&pkg.id)
            .into_iter()
            .flat_map(|node| &node.deps)
            .filter(|d| {
                d.dep_kinds
                    .iter()
                    .any(|k| k.kind == cargo_metadata::DependencyKind::Build)
            })
            .map(|d| ws.package(&d.pkg).name.to_string())
            .collect();
        let pick = |list: &[&str]| -> Vec<String> {
            build
                .iter()
                .filter(|b| list.contains(&b.as_str()))
                .cloned()
                .collect()
        };
        let (compiles, probes) = (pick(COMPILERS), pick(PROBES));
        let known = kb.native(name);
        // `links` on a crate that builds nothing (aws-lc-rs, k8s-openapi) only guards against
        // two versions in one graph.
        let links_only = !name.ends_with("-sys") && compiles.is_empty() && probes.is_empty();
        if known.is_none()
            && (links_only || pkg.links.is_none() && compiles.is_empty() && probes.is_empty())
        {
            continue;
        }
        out.push(Crate {
            pkg,
            compiles,
            probes,
            known,
        });
    }
    out
}

/// Whether the graph turns on feature `f` of `name`.
pub fn feature_on(g: &Graph, name: &str, f: &str) -> bool {
    g.index.contains_key(&Node::Feature {
        name: name.into(),
        feature: f.into(),
    })
}

/// The features of `pkg` that make it link the system's library and that the graph turns on: the
/// knowledge's list, and names that read so ([`looks_system`]).
pub fn system_features_on(g: &Graph, pkg: &Package, known: &Native) -> Vec<String> {
    let name = pkg.name.as_str();
    pkg.features
        .keys()
        .filter(|f| known.system_features.contains(f) || looks_system(f))
        .filter(|f| feature_on(g, name, f))
        .cloned()
        .collect()
}

/// Feature names that read as "link the system's library": ask pkg-config, or link a shared one.
pub fn looks_system(f: &str) -> bool {
    let f = f.to_ascii_lowercase().replace('_', "-");
    [
        "pkg-config",
        "pkgconfig",
        "use-pkg-config",
        "system",
        "system-lib",
        "system-libs",
        "use-system-lib",
        "use-system-libs",
        "dynamic-linking",
    ]
    .contains(&f.as_str())
}

/// Feature names that read as "build the library from source".
pub fn looks_static(f: &str) -> bool {
    let f = f.to_ascii_lowercase();
    ["bundled", "vendored", "static", "build-from-source"]
        .iter()
        .any(|w| f == *w || f.starts_with(&format!("{w}-")) || f.starts_with(&format!("{w}_")))
        || [
            "-bundled",
            "-vendored",
            "-static",
            "_bundled",
            "_vendored",
            "_static",
        ]
        .iter()
        .any(|w| f.ends_with(w))
}

/// The findings: one per native crate that blocks the static build (error) or that doctor
/// cannot vouch for (warning), each with the issue the fix search works on.
pub fn check(ws: &Workspace, g: &Graph) -> Vec<(Finding, NativeIssue)> {
    let mut out = Vec::new();
    for c in crates(ws, g) {
        let (name, version) = (c.pkg.name.to_string(), c.pkg.version.to_string());
        let has = |f: &String| c.pkg.features.contains_key(f);
        let (kind, severity, what) = match c.known {
            Some(k) if k.default == NativeDefault::Source => {
                let on = system_features_on(g, c.pkg, k);
                let Some(first) = on.first() else {
                    continue;
                };
                let what = format!(
                    "links {} from the system because its `{first}` feature is on (without it, it builds its own), and the system's has no build for musl: the build fails",
                    k.library
                );
                (
                    IssueKind::SystemRequested { features: on },
                    Severity::Error,
                    what,
                )
            }
            Some(k) if k.default == NativeDefault::System => {
                if k.static_features.iter().any(|f| feature_on(g, &name, f)) {
                    continue;
                }
                let features: Vec<String> = k
                    .static_features
                    .iter()
                    .filter(|f| has(f))
                    .cloned()
                    .collect();
                let since = features
                    .is_empty()
                    .then(|| k.static_since.clone())
                    .flatten();
                let what = format!(
                    "links {} from the system, which has no build for musl: the static link fails",
                    k.library
                );
                (IssueKind::Static { features, since }, Severity::Error, what)
            }
            Some(k) => {
                let mut what = format!(
                    "links {}, a system library a FROM-scratch image cannot have (and no musl build of it exists here)",
                    k.library
                );
                if let Some(n) = &k.note {
                    what.push_str(&format!("; {n}"));
                }
                (IssueKind::SystemOnly, Severity::Error, what)
            }
            None => {
                let features: Vec<String> = c
                    .pkg
                    .features
                    .keys()
                    .filter(|f| looks_static(f))
                    .cloned()
                    .collect();
                if features.iter().any(|f| feature_on(g, &name, f)) {
                    continue;
                }
                let how = if !c.probes.is_empty() {
                    format!("looks for a system library ({})", c.probes.join(", "))
                } else if c.compiles.is_empty() {
                    format!(
                        "links `{}` and compiles nothing itself",
                        c.pkg.links.as_deref().unwrap_or(&name)
                    )
                } else {
                    // Compiles its own sources: nothing to vouch for beyond the tools.
                    continue;
                };
                let what = format!(
                    "doctor cannot vouch for it: it {how}, which has no musl build unless the crate builds it (`--check` or `--fix` builds it to find out)"
                );
                (IssueKind::Unknown { features }, Severity::Warning, what)
            }
        };
        let (path, route) = route(ws, g, &name);
        let fix = advice(&name, &version, &kind);
        let finding = Finding {
            code: match kind {
                IssueKind::Static { .. } | IssueKind::SystemRequested { .. } => "native-static",
                IssueKind::SystemOnly => "native-system",
                IssueKind::Unknown { .. } => "native-unknown",
            },
            severity,
            message: format!("{name} v{version} {what}"),
            path,
            fix,
            file: route.as_ref().map(|r| r.owner_manifest.clone()),
            line: None,
            edit: None,
            verified: None,
        };
        out.push((
            finding,
            NativeIssue {
                krate: name,
                version,
                kind,
                route,
            },
        ));
    }
    out
}

/// The advice before the fix search has a verified edit.
fn advice(name: &str, version: &str, kind: &IssueKind) -> Option<String> {
    Some(match kind {
        IssueKind::Static { features, .. } if !features.is_empty() => format!(
            "enable its `{}` feature: {name} = {{ version = \"{}\", features = [\"{}\"] }} (features unify)",
            features[0],
            tls::shown_req("*", version),
            features[0]
        ),
        IssueKind::Static { since: Some(s), .. } => format!(
            "{name} {version} has no feature that builds it from source; {s} and later do: upgrade it"
        ),
        IssueKind::Static { .. } => return None,
        IssueKind::SystemOnly => format!(
            "turn off the feature that pulls in {name}, or leave this binary out of the image"
        ),
        IssueKind::SystemRequested { features } => format!(
            "drop `{}` where the workspace turns it on (a dependency's `features` list): {name} then builds its own",
            features.join("`, `")
        ),
        IssueKind::Unknown { features } if !features.is_empty() => format!(
            "if the build fails, enable its `{}` feature",
            features[0]
        ),
        IssueKind::Unknown { .. } => return None,
    })
}

/// The shortest route from a member to `name`: the finding's path, and where a fix goes.
pub fn route(ws: &Workspace, g: &Graph, name: &str) -> (Vec<String>, Option<Route>) {
    let goal = |n: usize| matches!(&g.nodes[n], Node::Package { name: m, .. } if m == name);
    for &root in &g.roots {
        let Node::Package {
            name: member,
            version,
        } = &g.nodes[root]
        else {
            continue;
        };
        let Some(m) = attribution::package(&ws.metadata.packages, member, version) else {
            continue;
        };
        if let Some(path) = tls::search::route_to(g, root, member, goal) {
            let a = attribution::attribute(&ws.metadata.packages, g, m, &path);
            let r = tls::route_of(&a);
            return (a.chain, r);
        }
    }
    (vec![name.to_string()], None)
}

/// The tools the graph's native builds need besides a musl C compiler: (crate, tool) with tool
/// `cmake` (a cmake build dependency) or `c++` (the knowledge's `needs`, or cxx-build).
pub fn needs(ws: &Workspace, g: &Graph) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for c in crates(ws, g) {
        let name = c.pkg.name.to_string();
        let builds = match c.known {
            Some(k) => match k.default {
                NativeDefault::Source => system_features_on(g, c.pkg, k).is_empty(),
                NativeDefault::System => k.static_features.iter().any(|f| feature_on(g, &name, f)),
                NativeDefault::SystemOnly => false,
            },
            None => true,
        };
        if !builds {
            continue;
        }
        // The knowledge says what a known crate needs (aws-lc-sys build-depends on cmake but
        // uses it only for FIPS); for the others, their build dependencies tell.
        let need = |tool: &str, inferred: bool| match c.known {
            Some(k) => k.needs.iter().any(|t| t == tool),
            None => inferred,
        };
        if need("cmake", c.compiles.iter().any(|b| b == "cmake")) {
            out.push((name.clone(), "cmake"));
        }
        if need("c++", c.compiles.iter().any(|b| b == "cxx-build")) {
            out.push((name, "c++"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_looking_features() {
        for f in [
            "bundled",
            "vendored",
            "static",
            "bundled_without_openssl",
            "static-curl",
            "vendored-openssl",
            "sqlite-bundled",
            "libz-static",
        ] {
            assert!(looks_static(f), "{f}");
        }
        for f in ["default", "staticx", "unbundled2", "tls", "dynamic-linking"] {
            assert!(!looks_static(f), "{f}");
        }
        for f in [
            "pkg-config",
            "use-pkg-config",
            "use_pkg_config",
            "system",
            "dynamic-linking",
        ] {
            assert!(looks_system(f), "{f}");
            assert!(!looks_static(f), "{f}");
        }
        for f in [
            "bundled",
            "default",
            "systemd",
            "pkg-config-cross",
            "static",
        ] {
            assert!(!looks_system(f), "{f}");
        }
    }
}
