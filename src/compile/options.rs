//! What `cargo tiny build` was asked to do, turned from the command line into plain values once
//! (cargo's `CompileOptions`): the targets, the profile, the target directory, the selected binaries,
//! the cargo config files, and for images the source date and the revision (git runs once each).
//! Planning, compiling, imaging and publishing read a [`BuildOptions`]; none of them sees the command
//! line — this is the one module below `cli` that imports it.

use std::path::PathBuf;

use anyhow::Result;

use super::plan::{BinTarget, Selection};
use super::rustflags;
use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::cli::{BuildArgs, MessageFormat};
use crate::config::{self, Overrides};
use crate::error::Failure;
use crate::publish::credentials::Env;
use crate::publish::push::{RegistryFlags, Settings};
use crate::shell::Verbosity;
use crate::size_max::Size;
use crate::source_date::{self, SourceDate};
use crate::target::Target;
use crate::workspace::{LoadOptions, Workspace};

/// The repository prefix from the environment, like ko's `KO_DOCKER_REPO` (`--repository` wins).
pub const REPOSITORY_VAR: &str = "CARGO_TINY_REPOSITORY";

/// A build, as plain values.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub manifest_path: Option<PathBuf>,
    /// The packages and bins asked for (with the features, which decide required-features bins).
    pub selection: Selection,
    pub resolve: ResolveArgs,
    /// The binaries asked for.
    pub bins: Vec<BinTarget>,
    /// What to build for, resolved once: `--target`/`--platform`, else `platforms = [...]` of the
    /// selected packages, else the host's (see [`crate::target::resolve`]); in the table's order.
    pub targets: Vec<Target>,
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
    /// Passed to cargo as is: `--jobs N`, `--timings`, `--config …` (checked: see
    /// [`super::cargo_config::check`]).
    pub passthrough: Vec<String>,
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
    /// With `--push`: the tags and how to reach the registries (the CA files read and checked).
    pub push: Option<(RegistryFlags, Settings)>,
    /// `--docker-platform`: with several platforms, the image `docker load` gets (else the host's).
    pub docker_platform: Option<Target>,
    /// The timestamp of every image (`SOURCE_DATE_EPOCH`, else git HEAD's commit time, else 0).
    pub source_date: SourceDate,
    /// git HEAD's commit id, when the workspace is a git checkout.
    pub revision: Option<String>,
    /// `--sign-key` (the key read and checked before compiling, absolute path) or `--sign`
    /// (keyless, the services from the environment). `sign = true` in a manifest signs that
    /// package's images keylessly when neither is given.
    pub sign: Option<crate::sign::Mode>,
    /// `--sign`/`--sign-key` sign every image; else only those of `sign = true` packages.
    pub sign_all: bool,
    /// The Cargo profile (the provenance names it).
    pub profile: String,
    /// With `--size max`: the nightly toolchain cargo runs under (`rustup run NAME`), for the
    /// provenance's toolchain (set once the plan has it).
    pub nightly: Option<String>,
}

impl BuildOptions {
    /// The targets the command line names (`--target`, `--platform`), checked before anything runs.
    pub fn cli_targets(args: &BuildArgs) -> Result<Option<Vec<Target>>> {
        crate::target::from_cli(&args.target, &args.platform)
    }

    /// How a build loads the workspace: its graph resolved for the first target asked for (the
    /// Linux targets resolve the same graph unless a crate depends on the architecture; the plan
    /// resolves it again for another target that needs it).
    pub fn load_options(args: &BuildArgs, cli_targets: Option<&[Target]>) -> LoadOptions {
        let first: &str = match cli_targets.and_then(|t| t.first()) {
            Some(t) => &t.triple,
            None => crate::target::default_triple(),
        };
        LoadOptions::new(args.common.manifest_path.clone())
            .with_features(&args.features, &args.resolve)
            .for_target(first)
    }

