//! What the FROM-scratch checks share: the members doctor looks at, the crates each one's graph
//! activates, its own source files, and the image configuration its binaries get.

use std::collections::BTreeSet;
use std::path::PathBuf;

use cargo_metadata::{Package, Target};

use super::graph::{Graph, Node};
use crate::config::{self, Overrides, Source, TinyConfig};
use crate::workspace::Workspace;

/// A workspace member in the checked graph (a root of `cargo tree`).
pub struct Member<'a> {
    pub package: &'a Package,
    /// Graph nodes (packages and features) reachable from the member.
    pub reachable: BTreeSet<usize>,
}

impl Member<'_> {
    /// Whether the member's graph has package `name`.
    pub fn has_crate(&self, g: &Graph, name: &str) -> bool {
        self.reachable
            .iter()
            .any(|&i| matches!(&g.nodes[i], Node::Package { name: n, .. } if n == name))
    }

    /// Whether the member's graph turns on `feature` of `name`.
    pub fn has_feature(&self, g: &Graph, name: &str, feature: &str) -> bool {
        g.index
            .get(&Node::Feature {
                name: name.into(),
                feature: feature.into(),
            })
            .is_some_and(|i| self.reachable.contains(i))
    }

    pub fn bins(&self) -> impl Iterator<Item = &Target> {
        crate::workspace::bin_targets(self.package)
    }
}

/// The members at the roots of the graph (every member, or the `-p` ones).
pub fn members<'a>(ws: &'a Workspace, g: &Graph) -> Vec<Member<'a>> {
    let mut out = Vec::new();
    for &r in &g.roots {
        let Node::Package { name, version } = &g.nodes[r] else {
            continue;
        };
        let Some(package) = ws
            .members()
            .into_iter()
            .find(|p| p.name.as_str() == name && p.version.to_string() == *version)
        else {
            continue;
        };
        out.push(Member {
            package,
            reachable: reachable(g, r),
        });
    }
    out
}

fn reachable(g: &Graph, from: usize) -> BTreeSet<usize> {
    let mut seen = BTreeSet::from([from]);
    let mut stack = vec![from];
    while let Some(n) = stack.pop() {
        for &m in &g.edges[n] {
            if seen.insert(m) {
                stack.push(m);
            }
        }
    }
    seen
}

/// The crate roots that are the member's own code for `bin`: the binary, the package's library,
/// and the libraries of workspace members it depends on (their code runs in the same process).
pub fn own_roots(ws: &Workspace, g: &Graph, m: &Member<'_>, bin: Option<&Target>) -> Vec<PathBuf> {
    let mut roots: Vec<PathBuf> = bin
        .map(|b| b.src_path.clone().into_std_path_buf())
        .into_iter()
        .collect();
    let lib = |p: &Package| {
        p.targets
            .iter()
            .find(|t| {
                t.is_lib() || t.is_rlib() || t.is_dylib() || t.is_cdylib() || t.is_staticlib()
            })
            .map(|t| t.src_path.clone().into_std_path_buf())
    };
    roots.extend(lib(m.package));
    for other in ws.members() {
        if other.id == m.package.id {
            continue;
        }
        let node = Node::Package {
            name: other.name.to_string(),
            version: other.version.to_string(),
        };
        if g.index.get(&node).is_some_and(|i| m.reachable.contains(i)) {
            roots.extend(lib(other));
        }
    }
    roots
}

/// The image configuration of the member's binaries; `None` when it does not validate (then
/// `cargo tiny build` reports it, not doctor).
pub fn image_config(ws: &Workspace, p: &Package) -> Option<TinyConfig> {
    let root_manifest = ws.root_manifest();
    let sources = Source::of_package(ws, p, &root_manifest);
    config::resolve(&sources, &Overrides::default()).ok()
}
