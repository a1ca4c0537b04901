//! `cargo tiny build`: the command line checked and turned into [`BuildOptions`] once, then
//! plan (the compile, the images and their publishers, the registry sessions' settings) → compile →
//! images → publishers → report.

use anyhow::Result;

use super::options::BuildOptions;
use super::{compile, image_jobs, image_plan, plan};
use crate::cli::BuildArgs;
use crate::publish::push::Registries;
use crate::publish::Shared;
use crate::shell::Shell;
use crate::workspace::Workspace;

/// `cargo tiny build`.
pub fn run(args: &BuildArgs, shell: &Shell) -> Result<()> {
    // Targets named on the command line are checked before anything runs.
    let cli_targets = BuildOptions::cli_targets(args)?;
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
    let ws = Workspace::load(&BuildOptions::load_options(args, cli_targets.as_deref()))?;
    let opts = BuildOptions::new(args, &ws, cli_targets.as_deref())?;
    let plan = plan(&ws, &opts, shell)?;
    // Image configuration is checked before anything is compiled.
    let images = match &opts.image {
        Some(io) => image_plan::plan(&ws, &opts, io)?,
        None => Vec::new(),
    };
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
    match &opts.image {
        Some(io) => image_jobs::run(&ws, io, &images, &binaries, &shared, opts.json),
        None => Ok(()),
    }
}