    /// Everything else, once the workspace is loaded.
    pub fn new(
        args: &BuildArgs,
        ws: &Workspace,
        cli_targets: Option<&[Target]>,
    ) -> Result<BuildOptions> {
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
                load: args.load,
                sbom: args.sbom.clone(),
                vex: args.vex.clone(),
                tags: args.registry.tag.clone(),
                repository: match &args.repository {
                    Some(r) => Some((r.clone(), "--repository")),
                    None => getenv(REPOSITORY_VAR)
                        .filter(|r| !r.is_empty())
                        .map(|r| (r, REPOSITORY_VAR)),
                },
                ..Default::default()
            };
            if let Some(r) = &args.image {
                let (n, t) = crate::reference::split(r);
                overrides.name = Some(n);
                overrides.tag = t;
            }
            let root = ws.root().as_std_path();
            Some(ImageOptions {
                output: args.output.clone(),
                named: args.image.is_some(),
                overrides,
                push: match args.push {
                    true => {
                        let flags = RegistryFlags::from(&args.registry);
                        let settings = Settings::new(&flags, Env::from_process())?;
                        Some((flags, settings))
                    }
                    false => None,
                },
                docker_platform: args
                    .docker_platform
                    .as_deref()
                    .map(Target::from_platform)
                    .transpose()?,
                source_date: source_date::source_date(
                    std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
                    root,
                )?,
                revision: source_date::git_revision(root),
                profile: args.profile.clone(),
                nightly: None,
                sign_all: args.sign || args.sign_key.is_some(),
                sign: match &args.sign_key {
                    Some(k) => {
                        let path = std::path::absolute(k)?;
                        crate::sign::keys::SigningKey::from_file(&path).map_err(|e| {
                            let f = e
                                .downcast::<Failure>()
                                .unwrap_or_else(|e| Failure::new(format!("{e:#}")));
                            let out = Failure::new(format!("--sign-key: {}", f.message));
                            match f.hint {
                                Some(h) => out.hint(h),
                                None => out,
                            }
                        })?;
                        Some(crate::sign::Mode::Key(path))
                    }
                    None if args.sign => Some(crate::sign::Mode::keyless(&args.endpoints())?),
                    None => None,
                },
            })
        };
        if args.release && args.profile != "release" {
            crate::fail!(
                hint = format!("drop --release to build with --profile {}", args.profile),
                "--release asks for the release profile, --profile for `{}`",
                args.profile
            );
        }
        let mut passthrough = Vec::new();
        if let Some(j) = &args.jobs {
            passthrough.extend(["--jobs".to_string(), j.clone()]);
        }
        if args.timings {
            passthrough.push("--timings".into());
        }
        for c in &args.config {
            super::cargo_config::check(c, &args.profile, !args.no_size_profile)?;
            passthrough.extend(["--config".to_string(), c.clone()]);
        }
        let selection = Selection {
            packages: args.package.clone(),
            workspace: args.workspace,
            exclude: args.exclude.clone(),
            bins: args.bin.clone(),
            features: args.features.clone(),
        };
        let bins = super::plan::select_bins(ws, &selection)?;
        let targets = crate::target::resolve(
            cli_targets,
            configured_platforms(ws, &bins)?.as_deref(),
            crate::target::default_triple(),
        )?;
        Ok(BuildOptions {
            manifest_path: args.common.manifest_path.clone(),
            selection,
            bins,
            targets,
            resolve: args.resolve.clone(),
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
            passthrough,
            image,
        })
    }

    /// The features asked for.
    pub fn features(&self) -> &FeatureArgs {
        &self.selection.features
    }

    /// How the plan loads the workspace again for another target.
    pub fn load_options_for(&self, target: &Target) -> LoadOptions {
        LoadOptions::new(self.manifest_path.clone())
            .with_features(self.features(), &self.resolve)
            .for_target(&target.triple)
    }
}

