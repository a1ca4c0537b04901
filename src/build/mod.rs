//! `cargo tiny build`, compile stage: Workspace → Plan → verified static binaries.

pub mod cargo;
pub mod compiled;
pub mod image;
pub mod image_cache;
pub mod plan;
pub mod rustflags;
pub mod verify;

use std::path::PathBuf;

use anyhow::Result;
use auditable_serde::VersionInfo;
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::PackageId;
use serde::Serialize;

use crate::cli::BuildArgs;
use crate::error::Failure;
use crate::profile::SizeProfile;
use crate::shell::{human_size, Shell, Verbosity};
use crate::toolchain;
use crate::workspace::{LoadOptions, Workspace};
use plan::{BinTarget, Plan, Selection};

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

/// One line of `--message-format json` per binary (schema in README: "JSON output").
#[derive(Debug, Serialize)]
pub struct BinaryMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub version: &'a str,
    pub bin: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub path: &'a str,
    pub size: u64,
    #[serde(rename = "static")]
    pub is_static: bool,
    pub audited_packages: usize,
    /// Packages in the audit data that the build never compiled (left out of the SBOM).
    pub uncompiled_packages: Vec<UncompiledPackage<'a>>,
}

/// A package of the audit data that was never compiled.
#[derive(Debug, Serialize)]
pub struct UncompiledPackage<'a> {
    pub name: &'a str,
    pub version: String,
    pub source: String,
}

/// The workspace load options a build uses.
pub fn load_options(args: &BuildArgs) -> LoadOptions {
    LoadOptions {
        manifest_path: args.common.manifest_path.clone(),
        features: args.features.clone(),
        resolve: args.resolve.clone(),
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
                .unwrap_or_else(|| crate::cli::DEFAULT_TARGET.to_string()),
        ),
        no_deps: false,
    }
}

/// Plans the compile: target checks, bin selection, tools, rustflags. Spawns one `rustc --print`
/// per target.
pub fn plan(ws: &Workspace, args: &BuildArgs, shell: &Shell) -> Result<Plan> {
    let bins = plan::select_bins(
        ws,
        &Selection {
            packages: args.package.clone(),
            workspace: args.workspace,
            bins: args.bin.clone(),
            features: args.features.clone(),
        },
    )?;

    let targets = crate::target::resolve(
        &args.target,
        &args.platform,
        crate::target::configured_platforms(ws, &bins)?.as_deref(),
        crate::cli::DEFAULT_TARGET,
    )?;

    // Tools, before anything is built.
    let root = ws.root().as_std_path();
    let mut size_max = None;
    if args.size == crate::size_max::Size::Max {
        for t in &targets {
            let n = crate::size_max::Nightly::detect(&t.triple, root)?;
            size_max.get_or_insert(n);
        }
    }
    toolchain::check_cargo_auditable()?;
    let c_crates = c_code_crates(ws);
    let cwd = std::env::current_dir()?;
    let getenv = |k: &str| std::env::var(k).ok();
    let tools = match &args.target_dir {
        Some(d) => std::path::absolute(d)?,
        None => ws.target_dir().as_std_path().to_path_buf(),
    }
    .join("tiny/zig");
    let mut per_target = Vec::new();
    let mut sysroot = String::new();
    for t in targets {
        let target = t.triple.as_str();
        // One rustc spawn for both the sysroot and the target's cfg.
        let (root_dir, cfg_text) = toolchain::sysroot_and_cfg(target, root)?;
        if size_max.is_none() {
            // --size max builds std from the nightly's rust-src (checked by `Nightly::detect`).
            toolchain::check_target_in_sysroot(target, &root_dir)?;
        }
        sysroot = root_dir;
        let env = crate::cross::env_for(&t, &c_crates, &tools)?;

        // The user's rustflags, then ours.
        let user =
            rustflags::user_rustflags(&getenv, &cwd, target, &rustflags::parse_cfgs(&cfg_text))?;
        shell.verbose(
            "Rustflags",
            format!("{} from {}", user.flags.join(" "), user.origin),
        );
        let mut flags = user.flags;
        flags.extend(["-C".to_string(), "target-feature=+crt-static".to_string()]);
        flags.extend(remap_flags(ws, &getenv, args.target_dir.as_ref()));
        if let Some(n) = &size_max {
            flags.extend(n.rustflags());
        }
        per_target.push(plan::TargetPlan {
            target: t,
            rustflags: flags,
            env,
        });
    }

    check_profile_defined(ws, &args.profile, &getenv, &cwd)?;
    let size_profile = (!args.no_size_profile).then(|| {
        let sp = SizeProfile::new(&args.profile, args.panic_abort || size_max.is_some());
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
        profile: args.profile.clone(),
        size_profile,
        features: args.features.clone(),
        resolve: args.resolve.clone(),
        target_dir: args.target_dir.clone(),
        // Not with `--size max`: the precursor files of a build-std build list std's own crates,
        // whose graph is cyclic (std ↔ its rustc-std-workspace shims), and cargo-auditable's
        // reader refuses such audit data.
        sbom_precursor: size_max.is_none() && is_nightly(&sysroot) && cargo_knows_zsbom(root),
        cargo_verbosity: match shell.verbosity() {
            Verbosity::Quiet => -1,
            _ => args.common.verbose.saturating_sub(1) as i8,
        },
        color: args.common.color.as_str(),
        size_max,
    })
}

