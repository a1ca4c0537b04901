//! `cargo tiny verify TARBALL|REF`: the signatures and attestations a `build --sign` / `--sign-key`
//! attached, checked against the image's own manifests — offline in a tarball, or read from a
//! registry ([`crate::publish::pull`]: by tag or digest, the referrers through the referrers API
//! and the fallback tag, every answer checked against its digest) —, with a public key (`--key`) or a
//! keyless signer's identity and OIDC issuer (`--certificate-identity`/`--certificate-oidc-issuer`,
//! or their `-regexp` variants) under a trust root (`--trusted-root`, else Sigstore's public-good
//! one). For each image manifest: a signature and an SLSA provenance bundle by that signer and
//! about that manifest's digest, and for each CycloneDX / SPDX 2.3 document attached to it an
//! attestation whose predicate is that document; for the index of several platforms, its own
//! signature and provenance. Exit 0 only when all of it verifies; the first failure is one line
//! naming what failed.
//!
//! Each SBOM must list exactly the packages of the audit data cargo-auditable embedded in the
//! image's binary (read from its layer, see [`crate::image_audit`]; from a registry, the layers are
//! fetched only once the image's signature and provenance verified).
//!
//! Which one the argument is: a path that exists is a tarball; anything else must be a registry
//! reference with a host (`HOST[:PORT]/NAME[:TAG][@sha256:HEX]`, the grammar push uses).

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
    /// The image tarball a `cargo tiny build --sign` or `--sign-key` wrote, or an image in a registry: HOST/NAME[:TAG] or HOST/NAME@sha256:HEX (a path that exists is the tarball)
    #[arg(value_name = "TARBALL|REF")]
    pub image: PathBuf,
    /// The public key (PEM) whose private half signed the image
    #[arg(long, value_name = "PUB", help_heading = "Signer")]
    pub key: Option<PathBuf>,
    /// Keyless: the identity the signing certificate must name (a workflow URI, an email)
    #[arg(long, value_name = "ID", help_heading = "Signer", conflicts_with_all = ["key", "certificate_identity_regexp"])]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole identity must match
    #[arg(
        long,
        value_name = "RE",
        help_heading = "Signer",
        conflicts_with = "key"
    )]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer the certificate must name (https://token.actions.githubusercontent.com for GitHub Actions)
    #[arg(long, value_name = "URL", help_heading = "Signer", conflicts_with_all = ["key", "certificate_oidc_issuer_regexp"])]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: a regular expression the whole issuer must match
    #[arg(
        long,
        value_name = "RE",
        help_heading = "Signer",
        conflicts_with = "key"
    )]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Keyless: the Sigstore trust root (trusted_root.json) the certificates, log entries and timestamps chain to [default: Sigstore's public-good instance]
    #[arg(
        long,
        value_name = "FILE",
        help_heading = "Signer",
        conflicts_with = "key"
    )]
    pub trusted_root: Option<PathBuf>,
    /// Registry reference: trust this PEM CA for registry TLS, besides the system roots (repeatable)
    #[arg(long, value_name = "FILE", help_heading = "Registry")]
    pub registry_ca: Vec<PathBuf>,
    /// Registry reference: reach this registry host[:port] over plain HTTP (loopback hosts may use HTTP without it)
    #[arg(long, value_name = "HOST", help_heading = "Registry")]
    pub insecure_registry: Vec<String>,
    /// Output format for machine-readable results on stdout
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

