//! The registry publisher: where an image goes (planned before anything is built, from plain values —
//! no command line here), and [`Registry`], the [`super::Publisher`] that pushes it and reports.

use std::path::PathBuf;

use anyhow::Result;

use super::credentials::{self, Env};
use super::{registry, Artifact, PushOptions, Pushed};
use crate::reference::{self, Destination};
use crate::shell::Shell;

/// The registry settings of a push, as plain values (`--tag`, `--registry-ca`, `--insecure-registry`).
#[derive(Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Extra tags, besides the image's own and `tags = [...]`.
    pub tags: Vec<String>,
    pub registry_ca: Vec<PathBuf>,
    pub insecure_registry: Vec<String>,
}

/// Blob uploads in flight at once.
const JOBS: usize = 4;

/// Where one image goes and how; decided before anything is built.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub dest: Destination,
    pub opts: PushOptions,
}

/// The push plan of an image named `name:tag`, with the metadata's `tags` and the command line's.
pub fn plan(
    name: &str,
    tag: &str,
    config_tags: &[String],
    flags: &RegistryFlags,
) -> Result<PushPlan> {
    let dest = reference::destination(name, tag)?;
    Ok(PushPlan {
        dest,
        opts: options(config_tags, flags)?,
    })
}

fn options(config_tags: &[String], flags: &RegistryFlags) -> Result<PushOptions> {
    let mut tags: Vec<String> = config_tags.to_vec();
    for t in &flags.tags {
        reference::check_tag(t).map_err(|w| {
            crate::error::Failure::new(format!("--tag: {w}")).hint(reference::TAG_HINT)
        })?;
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Ok(PushOptions {
        tags,
        insecure: flags.insecure_registry.clone(),
        registry_ca: flags.registry_ca.clone(),
        jobs: JOBS,
    })
}

/// The registry publisher: the image to the plan's destination, its status lines on `shell`.
pub struct Registry<'a> {
    pub plan: &'a PushPlan,
    pub shell: &'a Shell,
}

impl Registry<'_> {
    /// Pushes what an earlier build wrote (read back from its tarball: the same bytes).
    pub fn publish_artifact(&self, artifact: &Artifact) -> Result<Pushed> {
        push(artifact, self.plan, self.shell)
    }
}

impl super::Publisher for Registry<'_> {
    type Receipt = Pushed;
    fn publish(&self, image: &crate::image::Image) -> Result<Pushed> {
        self.publish_artifact(&Artifact::from_image(image)?)
    }
}

/// Pushes one image and prints its status line.
pub fn push(artifact: &Artifact, plan: &PushPlan, shell: &Shell) -> Result<Pushed> {
    let started = std::time::Instant::now();
    let creds = credentials::for_host(&Env::from_process(), &plan.dest.host)?;
    shell.verbose(
        "Credentials",
        format!("{} for {}", creds.source, plan.dest.host),
    );
    let pushed = registry::push(artifact, &plan.dest, &plan.opts, &creds, shell)?;
    crate::report::pushed(&plan.dest, &pushed, started.elapsed(), shell);
    Ok(pushed)
}
