//! The native check: other `links` crates (C libraries) in the graph for the target; which have a
//! static feature and which build from source anyway is data (`src/knowledge/crates.toml`).

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};
use crate::workspace::Workspace;

pub fn check(ws: &Workspace, g: &Graph) -> Vec<Finding> {
    let known = &crate::knowledge::get().crates;
    let mut out = Vec::new();
    for n in &g.nodes {
        let Node::Package { name, version } = n else {
            continue;
        };
        if known.is_native_tls(name) || known.builds_from_source(name) {
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
        let static_feature = known.static_feature(name);
        if !name.ends_with("-sys") && static_feature.is_none() {
            continue;
        }
        let feature_on = |f: &str| {
            g.index.contains_key(&Node::Feature {
                name: name.clone(),
                feature: f.into(),
            })
        };
        let (severity, fix) = match static_feature {
            Some(f) if feature_on(f) => continue,
            Some(f) => (Severity::Warning, format!("enable its `{f}` feature in your manifest: {name} = {{ version = \"{}\", features = [\"{f}\"] }} (features unify)", super::tls::shown_req("*", version))),
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
