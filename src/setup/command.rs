//! `cargo tiny setup`: the command line turned into [`SetupOptions`] once (the targets checked:
//! the ones `build` accepts, no more), then [`super::install`].

use anyhow::Result;

use super::SetupOptions;
use crate::cli::SetupArgs;
use crate::shell::Shell;
use crate::target::Target;

/// `cargo tiny setup`.
pub fn run(args: &SetupArgs, shell: &Shell) -> Result<()> {
    super::install(&options(args)?, shell)
}

fn options(args: &SetupArgs) -> Result<SetupOptions> {
    let mut targets = Vec::new();
    for t in &args.target {
        targets.push(Target::from_triple(t)?);
    }
    let mut platforms = Vec::new();
    for p in &args.platform {
        let t = Target::from_platform(p)?;
        if !targets.contains(&t) {
            targets.push(t.clone());
        }
        platforms.push(t);
    }
    Ok(SetupOptions {
        targets,
        platforms,
        size: args.size,
        dry_run: args.dry_run,
    })
}
