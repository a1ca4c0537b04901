//! `cargo tiny init`: the command line turned into [`InitOptions`] once, then
//! [`super::patch_root`].

use anyhow::Result;

use super::InitOptions;
use crate::cli::InitArgs;
use crate::shell::Shell;

/// `cargo tiny init`.
pub fn run(args: &InitArgs, shell: &Shell) -> Result<()> {
    let opts = InitOptions {
        manifest_path: args.common.manifest_path.clone(),
        profile: args
            .profile
            .clone()
            .unwrap_or_else(|| "release".to_string()),
        panic_abort: args.panic_abort,
        force: args.force,
        dry_run: args.dry_run,
    };
    super::patch_root(&opts, shell)
}
