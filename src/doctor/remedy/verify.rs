//! Verification: a candidate applied to a scratch copy of the workspace, re-resolved by cargo.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_metadata::Package;

use super::Candidate;
use crate::cli::DoctorArgs;
use crate::doctor::findings::Severity;
use crate::doctor::graph;
use crate::doctor::tls::{self, Route};
use crate::workspace::{LoadOptions, Workspace};

/// Applies `c` to a scratch copy of the workspace (manifests, lockfile and empty target files) and
/// re-resolves it: true when no error route through `r.dname` is left.
pub fn verify(ws: &Workspace, args: &DoctorArgs, r: &Route, c: &Candidate) -> Result<bool> {
    Ok(!still_failing(ws, args, c)?.contains(&r.dname))
}

/// The crates through which error routes to OpenSSL are left once `c` is applied (on a scratch copy).
pub fn still_failing(ws: &Workspace, args: &DoctorArgs, c: &Candidate) -> Result<BTreeSet<String>> {
    let scratch = Scratch::new(ws)?;
    let file = scratch.map(Path::new(&c.file))?;
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let new = crate::doctor::fix::apply(&text, &c.edit)?;
    std::fs::write(&file, new)?;
    let mut a = args.clone();
    // The edit may add packages to the lockfile (rustls, openssl-src): no --locked here.
    a.resolve.locked = false;
    a.resolve.offline |= a.resolve.frozen;
    a.resolve.frozen = false;
    let manifest = scratch.map(ws.manifest_path.as_std_path())?;
    a.common.manifest_path = Some(manifest.clone());
    let ws2 = Workspace::load(&LoadOptions {
        manifest_path: Some(manifest),
        features: a.features.clone(),
        resolve: a.resolve.clone(),
        target: Some(a.target.clone()),
        no_deps: false,
    })?;
    let g = graph::resolve(&ws2, &a)?;
    Ok(tls::routes(&ws2, &g, &crate::knowledge::get().tls)
        .into_iter()
        .filter(|(f, _)| f.severity == Severity::Error)
        .filter_map(|(_, r)| r.map(|r| r.dname))
        .collect())
}

/// A scratch copy of the workspace's local packages: manifests, lockfile, cargo config, toolchain
/// file, and an empty file for each target (cargo metadata reads manifests, not sources).
struct Scratch {
    dir: tempfile::TempDir,
    base: PathBuf,
}

impl Scratch {
    fn new(ws: &Workspace) -> Result<Scratch> {
        let root = ws.root().as_std_path().to_path_buf();
        let local: Vec<&Package> = ws
            .metadata
            .packages
            .iter()
            .filter(|p| p.source.is_none())
            .collect();
        let mut base = root.clone();
        for p in &local {
            let dir = p
                .manifest_path
                .parent()
                .map(|d| d.as_std_path())
                .unwrap_or(&root);
            while !dir.starts_with(&base) {
                if !base.pop() {
                    break;
                }
            }
        }
        let s = Scratch {
            dir: tempfile::Builder::new()
                .prefix("cargo-tiny-fix-")
                .tempdir()?,
            base,
        };
        let copy = |from: &Path| -> Result<()> {
            let to = s.map(from)?;
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::copy(from, &to).with_context(|| format!("copying {}", from.display()))?;
            Ok(())
        };
        let mut manifests: BTreeSet<PathBuf> = local
            .iter()
            .map(|p| p.manifest_path.as_std_path().to_path_buf())
            .collect();
        manifests.insert(ws.root_manifest().into_std_path_buf());
        manifests.insert(ws.manifest_path.as_std_path().to_path_buf());
        for m in &manifests {
            copy(m)?;
        }
        for extra in [
            "Cargo.lock",
            ".cargo/config.toml",
            ".cargo/config",
            "rust-toolchain.toml",
            "rust-toolchain",
        ] {
            let f = root.join(extra);
            if f.is_file() {
                copy(&f)?;
            }
        }
        for p in &local {
            for t in &p.targets {
                // A target file outside the copied tree: cargo metadata does not read sources.
                let Ok(to) = s.map(t.src_path.as_std_path()) else {
                    continue;
                };
                if !to.exists() {
                    if let Some(parent) = to.parent() {
                        std::fs::create_dir_all(parent)?;
                    }
                    std::fs::write(&to, "")?;
                }
            }
        }
        Ok(s)
    }

    /// Where `path` is in the scratch copy; an error for a path outside the copied tree (never
    /// the user's own file: everything written goes below the scratch directory).
    fn map(&self, path: &Path) -> Result<PathBuf> {
        match path.strip_prefix(&self.base) {
            // Plain names only: cargo does not normalise a target's `path`, and a `..` in it
            // (`path = "../common/main.rs"`) would lead out of the scratch directory.
            Ok(rel)
                if !rel.as_os_str().is_empty()
                    && rel
                        .components()
                        .all(|c| matches!(c, std::path::Component::Normal(_))) =>
            {
                Ok(self.dir.path().join(rel))
            }
            _ => Err(crate::error::Failure::new(format!(
                "{} is outside the copied workspace {}",
                path.display(),
                self.base.display()
            ))
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scratch_copy_never_maps_a_path_outside_itself() {
        let s = Scratch {
            dir: tempfile::tempdir().unwrap(),
            base: PathBuf::from("/w/proj"),
        };
        assert!(s.map(Path::new("/w/proj/src/main.rs")).is_ok());
        for outside in [
            "/w/proj/../common/main.rs",
            "/w/proj/src/../../x.rs",
            "/w/other/main.rs",
            "/w/proj",
        ] {
            assert!(s.map(Path::new(outside)).is_err(), "{outside}");
        }
    }
}
