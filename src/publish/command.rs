//! `cargo tiny push TARBALL [REFERENCE]` and the push step of `cargo tiny build --push`.

use anyhow::Result;

use super::credentials::{self, Env};
use super::reference::{self, Destination};
use super::{layout, registry, Artifact, PushOptions, Pushed};
use crate::cli::{MessageFormat, PushArgs, RegistryArgs};
use crate::config;
use crate::shell::Shell;

/// Blob uploads in flight at once.
const JOBS: usize = 4;

/// Where one image goes and how; decided before anything is built.
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub dest: Destination,
    pub opts: PushOptions,
}

/// The push plan of an image named `name:tag`, with the metadata's `tags` and the command line's.
pub fn plan(name: &str, tag: &str, config_tags: &[String], cli: &RegistryArgs) -> Result<PushPlan> {
    let dest = reference::destination(name, tag)?;
    Ok(PushPlan {
        dest,
        opts: options(config_tags, cli)?,
    })
}

fn options(config_tags: &[String], cli: &RegistryArgs) -> Result<PushOptions> {
    let mut tags: Vec<String> = config_tags.to_vec();
    for t in &cli.tag {
        config::check_tag(t).map_err(|w| {
            crate::error::Failure::new(format!("--tag: {w}"))
                .hint("use up to 128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`")
        })?;
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Ok(PushOptions {
        tags,
        insecure: cli.insecure_registry.clone(),
        registry_ca: cli.registry_ca.clone(),
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

/// `cargo tiny push`.
pub fn run(args: &PushArgs, shell: &Shell) -> Result<()> {
    let loaded = layout::read(&args.tarball)?;
    let built = loaded.reference.clone();
    let (name, tag) = match (&args.reference, &built) {
        (Some(r), _) => {
            let default_tag = built
                .as_deref()
                .and_then(|b| config::split_reference(b).1)
                .unwrap_or_else(|| "latest".into());
            let d = reference::parse(r, &default_tag)?;
            (d.name(), d.tag)
        }
        (None, Some(b)) => {
            let (n, t) = config::split_reference(b);
            (n, t.unwrap_or_else(|| "latest".into()))
        }
        (None, None) => crate::fail!(
            hint = "pass the destination: cargo tiny push TARBALL HOST/NAME:TAG",
            "{} does not say which name it was built as",
            args.tarball.display()
        ),
    };
    let plan = plan(&name, &tag, &[], &args.registry)?;
    let pushed = push(&loaded.artifact, &plan, shell)?;
    if args.message_format == MessageFormat::Json {
        crate::report::push_message(&args.tarball, &pushed)?;
    }
    Ok(())
}
