//! What `cargo tiny doctor` was asked to do, as plain values made once from the command line
//! (cargo's `CompileOptions`): the command line stops at [`super::command`]; the graph, the fix
//! search and the verification build read a [`DoctorOptions`].

use std::path::PathBuf;

use super::report::Format;
use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::workspace::LoadOptions;

/// What to do with the fixes found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixMode {
    /// Report them (the default).
    Report,
    /// `--fix --dry-run`: print the diff, write nothing.
    DryRun,
    /// `--fix`: write them.
    Write,
}

/// A doctor run, as plain values.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    pub manifest_path: Option<PathBuf>,
    /// `-p` specs: the members whose graph is checked (empty: the default members, which
    /// `cargo tiny build` builds).
    pub packages: Vec<String>,
    /// `--workspace`: every member.
    pub workspace: bool,
    pub features: FeatureArgs,
    pub resolve: ResolveArgs,
    /// The target triple the graph is resolved and checked for.
    pub target: String,
    pub format: Format,
    /// `--deny warnings`.
    pub deny_warnings: bool,
    pub fix: FixMode,
    /// Verify by building: `cargo check --target <triple>` on the workspace copy (the default of
    /// `--fix`, off with `--no-check`; `--check` asks for it without fixing).
    pub check: bool,
    /// `-v` count and `--quiet` (-1), for what cargo's check prints.
    pub cargo_verbosity: i8,
}

impl DoctorOptions {
    /// The one way doctor loads a workspace: the user's features and resolve flags, the target.
    pub fn load_options(&self, manifest_path: Option<PathBuf>) -> LoadOptions {
        LoadOptions::new(manifest_path)
            .with_features(&self.features, &self.resolve)
            .for_target(&self.target)
    }

    /// The package selection as cargo takes it: `--workspace`, the `-p` specs, or nothing (cargo's
    /// default members), then the features.
    pub fn selection_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        if self.workspace {
            a.push("--workspace".to_string());
        }
        for p in &self.packages {
            a.push("-p".into());
            a.push(p.clone());
        }
        a.extend(self.features.cargo_args());
        a
    }

    /// The resolve flags for a modified copy of the workspace: a candidate may add packages to the
    /// lockfile (rustls, openssl-src), so no `--locked`; `--frozen` keeps its `--offline`.
    pub fn relaxed_resolve(&self) -> ResolveArgs {
        ResolveArgs {
            locked: false,
            offline: self.resolve.offline || self.resolve.frozen,
            frozen: false,
        }
    }
}
