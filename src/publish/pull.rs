//! Reading an image back from a registry, for `cargo tiny verify REF`: the manifest or index the
//! reference names, each platform's manifest and config, the referrers of each (the referrers API
//! `/v2/<name>/referrers/<digest>` and the OCI 1.1 fallback tag `sha256-<hex>`, both read: push
//! writes one or the other), the documents of the referrers the caller wants, and — only when
//! asked, after the signatures were checked — an image's layers.
//!
//! Nothing the registry answers is trusted: every manifest fetched by digest must hash to it (by
//! tag, to the `Docker-Content-Digest` the registry names, when it names one), every blob is hashed
//! as it streams in and bounded by the size its descriptor gives, a referrer must name as its
//! subject the manifest it was listed for. Each lie is one line naming it. Read-only: the token
//! asked for has pull scope; the credentials are push's ([`super::credentials`]), and go only
//! where push sends them ([`super::token`]).
//!
//! Blobs up to 4 MiB are held in memory; larger ones are written to a temporary directory and
//! read back through [`Blob::verified_reader`], as a tarball's large blobs are.

use std::io::Write;

use anyhow::Result;
use serde_json::Value;

use super::credentials;
use super::push::Settings;
use super::registry::{retry, Reach, Session};
use super::registry_errors::{explain, Context, RegistryError as E};
use super::wire::{read_limited, Authz, MANIFEST_MAX};
use crate::error::Failure;
use crate::image::{sha256, Blob, Built, Image, Kind, Referrer, Stored, INDEX, MANIFEST};
use crate::reference::Source;
use crate::target::Target;

/// Docker's manifest list and image manifest (a registry may hold those).
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Blobs up to this size are held in memory.
const IN_MEMORY: u64 = 4 << 20;
/// An image config (parsed as JSON).
const CONFIG_MAX: u64 = 4 << 20;
/// A referrer's config (the empty `{}`, or a small document).
const MAX_CONFIG: u64 = 64 << 10;
/// A Sigstore bundle (a certificate, a log entry and a DSSE envelope: a few KiB; an SBOM
/// attestation holds the SBOM, so some room).
const MAX_BUNDLE: u64 = 64 << 20;
/// Referrers read for one subject (signature, provenance and SBOM attestations, SBOMs, VEX: a
/// handful per signer).
const MAX_REFERRERS: usize = 256;

/// An image read from a registry: its manifests, configs and the wanted referrers with their
/// documents, as a [`Built`]; the layers on demand ([`Remote::with_layers`]).
pub struct Remote {
    pub built: Built,
    /// About the credential files read (ones others may read), as push warns.
    pub warnings: Vec<String>,
    source: Source,
    runtime: tokio::runtime::Runtime,
    session: Session,
    authz: Authz,
    /// Where blobs over [`IN_MEMORY`] are written.
    dir: tempfile::TempDir,
}

/// Which referrers are read, and how large their documents may be.
pub struct Wanted<'a> {
    /// Whether a referrer of this `artifactType` is read (others are left in the registry).
    pub artifact_type: &'a dyn Fn(&str) -> bool,
    /// Largest document read.
    pub max_document: u64,
}

impl Remote {
    /// Reads `source`'s manifests and the referrers `wanted` names, with push's settings
    /// (`--registry-ca`, `--insecure-registry`, the credential files).
    pub fn open(source: &Source, settings: &Settings, wanted: &Wanted<'_>) -> Result<Remote> {
        let host = source.host.as_str();
        let lookup = credentials::find(&settings.env, host)?;
        let warnings = lookup.warnings.clone();
        let creds = lookup.credentials(host)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let reach = Reach {
            roots: &settings.roots,
            insecure: settings.insecure.iter().any(|h| h == host),
            jobs: 1,
        };
        let session = runtime.block_on(Session::new(host, &reach, creds))?;
        let mut remote = Remote {
            built: Built::read_back(
                String::new(),
                String::new(),
                Kind::Image,
                Vec::new(),
                Vec::new(),
                Blob::new(INDEX, Vec::new()),
                0,
            ),
            warnings,
            source: source.clone(),
            runtime,
            session,
            authz: Authz::None,
            dir: tempfile::Builder::new()
                .prefix("cargo-tiny-verify")
                .tempdir()?,
        };
        let scope = format!("repository:{}:pull", source.repository);
        remote.authz = remote
            .runtime
            .block_on(retry(|| {
                super::token::authorize(&remote.session.wire, &remote.session.creds.auth, &scope)
            }))
            .map_err(|e| remote.explain(e, "authenticate"))?;
        remote.built = remote.read(wanted)?;
        Ok(remote)
    }

