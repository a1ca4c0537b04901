//! `cargo tiny build`, compile stage: Workspace → Plan → verified static binaries.
//!
//! Planning (tools, per-target environment and rustflags, the profile check, path remapping) and the
//! compile loop with its verification; the `Plan` type and cargo's command line are in `plan.rs`,
//! the cargo run in `cargo.rs`.

pub mod cargo;
pub mod cargo_config;
pub mod command;
pub mod compiled;
pub mod image_cache;
pub mod image_jobs;
pub mod image_plan;
pub mod options;
mod output_lock;
pub mod plan;
pub mod rustflags;
pub mod signing;
pub mod toolchain;
pub mod verify;

pub use command::run;

use std::path::PathBuf;

use anyhow::Result;
use auditable_serde::VersionInfo;
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::PackageId;

use crate::error::Failure;
use crate::shell::Shell;
use crate::size_profile::SizeProfile;
use crate::tools;
use crate::workspace::Workspace;
use options::BuildOptions;
use plan::{BinTarget, Plan};

/// A built, verified binary: what the image stage starts from.
#[derive(Debug, Clone)]
pub struct Binary {
    pub target: BinTarget,
    /// The target it was built for.
    pub platform: crate::target::Target,
    pub version: String,
    pub path: Utf8PathBuf,
    pub size: u64,
    /// The dependency list read back out of the binary.
    pub audit: VersionInfo,
    /// `audit` with only the packages this build compiled (what the SBOM lists).
    pub exact: VersionInfo,
    /// Packages in `audit` this build never compiled.
    pub uncompiled: Vec<auditable_serde::Package>,
}

impl Binary {
    pub fn package_id(&self) -> &PackageId {
        &self.target.package_id
    }
}

/// Plans the compile: target checks, bin selection, tools, rustflags. Spawns one `rustc --print`
/// per target.
pub fn plan(ws: &Workspace, opts: &BuildOptions, shell: &Shell) -> Result<Plan> {
    let bins = opts.bins.clone();
    let targets = opts.targets.clone();

    // Tools, before anything is built.
    let root = ws.root().as_std_path();
    let mut size_max = None;
    if opts.size == crate::size_max::Size::Max {
        for t in &targets {
            let n = crate::size_max::Nightly::detect(&t.triple, root)?;
            size_max.get_or_insert(n);
        }
    }
    tools::check_cargo_auditable()?;
    let first_c_crates = c_code_crates(ws);
    let cwd = std::env::current_dir()?;
    let getenv = |k: &str| std::env::var(k).ok();
    let zig_dir = opts.target_dir.join("tiny/zig");
    let mut per_target = Vec::new();
    let mut sysroot = String::new();
    for t in targets {
        let target = t.triple.as_str();
        // One rustc spawn for both the sysroot and the target's cfg.
        let (root_dir, _cfg) = tools::sysroot_and_cfg(target, root)?;
        if size_max.is_none() {
            // --size max builds std from the nightly's rust-src (checked by `Nightly::detect`).
            tools::check_target_in_sysroot(target, &root_dir)?;
        }
        sysroot = root_dir;
        // The user's cargo configuration: their linker and `[env]` keys are kept.
        let config = rustflags::user_config(&getenv, &cwd, target)?;
        let user_tools = crate::cross::UserTools {
            linker: config.linker,
            env: config.env,
        };
        if let Some(linker) = &user_tools.linker {
            shell.verbose(
                "Linker",
                format!("{linker} for {target} (the user's, from cargo's configuration)"),
            );
        }
        let c_crates = if ws.filter_platform.as_deref() == Some(target) {
            first_c_crates.clone()
        } else {
            // The workspace's graph is the first target's; a crate may depend on others only for
            // this one (`[target.'cfg(target_arch = "aarch64")'.dependencies]`): resolve it again.
            let graph = Workspace::load(&opts.load_options_for(&t))?;
            c_code_crates(&graph)
        };
        let env = crate::cross::env_for(&t, &c_crates, &zig_dir, &user_tools)?;

        // The user's rustflags, then ours.
        let user = config.rustflags;
        shell.verbose(
            "Rustflags",
            format!("{} from {}", user.flags.join(" "), user.origin),
        );
        let mut flags = user.flags;
        flags.extend(["-C".to_string(), "target-feature=+crt-static".to_string()]);
        flags.extend(remap_flags(ws, &getenv, &opts.target_dir));
        if let Some(n) = &size_max {
            flags.extend(n.rustflags());
        }
        per_target.push(plan::TargetPlan {
            target: t,
            rustflags: flags,
            env,
        });
    }

    check_profile_defined(ws, &opts.profile, &opts.config_files)?;
    let size_profile = (!opts.no_size_profile).then(|| {
        let sp = SizeProfile::new(&opts.profile, opts.panic_abort || size_max.is_some());
        match &size_max {
            Some(n) if n.immediate_abort == crate::size_max::ImmediateAbort::PanicStrategy => {
                sp.with_immediate_abort()
            }
            _ => sp,
        }
    });
    Ok(Plan {
        bins,
        manifest_path: ws.manifest_path.clone(),
        targets: per_target,
        profile: opts.profile.clone(),
        size_profile,
        features: opts.features().clone(),
        resolve: opts.resolve.clone(),
        target_dir: opts.target_dir_arg.clone(),
        // Not with `--size max`: the precursor files of a build-std build list std's own crates,
        // whose graph is cyclic (std ↔ its rustc-std-workspace shims), and cargo-auditable's
        // reader refuses such audit data.
        sbom_precursor: size_max.is_none() && is_nightly(&sysroot) && cargo_knows_zsbom(root),
        cargo_verbosity: opts.cargo_verbosity,
        color: opts.color,
        size_max,
        passthrough: opts.passthrough.clone(),
    })
}

