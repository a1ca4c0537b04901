//! The activated dependency graph as cargo's real feature resolver sees it, parsed from
//! `cargo tree --workspace -e normal,features --target T --prefix depth -f '{p}'` (deduped output).
//!
//! That forward tree has a blind spot: features a workspace member turns on through its *own*
//! `[features]` (`default = ["git2/vendored-libgit2"]`) are edges out of the member's feature nodes,
//! which a forward tree never prints. The inverted tree of the packages that matter (`-i openssl-sys
//! -i libgit2-sys …`) prints them, ending in `member feature "default" (command-line)`; merging it
//! (edges reversed, command-line features hung under their member) completes the graph.

use std::collections::HashMap;

use anyhow::{Context, Result};

use super::options::DoctorOptions;
use super::sandbox::Sandbox;
use crate::cargo_flags::ResolveArgs;
use crate::error::Failure;
use crate::workspace::{cargo_error_line, Workspace};

/// A node of `cargo tree -e features`: a package (`reqwest v0.12.28`) or a feature (`reqwest feature "default"`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Node {
    Package { name: String, version: String },
    Feature { name: String, feature: String },
}

impl Node {
    pub fn name(&self) -> &str {
        match self {
            Node::Package { name, .. } | Node::Feature { name, .. } => name,
        }
    }
}

#[derive(Debug, Default)]
pub struct Graph {
    pub nodes: Vec<Node>,
    pub index: HashMap<Node, usize>,
    pub edges: Vec<Vec<usize>>,
    /// Package nodes at depth 0 (workspace members).
    pub roots: Vec<usize>,
}

impl Graph {
    fn intern(&mut self, n: Node) -> usize {
        if let Some(&i) = self.index.get(&n) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(n.clone());
        self.index.insert(n, i);
        self.edges.push(Vec::new());
        i
    }

    fn add_edge(&mut self, from: usize, to: usize) {
        if !self.edges[from].contains(&to) {
            self.edges[from].push(to);
        }
    }

    /// Walks cargo tree's `--prefix depth -f '{p}'` output: for every node line, `visit` gets the
    /// line's node, the node on the line it hangs under (none at depth 0), and whether it carries
    /// cargo's ` (command-line)` mark.
    fn walk(&mut self, text: &str, mut visit: impl FnMut(&mut Graph, usize, Option<usize>, bool)) {
        let mut stack: Vec<usize> = Vec::new();
        for (depth, rest) in depth_lines(text) {
            let (rest, command_line) = match rest.strip_suffix(" (command-line)") {
                Some(r) => (r, true),
                None => (rest, false),
            };
            let Some(node) = parse_node(rest) else {
                continue;
            };
            let id = self.intern(node);
            stack.truncate(depth);
            visit(self, id, stack.last().copied(), command_line);
            stack.push(id);
        }
    }

    /// Parse a forward tree: each line depends on the line it hangs under.
    pub fn parse(text: &str) -> Graph {
        let mut g = Graph::default();
        g.walk(text, |g, id, parent, _| match parent {
            Some(parent) => g.add_edge(parent, id),
            None if !g.roots.contains(&id) => g.roots.push(id),
            None => {}
        });
        g
    }

    /// Merges an inverted tree (`cargo tree -i …`): a line is a dependent of the line it hangs
    /// under, so the edge runs from it to that line. A feature marked `(command-line)` is one the
    /// command line (or the default) asks of a member: it is made reachable from that member.
    pub fn merge_inverted(&mut self, text: &str) {
        self.walk(text, |g, id, dependency, command_line| {
            if let Some(dependency) = dependency {
                g.add_edge(id, dependency);
            }
            if command_line {
                let member = g.nodes[id].name().to_string();
                let roots: Vec<usize> = g
                    .roots
                    .iter()
                    .copied()
                    .filter(|&r| g.nodes[r].name() == member)
                    .collect();
                for r in roots {
                    g.add_edge(r, id);
                }
            }
        });
    }

    /// Shortest path (BFS) from `from` to any node satisfying `goal`.
    pub fn path(&self, from: usize, goal: impl Fn(usize) -> bool) -> Option<Vec<usize>> {
        let mut prev = vec![usize::MAX; self.nodes.len()];
        let mut queue = std::collections::VecDeque::from([from]);
        prev[from] = from;
        while let Some(n) = queue.pop_front() {
            if n != from && goal(n) {
                let mut p = vec![n];
                let mut c = n;
                while c != from {
                    c = prev[c];
                    p.push(c);
                }
                p.reverse();
                return Some(p);
            }
            for &m in &self.edges[n] {
                if prev[m] == usize::MAX {
                    prev[m] = n;
                    queue.push_back(m);
                }
            }
        }
        None
    }
}

