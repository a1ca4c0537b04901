//! cargo-tiny: static, auditable, size-optimized Rust binaries in reproducible FROM-scratch images.
//!
//! The flow (the map of the folders is in docs/src/contributing/design.md): [`cli`] → [`workspace::Workspace`]
//! and [`compile::options::BuildOptions`] → [`compile::plan::Plan`] →
//! [`compile::Binary`] → [`image::assemble`] → [`image::Image`] → a [`publish::Publisher`] (the tarball,
//! the registry); what is told on the way is in [`report`]. Each stage is a plain value; processes are
//! spawned ([`process`]) and files written ([`fsutil`]) only at the edges.

pub mod cargo_flags;
pub mod cli;
pub mod compile;
pub mod config;
pub mod cross;
pub mod digest;
pub mod doctor;
pub mod error;
pub mod fsutil;
pub mod image;
pub mod image_audit;
pub mod init;
pub mod knowledge;
pub mod manifest_file;
pub mod manifest_spans;
pub mod panic_boundary;
pub mod process;
pub mod progress;
pub mod publish;
pub mod push;
pub mod reference;
pub mod report;
pub mod sbom;
pub mod settings;
pub mod setup;
pub mod shell;
pub mod sign;
pub mod size_max;
pub mod size_profile;
pub mod size_report;
pub mod source_date;
pub mod target;
pub mod tools;
pub mod verify;
pub mod workspace;

use anyhow::Result;
use clap::Parser;

use cli::{Cli, Command};
use shell::Shell;

/// Runs cargo-tiny with the process arguments and returns the exit code.
pub fn main_with_args(args: Vec<std::ffi::OsString>) -> i32 {
    // `cargo tiny …` runs `cargo-tiny tiny …`.
    let mut args = args;
    if args.get(1).is_some_and(|a| a == "tiny") {
        args.remove(1);
    }
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let (verbosity, color) = match &cli.command {
        Command::Build(a) => (a.common.verbosity(), a.common.color),
        Command::Doctor(a) => (a.common.verbosity(), a.common.color),
        Command::Init(a) => (a.common.verbosity(), a.common.color),
        Command::Setup(a) => (a.common.verbosity(), a.common.color),
        Command::Push(a) => (a.common.verbosity(), a.common.color),
        Command::Verify(a) => (a.common.verbosity(), a.common.color),
        Command::Size(a) => (a.build.common.verbosity(), a.build.common.color),
    };
    let shell = Shell::new(verbosity, color);
    match panic_boundary::run(|| run(&cli, &shell)) {
        Ok(Ok(code)) => code,
        Ok(Err(err)) => {
            let (code, message, hint) = error::report(&err);
            shell.error(&message, hint.as_deref());
            code
        }
        Err(internal) => {
            shell.error(&internal, Some(&panic_boundary::hint()));
            panic_boundary::INTERNAL
        }
    }
}

fn run(cli: &Cli, shell: &Shell) -> Result<i32> {
    match &cli.command {
        Command::Build(a) => compile::run(a, shell).map(|_| 0),
        Command::Setup(a) => setup::run(a, shell).map(|_| 0),
        Command::Doctor(a) => doctor::command::run(a, shell),
        Command::Init(a) => init::run(a, shell).map(|_| 0),
        Command::Push(a) => push::run(a, shell).map(|_| 0),
        Command::Verify(a) => verify::run(a, shell),
        Command::Size(a) => size_report::command::run(a, shell),
    }
}

/// Clap's errors as clap renders them, whole (as cargo does): the missing argument's name, the
/// valid values and the "similar argument" tip are the content. Help and version print as usual.
fn usage_error(e: clap::Error) -> i32 {
    use clap::error::ErrorKind;
    let _ = e.print();
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
        _ => 2,
    }
}