/// Whether the cargo that will build is a nightly one, told by rustup's toolchain directory name
/// (`…/toolchains/nightly-…`), with no extra spawn: the directory of `$CARGO` when cargo gave us its
/// own path (`cargo +nightly tiny build`), else rustc's sysroot (both go through the same rustup
/// proxy then). Another nightly goes undetected and builds as on stable (the SBOM is exact either way).
fn is_nightly(sysroot: &str) -> bool {
    let cargo = tools::cargo();
    let dir = if cargo.is_absolute() {
        // …/toolchains/<name>/bin/cargo
        cargo
            .parent()
            .and_then(|bin| bin.parent())
            .map(PathBuf::from)
    } else {
        Some(PathBuf::from(sysroot))
    };
    dir.as_deref()
        .and_then(|d| d.file_name())
        .is_some_and(|n| n.to_string_lossy().starts_with("nightly"))
}

/// Whether the cargo that will build accepts `-Zsbom` (an older pinned nightly, or a stable cargo next
/// to a nightly rustc, does not): `cargo -Zsbom locate-project` fails on those. Asked only when the
/// toolchain looks like a nightly.
fn cargo_knows_zsbom(dir: &std::path::Path) -> bool {
    crate::process::probe(
        std::process::Command::new(tools::cargo())
            .args(["-Zsbom", "locate-project"])
            .current_dir(dir),
    )
    .is_some()
}

/// A custom `--profile` must be defined (in the root manifest or a cargo config file), or cargo fails
/// with a message that does not say how to fix it.
fn check_profile_defined(ws: &Workspace, name: &str, config_files: &[PathBuf]) -> Result<()> {
    if ["release", "dev", "test", "bench"].contains(&name) {
        return Ok(());
    }
    let mut files = vec![ws.root_manifest().into_std_path_buf()];
    files.extend(config_files.iter().cloned());
    let defined = files.iter().any(|f| {
        std::fs::read_to_string(f)
            .ok()
            .and_then(|t| t.parse::<toml::Table>().ok())
            .is_some_and(|t| t.get("profile").and_then(|p| p.get(name)).is_some())
    });
    if defined {
        return Ok(());
    }
    Err(Failure::new(format!(
        "profile `{name}` is not defined in {}",
        ws.root_manifest()
    ))
    .hint(format!(
        "run `cargo tiny init --profile {name}` to add it, or build with --profile release"
    ))
    .into())
}

/// `--remap-path-prefix` for the workspace, `$CARGO_HOME` and an outside target dir, so that the
/// binary carries no path of this machine. Later flags win in rustc, so the most specific goes last.
fn remap_flags(ws: &Workspace, env: rustflags::Env, target_dir: &std::path::Path) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(home) = rustflags::cargo_home(env) {
        pairs.push((home.display().to_string(), "/cargo".into()));
    }
    pairs.push((ws.root().to_string(), "/workspace".into()));
    let target = target_dir.display().to_string();
    if !target.starts_with(ws.root().as_str()) {
        pairs.push((target, "/target".into()));
    }
    // Path dependencies outside the workspace: cargo passes their absolute paths to rustc.
    for p in &ws.metadata.packages {
        if p.source.is_some() {
            continue;
        }
        if let Some(dir) = p.manifest_path.parent() {
            if !dir.starts_with(ws.root()) {
                pairs.push((dir.to_string(), format!("/path/{}-{}", p.name, p.version)));
            }
        }
    }
    // rustc applies the last matching flag: the most specific (longest) prefix goes last.
    pairs.sort_by_key(|(from, _)| from.len());
    pairs
        .into_iter()
        .flat_map(|(from, to)| ["--remap-path-prefix".to_string(), format!("{from}={to}")])
        .collect()
}

