//! Route search: from each workspace member, the shortest path per direct dependency to a native
//! TLS crate (`crates.toml`'s `native_tls`) in the activated graph.

use crate::doctor::graph::{Graph, Node};

/// The shortest route from member `root` to native TLS per direct dependency (fewest packages,
/// then fewest nodes): to openssl-sys where the dependency reaches it, else to the nearest native
/// TLS crate. A route starts at the node the member's dependency edge enters.
pub fn member_routes(g: &Graph, root: usize, member: &str) -> Vec<Vec<usize>> {
    let native = &crate::knowledge::get().crates;
    let bad =
        |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if native.is_native_tls(name));
    let sys = |n: usize| matches!(&g.nodes[n], Node::Package { name, .. } if name == "openssl-sys");
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
    best.into_iter().map(|(_, p)| p).collect()
}

/// Whether OpenSSL is vendored: openssl-sys's `vendored` feature (e.g. through `openssl/vendored`
/// or `git2/vendored-openssl`) or openssl-src in the graph. The build works then: OpenSSL is
/// compiled from source and linked statically.
pub fn openssl_vendored(g: &Graph) -> bool {
    g.index.contains_key(&Node::Feature {
        name: "openssl-sys".into(),
        feature: "vendored".into(),
    }) || g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::Package { name, .. } if name == "openssl-src"))
}

/// The nodes a member's dependency edges start at: its direct children, and the dependency
/// features its own `[features]` turn on (reached through the member's feature nodes, which the
/// graph has from the inverted tree's `(command-line)` lines).
pub fn direct_dependencies(g: &Graph, root: usize, member: &str) -> Vec<usize> {
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
