//! Which binaries to build, and the exact cargo invocation that builds them: a plain value.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::Result;
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{Package, PackageId};

use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::error::Failure;
use crate::size_profile::SizeProfile;
use crate::workspace::{bin_targets, Workspace};

/// One binary target to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinTarget {
    pub package_id: PackageId,
    pub package: String,
    pub bin: String,
    pub manifest_path: Utf8PathBuf,
}

/// What the user asked for.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub packages: Vec<String>,
    pub workspace: bool,
    /// `--exclude` (with `--workspace`).
    pub exclude: Vec<String>,
    pub bins: Vec<String>,
    pub features: FeatureArgs,
}

/// The binaries a selection names, or a one-line error listing what exists.
pub fn select_bins(ws: &Workspace, sel: &Selection) -> Result<Vec<BinTarget>> {
    let members = ws.members();
    let mut packages: Vec<&Package> = if !sel.packages.is_empty() {
        let mut v = Vec::new();
        for spec in &sel.packages {
            match ws.find_member(spec) {
                Some(p) => v.push(p),
                None => {
                    let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
                    return Err(Failure::new(format!(
                        "package `{spec}` is not a member of the workspace; members: {}",
                        names.join(", ")
                    ))
                    .hint("pass one of the members to -p/--package")
                    .into());
                }
            }
        }
        v
    } else if sel.workspace || !sel.bins.is_empty() {
        // A `--bin` without `-p` is looked up in every member, as people expect in a virtual workspace.
        members.clone()
    } else {
        ws.default_members()
    };
    packages.dedup_by(|a, b| a.id == b.id);
    for spec in &sel.exclude {
        let Some(excluded) = ws.find_member(spec) else {
            let names: Vec<&str> = members.iter().map(|p| p.name.as_str()).collect();
            return Err(Failure::new(format!(
                "--exclude {spec}: not a member of the workspace; members: {}",
                names.join(", ")
            ))
            .hint("pass one of the members to --exclude")
            .into());
        };
        packages.retain(|p| p.id != excluded.id);
    }

    let mut out = Vec::new();
    if sel.bins.is_empty() {
        let features: BTreeSet<String> = sel.features.list().into_iter().collect();
        for p in &packages {
            for t in bin_targets(p) {
                // Skip bins whose required features are not asked for; cargo would skip them too.
                let ok = sel.features.all_features
                    || t.required_features.iter().all(|f| {
                        features.contains(f) || features.contains(&format!("{}/{f}", p.name))
                    });
                if ok {
                    out.push(bin(p, &t.name));
                }
            }
        }
        if out.is_empty() {
            let names: Vec<&str> = packages.iter().map(|p| p.name.as_str()).collect();
            return Err(Failure::new(format!(
                "no binary target to build in {}",
                if names.len() == 1 { format!("package `{}`", names[0]) } else { format!("packages {}", names.join(", ")) }
            ))
            .hint("cargo tiny build needs a `src/main.rs` or a [[bin]] target; select another package with -p")
            .into());
        }
    } else {
        for name in &sel.bins {
            let found: Vec<BinTarget> = packages
                .iter()
                .filter(|p| bin_targets(p).any(|t| &t.name == name))
                .map(|p| bin(p, name))
                .collect();
            if found.is_empty() {
                let mut all: Vec<String> = packages
                    .iter()
                    .flat_map(|p| bin_targets(p).map(|t| t.name.clone()))
                    .collect();
                all.sort();
                all.dedup();
                let available = if all.is_empty() {
                    "none".to_string()
                } else {
                    all.join(", ")
                };
                return Err(Failure::new(format!(
                    "no bin target named `{name}`; available bins: {available}"
                ))
                .hint("pass one of the available names to --bin")
                .into());
            }
            out.extend(found);
        }
    }
    out.dedup();
    Ok(out)
}

fn bin(p: &Package, name: &str) -> BinTarget {
    BinTarget {
        package_id: p.id.clone(),
        package: p.name.to_string(),
        bin: name.to_string(),
        manifest_path: p.manifest_path.clone(),
    }
}

