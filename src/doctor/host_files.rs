//! The `host-files` check: crates in the graph that read files of the host at run time (the time
//! zone database, MIME databases …), which a FROM-scratch image does not have. The crate list is
//! data: `host_files.toml`, next to the TLS knowledge base.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub name: String,
    /// Reported only when this feature is on.
    pub feature: Option<String>,
    /// Not reported when one of these features is on.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Not reported when one of these crates is reported.
    #[serde(default)]
    pub reported_by: Vec<String>,
    pub reads: Vec<String>,
    pub symptom: String,
    pub fix: String,
}

#[derive(Debug, Deserialize)]
pub struct HostFiles {
    #[serde(rename = "crate")]
    pub crates: Vec<Entry>,
}

impl HostFiles {
    pub fn builtin() -> HostFiles {
        toml::from_str(include_str!("host_files.toml")).expect("host_files.toml is valid")
    }
}

pub fn check(g: &Graph) -> Vec<Finding> {
    check_with(g, &HostFiles::builtin())
}

pub fn check_with(g: &Graph, kb: &HostFiles) -> Vec<Finding> {
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
        out.push(Finding {
            code: "host-files",
            severity: Severity::Warning,
            message: format!(
                "{} v{version}{via} reads {} at run time, which a FROM-scratch image does not have: {}",
                e.name,
                e.reads.join(", "),
                e.symptom
            ),
            path,
            fix: Some(e.fix.clone()),
            file: None,
            line: None,
            edit: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_names_are_unique() {
        let kb = HostFiles::builtin();
        let mut seen = BTreeSet::new();
        for e in &kb.crates {
            assert!(seen.insert(e.name.clone()), "duplicate {}", e.name);
            assert!(!e.reads.is_empty() && !e.fix.is_empty(), "{}", e.name);
        }
    }

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
        let codes: Vec<String> = check(&g).iter().map(|f| f.path.join(">")).collect();
        // chrono reported (it brings iana-time-zone, not reported twice); jiff bundles its database.
        assert_eq!(codes, vec!["app>chrono".to_string()]);
        let g = Graph::parse("0app v0.1.0 (/x)\n1chrono v0.4.45\n");
        assert!(check(&g).is_empty(), "chrono without `clock` reads no file");
    }
}
