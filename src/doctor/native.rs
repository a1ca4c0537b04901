//! The native check: other `links` crates (C libraries) in the graph for the target.

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};
use super::tls::NATIVE_TLS;
use crate::workspace::Workspace;

/// links crates with the feature that builds the C library from source, statically.
const STATIC_FEATURE: &[(&str, &str)] = &[
    ("libz-sys", "static"),
    ("libsqlite3-sys", "bundled"),
    ("curl-sys", "static-curl"),
    ("libgit2-sys", "vendored"),
    ("pq-sys", "bundled"),
];

/// links crates that build their C code from source anyway (need only a musl C compiler).
const BUILDS_FROM_SOURCE: &[&str] = &[
    "ring",
    "aws-lc-sys",
    "aws-lc-fips-sys",
    "zstd-sys",
    "lzma-sys",
    "bzip2-sys",
    "tikv-jemalloc-sys",
    "mimalloc-sys",
    "libmimalloc-sys",
    // Builds libssh2 from source unless LIBSSH2_SYS_USE_PKG_CONFIG is set; the OpenSSL it needs on
    // Unix is openssl-sys, which the tls check reports with its own path and fix.
    "libssh2-sys",
];

pub fn check(ws: &Workspace, g: &Graph) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in &g.nodes {
        let Node::Package { name, version } = n else {
            continue;
        };
        if NATIVE_TLS.contains(&name.as_str()) || BUILDS_FROM_SOURCE.contains(&name.as_str()) {
            continue;
        }
        let Some(pkg) = ws
            .metadata
            .packages
            .iter()
            .find(|p| p.name.as_str() == name && p.version.to_string() == *version)
        else {
            continue;
        };
        let Some(links) = &pkg.links else { continue };
        // `links` on a non-sys crate (aws-lc-rs, k8s-openapi) only guards against duplicate versions.
        if !name.ends_with("-sys") && !STATIC_FEATURE.iter().any(|(c, _)| c == name) {
            continue;
        }
        let feature_on = |f: &str| {
            g.index.contains_key(&Node::Feature {
                name: name.clone(),
                feature: f.into(),
            })
        };
        let (severity, fix) = match STATIC_FEATURE.iter().find(|(c, _)| c == name) {
            Some((_, f)) if feature_on(f) => continue,
            Some((_, f)) => (Severity::Warning, format!("enable its `{f}` feature in your manifest: {name} = {{ version = \"{}\", features = [\"{f}\"] }} (features unify)", super::tls::shown_req("*", version))),
            None => (Severity::Warning, format!("check that {name} builds {links} from source for musl (a vendored/static/bundled feature), or replace it")),
        };
        out.push(Finding {
            code: "native-links",
            severity,
            message: format!("{name} v{version} links the C library `{links}`"),
            path: vec![name.clone()],
            fix: Some(fix),
            file: None,
            line: None,
            edit: None,
        });
    }
    out
}
