//! What `cargo tiny build` was asked to do, turned from the command line into plain values once
//! (cargo's `CompileOptions`): the targets, the profile, the target directory, the selected binaries,
//! the cargo config files, and for images the source date and the revision (git runs once each).
//! Planning, compiling, imaging and publishing read a [`BuildOptions`]; none of them sees the command
//! line — this is the one module below `cli` that imports it.

use std::path::PathBuf;

use anyhow::Result;

use super::plan::Selection;
use super::rustflags;
use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::cli::{BuildArgs, MessageFormat};
use crate::config::{self, Overrides};
use crate::error::Failure;
use crate::publish::push::RegistryFlags;
use crate::shell::Verbosity;
use crate::size_max::Size;
use crate::source_date::{self, SourceDate};
use crate::workspace::{LoadOptions, Workspace};

/// A build, as plain values.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub manifest_path: Option<PathBuf>,
    /// The packages and bins asked for (with the features, which decide required-features bins).
    pub selection: Selection,
    pub resolve: ResolveArgs,
    /// `--target` triples as given (repeatable); with `--platform` and `platforms = [...]` they become
    /// the plan's [`crate::target::Target`]s (see [`crate::target::resolve`]).
    pub targets: Vec<String>,
    /// `--platform` lists as given (`linux/amd64,linux/arm64`).
    pub platforms: Vec<String>,
    pub profile: String,
    /// `--target-dir` as given (cargo gets it as is).
    pub target_dir_arg: Option<PathBuf>,
    /// The target directory, absolute: `--target-dir`, else the workspace's.
    pub target_dir: PathBuf,
    /// The cargo config files that apply here (`.cargo/config.toml` upwards, then `$CARGO_HOME`).
    pub config_files: Vec<PathBuf>,
    pub size: Size,
    pub panic_abort: bool,
    pub no_size_profile: bool,
    /// `-v` count to pass to cargo, or -1 for `--quiet`.
    pub cargo_verbosity: i8,
    pub color: &'static str,
    /// `--message-format json`.
    pub json: bool,
    /// `None` with `--no-image`.
    pub image: Option<ImageOptions>,
}

/// What the images were asked to be.
#[derive(Debug, Clone)]
pub struct ImageOptions {
    /// `--output`.
    pub output: Option<PathBuf>,
    /// `--image NAME[:TAG]` given (its name and tag are in `overrides`).
    pub named: bool,
    /// The command line's settings over `[*.metadata.tiny]`.
    pub overrides: Overrides,
    /// With `--push`: how to reach the registries.
    pub push: Option<RegistryFlags>,
    /// `--docker-platform`: with several platforms, the image `docker load` gets (else the host's).
    pub docker_platform: Option<crate::target::Target>,
    /// The timestamp of every image (`SOURCE_DATE_EPOCH`, else git HEAD's commit time, else 0).
    pub source_date: SourceDate,
    /// git HEAD's commit id, when the workspace is a git checkout.
    pub revision: Option<String>,
}

impl BuildOptions {
    /// The workspace load options a build uses (before there is a workspace to finish the rest).
    pub fn load_options(args: &BuildArgs) -> LoadOptions {
        LoadOptions {
            manifest_path: args.common.manifest_path.clone(),
            features: args.features.clone(),
            resolve: args.resolve.clone(),
            // The workspace's graph is resolved for the first target asked for (the Linux targets
            // resolve the same graph unless a crate depends on the architecture).
            target: Some(
                args.target
                    .first()
                    .cloned()
                    .or_else(|| {
                        let first = args.platform.iter().flat_map(|p| p.split(',')).next()?;
                        crate::target::Target::from_platform(first)
                            .ok()
                            .map(|t| t.triple)
                    })
                    .unwrap_or_else(|| crate::target::default_triple().to_string()),
            ),
            no_deps: false,
        }
    }