/// Whether the cargo that will build is a nightly one, told by rustup's toolchain directory name
/// (`…/toolchains/nightly-…`), with no extra spawn: the directory of `$CARGO` when cargo gave us its
/// own path (`cargo +nightly tiny build`), else rustc's sysroot (both go through the same rustup
/// proxy then). Another nightly goes undetected and builds as on stable (the SBOM is exact either way).
fn is_nightly(sysroot: &str) -> bool {
    let cargo = toolchain::cargo();
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
    std::process::Command::new(toolchain::cargo())
        .args(["-Zsbom", "locate-project"])
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A custom `--profile` must be defined (in the root manifest or a cargo config file), or cargo fails
/// with a message that does not say how to fix it.
fn check_profile_defined(
    ws: &Workspace,
    name: &str,
    env: rustflags::Env,
    cwd: &std::path::Path,
) -> Result<()> {
    if ["release", "dev", "test", "bench"].contains(&name) {
        return Ok(());
    }
    let mut files = vec![ws.root_manifest().into_std_path_buf()];
    files.extend(rustflags::config_files(env, cwd));
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
fn remap_flags(ws: &Workspace, env: rustflags::Env, target_dir: Option<&PathBuf>) -> Vec<String> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(home) = rustflags::cargo_home(env) {
        pairs.push((home.display().to_string(), "/cargo".into()));
    }
    pairs.push((ws.root().to_string(), "/workspace".into()));
    let target = target_dir
        .and_then(|d| std::path::absolute(d).ok())
        .map(|d| d.display().to_string())
        .unwrap_or_else(|| ws.target_dir().to_string());
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
        if sp.panic_abort {
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

/// Human summary line or JSON object for one binary.
pub fn report_binary(b: &Binary, plan: &Plan, shell: &Shell, json: bool) -> Result<()> {
    let shown = crate::fsutil::shown_path(b.path.as_std_path());
    if json {
        let msg = BinaryMessage {
            reason: "binary",
            package: &b.target.package,
            version: &b.version,
            bin: &b.target.bin,
            target: &b.platform.triple,
            profile: &plan.profile,
            path: b.path.as_str(),
            size: b.size,
            is_static: true,
            audited_packages: b.audit.packages.len(),
            uncompiled_packages: b
                .uncompiled
                .iter()
                .map(|p| UncompiledPackage {
                    name: &p.name,
                    version: p.version.to_string(),
                    source: serde_json::to_value(&p.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
                .collect(),
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    let n = b.audit.packages.len();
    shell.status(
        "Binary",
        format!(
            "{} {} ({} bytes, {}), static, {} audited package{}",
            b.target.bin,
            shown.display(),
            b.size,
            human_size(b.size),
            n,
            if n == 1 { "" } else { "s" }
        ),
    );
    if !b.uncompiled.is_empty() {
        shell.note(
            "Audit",
            format!(
                "{} (left out of the SBOM)",
                compiled::uncompiled_line(&b.uncompiled)
            ),
        );
    }
    Ok(())
}

/// `cargo tiny build`.
pub fn run(args: &BuildArgs, shell: &Shell) -> Result<()> {
    // Targets named on the command line are checked before anything runs.
    crate::target::resolve(
        &args.target,
        &args.platform,
        None,
        crate::cli::DEFAULT_TARGET,
    )?;
    if args.output.is_some() && args.no_image {
        crate::fail!(
            hint = "drop one of them",
            "--output and --no-image cannot be used together"
        );
    }
    // Registry flags without --push (also with --no-image) are a mistake, said before anything runs.
    if !args.push {
        let r = &args.registry;
        if let Some(flag) = [
            ("--tag", !r.tag.is_empty()),
            ("--registry-ca", !r.registry_ca.is_empty()),
            ("--insecure-registry", !r.insecure_registry.is_empty()),
        ]
        .iter()
        .find_map(|(f, set)| set.then_some(f))
        {
            crate::fail!(
                hint = "add --push, or drop the flag",
                "{flag} is for pushing to a registry"
            );
        }
    }
    let ws = Workspace::load(&load_options(args))?;
    let plan = plan(&ws, args, shell)?;
    // Image configuration is checked before anything is compiled.
    let images = if args.no_image {
        Vec::new()
    } else {
        image::plan(&ws, args, &plan.bins)?
    };
    let binaries = compile(&ws, &plan, shell)?;
    let json = args.message_format == crate::cli::MessageFormat::Json;
    for b in &binaries {
        report_binary(b, &plan, shell, json)?;
    }
    image::run(&ws, &images, &binaries, shell, json)
}
