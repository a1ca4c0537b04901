//! `cargo tiny setup`: install the Rust-side tools a build needs. It asks nothing and prints each
//! command before running it.

use std::process::Command;

use anyhow::Result;

use crate::cli::SetupArgs;
use crate::error::Failure;
use crate::shell::Shell;
use crate::tools;

pub fn run(args: &SetupArgs, shell: &Shell) -> Result<()> {
    let dir = std::env::current_dir()?;
    // The targets `build` accepts, no more (e.g. not armv7-unknown-linux-musleabihf).
    for t in &args.target {
        crate::target::Target::from_triple(t)?;
    }
    let mut targets = args.target.clone();
    let mut platforms = Vec::new();
    for p in &args.platform {
        let t = crate::target::Target::from_platform(p)?;
        if !targets.contains(&t.triple) {
            targets.push(t.triple.clone());
        }
        platforms.push(t);
    }
    let mut commands: Vec<Vec<String>> = Vec::new();
    let missing: Vec<&String> = targets
        .iter()
        .filter(|t| tools::check_target_installed(t, &dir).is_err())
        .collect();
    if !missing.is_empty() {
        if which::which("rustup").is_err() {
            crate::fail!(
                hint = "install the targets' standard library with your Rust distribution, or install Rust with rustup",
                "rustup is not on PATH, so the musl target cannot be added"
            );
        }
        let mut c = vec!["rustup".to_string(), "target".into(), "add".into()];
        c.extend(missing.iter().map(|t| t.to_string()));
        commands.push(c);
    } else {
        shell.status("Fresh", format!("target {} installed", targets.join(", ")));
    }
    if args.size == crate::size_max::Size::Max {
        commands.extend(crate::size_max::setup_commands(&targets, &dir, shell)?);
    }
    match tools::find_cargo_auditable() {
        Some(p) => shell.status("Fresh", format!("cargo-auditable ({})", p.display())),
        None => commands.push(
            ["cargo", "install", "cargo-auditable", "--locked"]
                .map(String::from)
                .to_vec(),
        ),
    }
    commands.extend(crate::cross::setup_commands(&platforms, shell)?);
    for c in &commands {
        shell.status("Running", format!("`{}`", c.join(" ")));
        if args.dry_run {
            continue;
        }
        let status = crate::process::status(
            Command::new(&c[0]).args(&c[1..]),
            "install it (e.g. rustup from https://rustup.rs, python3 and python3-venv from your package manager), or run the printed commands yourself",
        )?;
        if !status.success() {
            return Err(Failure::new(format!("`{}` failed ({status})", c.join(" ")))
                .hint("fix the problem it printed above and run `cargo tiny setup` again")
                .into());
        }
    }
    for t in &targets {
        let cross = crate::target::Target::from_triple(t)
            .ok()
            .filter(|t| !t.is_host());
        if let Some(cross) = cross {
            if !args.dry_run && !crate::cross::has_c_compiler(&cross) {
                shell.warn(format!(
                    "no C compiler for {t}: crates that compile C (ring, aws-lc-sys, -sys crates) will not build; {}",
                    crate::cross::cc_hint(&cross)
                ));
            }
            continue;
        }
        if tools::find_musl_cc(t).is_none() {
            shell.warn(format!(
                "no C compiler for {t}: crates that compile C (ring, aws-lc-sys, -sys crates) will not build; {}",
                tools::musl_cc_hint(t)
            ));
        }
    }
    if commands.is_empty() {
        shell.status("Finished", "nothing to install");
    } else if !args.dry_run {
        shell.status("Finished", "setup complete");
    }
    Ok(())
}
