//! `cargo tiny verify TARBALL --key PUB`: the signatures and attestations a `build --sign-key`
//! attached, checked offline against the tarball's own images. For each image manifest: a signature
//! and an SLSA provenance bundle signed by the key and about that manifest's digest, and for each
//! CycloneDX / SPDX 2.3 document attached to it an attestation whose predicate is that document.
//! Exit 0 only when all of it verifies; the first failure is one line naming what failed.
//!
//! Not yet: a registry reference, keyless policies (`--certificate-identity`), the index's own
//! signature, and the SBOM compared with the audit data embedded in the image's binary.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{CommonArgs, MessageFormat};
use crate::error::Failure;
use crate::sbom::Format;
use crate::shell::Shell;
use crate::sign::bundle::BUNDLE_MEDIA_TYPE;
use crate::sign::statement::{DocumentKind, SIGN_V1};
use crate::sign::{keys, provenance, verify};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The image tarball a `cargo tiny build --sign-key` wrote
    #[arg(value_name = "TARBALL")]
    pub tarball: PathBuf,
    /// The public key (PEM) whose private half signed the image
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
    /// Output format for machine-readable results on stdout
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// One verified image: the `verified` JSON line (schema in docs/src/commands/verify.md).
#[derive(Debug, Serialize)]
pub struct VerifiedMessage {
    pub reason: &'static str,
    pub image: String,
    pub platform: String,
    pub manifest_digest: String,
    /// `key <hint>`.
    pub signer: String,
    /// The provenance's builder id and source commit (when it names one).
    pub builder: String,
    pub commit: Option<String>,
    /// The predicate types verified, in the order found.
    pub predicates: Vec<String>,
    /// The SBOM documents whose attestation matched them (`CycloneDX 1.6`, `SPDX 2.3`).
    pub sboms: Vec<String>,
}

pub fn run(args: &VerifyArgs, shell: &Shell) -> Result<i32> {
    let key = keys::public_key_from_file(&args.key).map_err(|e| {
        Failure::new(format!("--key {}: {e:#}", args.key.display()))
            .hint("pass the public half of the signing key (`openssl pkey -in tiny.key -pubout`)")
    })?;
    let loaded = crate::publish::layout::read(&args.tarball)?;
    let built = &loaded.built;
    let policy = verify::Policy::Key(key);
    let root = verify::keys_only_root();
    let reference = built.reference();
    for image in &built.images {
        let digest = &image.manifest.digest;
        let platform = image.platform.platform();
        let at = format!("{reference} ({platform}, {digest})");
        let mut found: Vec<verify::Verified> = Vec::new();
        for r in built
            .referrers_of(digest)
            .filter(|r| r.artifact_type == BUNDLE_MEDIA_TYPE)
        {
            let what = format!("{at}: the bundle {}", r.manifest.digest);
            found.push(verify::verify(
                &what,
                &r.document.data,
                digest,
                &policy,
                &root,
            )?);
        }
        let has = |t: &str| found.iter().find(|v| v.predicate_type == t);
        if has(SIGN_V1).is_none() {
            crate::fail!(
                hint = "sign it with `cargo tiny build --sign-key KEY`",
                "{at}: no signature"
            );
        }
        let Some(prov) = has(provenance::PREDICATE_TYPE) else {
            crate::fail!(
                hint = "sign it with `cargo tiny build --sign-key KEY`",
                "{at}: no SLSA provenance"
            );
        };
        // Every CycloneDX / SPDX 2.3 document attached is attested, with the very same content.
        let mut sboms = Vec::new();
        for r in built.referrers_of(digest) {
            let Some(format) = Format::FILES
                .into_iter()
                .find(|f| f.media_type() == r.artifact_type)
            else {
                continue;
            };
            let kind = match format {
                Format::CycloneDx(_) => DocumentKind::CycloneDx,
                Format::Spdx2 => DocumentKind::Spdx,
                Format::Spdx3 => continue,
            };
            let doc: Value = serde_json::from_slice(&r.document.data).map_err(|e| {
                Failure::new(format!(
                    "{at}: the {} document is not JSON: {e}",
                    kind.name()
                ))
            })?;
            let attested = found
                .iter()
                .filter(|v| v.predicate_type == kind.predicate_type())
                .any(|v| v.predicate == doc);
            if !attested {
                crate::fail!(
                    hint = "the document was changed after signing, or was not signed: build and sign again",
                    "{at}: the {} {} has no attestation with its content",
                    kind.name(),
                    r.document.digest
                );
            }
            let version = doc["specVersion"]
                .as_str()
                .or(doc["spdxVersion"].as_str())
                .unwrap_or("");
            sboms.push(format!("{} {version}", kind.name()).trim().to_string());
        }
        let builder = prov.predicate["runDetails"]["builder"]["id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let commit = prov.predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .find_map(|d| d["digest"]["gitCommit"].as_str())
            .map(str::to_owned);
        let msg = VerifiedMessage {
            reason: "verified",
            image: reference.clone(),
            platform: platform.clone(),
            manifest_digest: digest.clone(),
            signer: prov.signer.clone(),
            builder,
            commit,
            predicates: found.iter().map(|v| v.predicate_type.clone()).collect(),
            sboms,
        };
        shell.status(
            "Verified",
            format!(
                "{} {} {}: signed by {}, built by {}{}; {} attestation{} ({})",
                msg.image,
                msg.platform,
                msg.manifest_digest,
                msg.signer,
                msg.builder,
                msg.commit
                    .as_deref()
                    .map(|c| format!(" from commit {c}"))
                    .unwrap_or_default(),
                msg.predicates.len(),
                if msg.predicates.len() == 1 { "" } else { "s" },
                if msg.sboms.is_empty() {
                    "no SBOM".to_string()
                } else {
                    format!("SBOMs: {}", msg.sboms.join(", "))
                }
            ),
        );
        if args.message_format == MessageFormat::Json {
            println!("{}", serde_json::to_string(&msg)?);
        }
    }
    Ok(0)
}
