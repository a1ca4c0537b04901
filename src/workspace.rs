//! The workspace as cargo sees it: `cargo metadata`, read once.

use std::path::{Path, PathBuf};

use anyhow::Result;
use cargo_metadata::camino::{Utf8Path, Utf8PathBuf};
use cargo_metadata::{CargoOpt, Metadata, MetadataCommand, Node, Package, PackageId, Target};

use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::error::Failure;

/// What `Workspace::load` needs to know.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub manifest_path: Option<PathBuf>,
    pub features: FeatureArgs,
    pub resolve: ResolveArgs,
    /// Resolve the graph for this target only (`--filter-platform`).
    pub target: Option<String>,
    /// Skip the dependency graph (`--no-deps`): members and targets only.
    pub no_deps: bool,
}

impl LoadOptions {
    /// The workspace of `manifest_path` (else the one around the current directory), its whole graph
    /// with the default features; the methods below narrow it.
    pub fn new(manifest_path: Option<PathBuf>) -> LoadOptions {
        LoadOptions {
            manifest_path,
            ..Default::default()
        }
    }

    /// With the features and resolution flags a command was given.
    pub fn with_features(mut self, features: &FeatureArgs, resolve: &ResolveArgs) -> LoadOptions {
        self.features = features.clone();
        self.resolve = resolve.clone();
        self
    }

    /// The graph as cargo resolves it for `triple` (`--filter-platform`).
    pub fn for_target(mut self, triple: &str) -> LoadOptions {
        self.target = Some(triple.to_string());
        self
    }

    /// Members and their targets only, no dependency graph (`--no-deps`).
    pub fn members_only(mut self) -> LoadOptions {
        self.no_deps = true;
        self
    }
}

/// A loaded Cargo workspace.
#[derive(Debug)]
pub struct Workspace {
    pub metadata: Metadata,
    /// The manifest the user pointed at (or the one found from the current directory).
    pub manifest_path: Utf8PathBuf,
    /// The target the graph was resolved for (`--filter-platform`), if any.
    pub filter_platform: Option<String>,
}

impl Workspace {
    /// Run `cargo metadata` and turn its failures into one-line errors.
    pub fn load(opts: &LoadOptions) -> Result<Workspace> {
        let mut cmd = MetadataCommand::new();
        if let Ok(cargo) = std::env::var("CARGO") {
            cmd.cargo_path(cargo);
        }
        if let Some(path) = &opts.manifest_path {
            check_manifest_path(path)?;
            cmd.manifest_path(path);
        }
        if opts.no_deps {
            cmd.no_deps();
        }
        let f = &opts.features;
        if f.all_features {
            cmd.features(CargoOpt::AllFeatures);
        }
        if f.no_default_features {
            cmd.features(CargoOpt::NoDefaultFeatures);
        }
        let list = f.list();
        if !list.is_empty() {
            cmd.features(CargoOpt::SomeFeatures(list));
        }
        let mut other = opts.resolve.cargo_args();
        if let Some(t) = &opts.target {
            other.push("--filter-platform".into());
            other.push(t.clone());
        }
        cmd.other_options(other);
        let metadata = cmd.exec().map_err(metadata_error)?;
        let manifest_path = match &opts.manifest_path {
            Some(p) => Utf8PathBuf::from_path_buf(std::path::absolute(p)?)
                .map_err(|p| Failure::new(format!("manifest path {} is not UTF-8", p.display())))?,
            None => metadata.workspace_root.join("Cargo.toml"),
        };
        Ok(Workspace {
            metadata,
            manifest_path,
            filter_platform: opts.target.clone(),
        })
    }

    pub fn root(&self) -> &Utf8Path {
        &self.metadata.workspace_root
    }

    /// The workspace root manifest (where profiles live).
    pub fn root_manifest(&self) -> Utf8PathBuf {
        self.metadata.workspace_root.join("Cargo.toml")
    }

    pub fn target_dir(&self) -> &Utf8Path {
        &self.metadata.target_directory
    }

    pub fn members(&self) -> Vec<&Package> {
        self.metadata.workspace_packages()
    }

    pub fn default_members(&self) -> Vec<&Package> {
        // `workspace_default_members` is absent with cargo < 1.71; fall back to every member.
        if self.metadata.workspace_default_members.is_available() {
            self.metadata.workspace_default_packages()
        } else {
            self.members()
        }
    }

    pub fn package(&self, id: &PackageId) -> &Package {
        &self.metadata[id]
    }

    /// The resolved node of a package, when the graph was loaded.
    pub fn node(&self, id: &PackageId) -> Option<&Node> {
        self.metadata
            .resolve
            .as_ref()?
            .nodes
            .iter()
            .find(|n| &n.id == id)
    }