/// `--prefix depth` lines as (depth, node text without the `(*)` dedup mark).
fn depth_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines().filter_map(|line| {
        let digits = line.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let depth: usize = line[..digits].parse().ok()?;
        let rest = line[digits..].trim_end();
        Some((depth, rest.strip_suffix(" (*)").unwrap_or(rest)))
    })
}

fn parse_node(s: &str) -> Option<Node> {
    if let Some((name, rest)) = s.split_once(" feature \"") {
        let feature = rest.split('"').next()?.to_string();
        return Some(Node::Feature {
            name: name.to_string(),
            feature,
        });
    }
    let mut it = s.split(' ');
    let name = it.next()?.to_string();
    let version = it.next()?.strip_prefix('v')?.to_string();
    Some(Node::Package { name, version })
}

/// The activated graph for the target of the workspace copy (`ws` is its metadata): the forward
/// tree, completed by the inverted tree of the packages the checks look at (see the module comment
/// for why).
pub fn resolve(
    ws: &Workspace,
    sandbox: &Sandbox,
    opts: &DoctorOptions,
    resolve: &ResolveArgs,
) -> Result<Graph> {
    let tree = |invert: &[String]| cargo_tree(sandbox, opts, resolve, invert);
    let mut g = Graph::parse(&tree(&[])?);
    let known = &crate::knowledge::get().crates;
    let interesting = |p: &cargo_metadata::Package| {
        let n = p.name.as_str();
        known.is_native_tls(n)
            || p.links.is_some()
            || known.native(n).is_some()
            || known.graph_inverted.iter().any(|c| c == n)
    };
    // Only packages the forward tree has: `-i` on a package outside the selected graph (say, with
    // `-p`) is an error, and every activated package is in the forward tree (its feature edges are
    // what may be missing).
    let in_graph = |p: &cargo_metadata::Package| {
        g.index.contains_key(&Node::Package {
            name: p.name.to_string(),
            version: p.version.to_string(),
        })
    };
    let specs: Vec<String> = ws
        .metadata
        .packages
        .iter()
        .filter(|p| interesting(p) && in_graph(p))
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    if !specs.is_empty() {
        g.merge_inverted(&tree(&specs)?);
    }
    Ok(g)
}

/// `cargo tree` of the copy with the real feature resolver for the target, normal edges only;
/// inverted on `invert` (package specs) when not empty.
fn cargo_tree(
    sandbox: &Sandbox,
    opts: &DoctorOptions,
    resolve: &ResolveArgs,
    invert: &[String],
) -> Result<String> {
    let mut cmd = sandbox.cargo();
    cmd.args([
        "tree",
        "-e",
        "normal,features",
        "--prefix",
        "depth",
        "-f",
        "{p}",
    ])
    .args(["--target", &opts.target, "--manifest-path"])
    .arg(sandbox.manifest())
    .args(resolve.cargo_args())
    .args(opts.selection_args());
    for spec in invert {
        cmd.args(["-i", spec]);
    }
    let out = cmd.output().context("running cargo tree")?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Failure::new(format!("cargo tree failed: {}", cargo_error_line(&err))).into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_deduped_tree() {
        let g = Graph::parse(
            "0app v0.1.0 (/x)\n1reqwest feature \"default\"\n2reqwest v0.12.28\n3native-tls v0.2.18\n1reqwest v0.12.28 (*)\n",
        );
        assert_eq!(g.roots.len(), 1);
        let nt = g
            .nodes
            .iter()
            .position(|n| n.name() == "native-tls")
            .unwrap();
        let p = g.path(g.roots[0], |n| n == nt).unwrap();
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn inverted_tree_adds_what_a_members_own_features_enable() {
        let mut g = Graph::parse(
            "0app v0.1.0 (/x)\n1git2 feature \"default\"\n2git2 v0.21.0\n3libgit2-sys v0.18.5\n",
        );
        let vendored = Node::Feature {
            name: "libgit2-sys".into(),
            feature: "vendored".into(),
        };
        assert!(
            !g.index.contains_key(&vendored),
            "invisible in a forward tree"
        );
        g.merge_inverted(concat!(
            "0libgit2-sys v0.18.5\n",
            "1libgit2-sys feature \"vendored\"\n",
            "2git2 feature \"vendored-libgit2\"\n",
            "3app feature \"vendored-libgit2\"\n",
            "4app feature \"default\" (command-line)\n",
        ));
        let v = g.index[&vendored];
        let p = g.path(g.roots[0], |n| n == v).unwrap();
        let names: Vec<String> = p.iter().map(|&n| format!("{:?}", g.nodes[n])).collect();
        assert_eq!(p.len(), 5, "{names:?}");
    }
}