/// `platforms = [...]` of the selected binaries' packages (`[package.metadata.tiny]` over
/// `[workspace.metadata.tiny]`), validated; `None` when none sets it. Packages that ask for different
/// platforms are an error (one cargo run per target builds them all).
fn configured_platforms(ws: &Workspace, bins: &[BinTarget]) -> Result<Option<Vec<Target>>> {
    let root_manifest = ws.root_manifest();
    let mut found: Option<(String, Vec<Target>)> = None;
    let mut seen = Vec::new();
    for b in bins {
        if seen.contains(&&b.package_id) {
            continue;
        }
        seen.push(&b.package_id);
        let pkg = ws.package(&b.package_id);
        let [workspace, package] = config::Source::of_package(ws, pkg, &root_manifest);
        let Some(mut ps) =
            config::configured_platforms(&package)?.or(config::configured_platforms(&workspace)?)
        else {
            continue;
        };
        ps.sort();
        ps.dedup();
        let list = |ps: &[Target]| {
            ps.iter()
                .map(|t| t.platform())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &found {
            Some((other, theirs)) if *theirs != ps => {
                return Err(Failure::new(format!(
                    "packages `{other}` and `{}` set different `platforms` ({} and {})",
                    pkg.name,
                    list(theirs),
                    list(&ps)
                ))
                .hint("build them separately with -p, or pass --platform to build both for the same platforms")
                .into());
            }
            Some(_) => {}
            None => found = Some((pkg.name.to_string(), ps)),
        }
    }
    Ok(found.map(|(_, ps)| ps))
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    /// The `.rs` files under `dir`, at any depth.
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                out.push(path);
            }
        }
    }

    /// Whether Rust source text imports the command line: `crate::cli…` or `cli` in a
    /// `use crate::{…}` group.
    fn imports_cli(text: &str) -> bool {
        text.contains("crate::cli")
            || text.split("crate::{").skip(1).any(|group| {
                group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split([',', ' ', '\n'])
                    .any(|w| w == "cli" || w.starts_with("cli::"))
            })
    }

    /// Planning, compiling, imaging, publishing and reporting read `BuildOptions`, init and setup
    /// their own options, never the command line: only the command files, which turn it into those
    /// options once, import `cli`.
    #[test]
    fn nothing_below_the_options_imports_cli() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        for dir in [
            "compile",
            "image",
            "publish",
            "report",
            "knowledge",
            "settings",
            "sbom",
            "init",
            "setup",
            "doctor",
            "size_report",
        ] {
            rust_files(&src.join(dir), &mut files);
        }
        for f in [
            "config.rs",
            "push.rs",
            "verify.rs",
            "cross.rs",
            "digest.rs",
            "manifest_spans.rs",
            "reference.rs",
            "source_date.rs",
            "target.rs",
            "workspace.rs",
        ] {
            assert!(src.join(f).is_file(), "src/{f} moved: update this list");
            files.push(src.join(f));
        }
        // The commands: they turn their command line into plain values.
        let allowed = [
            "compile/options.rs",
            "compile/command.rs",
            "push.rs",
            "verify.rs",
            "init/command.rs",
            "setup/command.rs",
            "doctor/command.rs",
            "size_report/command.rs",
        ];
        let offenders: Vec<_> = files
            .iter()
            .filter(|f| !allowed.iter().any(|a| f.ends_with(a)))
            .filter(|f| imports_cli(&std::fs::read_to_string(f).unwrap()))
            .collect();
        assert!(offenders.is_empty(), "{offenders:?} import cli");
        assert!(files.len() > 40, "the walk found {} files", files.len());
    }

    #[test]
    fn imports_of_cli_are_found_in_every_spelling() {
        assert!(imports_cli("use crate::cli::BuildArgs;"));
        assert!(imports_cli("use crate::{cli, shell};"));
        assert!(imports_cli(
            "use crate::{\n    cli::InitArgs,\n    shell::Shell,\n};"
        ));
        assert!(!imports_cli("use crate::{client, shell};"));
        assert!(!imports_cli("use crate::shell::Shell; // the cli"));
    }
}
