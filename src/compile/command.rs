//! `cargo tiny build`: the command line checked and turned into [`BuildOptions`] once, then
//! plan (the compile, the images and their publishers, the registry sessions' settings) → compile →
//! images → publishers → report, then the size budget.

use anyhow::Result;

use super::image_plan::ImagePlan;
use super::options::BuildOptions;
use super::plan::Plan;
use super::{compile, image_jobs, image_plan, plan, Binary};
use crate::cli::BuildArgs;
use crate::publish::push::Registries;
use crate::publish::Shared;
use crate::shell::Shell;
use crate::size_report::budget::Verdict;
use crate::size_report::command::{self as size_command, Measured};
use crate::size_report::enforce::Budgets;
use crate::workspace::Workspace;

/// What a build made (`cargo tiny size` goes on from it).
pub struct Built {
    pub ws: Workspace,
    pub opts: BuildOptions,
    pub plan: Plan,
    /// Empty with `--no-image`.
    pub images: Vec<ImagePlan>,
    pub binaries: Vec<Binary>,
    /// The `size-budget`s of the built packages (checked before compiling).
    pub budgets: Budgets,
    /// The budgets' verdicts, measured before publishing (empty without a budget).
    pub verdicts: Vec<Verdict>,
    /// Over budget under [`OverBudget::Hold`]: the publishers after the tarball did not run.
    pub held: bool,
}

/// What a build does when its images are over their size budget, once the tarballs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// Fail there, naming the biggest contributors: nothing is pushed or loaded (`cargo tiny build`).
    Fail,
    /// Push and load nothing, and go on (`cargo tiny size` reports, then fails).
    Hold,
}

/// `cargo tiny build`.
pub fn run(args: &BuildArgs, shell: &Shell) -> Result<()> {
    let built = build(args, shell, OverBudget::Fail)?;
    crate::report::size_budget(&built.verdicts, shell);
    Ok(())
}

/// Everything `cargo tiny build` does; the size budget is checked once the tarballs are written,
/// before any registry or engine sees an image (after the compile with `--no-image`).
pub fn build(args: &BuildArgs, shell: &Shell, over_budget: OverBudget) -> Result<Built> {
    // Targets named on the command line are checked before anything runs.
    let cli_targets = BuildOptions::cli_targets(args)?;
    if args.output.is_some() && args.no_image {
        crate::fail!(
            hint = "drop one of them",
            "--output and --no-image cannot be used together"
        );
    }
    // Registry flags without --push (also with --no-image) are a mistake, said before anything runs.
    // `-t/--tag` tags the local image too (its `RepoTags`), so it needs an image, not a push.
    if args.no_image && !args.registry.tag.is_empty() {
        crate::fail!(
            hint = "drop --no-image, or drop --tag",
            "--tag names more tags of the image, but --no-image writes none"
        );
    }
    if !args.push {
        let r = &args.registry;
        if let Some(flag) = [
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
    let ws = Workspace::load(&BuildOptions::load_options(args, cli_targets.as_deref()))?;
    let mut opts = BuildOptions::new(args, &ws, cli_targets.as_deref())?;
    let plan = plan(&ws, &opts, shell)?;
    let budgets = Budgets::resolve(&ws, &plan.bins, args.size_budget)?;
    // Image configuration is checked before anything is compiled.
    let images = match &opts.image {
        Some(io) => image_plan::plan(&ws, &opts, io)?,
        None => Vec::new(),
    };
    if let Some(io) = opts.image.as_mut() {
        io.nightly = plan.size_max.as_ref().map(|n| n.toolchain.clone());
    }
    // `sign = true` without --sign/--sign-key (and without --no-sign): keyless, the token's
    // availability checked now.
    if let Some(io) = opts.image.as_mut() {
        if io.sign.is_none() && !args.no_sign && images.iter().any(|p| p.config.sign) {
            io.sign = Some(crate::sign::Mode::keyless(&args.endpoints())?);
        }
    }
    // The Sigstore endpoint flags only with keyless signing (never silently unused).
    let endpoints = args.endpoints();
    let keyless = opts
        .image
        .as_ref()
        .is_some_and(|io| matches!(io.sign, Some(crate::sign::Mode::Keyless(_))));
    if let (Some(flag), false) = (endpoints.given().first(), keyless) {
        crate::fail!(
            hint = "add --sign, or `sign = true` in [package.metadata.tiny]",
            "{flag} is for keyless signing, and this build does not sign keylessly"
        );
    }
    // One session per registry host, its credential files read now.
    let registries = match opts.image.as_ref().and_then(|io| io.push.as_ref()) {
        Some((_, settings)) => Some(Registries::new(
            settings.clone(),
            images
                .iter()
                .flat_map(|p| p.pushes())
                .map(|p| p.dest.host.as_str()),
        )?),
        None => None,
    };
    for w in registries.iter().flat_map(Registries::warnings) {
        shell.warn(w);
    }
    // One build at a time compiles and writes this target dir's images.
    let _lock = match &opts.image {
        Some(_) => Some(super::output_lock::acquire(&opts.target_dir, shell)?),
        None => None,
    };
    let binaries = compile(&ws, &plan, shell)?;
    for b in &binaries {
        crate::report::binary(
            &crate::report::BinaryFacts {
                package: &b.target.package,
                version: &b.version,
                bin: &b.target.bin,
                target: &b.platform.triple,
                profile: &plan.profile,
                path: b.path.as_std_path(),
                size: b.size,
                audited_packages: b.audit.packages.len(),
                uncompiled: &b.uncompiled,
            },
            shell,
            opts.json,
        )?;
    }
    let shared = Shared {
        registries: registries.as_ref(),
        shell,
    };
    let verdicts = std::cell::RefCell::new(Vec::new());
    let held = std::cell::Cell::new(false);
    let gate = || -> Result<bool> {
        let measured = Measured {
            ws: &ws,
            plan: &plan,
            target_dir: opts.target_dir.as_path(),
            images: &images,
            binaries: &binaries,
            budgets: &budgets,
        };
        let v = match over_budget {
            OverBudget::Fail => size_command::before_publishing(&measured, shell)?,
            OverBudget::Hold => size_command::measure(&measured)?.1,
        };
        let over = v.iter().any(|v| !v.ok);
        *verdicts.borrow_mut() = v;
        held.set(over);
        Ok(!over)
    };
    match &opts.image {
        Some(io) => image_jobs::run(&ws, io, &images, &binaries, &shared, &gate, opts.json)?,
        None => {
            gate()?;
        }
    }
    let (verdicts, held) = (verdicts.into_inner(), held.get());
    Ok(Built {
        ws,
        opts,
        plan,
        images,
        binaries,
        budgets,
        verdicts,
        held,
    })
}