    /// Everything else, once the workspace is loaded.
    pub fn new(args: &BuildArgs, ws: &Workspace) -> Result<BuildOptions> {
        let target_dir = match &args.target_dir {
            Some(d) => std::path::absolute(d).map_err(|e| {
                Failure::new(format!("--target-dir {}: {e}", d.display()))
                    .hint("pass a directory path to --target-dir")
            })?,
            None => ws.target_dir().as_std_path().to_path_buf(),
        };
        let getenv = |k: &str| std::env::var(k).ok();
        let image = if args.no_image {
            None
        } else {
            let mut overrides = Overrides {
                user: args.user.clone(),
                ca_certificates: args.ca_certificates,
                compression: args.compression,
                ..Default::default()
            };
            if let Some(r) = &args.image {
                let (n, t) = config::split_reference(r);
                overrides.name = Some(n);
                overrides.tag = t;
            }
            let root = ws.root().as_std_path();
            Some(ImageOptions {
                output: args.output.clone(),
                named: args.image.is_some(),
                overrides,
                push: args.push.then(|| RegistryFlags::from(&args.registry)),
                docker_platform: args
                    .docker_platform
                    .as_deref()
                    .map(crate::target::Target::from_platform)
                    .transpose()?,
                source_date: source_date::source_date(
                    std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
                    root,
                )?,
                revision: source_date::git_revision(root),
            })
        };
        Ok(BuildOptions {
            manifest_path: args.common.manifest_path.clone(),
            selection: Selection {
                packages: args.package.clone(),
                workspace: args.workspace,
                bins: args.bin.clone(),
                features: args.features.clone(),
            },
            resolve: args.resolve.clone(),
            targets: args.target.clone(),
            platforms: args.platform.clone(),
            profile: args.profile.clone(),
            target_dir_arg: args.target_dir.clone(),
            target_dir,
            config_files: rustflags::config_files(&getenv, &std::env::current_dir()?),
            size: args.size,
            panic_abort: args.panic_abort,
            no_size_profile: args.no_size_profile,
            cargo_verbosity: match args.common.verbosity() {
                Verbosity::Quiet => -1,
                _ => args.common.verbose.saturating_sub(1) as i8,
            },
            color: args.common.color.as_str(),
            json: args.message_format == MessageFormat::Json,
            image,
        })
    }

    /// The features asked for.
    pub fn features(&self) -> &FeatureArgs {
        &self.selection.features
    }
}

#[cfg(test)]
mod tests {
    /// Planning, compiling, imaging, publishing and reporting read `BuildOptions`, and doctor its
    /// `DoctorOptions`, never the command line: only the command files (and this module) import `cli`.
    #[test]
    fn nothing_below_the_options_imports_cli() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for dir in ["compile", "image"] {
            for e in std::fs::read_dir(src.join(dir)).unwrap() {
                files.push(e.unwrap().path());
            }
        }
        for dir in ["publish", "knowledge"] {
            for e in std::fs::read_dir(src.join(dir)).unwrap() {
                files.push(e.unwrap().path());
            }
        }
        // doctor/, with its subfolders (tls/, remedy/, sources/).
        let mut dirs = vec![src.join("doctor")];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    files.push(p);
                }
            }
        }
        for f in [
            "report.rs",
            "sbom.rs",
            "target.rs",
            "cross.rs",
            "workspace.rs",
        ] {
            files.push(src.join(f));
        }
        // The commands: they turn their command line into plain values.
        let allowed = [
            "compile/options.rs",
            "compile/command.rs",
            "publish/command.rs",
            "doctor/command.rs",
        ];
        let offenders: Vec<_> = files
            .iter()
            .filter(|f| !allowed.iter().any(|a| f.ends_with(a)))
            .filter(|f| std::fs::read_to_string(f).unwrap().contains("crate::cli"))
            .collect();
        assert!(offenders.is_empty(), "{offenders:?} import cli");
    }
}