/// Packages in the graph whose build compiles C: they build-depend on `cc` or `cmake`, or declare `links`.
pub fn c_code_crates(ws: &Workspace) -> Vec<String> {
    let Some(resolve) = &ws.metadata.resolve else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for node in &resolve.nodes {
        let pkg = ws.package(&node.id);
        let builds_c = pkg.links.is_some()
            || node.deps.iter().any(|d| {
                let name = ws.package(&d.pkg).name.as_str();
                (name == "cc" || name == "cmake")
                    && d.dep_kinds
                        .iter()
                        .any(|k| k.kind == cargo_metadata::DependencyKind::Build)
            });
        if builds_c {
            out.push(pkg.name.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs the compile and verifies each binary.
pub fn compile(ws: &Workspace, plan: &Plan, shell: &Shell) -> Result<Vec<Binary>> {
    if let Some(n) = &plan.size_max {
        shell.warn(crate::size_max::WARNING);
        shell.status("Nightly", n.describe());
    }
    if let Some(sp) = &plan.size_profile {
        shell.status("Profile", sp);
        // Not with --size max: its panics are immediate aborts (SIGILL, exit 132), which its
        // warning says; the note is about panic = "abort" (exit 139 as PID 1).
        if sp.panic_abort && plan.size_max.is_none() {
            crate::doctor::pid1::note_panic_as_pid1(shell);
        }
    } else {
        shell.status(
            "Profile",
            format!("{} [as defined in the manifest]", plan.profile),
        );
    }
    let mut out = Vec::new();
    for t in &plan.targets {
        out.extend(compile_target(ws, plan, t, shell)?);
    }
    Ok(out)
}

/// The compile of one target.
fn compile_target(
    ws: &Workspace,
    plan: &Plan,
    t: &plan::TargetPlan,
    shell: &Shell,
) -> Result<Vec<Binary>> {
    if plan.targets.len() > 1 {
        let how: Vec<String> = t
            .env
            .iter()
            .filter(|(k, _)| k.starts_with("CC_") || k.ends_with("_LINKER"))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        shell.status(
            "Platform",
            format!(
                "{} ({}{})",
                t.target.platform(),
                t.target.triple,
                if how.is_empty() {
                    String::new()
                } else {
                    format!(", {}", how.join(" "))
                }
            ),
        );
    }
    shell.verbose(
        "Running",
        format!(
            "{}{}cargo {}",
            // A cross build shows its linker and C compiler (the host's build, as before, does not).
            t.env
                .iter()
                .filter(|_| !t.target.is_host())
                .map(|(k, v)| format!("{k}={v} "))
                .collect::<String>(),
            plan.size_max
                .as_ref()
                .map(|n| format!("rustup run {} ", n.toolchain))
                .unwrap_or_default(),
            plan.cargo_args(t)
                .iter()
                .map(|a| a.to_string_lossy())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    );
    let started = std::time::Instant::now();
    let output = cargo::run(plan, t).map_err(|e| openssl_hint(ws, e))?;
    if plan.targets.len() > 1 {
        shell.verbose(
            "Timing",
            format!(
                "{} compiled in {:.1}s",
                t.target.platform(),
                started.elapsed().as_secs_f64()
            ),
        );
    }
    let executables = &output.executables;
    let mut out = Vec::new();
    for target in &plan.bins {
        let exe = executables
            .iter()
            .find(|e| e.package_id == target.package_id && e.bin == target.bin)
            .ok_or_else(|| {
                Failure::new(format!("cargo reported no executable for `{}`", target.bin))
                    .hint("check that the bin's required-features are enabled")
            })?;
        let (_, audit) = verify::verify(exe.path.as_std_path(), &target.bin, &t.target)?;
        let size = std::fs::metadata(&exe.path)?.len();
        let exact = compiled::reconcile(&audit, &ws.metadata.packages, &output.compiled);
        out.push(Binary {
            target: target.clone(),
            platform: t.target.clone(),
            version: ws.package(&target.package_id).version.to_string(),
            path: exe.path.clone(),
            size,
            audit,
            exact: exact.info,
            uncompiled: exact.uncompiled,
        });
    }
    Ok(out)
}

/// A failed build with OpenSSL in the graph most likely failed on it: point at the fix.
fn openssl_hint(ws: &Workspace, err: anyhow::Error) -> anyhow::Error {
    let has_openssl = ws.metadata.packages.iter().any(|p| p.name == "openssl-sys");
    match err.downcast::<Failure>() {
        Ok(f) if has_openssl => f
            .hint("openssl-sys is in the dependency graph and does not link statically for musl; `cargo tiny doctor` shows the path and the rustls fix")
            .into(),
        Ok(f) => f.into(),
        Err(e) => e,
    }
}
