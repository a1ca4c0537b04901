//! A push told: its status lines, and the JSON line of `cargo tiny push`.

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::publish::{Pushed, Referrers};
use crate::reference::Destination;
use crate::shell::{human_size, Shell};

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
