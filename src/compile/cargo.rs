//! Running `cargo auditable build` and reading its JSON messages: the one place the compile is spawned.

use std::io::BufReader;
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{Message, PackageId};

use super::plan::{Plan, TargetPlan};
use crate::error::Failure;

/// An executable cargo reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executable {
    pub package_id: PackageId,
    pub bin: String,
    pub path: Utf8PathBuf,
}

/// What one cargo run produced.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub executables: Vec<Executable>,
    /// Every package with a unit compiled (or fresh) in this build, for the target and the host.
    pub compiled: super::compiled::Compiled,
}

/// Runs the plan's cargo command. Cargo's human output (progress, diagnostics) goes straight to our
/// stderr; its JSON messages on stdout are read for the executables it produced and the packages it
/// compiled. One run per target.
pub fn run(plan: &Plan, t: &TargetPlan) -> Result<Output> {
    let cargo = crate::tools::cargo();
    let mut cmd = match &plan.size_max {
        // `--size max`: the nightly's cargo through rustup, which also points `rustc` at the nightly
        // (a RUSTC inherited from the stable cargo that runs us would rebuild std with stable).
        Some(n) => {
            let mut c = Command::new("rustup");
            c.args(["run", &n.toolchain, "cargo"]).env_remove("RUSTC");
            c
        }
        None => Command::new(&cargo),
    };
    cmd.args(plan.cargo_args(t))
        .envs(plan.cargo_env(t))
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = crate::process::spawn(&mut cmd, "make sure cargo is on PATH")?;
    let stdout = child.stdout.take().context("cargo stdout")?;
    let mut executables = Vec::new();
    let mut compiled = super::compiled::Compiled::default();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let message = message.context("reading cargo's JSON messages")?;
        if let Message::CompilerArtifact(a) = message {
            compiled.record(&a, &t.target.triple);
            if let (Some(exe), true) = (a.executable, a.target.is_bin()) {
                executables.push(Executable {
                    package_id: a.package_id,
                    bin: a.target.name,
                    path: exe,
                });
            }
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    if !status.success() {
        let code = status.code().unwrap_or(1);
        return Err(
            Failure::new(format!("cargo auditable build failed (exit status {code})"))
                .hint("fix the errors cargo printed above")
                .code(code)
                .into(),
        );
    }
    Ok(Output {
        executables,
        compiled,
    })
}