/// One verified image (or index): the `verified` JSON line (schema in docs/src/commands/verify.md).
#[derive(Debug, Serialize)]
pub struct VerifiedMessage {
    pub reason: &'static str,
    pub image: String,
    /// `linux/amd64`, or `index` for the index of several platforms.
    pub platform: String,
    pub manifest_digest: String,
    /// `key <hint>`, or the certificate's identity.
    pub signer: String,
    /// The certificate's OIDC issuer (keyless).
    pub issuer: Option<String>,
    /// When the signature was logged or timestamped (RFC 3339), keyless.
    pub signed_at: Option<String>,
    /// The provenance's builder id and source commit (when it names one).
    pub builder: String,
    pub commit: Option<String>,
    /// The tools the provenance says ran, by name (`rustc`, `cargo`, `cargo-auditable`,
    /// `cargo-tiny`) → version as each prints it (`1.95.0 (59807616e 2026-04-14)`, `0.7.7`).
    pub toolchain: std::collections::BTreeMap<String, String>,
    /// The predicate types verified, in the order found.
    pub predicates: Vec<String>,
    /// The SBOM documents whose attestation matched them (`CycloneDX 1.6`, `SPDX 2.3`), each
    /// listing exactly the packages of the binary's audit data.
    pub sboms: Vec<String>,
    /// How many packages of the binary's audit data each SBOM lists (absent for the index): all of
    /// them but those the signed provenance says the build never compiled (`not_compiled`).
    pub packages: Option<usize>,
    pub not_compiled: usize,
}

/// Largest bundle or SBOM document read.
pub const MAX_DOCUMENT: u64 = 1 << 30;

/// Where the image is.
enum Source {
    Tarball(Box<crate::publish::layout::Loaded>),
    Registry(Box<crate::publish::pull::Remote>),
}

impl Source {
    fn built(&self) -> &crate::image::Built {
        match self {
            Source::Tarball(l) => &l.built,
            Source::Registry(r) => &r.built,
        }
    }

    /// The image with its layers (from a registry: fetched now).
    fn with_layers<'a>(
        &self,
        image: &'a crate::image::Image,
    ) -> Result<std::borrow::Cow<'a, crate::image::Image>> {
        Ok(match self {
            Source::Tarball(_) => std::borrow::Cow::Borrowed(image),
            Source::Registry(r) => std::borrow::Cow::Owned(r.with_layers(image)?),
        })
    }
}

/// The referrers verify reads: signature bundles and SBOM documents.
fn wanted(artifact_type: &str) -> bool {
    artifact_type == BUNDLE_MEDIA_TYPE
        || Format::FILES
            .into_iter()
            .any(|f| f.media_type() == artifact_type)
}

/// A path that exists is a tarball; else a registry reference with a host.
fn open(args: &VerifyArgs, shell: &Shell) -> Result<(Source, String)> {
    let arg = &args.image;
    if arg.exists() {
        if !args.registry_ca.is_empty() || !args.insecure_registry.is_empty() {
            crate::fail!(
                hint = "--registry-ca and --insecure-registry are for a registry reference; drop them for a tarball",
                "{} is a file (a tarball), read offline: no registry is reached",
                crate::shell::escape(&arg.to_string_lossy())
            );
        }
        let loaded = crate::publish::layout::read(arg)?;
        let reference = loaded.built.reference();
        return Ok((Source::Tarball(Box::new(loaded)), reference));
    }
    let Some(source) = arg.to_str().and_then(crate::reference::parse_source) else {
        crate::fail!(
            hint = "pass the tarball `cargo tiny build` wrote (target/tiny/NAME.tar), or an image in a registry: HOST/NAME:TAG or HOST/NAME@sha256:HEX",
            "{}: no such file, and not a registry reference",
            crate::shell::escape(&arg.to_string_lossy())
        );
    };
    let flags = crate::publish::push::RegistryFlags {
        tags: Vec::new(),
        registry_ca: args.registry_ca.clone(),
        insecure_registry: args.insecure_registry.clone(),
    };
    let settings = crate::publish::push::Settings::new(
        &flags,
        crate::publish::credentials::Env::from_process(),
    )?;
    let remote = crate::publish::pull::Remote::open(
        &source,
        &settings,
        &crate::publish::pull::Wanted {
            artifact_type: &wanted,
            max_document: MAX_DOCUMENT,
        },
    )?;
    for w in &remote.warnings {
        shell.warn(w);
    }
    Ok((Source::Registry(Box::new(remote)), source.to_string()))
}