    /// The member a `-p` spec names: `name`, `name@version`, or a package id.
    pub fn find_member(&self, spec: &str) -> Option<&Package> {
        let (name, version) = match spec.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        self.members().into_iter().find(|p| {
            p.id.repr == spec
                || (p.name.as_str() == name && version.is_none_or(|v| p.version.to_string() == v))
        })
    }

    /// The member that owns `manifest_path`, if the user pointed at a member rather than the root.
    pub fn current_member(&self) -> Option<&Package> {
        self.members()
            .into_iter()
            .find(|p| p.manifest_path == self.manifest_path)
    }
}

/// Binary targets of a package.
pub fn bin_targets(p: &Package) -> impl Iterator<Item = &Target> {
    p.targets.iter().filter(|t| t.is_bin())
}

fn check_manifest_path(path: &Path) -> Result<()> {
    if path.file_name().and_then(|n| n.to_str()) != Some("Cargo.toml") {
        return Err(Failure::new(format!(
            "the manifest path `{}` must point to a Cargo.toml file",
            path.display()
        ))
        .hint("pass --manifest-path path/to/Cargo.toml")
        .into());
    }
    if !path.is_file() {
        return Err(
            Failure::new(format!("manifest path `{}` does not exist", path.display()))
                .hint("check the path, or run inside the project without --manifest-path")
                .into(),
        );
    }
    Ok(())
}

/// `cargo metadata` failed: keep cargo's own words, on one line, with a hint for the common cases.
fn metadata_error(err: cargo_metadata::Error) -> anyhow::Error {
    match err {
        cargo_metadata::Error::CargoMetadata { stderr } => {
            let message = cargo_error_line(&stderr);
            let hint = if message.contains("could not find `Cargo.toml`") {
                "run this inside a Cargo project, or pass --manifest-path path/to/Cargo.toml"
            } else if message.contains("failed to parse manifest")
                || message.contains("TOML parse error")
                || message.contains("Cargo.toml:")
            {
                "fix the manifest so that `cargo metadata` accepts it"
            } else if message.contains("--locked") || message.contains("lock file") {
                "run without --locked/--frozen to update Cargo.lock, or commit an up-to-date Cargo.lock"
            } else if message.contains("offline") {
                "run once with network access (or `cargo fetch`) before using --offline"
            } else {
                "run `cargo metadata --format-version 1` to see cargo's full message"
            };
            Failure::new(format!("cargo metadata failed: {message}"))
                .hint(hint)
                .into()
        }
        cargo_metadata::Error::Io(e) => Failure::new(format!("could not run cargo: {e}"))
            .hint("make sure cargo is installed and on PATH (https://rustup.rs)")
            .into(),
        other => anyhow::Error::new(other).context("cargo metadata"),
    }
}

/// Squash cargo's stderr into one line: its `error:` message and the `Caused by:` chain.
pub fn cargo_error_line(stderr: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in stderr.lines() {
        let t = line.trim();
        if t.is_empty()
            || t == "Caused by:"
            || t.starts_with("warning:")
            || t.starts_with('|')
            || t.starts_with('^')
        {
            continue;
        }
        let t = t.strip_prefix("error: ").unwrap_or(t);
        // Keep locations (`--> Cargo.toml:3:1`), skip source excerpts (`12 | foo = `).
        if let Some(loc) = t.strip_prefix("--> ") {
            parts.push(format!("at {loc}"));
            continue;
        }
        if t.split_once(" |")
            .is_some_and(|(n, _)| n.trim().parse::<u32>().is_ok())
        {
            continue;
        }
        if !parts.iter().any(|p| p == t) {
            parts.push(t.to_string());
        }
    }
    if parts.is_empty() {
        "no message".into()
    } else {
        parts.join(": ")
    }
}

#[cfg(test)]
mod tests {
    use super::cargo_error_line;

    #[test]
    fn cargo_errors_fold_to_one_line() {
        let stderr = "error: failed to parse manifest at `/x/Cargo.toml`\n\nCaused by:\n  TOML parse error at line 2, column 5\n    |\n  2 | name = \n    |       ^\n  string values must be quoted\n";
        assert_eq!(
            cargo_error_line(stderr),
            "failed to parse manifest at `/x/Cargo.toml`: TOML parse error at line 2, column 5: string values must be quoted"
        );
        // cargo 1.90+ style: the message, then a location.
        let stderr = "error: string values must be quoted\n --> x/Cargo.toml:3:11\n  |\n3 | version = \n  |           ^\n";
        assert_eq!(
            cargo_error_line(stderr),
            "string values must be quoted: at x/Cargo.toml:3:11"
        );
    }
}
