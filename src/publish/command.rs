//! `cargo tiny push TARBALL [REFERENCE]` and the push step of `cargo tiny build --push`.

use anyhow::Result;
use serde::Serialize;

use super::credentials::{self, Env};
use super::reference::{self, Destination};
use super::{layout, registry, Artifact, PushOptions, Pushed, Referrers};
use crate::cli::{MessageFormat, PushArgs, RegistryArgs};
use crate::config;
use crate::shell::{human_size, Shell};

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

/// Pushes one image and prints its status line.
pub fn push(artifact: &Artifact, plan: &PushPlan, shell: &Shell) -> Result<Pushed> {
    let started = std::time::Instant::now();
    let creds = credentials::for_host(&Env::from_process(), &plan.dest.host)?;
    shell.verbose(
        "Credentials",
        format!("{} for {}", creds.source, plan.dest.host),
    );
    let pushed = registry::push(artifact, &plan.dest, &plan.opts, &creds, shell)?;
    let uploaded = if pushed.uploaded_blobs == 0 {
        "no blob uploaded".to_string()
    } else {
        format!(
            "{} blob{} uploaded, {}",
            pushed.uploaded_blobs,
            if pushed.uploaded_blobs == 1 { "" } else { "s" },
            human_size(pushed.uploaded_bytes)
        )
    };
    shell.status(
        "Pushed",
        format!(
            "{}@{} ({uploaded}, {:.1}s)",
            plan.dest.reference(),
            pushed.digest,
            started.elapsed().as_secs_f64()
        ),
    );
    for t in pushed.tags.iter().skip(1) {
        shell.status("Tagged", t);
    }
    if !pushed.manifests.is_empty() {
        shell.status(
            "Platforms",
            format!(
                "{} image manifests under the index, each pushed by digest with its SBOM referrer: {}",
                pushed.manifests.len(),
                pushed.manifests.join(", ")
            ),
        );
    }
    if let Some(d) = &pushed.sbom_digest {
        let how = match pushed.referrers {
            Some(Referrers::Api) => "indexed by the registry's referrers API".to_string(),
            _ => format!(
                "listed under the fallback tag {}",
                pushed.digest.replace(':', "-")
            ),
        };
        shell.status("SBOM", format!("referrer {d} ({how})"));
    }
    Ok(pushed)
}

#[derive(Serialize)]
struct PushMessage<'a> {
    reason: &'static str,
    path: String,
    pushed: &'a Pushed,
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
        let msg = PushMessage {
            reason: "pushed",
            path: args.tarball.display().to_string(),
            pushed: &pushed,
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    Ok(())
}
