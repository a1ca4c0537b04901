//! `cargo tiny setup`: install the Rust-side tools a build needs. It asks nothing and prints each
//! command before running it. The command line is turned into [`SetupOptions`] by `command.rs`.

pub mod command;

use std::process::Command;

use anyhow::Result;

use crate::error::Failure;
use crate::shell::Shell;
use crate::size_max::Size;
use crate::target::Target;
use crate::tools;

pub use command::run;

/// What `cargo tiny setup` was asked to install, as plain values.
#[derive(Debug, Clone)]
pub struct SetupOptions {
    /// The targets whose standard library to install (`--target`, then `--platform`'s), each once.
    pub targets: Vec<Target>,
    /// `--platform`: a cross platform among them also gets zig as its C compiler.
    pub platforms: Vec<Target>,
    pub size: Size,
    pub dry_run: bool,
}

/// Installs what `opts` asks for.
pub fn install(opts: &SetupOptions, shell: &Shell) -> Result<()> {
    let dir = std::env::current_dir()?;
    let targets: Vec<&str> = opts.targets.iter().map(|t| t.triple.as_str()).collect();
    let platforms = &opts.platforms;
    let mut commands: Vec<Vec<String>> = Vec::new();
    let missing: Vec<&&str> = targets
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
    if opts.size == Size::Max {
        let owned: Vec<String> = targets.iter().map(|t| t.to_string()).collect();
        commands.extend(crate::size_max::setup_commands(&owned, &dir, shell)?);
    }
    match tools::find_cargo_auditable() {
        Some(p) => shell.status("Fresh", format!("cargo-auditable ({})", p.display())),
        None => commands.push(
            ["cargo", "install", "cargo-auditable", "--locked"]
                .map(String::from)
                .to_vec(),
        ),
    }
    commands.extend(crate::cross::setup_commands(platforms, shell)?);
    for c in &commands {
        shell.status("Running", format!("`{}`", c.join(" ")));
        if opts.dry_run {
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
    for target in &opts.targets {
        let t = target.triple.as_str();
        if !target.is_host() {
            if !opts.dry_run && !crate::cross::has_c_compiler(target) {
                shell.warn(format!(
                    "no C compiler for {t}: crates that compile C (ring, aws-lc-sys, -sys crates) will not build; {}",
                    crate::cross::cc_hint(target)
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
    } else if !opts.dry_run {
        shell.status("Finished", "setup complete");
    }
    Ok(())
}
