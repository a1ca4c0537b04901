//! The `host-files` check: crates in the graph that read files of the host at run time (the time
//! zone database, MIME databases …), which a FROM-scratch image does not have. The crate list is
//! data: `src/knowledge/host_files.toml`.

use std::collections::BTreeSet;

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};
use super::{scratch, sources};
use crate::knowledge::HostFiles;
use crate::workspace::Workspace;

pub fn check(ws: &Workspace, g: &Graph) -> Vec<Finding> {
    let mut roots = Vec::new();
    for m in scratch::members(ws, g) {
        roots.extend(scratch::own_roots(ws, g, &m, None));
        roots.extend(m.bins().map(|b| b.src_path.clone().into_std_path_buf()));
    }
    check_with(
        g,
        &crate::knowledge::get().host_files,
        &sources::scan(&roots),
    )
}

/// `own`: the workspace's own sources, to tell whether its code calls the API that reads the files.
pub fn check_with(g: &Graph, kb: &HostFiles, own: &sources::Scan) -> Vec<Finding> {
    let feature_on = |name: &str, f: &str| {
        g.index.contains_key(&Node::Feature {
            name: name.into(),
            feature: f.into(),
        })
    };
    let mut reported: BTreeSet<&str> = BTreeSet::new();
    let mut out = Vec::new();
    for e in &kb.crates {
        let Some(node) = g
            .nodes
            .iter()
            .position(|n| matches!(n, Node::Package { name, .. } if *name == e.name))
        else {
            continue;
        };
        if e.feature
            .as_deref()
            .is_some_and(|f| !feature_on(&e.name, f))
            || e.unless.iter().any(|f| feature_on(&e.name, f))
            || e.reported_by.iter().any(|c| reported.contains(c.as_str()))
        {
            continue;
        }
        reported.insert(&e.name);
        let Node::Package { version, .. } = &g.nodes[node] else {
            continue;
        };
        // The chain from a member, packages only: `app → sqlx → chrono`.
        let path = g
            .roots
            .iter()
            .find_map(|&r| g.path(r, |n| n == node))
            .map(|p| {
                p.into_iter()
                    .filter(|&i| matches!(g.nodes[i], Node::Package { .. }))
                    .map(|i| g.nodes[i].name().to_string())
                    .collect()
            })
            .unwrap_or_else(|| vec![e.name.clone()]);
        let via = e
            .feature
            .as_deref()
            .map(|f| format!(" (feature `{f}`)"))
            .unwrap_or_default();
        let called = e.calls.is_empty() || e.calls.iter().any(|c| own.names(c));
        let (severity, note) = if called {
            (Severity::Warning, String::new())
        } else {
            (
                Severity::Info,
                format!(
                    " (your code does not call {}; a dependency may)",
                    e.calls.join(" / ")
                ),
            )
        };
        out.push(Finding {
            code: "host-files",
            severity,
            message: format!(
                "{} v{version}{via} reads {} at run time, which a FROM-scratch image does not have: {}{note}",
                e.name,
                e.reads.join(", "),
                e.symptom
            ),
            path,
            fix: Some(e.fix.clone()),
            file: None,
            line: None,
            edit: None,
            verified: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_decide() {
        let g = Graph::parse(concat!(
            "0app v0.1.0 (/x)\n",
            "1chrono feature \"clock\"\n",
            "2chrono v0.4.45\n",
            "2iana-time-zone v0.1.65\n",
            "1jiff feature \"default\"\n",
            "2jiff feature \"tzdb-zoneinfo\"\n",
            "3jiff v0.2.20\n",
            "2jiff feature \"tzdb-bundle-always\"\n",
        ));
        let kb = &crate::knowledge::get().host_files;
        let mut own = sources::Scan::default();
        own.paths.insert("chrono::Local::now".into());
        let found = check_with(&g, kb, &own);
        let codes: Vec<String> = found.iter().map(|f| f.path.join(">")).collect();
        // chrono reported (it brings iana-time-zone, not reported twice); jiff bundles its database.
        assert_eq!(codes, vec!["app>chrono".to_string()]);
        assert_eq!(found[0].severity, Severity::Warning);
        // Not called by the workspace's own code: an info.
        let found = check_with(&g, kb, &sources::Scan::default());
        assert_eq!(found[0].severity, Severity::Info);
        let g = Graph::parse("0app v0.1.0 (/x)\n1chrono v0.4.45\n");
        assert!(
            check_with(&g, kb, &own).is_empty(),
            "chrono without `clock` reads no file"
        );
    }
}
