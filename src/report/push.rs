//! A push told: its status lines, and the JSON line of `cargo tiny push`.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::publish::push::{PushPlan, RegistryFlags};
use crate::publish::{Pushed, Referrers};
use crate::reference::Destination;
use crate::shell::{human_size, Shell};

/// The command that pushes the tarball at `tarball` again as `plan` says, with the registry flags
/// the build was given (`--insecure-registry`, `--registry-ca`; credentials are never in it: they
/// come from the same files and helpers): `cargo tiny push TARBALL NAME:TAG --tag T…`. Every word
/// a shell word.
pub fn retry_command(tarball: &Path, plan: &PushPlan, flags: &RegistryFlags) -> String {
    let mut words = vec![
        "cargo".to_string(),
        "tiny".into(),
        "push".into(),
        super::shown(tarball),
        super::shell_word(&format!("{}:{}", plan.dest.name(), plan.dest.tag)),
    ];
    for t in plan.tags.iter().filter(|t| **t != plan.dest.tag) {
        words.extend(["--tag".into(), super::shell_word(t)]);
    }
    for h in &flags.insecure_registry {
        words.extend(["--insecure-registry".into(), super::shell_word(h)]);
    }
    for f in &flags.registry_ca {
        words.extend([
            "--registry-ca".into(),
            super::shell_word(&f.display().to_string()),
        ]);
    }
    words.join(" ")
}

/// After a push failed: how to push what was written, one `Retry` line per image not pushed.
pub fn retry(commands: &[String], shell: &Shell) {
    for c in commands {
        shell.note("Retry", c);
    }
}

/// The status lines of a push (`cargo tiny push`).
pub fn pushed(_dest: &Destination, pushed: &Pushed, shell: &Shell) {
    pushed_lines(pushed, shell);
}

/// The status lines of a push: the credentials (`-v`), the digest pushed, the extra tags, the
/// platforms, the referrers.
pub(super) fn pushed_lines(pushed: &Pushed, shell: &Shell) {
    if !pushed.credentials.is_empty() {
        let host = pushed.reference.split('/').next().unwrap_or_default();
        shell.verbose("Credentials", format!("{} for {host}", pushed.credentials));
    }
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
            pushed.reference,
            pushed.digest,
            pushed.took.as_secs_f64()
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
        let subject = pushed
            .attached
            .iter()
            .find(|a| a.digest == *d)
            .map_or(pushed.digest.as_str(), |a| a.subject.as_str());
        let how = match pushed.referrers {
            Some(Referrers::Api) => "indexed by the registry's referrers API".to_string(),
            _ => format!(
                "listed under the fallback tag {}",
                subject.replace(':', "-")
            ),
        };
        shell.status("SBOM", format!("referrer {d} ({how})"));
    }
}

/// The `--message-format json` line of `cargo tiny push`.
#[derive(Serialize)]
struct PushMessage<'a> {
    reason: &'static str,
    path: String,
    pushed: &'a Pushed,
}

/// Prints the JSON line of `cargo tiny push`.
pub fn push_message(tarball: &Path, pushed: &Pushed) -> Result<()> {
    let msg = PushMessage {
        reason: "pushed",
        path: tarball.display().to_string(),
        pushed,
    };
    println!("{}", serde_json::to_string(&msg)?);
    Ok(())
}
