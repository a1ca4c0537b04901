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

/// The shortest route (fewest packages, then fewest nodes) from member `root` to a node satisfying
/// `goal`, over all its direct dependencies.
pub fn route_to(
    g: &Graph,
    root: usize,
    member: &str,
    goal: impl Fn(usize) -> bool,
) -> Option<Vec<usize>> {
    let rank = |p: &Vec<usize>| {
        (
            p.iter()
                .filter(|&&n| matches!(g.nodes[n], Node::Package { .. }))
                .count(),
            p.len(),
        )
    };
    direct_dependencies(g, root, member)
        .into_iter()
        .filter_map(|c| {
            if goal(c) {
                Some(vec![c])
            } else {
                g.path(c, &goal)
            }
        })
        .min_by_key(rank)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn names(g: &Graph, path: &[usize]) -> Vec<String> {
        path.iter()
            .map(|&n| match &g.nodes[n] {
                Node::Package { name, .. } => name.clone(),
                Node::Feature { name, feature } => format!("{name}/{feature}"),
            })
            .collect()
    }

    #[test]
    fn one_shortest_route_per_direct_dependency_to_openssl_sys() {
        let g = Graph::parse(concat!(
            "0app v0.1.0 (/x)\n",
            "1reqwest feature \"default\"\n",
            "2reqwest v0.12.28\n",
            "3hyper-tls v0.6.0\n",
            "4native-tls v0.2.18\n",
            "5openssl-sys v0.9.100\n",
            "3native-tls v0.2.18 (*)\n",
            "1native-tls v0.2.18 (*)\n",
            "1serde v1.0.0\n",
        ));
        let routes: Vec<Vec<String>> = member_routes(&g, g.roots[0], "app")
            .iter()
            .map(|p| names(&g, p))
            .collect();
        assert_eq!(
            routes,
            [
                vec!["reqwest/default", "reqwest", "native-tls", "openssl-sys"],
                vec!["native-tls", "openssl-sys"],
            ],
            "through native-tls directly, not hyper-tls; nothing through serde"
        );
    }

    #[test]
    fn a_native_crate_without_openssl_sys_ends_the_route() {
        // native-tls on a target where it does not use OpenSSL: the route ends at the crate.
        let g = Graph::parse("0app v0.1.0 (/x)\n1hyper-tls v0.6.0\n2native-tls v0.2.18\n");
        let routes = member_routes(&g, g.roots[0], "app");
        assert_eq!(names(&g, &routes[0]), ["hyper-tls"]);
    }

    #[test]
    fn a_members_own_features_lead_to_its_dependencies() {
        let mut g = Graph::parse("0app v0.1.0 (/x)\n1git2 v0.20.0\n2libgit2-sys v0.18.0\n");
        g.merge_inverted(concat!(
            "0openssl-sys v0.9.100\n",
            "1native-tls feature \"vendored\"\n",
            "2app feature \"tls\"\n",
            "3app feature \"default\" (command-line)\n",
        ));
        let direct: Vec<String> = names(&g, &direct_dependencies(&g, g.roots[0], "app"));
        assert_eq!(direct, ["git2", "native-tls/vendored"]);
    }

    #[test]
    fn vendored_openssl() {
        let g = Graph::parse("0app v0.1.0 (/x)\n1openssl-sys v0.9.100\n");
        assert!(!openssl_vendored(&g));
        let g = Graph::parse(
            "0app v0.1.0 (/x)\n1openssl-sys feature \"vendored\"\n2openssl-sys v0.9.100\n",
        );
        assert!(openssl_vendored(&g));
        let g = Graph::parse("0app v0.1.0 (/x)\n1openssl-sys v0.9.100\n2openssl-src v300.0.0\n");
        assert!(openssl_vendored(&g));
    }
}