/// A referrer's document: from memory, or (one over the size a tarball's blobs are read into
/// memory up to) from the tarball, its bytes checked against its digest on the way; bounded.
fn document_bytes(blob: &crate::image::Blob) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    if blob.size() > MAX_DOCUMENT {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {MAX_DOCUMENT} read",
            blob.size()
        )));
    }
    let mut out = Vec::with_capacity(blob.size() as usize);
    blob.verified_reader()?
        .take(MAX_DOCUMENT)
        .read_to_end(&mut out)?;
    Ok(out)
}

const SIGN_HINT: &str = "sign it with `cargo tiny build --sign` (keyless) or `--sign-key KEY`";

/// The signer policy and trust root the flags name.
fn policy(args: &VerifyArgs) -> Result<(verify::Policy, sigstore_trust_root::TrustedRoot)> {
    let identity = match (
        &args.certificate_identity,
        &args.certificate_identity_regexp,
    ) {
        (Some(i), _) => Some(verify::Matcher::Exact(i.clone())),
        (None, Some(re)) => Some(
            verify::Matcher::regex(re)
                .map_err(|e| Failure::new(format!("--certificate-identity-regexp: {e:#}")))?,
        ),
        (None, None) => None,
    };
    let issuer = match (
        &args.certificate_oidc_issuer,
        &args.certificate_oidc_issuer_regexp,
    ) {
        (Some(i), _) => Some(verify::Matcher::Exact(i.clone())),
        (None, Some(re)) => Some(
            verify::Matcher::regex(re)
                .map_err(|e| Failure::new(format!("--certificate-oidc-issuer-regexp: {e:#}")))?,
        ),
        (None, None) => None,
    };
    match (&args.key, identity, issuer) {
        (Some(path), None, None) => {
            let key = keys::public_key_from_file(path).map_err(|e| {
                Failure::new(format!("--key {}: {e:#}", path.display())).hint(
                    "pass the public half of the signing key (`openssl pkey -in tiny.key -pubout`)",
                )
            })?;
            Ok((verify::Policy::Key(key), verify::keys_only_root()))
        }
        (None, Some(identity), Some(issuer)) => {
            let root = match &args.trusted_root {
                Some(path) => verify::root_from_file(path)?,
                None => verify::public_good_root(),
            };
            Ok((verify::Policy::Identity { identity, issuer }, root))
        }
        (None, Some(_), None) | (None, None, Some(_)) => crate::fail!(
            hint = "give both, e.g. --certificate-identity https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main --certificate-oidc-issuer https://token.actions.githubusercontent.com",
            "a keyless signer is named by its identity and its OIDC issuer, and one of them is missing"
        ),
        _ => crate::fail!(
            hint = "pass --key PUB (signed with --sign-key), or --certificate-identity and --certificate-oidc-issuer (signed keylessly)",
            "verify needs to know who must have signed"
        ),
    }
}

