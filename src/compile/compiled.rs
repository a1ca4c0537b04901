//! What cargo actually compiled in this build, from its `compiler-artifact` messages, and the
//! cross-check of a binary's audit data against it.
//!
//! cargo-auditable derives the embedded dependency list from `cargo metadata`, whose resolve is not
//! cargo's feature resolver: a package reached only through a weak feature (`dep?/feat`) of an
//! optional dependency that is off is listed though it was never built. The SBOM lists only what the
//! build compiled; the rest is reported.

use std::collections::BTreeSet;

use auditable_serde::{DependencyKind, Package as AuditPackage, VersionInfo};
use cargo_metadata::{Package, PackageId};

/// Packages with at least one unit compiled (or found fresh) in this build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compiled {
    /// Compiled for the target: linked into (or part of) the binaries.
    pub target: BTreeSet<PackageId>,
    /// Compiled for the host: build scripts, proc-macros and their dependencies.
    pub host: BTreeSet<PackageId>,
}

impl Compiled {
    /// Records one `compiler-artifact` message. Build scripts and proc-macros run on the host; other
    /// units are for the target when their files lie under `<target-dir>/<triple>/`.
    pub fn record(&mut self, artifact: &cargo_metadata::Artifact, triple: &str) {
        let host_kind = artifact.target.kind.iter().any(|k| {
            matches!(
                k,
                cargo_metadata::TargetKind::CustomBuild | cargo_metadata::TargetKind::ProcMacro
            )
        });
        let under_triple = artifact
            .filenames
            .iter()
            .any(|f| f.components().any(|c| c.as_str() == triple));
        if !host_kind && under_triple {
            self.target.insert(artifact.package_id.clone());
        } else {
            self.host.insert(artifact.package_id.clone());
        }
    }
}

/// A binary's audit data checked against the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exact {
    /// The audit data with only compiled packages (dependency indices renumbered); a package compiled
    /// only for the host is of kind `build`.
    pub info: VersionInfo,
    /// Packages in the audit data that this build never compiled, in audit order.
    pub uncompiled: Vec<AuditPackage>,
}

/// The metadata packages an audit entry may stand for: same name, version and kind of source.
fn ids_of<'a>(
    packages: &'a [Package],
    p: &'a AuditPackage,
) -> impl Iterator<Item = &'a PackageId> + 'a {
    packages
        .iter()
        .filter(move |m| crate::sbom::same_package(m, p))
        .map(|m| &m.id)
}

/// Cross-checks `audit` against what was compiled. Audit entries that match no metadata package are
/// kept (nothing to check them against).
pub fn reconcile(audit: &VersionInfo, packages: &[Package], compiled: &Compiled) -> Exact {
    let pkgs = &audit.packages;
    // For each audit entry: None = not compiled, Some(host_only).
    let state: Vec<Option<bool>> = pkgs
        .iter()
        .map(|p| {
            let ids: Vec<&PackageId> = ids_of(packages, p).collect();
            if ids.is_empty() || p.root {
                return Some(false);
            }
            let target = ids.iter().any(|id| compiled.target.contains(*id));
            let host = ids.iter().any(|id| compiled.host.contains(*id));
            match (target, host) {
                (true, _) => Some(false),
                (false, true) => Some(true),
                (false, false) => None,
            }
        })
        .collect();
    let mut new_index = vec![usize::MAX; pkgs.len()];
    let mut kept = Vec::new();
    let mut uncompiled = Vec::new();
    for (i, p) in pkgs.iter().enumerate() {
        match state[i] {
            Some(host_only) => {
                new_index[i] = kept.len();
                let mut p = p.clone();
                if host_only {
                    p.kind = DependencyKind::Build;
                }
                kept.push(p);
            }
            None => uncompiled.push(p.clone()),
        }
    }
    for p in &mut kept {
        p.dependencies = p
            .dependencies
            .iter()
            .filter_map(|d| new_index.get(*d).copied().filter(|n| *n != usize::MAX))
            .collect();
    }
    let mut info = audit.clone();
    info.packages = kept;
    Exact { info, uncompiled }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit() -> VersionInfo {
        serde_json::from_str(
            r#"{"packages":[
                {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},
                {"name":"mid","version":"0.1.0","source":"local","dependencies":[2]},
                {"name":"opt","version":"0.1.0","source":"local"},
                {"name":"gen","version":"0.2.0","source":"local"}
            ]}"#,
        )
        .unwrap()
    }

    fn metadata() -> Vec<Package> {
        let pkg = |name: &str, version: &str| {
            serde_json::from_value::<Package>(serde_json::json!({
                "name": name, "version": version,
                "id": format!("path+file:///w/{name}#{version}"),
                "manifest_path": format!("/w/{name}/Cargo.toml"),
                "dependencies": [], "targets": [], "features": {},
                "license": null, "license_file": null, "description": null, "source": null,
                "authors": [], "categories": [], "keywords": [], "readme": null,
                "repository": null, "homepage": null, "documentation": null, "edition": "2021",
                "links": null, "publish": null, "metadata": null, "default_run": null,
                "rust_version": null,
            }))
            .unwrap()
        };
        vec![
            pkg("app", "0.1.0"),
            pkg("mid", "0.1.0"),
            pkg("opt", "0.1.0"),
            pkg("gen", "0.2.0"),
        ]
    }

    fn id(name: &str, version: &str) -> PackageId {
        PackageId {
            repr: format!("path+file:///w/{name}#{version}"),
        }
    }

    #[test]
    fn uncompiled_packages_leave_the_list_and_the_graph() {
        let compiled = Compiled {
            target: [id("app", "0.1.0"), id("mid", "0.1.0")].into(),
            host: [id("gen", "0.2.0")].into(),
        };
        let exact = reconcile(&audit(), &metadata(), &compiled);
        let names: Vec<&str> = exact
            .info
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["app", "mid", "gen"]);
        assert_eq!(exact.info.packages[0].dependencies, vec![1, 2]);
        assert!(exact.info.packages[1].dependencies.is_empty());
        assert_eq!(exact.info.packages[2].kind, DependencyKind::Build);
        assert_eq!(exact.info.packages[1].kind, DependencyKind::Runtime);
        assert_eq!(exact.uncompiled.len(), 1);
        assert_eq!(
            crate::report::uncompiled_line(&exact.uncompiled),
            "1 package in the binary's audit data was never compiled: opt 0.1.0"
        );
    }

    #[test]
    fn everything_compiled_changes_nothing() {
        let compiled = Compiled {
            target: metadata().iter().map(|p| p.id.clone()).collect(),
            host: BTreeSet::new(),
        };
        let exact = reconcile(&audit(), &metadata(), &compiled);
        assert_eq!(exact.info, audit());
        assert!(exact.uncompiled.is_empty());
    }
}