/// Everything needed to run the compile: a plain value, turned into a command at the edge.
#[derive(Debug, Clone)]
pub struct Plan {
    pub bins: Vec<BinTarget>,
    pub manifest_path: Utf8PathBuf,
    /// One compile per target, in the fixed platform order (multi-arch is a loop over them).
    pub targets: Vec<TargetPlan>,
    pub profile: String,
    pub size_profile: Option<SizeProfile>,
    pub features: FeatureArgs,
    pub resolve: ResolveArgs,
    pub target_dir: Option<PathBuf>,
    /// Nightly cargo: ask it for SBOM precursor files (`-Zsbom`, `build.sbom`), which cargo-auditable
    /// (0.7+) reads instead of `cargo metadata`, so that the embedded audit data is exact too.
    pub sbom_precursor: bool,
    /// `-v` count to pass to cargo, or -1 for `--quiet`.
    pub cargo_verbosity: i8,
    pub color: &'static str,
    /// `--size max`: the checked nightly toolchain that rebuilds std.
    pub size_max: Option<crate::size_max::Nightly>,
    /// What the command line passes to cargo as is: `--jobs N`, `--timings`, `--config …`.
    pub passthrough: Vec<String>,
}

/// What differs between the targets of one build.
#[derive(Debug, Clone)]
pub struct TargetPlan {
    pub target: crate::target::Target,
    /// The complete rustflags (the user's for this target, then ours).
    pub rustflags: Vec<String>,
    /// Extra environment for cargo (C compiler, linker).
    pub env: Vec<(String, String)>,
}

impl Plan {
    /// Arguments after `cargo` for one target: `auditable build …`.
    pub fn cargo_args(&self, t: &TargetPlan) -> Vec<OsString> {
        let mut a: Vec<String> = vec!["auditable".into(), "build".into()];
        if let Some(n) = &self.size_max {
            a.extend(n.cargo_flags());
        }
        a.push("--manifest-path".into());
        a.push(self.manifest_path.to_string());
        let mut pkgs: Vec<&str> = Vec::new();
        for b in &self.bins {
            if !pkgs.contains(&b.package_id.repr.as_str()) {
                pkgs.push(&b.package_id.repr);
            }
        }
        for id in pkgs {
            a.push("--package".into());
            a.push(id.to_string());
        }
        let mut bins: Vec<&str> = self.bins.iter().map(|b| b.bin.as_str()).collect();
        bins.dedup();
        for b in bins {
            a.push("--bin".into());
            a.push(b.to_string());
        }
        a.push("--target".into());
        a.push(t.target.triple.to_string());
        a.push("--profile".into());
        a.push(self.profile.clone());
        a.extend(self.features.cargo_args());
        a.extend(self.resolve.cargo_args());
        if let Some(dir) = &self.target_dir {
            a.push("--target-dir".into());
            a.push(dir.display().to_string());
        }
        if let Some(sp) = &self.size_profile {
            a.extend(sp.config_overrides());
        }
        a.extend(self.passthrough.iter().cloned());
        if self.sbom_precursor {
            a.extend(["-Zsbom".into(), "--config".into(), "build.sbom=true".into()]);
        }
        a.push("--message-format".into());
        a.push("json-render-diagnostics".into());
        a.push("--color".into());
        a.push(self.color.into());
        match self.cargo_verbosity {
            -1 => a.push("--quiet".into()),
            n if n > 0 => a.push(format!("-{}", "v".repeat(n as usize))),
            _ => {}
        }
        a.into_iter().map(OsString::from).collect()
    }

    /// Environment to set for cargo, for one target.
    pub fn cargo_env(&self, t: &TargetPlan) -> Vec<(String, String)> {
        let mut env = vec![(
            "CARGO_ENCODED_RUSTFLAGS".to_string(),
            super::rustflags::encode(&t.rustflags),
        )];
        env.extend(t.env.iter().cloned());
        env
    }
}
