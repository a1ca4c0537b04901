//! `cargo tiny doctor`: the command line turned into [`DoctorOptions`] — the one file of doctor
//! that sees `cli`.

use anyhow::Result;

use super::options::{DoctorOptions, FixMode};
use crate::cli::{Deny, DoctorArgs};
use crate::shell::{Shell, Verbosity};

/// Runs the doctor and returns the exit code (0 no error, 1 an error finding; doctor's own failures → 2).
pub fn run(args: &DoctorArgs, shell: &Shell) -> Result<i32> {
    super::run(&options(args), shell)
}

pub fn options(args: &DoctorArgs) -> DoctorOptions {
    let fix = match (args.fix, args.dry_run) {
        (false, _) => FixMode::Report,
        (true, true) => FixMode::DryRun,
        (true, false) => FixMode::Write,
    };
    DoctorOptions {
        manifest_path: args.common.manifest_path.clone(),
        packages: args.package.clone(),
        workspace: args.workspace,
        features: args.features.clone(),
        resolve: args.resolve.clone(),
        target: args.target.clone(),
        format: args.format,
        deny_warnings: matches!(args.deny, Some(Deny::Warnings)),
        fix,
        check: args.check || (args.fix && !args.no_check),
        cargo_verbosity: match args.common.verbosity() {
            Verbosity::Quiet => -1,
            _ => args.common.verbose.saturating_sub(1) as i8,
        },
    }
}