pub fn run(args: &VerifyArgs, shell: &Shell) -> Result<i32> {
    let (policy, root) = policy(args)?;
    let (source, reference) = open(args, shell)?;
    let built = source.built();
    // Each platform's manifest, then the index of several platforms.
    let mut subjects: Vec<(&crate::image::Blob, String, Option<&crate::image::Image>)> = built
        .images
        .iter()
        .map(|i| (&i.manifest, i.platform.platform(), Some(i)))
        .collect();
    if built.kind == crate::image::Kind::Index {
        subjects.push((&built.index, "index".to_string(), None));
    }
    // The JSON lines, printed once everything verified (nothing on stdout otherwise).
    let mut messages = Vec::new();
    for (manifest, platform, image) in subjects {
        let digest = &manifest.digest;
        let at = format!("{reference} ({platform}, {digest})");
        let mut found: Vec<verify::Verified> = Vec::new();
        let mut rejected: Option<anyhow::Error> = None;
        for r in built
            .referrers_of(digest)
            .filter(|r| r.artifact_type == BUNDLE_MEDIA_TYPE)
        {
            let what = format!("{at}: the bundle {}", r.manifest.digest);
            let bundle =
                document_bytes(&r.document).map_err(|e| Failure::new(format!("{what}: {e}")))?;
            // A bundle by another signer (a registry may hold several: cosign's, a second key's)
            // is not this signer's; the first such failure is what is said when nothing of this
            // signer is found.
            match verify::verify(&what, &bundle, digest, &policy, &root) {
                Ok(v) => found.push(v),
                Err(e) => {
                    rejected.get_or_insert(e);
                }
            }
        }
        let has = |t: &str| found.iter().find(|v| v.predicate_type == t);
        let Some(sig) = has(SIGN_V1) else {
            if let Some(e) = rejected {
                return Err(e);
            }
            crate::fail!(hint = SIGN_HINT, "{at}: no signature");
        };
        let Some(prov) = has(provenance::PREDICATE_TYPE) else {
            if let Some(e) = rejected {
                return Err(e);
            }
            crate::fail!(hint = SIGN_HINT, "{at}: no SLSA provenance");
        };
        // Every CycloneDX / SPDX 2.3 document attached is attested, with the very same content.
        let mut sboms = Vec::new();
        // The packages in the binary's own audit data, which each SBOM must list exactly.
        let packages = match image {
            Some(image) => Some(
                crate::image_audit::binary_packages(&*source.with_layers(image)?)
                    .map_err(|why| Failure::new(format!("{at}: {why}")))?,
            ),
            None => None,
        };
        // Less what the signed provenance says this build never compiled (cargo-auditable lists
        // packages of weak features that are off; the SBOM leaves them out).
        let not_compiled = &prov.predicate["buildDefinition"]["internalParameters"]
            [crate::compile::signing::NOT_COMPILED][&platform];
        let mut excluded = 0;
        let packages = packages.map(|mut binary| {
            for p in not_compiled.as_array().into_iter().flatten() {
                if let Some((name, version)) = p.as_str().and_then(|p| p.split_once('@')) {
                    excluded +=
                        usize::from(binary.remove(&(name.to_string(), version.to_string())));
                }
            }
            binary
        });
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
            let bytes = document_bytes(&r.document)
                .map_err(|e| Failure::new(format!("{at}: the {} document: {e}", kind.name())))?;
            let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
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
                if rejected.is_some() {
                    // Another signer's bundles are beside this signer's: their SBOMs are theirs.
                    // That this signer's own are here is checked below, from its provenance.
                    shell.warn(format!(
                        "{at}: the {} {} has no attestation by this signer: passed over",
                        kind.name(),
                        r.document.digest
                    ));
                    continue;
                }
                crate::fail!(
                    hint = "the document was changed after signing, or was not signed: build and sign again",
                    "{at}: the {} {} has no attestation with its content",
                    kind.name(),
                    r.document.digest
                );
            }
            if let Some(binary) = &packages {
                let listed = crate::image_audit::document_packages(&doc);
                if let Some(diff) = crate::image_audit::difference(binary, &listed) {
                    crate::fail!(
                        hint = "the SBOM does not describe this binary: build and sign again",
                        "{at}: the {} {} {diff}",
                        kind.name(),
                        r.document.digest
                    );
                }
            }
            let version = doc["specVersion"]
                .as_str()
                .or(doc["spdxVersion"].as_str())
                .unwrap_or("");
            sboms.push(format!("{} {version}", kind.name()).trim().to_string());
        }
        // The SBOMs this signer's provenance says the build attached are all here and attested
        // (a registry that hides one does not make an image without it pass).
        if image.is_some() {
            let named = prov.predicate["buildDefinition"]["externalParameters"]["sbom"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str);
            for name in named {
                let kind = if name.starts_with("CycloneDX") {
                    DocumentKind::CycloneDx
                } else if name == "SPDX 2.3" {
                    DocumentKind::Spdx
                } else {
                    // SPDX 3.0.1 is attached without an attestation (no vetted predicate).
                    continue;
                };
                if !sboms.iter().any(|s| s.starts_with(kind.name())) {
                    crate::fail!(
                        hint = "the registry or tarball lost the SBOM the build attached: push or build again",
                        "{at}: the signed provenance names the {} ({}), and none with an attestation by this signer is attached",
                        kind.name(),
                        crate::shell::escape(name)
                    );
                }
            }
        }
        let builder = prov.predicate["runDetails"]["builder"]["id"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let commit = prov.predicate["buildDefinition"]["resolvedDependencies"]
            .as_array()
            .into_iter()
            .flatten()
            // The source's entry (`git+…`), not a tool's (rustc's has its own gitCommit).
            .filter(|d| d["uri"].as_str().is_some_and(|u| u.starts_with("git+")))
            .find_map(|d| d["digest"]["gitCommit"].as_str())
            .map(str::to_owned);
        let msg = VerifiedMessage {
            reason: "verified",
            image: reference.clone(),
            platform: platform.clone(),
            manifest_digest: digest.clone(),
            signer: sig.signer.clone(),
            issuer: sig.issuer.clone(),
            signed_at: sig.signed_at.map(crate::source_date::rfc3339),
            builder,
            commit,
            toolchain: provenance::tools_of(&prov.predicate),
            predicates: found.iter().map(|v| v.predicate_type.clone()).collect(),
            sboms,
            packages: packages.as_ref().map(|p| p.len()),
            not_compiled: excluded,
        };
        shell.status(
            "Verified",
            format!(
                "{} {} {}: signed by {}{}{}, built by {}{}{}; {} attestation{} ({})",
                msg.image,
                msg.platform,
                msg.manifest_digest,
                msg.signer,
                msg.issuer
                    .as_deref()
                    .map(|i| format!(" (issuer {i})"))
                    .unwrap_or_default(),
                msg.signed_at
                    .as_deref()
                    .map(|t| format!(" at {t}"))
                    .unwrap_or_default(),
                msg.builder,
                msg.commit
                    .as_deref()
                    .map(|c| format!(" from commit {c}"))
                    .unwrap_or_default(),
                built_with(&msg.toolchain),
                msg.predicates.len(),
                if msg.predicates.len() == 1 { "" } else { "s" },
                match (msg.sboms.is_empty(), msg.packages) {
                    (true, _) => "no SBOM".to_string(),
                    (false, Some(n)) => format!(
                        "SBOMs: {} = the binary's {n} audited package{}{}",
                        msg.sboms.join(", "),
                        if n == 1 { "" } else { "s" },
                        match excluded {
                            0 => String::new(),
                            e => format!(", {e} more never compiled"),
                        }
                    ),
                    (false, None) => format!("SBOMs: {}", msg.sboms.join(", ")),
                }
            ),
        );
        if args.message_format == MessageFormat::Json {
            messages.push(serde_json::to_string(&msg)?);
        }
    }
    for m in messages {
        println!("{m}");
    }
    Ok(0)
}

/// ` with rustc 1.95.0 (59807616e 2026-04-14), cargo-auditable 0.7.7`, or nothing.
fn built_with(toolchain: &std::collections::BTreeMap<String, String>) -> String {
    let named: Vec<String> = ["rustc", "cargo-auditable"]
        .iter()
        .filter_map(|t| toolchain.get(*t).map(|v| format!("{t} {v}")))
        .collect();
    match named.is_empty() {
        true => String::new(),
        false => format!(" with {}", crate::shell::escape(&named.join(", "))),
    }
}