    /// The image with its layers, each fetched and checked against its digest.
    pub fn with_layers(&self, image: &Image) -> Result<Image> {
        let doc: Value = serde_json::from_slice(&image.manifest.data)?;
        let mut layers = Vec::new();
        for l in doc["layers"].as_array().into_iter().flatten() {
            let (digest, media_type, size) = descriptor(l).ok_or_else(|| {
                self.lie(format!(
                    "the manifest {} names a layer without a digest, media type or size",
                    image.manifest.digest
                ))
            })?;
            layers.push(self.blob(&digest, &media_type, size, u64::MAX)?);
        }
        Ok(Image {
            layers,
            ..image.clone()
        })
    }

    /// The images, the index when the reference names one, and the referrers of each.
    fn read(&self, wanted: &Wanted<'_>) -> Result<Built> {
        let reference = self.source.manifest_reference().to_string();
        let accept = [INDEX, MANIFEST, DOCKER_LIST, DOCKER_MANIFEST].join(", ");
        let (top, named) = self
            .manifest_named(&reference, &accept)?
            .ok_or_else(|| -> anyhow::Error {
                Failure::new(format!(
                    "{}: not found on {}",
                    self.source, self.source.host
                ))
                .hint("check the name and tag, or push it first with `cargo tiny push` or `build --push`")
                .into()
            })?;
        let digest = sha256(&top);
        // By digest: the bytes must be that digest; by tag: the digest the registry names.
        let expected = self.source.digest.clone().or(named);
        if let Some(expected) = expected.filter(|e| *e != digest) {
            return Err(self.lie(format!(
                "the registry's manifest for {} hashes to {digest}, not {expected}",
                self.source.manifest_reference()
            )));
        }
        let doc: Value = serde_json::from_slice(&top)
            .map_err(|_| self.lie(format!("the manifest {digest} is not JSON")))?;
        let mut images = Vec::new();
        let (kind, index) = if doc["manifests"].is_array() {
            for entry in doc["manifests"].as_array().into_iter().flatten() {
                // Attestations an index lists beside the images (as `docker buildx` and
                // cargo-tiny list them) are found as referrers of their subject.
                if entry.get("artifactType").is_some() || entry["platform"]["os"] == "unknown" {
                    continue;
                }
                let Some((d, media_type, _)) = descriptor(entry) else {
                    return Err(self.lie(format!(
                        "the index {digest} lists an entry without a digest, media type or size"
                    )));
                };
                let bytes = self.manifest_by_digest(&d, &media_type)?;
                let m: Value = serde_json::from_slice(&bytes)
                    .map_err(|_| self.lie(format!("the manifest {d} is not JSON")))?;
                if m.get("subject").is_some() {
                    continue;
                }
                images.push(self.image(Blob::new(MANIFEST, bytes), &m)?);
            }
            let media = doc["mediaType"].as_str().unwrap_or(INDEX);
            (Kind::Index, Blob::new(media, top))
        } else {
            images.push(self.image(Blob::new(MANIFEST, top), &doc)?);
            (Kind::Image, Blob::new(INDEX, Vec::new()))
        };
        if images.is_empty() {
            crate::fail!(
                hint = "verify an image cargo-tiny built and pushed",
                "{}: the index {digest} lists no image",
                self.source
            );
        }
        let mut subjects: Vec<String> = images.iter().map(|i| i.manifest.digest.clone()).collect();
        if kind == Kind::Index {
            subjects.push(index.digest.clone());
        }
        let mut referrers = Vec::new();
        for s in &subjects {
            referrers.extend(self.referrers(s, wanted)?);
        }
        let name = format!("{}/{}", self.source.host, self.source.repository);
        Ok(Built::read_back(
            name,
            self.source
                .tag
                .clone()
                .unwrap_or_else(|| self.source.manifest_reference().into()),
            kind,
            images,
            referrers,
            index,
            0,
        ))
    }

    /// One platform's image: its manifest and config (the layers on demand).
    fn image(&self, manifest: Blob, doc: &Value) -> Result<Image> {
        let Some((d, media_type, size)) = descriptor(&doc["config"]) else {
            return Err(self.lie(format!("the manifest {} names no config", manifest.digest)));
        };
        let config = self.blob(&d, &media_type, size, CONFIG_MAX)?;
        let c: Value = serde_json::from_slice(&config.bytes()?)
            .map_err(|_| self.lie(format!("the config {d} is not JSON")))?;
        let platform = format!(
            "{}/{}",
            c["os"].as_str().unwrap_or_default(),
            c["architecture"].as_str().unwrap_or_default()
        );
        let platform = Target::from_platform(&platform).map_err(|_| {
            Failure::new(format!(
                "{}: the manifest {} is for {}, not a platform cargo-tiny builds",
                self.source,
                manifest.digest,
                crate::shell::escape(&platform)
            ))
            .hint("verify an image cargo-tiny built and pushed")
        })?;
        Ok(Image {
            platform,
            manifest,
            config,
            layers: Vec::new(),
        })
    }

