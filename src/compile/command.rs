//! `cargo tiny build`: the command line checked and turned into [`BuildOptions`] once, then
//! plan → compile → images → publishers, then the size budget.

use anyhow::Result;

use super::image_plan::ImagePlan;
use super::options::BuildOptions;
use super::plan::Plan;
use super::{compile, image_jobs, image_plan, plan, Binary};
use crate::cli::BuildArgs;
use crate::shell::Shell;
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
}

/// `cargo tiny build`.
pub fn run(args: &BuildArgs, shell: &Shell) -> Result<()> {
    let built = build(args, shell)?;
    crate::size_report::command::after_build(&built, shell)
}

/// Everything `cargo tiny build` does but the budget check.
pub fn build(args: &BuildArgs, shell: &Shell) -> Result<Built> {
    // Targets named on the command line are checked before anything runs.
    crate::target::resolve(
        &args.target,
        &args.platform,
        None,
        crate::target::default_triple(),
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
    let ws = Workspace::load(&BuildOptions::load_options(args))?;
    let opts = BuildOptions::new(args, &ws)?;
    let plan = plan(&ws, &opts, shell)?;
    let budgets = Budgets::resolve(&ws, &plan.bins, args.size_budget)?;
    // Image configuration is checked before anything is compiled.
    let images = match &opts.image {
        Some(io) => {
            let targets: Vec<_> = plan.targets.iter().map(|t| t.target.clone()).collect();
            image_plan::plan(&ws, &opts, io, &plan.bins, &targets)?
        }
        None => Vec::new(),
    };
    let binaries = compile(&ws, &plan, shell)?;
    for b in &binaries {
        crate::report::binary(b, &plan, shell, opts.json)?;
    }
    if let Some(io) = &opts.image {
        image_jobs::run(&ws, io, &images, &binaries, shell, opts.json)?;
    }
    Ok(Built {
        ws,
        opts,
        plan,
        images,
        binaries,
        budgets,
    })
}