    /// The referrers of `subject` listed by the referrers API and under the fallback tag, those of
    /// a wanted artifact type, with their documents.
    fn referrers(&self, subject: &str, wanted: &Wanted<'_>) -> Result<Vec<Referrer>> {
        let repo = &self.source.repository;
        let wire = &self.session.wire;
        let mut listed: Vec<Value> = Vec::new();
        let api = format!("referrers/{subject}");
        let tag = format!("manifests/{}", subject.replace(':', "-"));
        for (what, path) in [("the referrers API", api), ("the referrers tag", tag)] {
            let is_api = path.starts_with("referrers/");
            let body = self.runtime.block_on(async {
                let Some(res) = retry(|| wire.get(repo, &path, INDEX, 0, &self.authz)).await?
                else {
                    return Ok::<_, E>(None);
                };
                read_limited(res, MANIFEST_MAX).await.map(Some)
            });
            let body = match body {
                // A registry without the referrers API may say so with 400, 405 or 501 (the OCI
                // distribution spec names 404); the fallback tag is read either way.
                Err(E::ServerError { code, .. }) if is_api && matches!(code, 400 | 405 | 501) => {
                    None
                }
                other => {
                    other.map_err(|e| self.explain(e, &format!("read {what} of {subject}")))?
                }
            };
            let Some(body) = body else { continue };
            let index: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                // An API answer that is not an index (a registry's HTML page): no API.
                Err(_) if is_api => continue,
                Err(_) => return Err(self.lie(format!("{what} of {subject} is not JSON"))),
            };
            listed.extend(index["manifests"].as_array().into_iter().flatten().cloned());
        }
        if listed.len() > MAX_REFERRERS {
            crate::fail!(
                hint = "verify an image cargo-tiny pushed, or clean the repository's referrers",
                "{}: {} referrers listed for {subject}, more than the {MAX_REFERRERS} read",
                self.source,
                listed.len()
            );
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        for entry in listed {
            let Some((d, _, _)) = descriptor(&entry) else {
                continue;
            };
            if !seen.insert(d.clone()) {
                continue;
            }
            // The listing's artifactType is only a hint (a lie hides a referrer, which then is
            // missing); one it does not give is read from the manifest.
            if let Some(t) = entry["artifactType"].as_str() {
                if !(wanted.artifact_type)(t) {
                    continue;
                }
            }
            let bytes = self.manifest_by_digest(&d, MANIFEST)?;
            let m: Value = serde_json::from_slice(&bytes)
                .map_err(|_| self.lie(format!("the referrer {d} is not JSON")))?;
            let artifact_type = m["artifactType"]
                .as_str()
                .or(m["config"]["mediaType"].as_str())
                .unwrap_or_default();
            if !(wanted.artifact_type)(artifact_type) {
                continue;
            }
            if m["subject"]["digest"] != subject {
                return Err(self.lie(format!(
                    "the referrer {d} listed for {subject} is about {}",
                    crate::shell::escape(m["subject"]["digest"].as_str().unwrap_or("no subject"))
                )));
            }
            let manifest = Blob::new(MANIFEST, bytes);
            // A referrer's config is the empty `{}` (or a small document); a signature bundle is a
            // few KiB: neither gets the SBOMs' bound.
            let max = if artifact_type == crate::sign::bundle::BUNDLE_MEDIA_TYPE {
                MAX_BUNDLE
            } else {
                wanted.max_document
            };
            let fetch = |digest: &str, media_type: &str| -> Result<Blob> {
                let config = m["config"]["digest"] == digest;
                let size = m["layers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain([&m["config"]])
                    .find(|l| l["digest"] == digest)
                    .and_then(|l| l["size"].as_u64())
                    .unwrap_or(0);
                self.blob(
                    digest,
                    media_type,
                    size,
                    if config { MAX_CONFIG } else { max },
                )
            };
            if let Some(r) =
                Referrer::read(&manifest, fetch).map_err(|e| match e.downcast_ref::<Failure>() {
                    // A blob's own failure already names the image.
                    Some(_) => e,
                    None => self.lie(format!("{e:#}")),
                })?
            {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// A manifest by tag or digest and the digest the registry named for it.
    fn manifest_named(
        &self,
        reference: &str,
        accept: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>> {
        let (repo, wire) = (&self.source.repository, &self.session.wire);
        let path = format!("manifests/{reference}");
        self.runtime
            .block_on(async {
                let Some(res) = retry(|| wire.get(repo, &path, accept, 0, &self.authz)).await?
                else {
                    return Ok::<_, E>(None);
                };
                let named = res
                    .headers()
                    .get("Docker-Content-Digest")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string());
                Ok(Some((read_limited(res, MANIFEST_MAX).await?, named)))
            })
            .map_err(|e| self.explain(e, &format!("read the manifest {reference}")))
    }

    /// A manifest by digest, its bytes checked against it.
    fn manifest_by_digest(&self, digest: &str, media_type: &str) -> Result<Vec<u8>> {
        let accept = [media_type, MANIFEST, INDEX, DOCKER_MANIFEST].join(", ");
        let Some((bytes, _)) = self.manifest_named(digest, &accept)? else {
            crate::fail!(
                hint = "the image is incomplete in the registry: push it again",
                "{}: the registry has no manifest {digest}",
                self.source
            );
        };
        let got = sha256(&bytes);
        if got != digest {
            return Err(self.lie(format!("the registry's manifest {digest} hashes to {got}")));
        }
        Ok(bytes)
    }

    /// A blob, streamed and checked against `digest` and `size` as it arrives; refused when its
    /// descriptor says more than `max` bytes.
    fn blob(&self, digest: &str, media_type: &str, size: u64, max: u64) -> Result<Blob> {
        use sha2::Digest as _;
        if size > max {
            crate::fail!(
                hint = "verify an image cargo-tiny built",
                "{}: the blob {} is {size} bytes, more than the {max} read",
                self.source,
                crate::shell::escape(digest)
            );
        }
        if !is_sha256(digest) {
            return Err(self.lie(format!(
                "a descriptor names {} (not a sha256 digest)",
                crate::shell::escape(digest)
            )));
        }
        let (repo, wire) = (&self.source.repository, &self.session.wire);
        let path = self.dir.path().join(digest.replace(':', "-"));
        let mut sink: Box<dyn Write> = if size > IN_MEMORY {
            Box::new(std::io::BufWriter::new(std::fs::File::create(&path)?))
        } else {
            Box::new(Vec::new())
        };
        let mut memory = Vec::new();
        let what = format!("read the blob {digest}");
        let blob_path = format!("blobs/{digest}");
        let (seen, hash) = self
            .runtime
            .block_on(async {
                let Some(mut res) =
                    retry(|| wire.get(repo, &blob_path, "*/*", size, &self.authz)).await?
                else {
                    return Ok::<_, E>(None);
                };
                let mut hasher = sha2::Sha256::new();
                let mut seen = 0u64;
                while let Some(chunk) = res.chunk().await? {
                    seen += chunk.len() as u64;
                    if seen > size {
                        break;
                    }
                    hasher.update(&chunk);
                    if size > IN_MEMORY {
                        sink.write_all(&chunk).map_err(|e| {
                            E::SpecViolationError(format!("cannot write a temporary file: {e}"))
                        })?;
                    } else {
                        memory.extend_from_slice(&chunk);
                    }
                }
                Ok(Some((seen, crate::digest::hex_digest(hasher))))
            })
            .map_err(|e| self.explain(e, &what))?
            .ok_or_else(|| -> anyhow::Error {
                Failure::new(format!(
                    "{}: the registry has no blob {digest}",
                    self.source
                ))
                .hint("the image is incomplete in the registry: push it again")
                .into()
            })?;
        drop(sink);
        if seen != size || hash != digest {
            return Err(self.lie(format!(
                "the registry's blob {digest} is not it ({}{hash})",
                if seen > size {
                    format!("more than its {size} bytes, ")
                } else {
                    format!("{seen} bytes, ")
                }
            )));
        }
        Ok(if size > IN_MEMORY {
            Blob {
                media_type: media_type.to_string(),
                digest: digest.to_string(),
                data: Vec::new(),
                stored: Some(Stored {
                    path,
                    offset: 0,
                    len: size,
                }),
            }
        } else {
            Blob::new(media_type, memory)
        })
    }

    /// A registry answer that is not what was asked for: one line naming it.
    fn lie(&self, what: String) -> anyhow::Error {
        Failure::new(format!("{}: {what}", self.source))
            .hint("the registry (or something between it and you) answered other bytes than the ones pushed: do not trust this image")
            .into()
    }

    fn explain(&self, e: E, what: &str) -> anyhow::Error {
        explain(
            e,
            what,
            &Context {
                dest: &self.source.destination(),
                scheme: self.session.wire.scheme,
                creds: &self.session.creds,
                access: "pull from",
            },
        )
    }
}

/// A descriptor's digest, media type and size; none for a digest that is not `sha256:` and 64
/// lowercase hex digits (it goes into a URL path: `../` must never reach one).
fn descriptor(v: &Value) -> Option<(String, String, u64)> {
    let digest = v["digest"].as_str().filter(|d| is_sha256(d))?;
    Some((
        digest.to_string(),
        v["mediaType"].as_str()?.to_string(),
        v["size"].as_u64()?,
    ))
}

/// `sha256:` and 64 lowercase hex digits (a digest safe to name a file with).
fn is_sha256(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}
