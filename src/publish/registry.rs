//! The registry publisher, on `oci-client` (its client, auth flows, HEAD/mount/chunked upload and
//! manifest PUT), driven on a current-thread tokio runtime.
//!
//! Order, so that a failed push leaves the tag as it was: blobs (HEAD first; mount from the repository
//! the image was built as when that is on the same registry; else upload, chunked) → image manifest by
//! digest → SBOM referrer manifest by digest → when the registry did not answer `OCI-Subject`, the OCI
//! 1.1 fallback tag `sha256-<hex>` (an index, merged with the referrers already there) → the tags, last.
//!
//! Written by hand, because oci-client does not expose it: the referrer PUT (to read the `OCI-Subject`
//! response header), retries with back-off, and the plain-HTTP probe for loopback registries.
//!
//! Over 400 lines: ~510 of code for one push session (blob HEAD/mount/upload with retries, manifests,
//! the referrers fallback, tags) and ~50 of tests; what a registry's error means is in
//! `registry_errors.rs`.

use std::future::Future;
use std::time::Duration;

use anyhow::Result;
use futures_util::{StreamExt, TryStreamExt};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::OciDistributionError as E;
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::header::HeaderValue;
use serde_json::{json, Value};

use super::credentials::Credentials;
use super::progress::Progress;
use super::registry_errors::{
    error_chain, is_not_found, is_tls, last_cause, one_line, registry_codes, retryable,
    speaks_plain_http, status_of,
};
use super::{Artifact, Manifest, PushOptions, Pushed, Referrers};
use crate::error::Failure;
use crate::image::{canonical_json, Blob, INDEX};
use crate::reference::{self, Destination};
use crate::shell::Shell;

/// Blobs at least this large are streamed in chunks, with a progress indicator.
const LARGE: u64 = 1024 * 1024;
const ATTEMPTS: u32 = 5;

/// Pushes the artifact to `dest` and its extra tags.
pub fn push(
    artifact: &Artifact,
    dest: &Destination,
    opts: &PushOptions,
    creds: &Credentials,
    shell: &Shell,
) -> Result<Pushed> {
    // reqwest is built without a provider (no aws-lc C build): ring, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let s = Session::new(dest, opts, creds).await?;
        s.push(artifact, opts, shell).await
    })
}

struct Session<'a> {
    client: Client,
    raw: reqwest::Client,
    scheme: &'static str,
    dest: &'a Destination,
    creds: &'a Credentials,
    bearer: Option<String>,
}

fn ca_certificates(opts: &PushOptions) -> Result<Vec<Vec<u8>>> {
    let mut v = Vec::new();
    for f in &opts.registry_ca {
        let data = std::fs::read(f).map_err(|e| {
            Failure::new(format!("cannot read --registry-ca {}: {e}", f.display()))
                .hint("pass the PEM file of the CA that signed the registry's certificate")
        })?;
        if reqwest::Certificate::from_pem_bundle(&data).map_or(true, |c| c.is_empty()) {
            crate::fail!(
                hint = "pass a PEM file (-----BEGIN CERTIFICATE-----)",
                "--registry-ca {} holds no PEM certificate",
                f.display()
            );
        }
        v.push(data);
    }
    Ok(v)
}

impl<'a> Session<'a> {
    async fn new(
        dest: &'a Destination,
        opts: &'a PushOptions,
        creds: &'a Credentials,
    ) -> Result<Session<'a>> {
        let cas = ca_certificates(opts)?;
        let mut raw = reqwest::Client::builder()
            .user_agent(concat!("cargo-tiny/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30));
        let mut roots = Vec::new();
        for pem in &cas {
            roots.extend(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        raw = raw.tls_certs_merge(roots);
        let raw = raw.build()?;
        let host = dest.host.as_str();
        let scheme = if opts.insecure.iter().any(|h| h == host) {
            "http"
        } else if reference::is_loopback(host) {
            // As docker does for loopback registries: HTTPS when the registry speaks it, else HTTP.
            // A TLS server answers a ClientHello at once; one that stays silent is not one.
            match raw
                .get(format!("https://{host}/v2/"))
                .timeout(Duration::from_secs(3))
                .send()
                .await
            {
                Err(e) if speaks_plain_http(&e) || e.is_timeout() => "http",
                _ => "https",
            }
        } else {
            "https"
        };
        let protocol = if scheme == "http" {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let config = ClientConfig {
            protocol,
            extra_root_certificates: cas
                .into_iter()
                .map(|data| Certificate {
                    encoding: CertificateEncoding::Pem,
                    data,
                })
                .collect(),
            max_concurrent_upload: opts.jobs.max(1),
            connect_timeout: Some(Duration::from_secs(30)),
            user_agent: concat!("cargo-tiny/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let client = Client::try_from(config)?;
        let mut s = Session {
            client,
            raw,
            scheme,
            dest,
            creds,
            bearer: None,
        };
        let r = s.reference(None);
        let bearer = s
            .retry(|| s.client.auth(&r, &s.creds.auth, RegistryOperation::Push))
            .await
            .map_err(|e| s.explain(e, "authenticate"))?;
        s.bearer = bearer;
        Ok(s)
    }

    fn reference(&self, tag: Option<&str>) -> Reference {
        Reference::with_tag(
            self.dest.host.clone(),
            self.dest.repository.clone(),
            tag.unwrap_or(&self.dest.tag).to_string(),
        )
    }

    fn by_digest(&self, digest: &str) -> Reference {
        Reference::with_digest(
            self.dest.host.clone(),
            self.dest.repository.clone(),
            digest.to_string(),
        )
    }

    async fn push(&self, a: &Artifact, opts: &PushOptions, shell: &Shell) -> Result<Pushed> {
        let mut blobs: Vec<&Blob> = a.image.blobs.iter().collect();
        if let Some(r) = &a.referrer {
            blobs.extend(&r.blobs);
        }
        for (m, r) in &a.others {
            blobs.extend(&m.blobs);
            if let Some(r) = r {
                blobs.extend(&r.blobs);
            }
        }
        blobs.sort_by(|x, y| x.digest.cmp(&y.digest));
        blobs.dedup_by(|x, y| x.digest == y.digest);

        // Cross-repository mount source: the repository the image was built as, on this registry.
        let mount_from = reference::registry_host(&a.built_as)
            .filter(|(h, repo)| *h == self.dest.host && *repo != self.dest.repository)
            .map(|(h, repo)| Reference::with_tag(h.to_string(), repo.to_string(), "x".into()));

        let progress = Progress::new(shell);
        let outcomes: Vec<Outcome> = futures_util::stream::iter(blobs)
            .map(|b| self.push_blob(b, mount_from.as_ref(), &progress))
            .buffer_unordered(opts.jobs.max(1))
            .try_collect()
            .await?;
        progress.finish();

        let image = &a.image;
        let referrers = self.put_image(image, a.referrer.as_ref()).await?;
        // A multi-platform image: every other platform by digest, then the index under the tags.
        for (m, r) in &a.others {
            self.put_image(m, r.as_ref()).await?;
        }
        let tagged = a.index.as_ref().unwrap_or(&image.manifest);
        let mut tags = vec![self.dest.tag.clone()];
        for t in &opts.tags {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
        for t in &tags {
            self.put_manifest(&self.reference(Some(t)), tagged).await?;
        }
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
        Ok(Pushed {
            reference: self.dest.reference(),
            digest: tagged.digest.clone(),
            manifests: if a.index.is_some() {
                std::iter::once(&image.manifest.digest)
                    .chain(a.others.iter().map(|(m, _)| &m.manifest.digest))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
            sbom_digest: a.referrer.as_ref().map(|r| r.manifest.digest.clone()),
            referrers,
            tags: tags
                .iter()
                .map(|t| self.dest.with_tag(t).reference())
                .collect(),
            uploaded_blobs: outcomes
                .iter()
                .filter(|o| matches!(o, Outcome::Uploaded(_)))
                .count(),
            uploaded_bytes: outcomes
                .iter()
                .map(|o| match o {
                    Outcome::Uploaded(n) => *n,
                    _ => 0,
                })
                .sum(),
            existing_blobs: count(Outcome::Existing),
            mounted_blobs: count(Outcome::Mounted),
        })
    }

    async fn push_blob(
        &self,
        b: &Blob,
        mount_from: Option<&Reference>,
        progress: &Progress<'_>,
    ) -> Result<Outcome> {
        let r = self.reference(None);
        let what = format!("check blob {}", b.digest);
        if self
            .retry(|| self.client.blob_exists(&r, &b.digest))
            .await
            .map_err(|e| self.explain(e, &what))?
        {
            return Ok(Outcome::Existing);
        }
        if let Some(src) = mount_from {
            // 201 when the source repository holds it; anything else falls back to an upload.
            if self.client.mount_blob(&r, src, &b.digest).await.is_ok() {
                return Ok(Outcome::Mounted);
            }
        }
        let what = format!("upload blob {}", b.digest);
        let data = bytes::Bytes::from(b.data.clone());
        if b.size() >= LARGE {
            let task = progress.start(b.size());
            self.retry(|| {
                task.restart();
                let chunks: Vec<Result<bytes::Bytes, E>> = (0..data.len())
                    .step_by(LARGE as usize)
                    .map(|i| Ok(data.slice(i..(i + LARGE as usize).min(data.len()))))
                    .collect();
                let task = task.clone();
                let stream = futures_util::stream::iter(chunks).inspect(move |c| {
                    if let Ok(c) = c {
                        task.advance(c.len() as u64)
                    }
                });
                self.client
                    .push_blob_stream(&r, stream, &b.digest, Some(b.size()))
            })
            .await
            .map_err(|e| self.explain(e, &what))?;
        } else {
            self.retry(|| self.client.push_blob(&r, data.clone(), &b.digest))
                .await
                .map_err(|e| self.explain(e, &what))?;
        }
        Ok(Outcome::Uploaded(b.size()))
    }

    /// An image manifest by digest, then its SBOM referrer (and, when the registry does not index
    /// referrers, the fallback tag of that image).
    async fn put_image(
        &self,
        image: &Manifest,
        referrer: Option<&Manifest>,
    ) -> Result<Option<Referrers>> {
        self.put_manifest(&self.by_digest(&image.manifest.digest), &image.manifest)
            .await?;
        let Some(r) = referrer else {
            return Ok(None);
        };
        let indexed = self.put_referrer(r).await?;
        if !indexed {
            self.update_fallback_tag(&image.manifest.digest, r).await?;
        }
        Ok(Some(if indexed {
            Referrers::Api
        } else {
            Referrers::FallbackTag
        }))
    }

    async fn put_manifest(&self, r: &Reference, m: &Blob) -> Result<()> {
        let what = format!("write manifest {}", r.whole());
        let ct = HeaderValue::from_str(&m.media_type)?;
        self.retry(|| {
            self.client
                .push_manifest_raw(r, bytes::Bytes::from(m.data.clone()), ct.clone())
        })
        .await
        .map_err(|e| self.explain(e, &what))?;
        Ok(())
    }

    /// PUTs the referrer manifest by digest; true when the registry answered `OCI-Subject` (it keeps
    /// the referrers index itself).
    async fn put_referrer(&self, m: &Manifest) -> Result<bool> {
        let url = format!(
            "{}://{}/v2/{}/manifests/{}",
            self.scheme, self.dest.host, self.dest.repository, m.manifest.digest
        );
        let what = format!("write the SBOM manifest {}", m.manifest.digest);
        let res = self
            .retry(|| async {
                let req = self
                    .raw
                    .put(&url)
                    .header("Content-Type", &m.manifest.media_type)
                    .body(m.manifest.data.clone());
                let res = self.authorize(req).send().await?;
                let code = res.status().as_u16();
                if res.status().is_success() {
                    Ok(res.headers().contains_key("OCI-Subject"))
                } else {
                    let message = res.text().await.unwrap_or_default();
                    Err(E::ServerError {
                        code,
                        url: url.clone(),
                        message,
                    })
                }
            })
            .await
            .map_err(|e| self.explain(e, &what))?;
        Ok(res)
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match (&self.bearer, &self.creds.auth) {
            (Some(t), _) => req.bearer_auth(t),
            (None, RegistryAuth::Basic(u, p)) => req.basic_auth(u, Some(p)),
            (None, RegistryAuth::Bearer(t)) => req.bearer_auth(t),
            (None, RegistryAuth::Anonymous) => req,
        }
    }

    /// Reads the fallback tag `sha256-<hex>`, adds the referrer's descriptor when absent, writes it
    /// back; the other referrers listed there (signatures, attestations) stay.
    async fn update_fallback_tag(&self, subject: &str, m: &Manifest) -> Result<()> {
        let tag = subject.replace(':', "-");
        let r = self.reference(Some(&tag));
        let what = format!("read the referrers tag {tag}");
        let existing = self
            .retry(|| async {
                match self
                    .client
                    .pull_manifest_raw(&r, &self.creds.auth, &[INDEX])
                    .await
                {
                    Ok((bytes, _)) => Ok(Some(bytes)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(|e| self.explain(e, &what))?;
        let index = merge_referrer(existing.as_deref(), m).map_err(|w| {
            Failure::new(format!("{}: the tag {tag} {w}", self.dest.name())).hint(
                "the tag is reserved for the OCI referrers index of the image; delete it from the registry and push again",
            )
        })?;
        if let Some(index) = index {
            self.put_manifest(&r, &Blob::new(INDEX, index)).await?;
        }
        Ok(())
    }

    async fn retry<T, F, Fut>(&self, mut op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut delay = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            match op().await {
                Err(e) if attempt < ATTEMPTS && retryable(&e) => {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// One line saying what failed and how to fix it.
    fn explain(&self, e: E, what: &str) -> anyhow::Error {
        let host = &self.dest.host;
        let name = self.dest.name();
        let chain = error_chain(&e);
        let codes = registry_codes(&e);
        let status = status_of(&e);
        let has = |c: &str| codes.iter().any(|x| x == c);
        let failure = if matches!(status, Some(401 | 403))
            || has("UNAUTHORIZED")
            || has("DENIED")
            || matches!(e, E::AuthenticationFailure(_) | E::UnauthorizedError { .. })
        {
            let creds = match self.creds.source.as_str() {
                "none" if self.creds.tried.is_empty() => {
                    "no credentials (no credential file found)".to_string()
                }
                "none" => format!(
                    "no credentials for {host} in {}",
                    self.creds.tried.join(", ")
                ),
                s => format!("credentials from {s}"),
            };
            Failure::new(format!(
                "unauthorized: {host} refused access to {name} (to {what}; {creds})"
            ))
            .hint(format!(
                "run `docker login {host}` (or `podman login {host}`) with an account that may push to {name}, or set $DOCKER_CONFIG / $REGISTRY_AUTH_FILE"
            ))
        } else if has("NAME_UNKNOWN") || has("NAME_INVALID") {
            Failure::new(format!(
                "name unknown: {host} has no repository {} (while trying to {what})",
                self.dest.repository
            ))
            .hint("check the image name, or create the repository on the registry first")
        } else if has("MANIFEST_INVALID") || has("MANIFEST_BLOB_UNKNOWN") || has("TAG_INVALID") {
            Failure::new(format!(
                "manifest invalid: {host} refused to {what}: {}",
                codes.join(", ")
            ))
            .hint("the registry may not accept OCI manifests or artifacts; report it with `cargo tiny build -v` output")
        } else if self.scheme == "http" && status == Some(400) {
            // What a TLS server answers a plain-HTTP request with.
            Failure::new(format!(
                "{host} refused a plain-HTTP request (400 Bad Request): it speaks HTTPS"
            ))
            .hint(format!(
                "drop --insecure-registry {host}; pass --registry-ca FILE when its certificate is not signed by a system root"
            ))
        } else if is_tls(&chain) {
            Failure::new(format!("TLS failure talking to {host}: {}", last_cause(&chain)))
                .hint(format!(
                    "pass --registry-ca FILE with the CA that signed {host}'s certificate, or --insecure-registry {host} if it speaks plain HTTP"
                ))
        } else if matches!(&e, E::RequestError(r) if r.is_connect() || r.is_timeout()) {
            Failure::new(format!(
                "registry {host} unreachable ({}://{host}): {}",
                self.scheme,
                last_cause(&chain)
            ))
            .hint("check the host name and port, your network, and that the registry is running")
        } else {
            Failure::new(format!("{host} failed to {what}: {}", one_line(&chain)))
                .hint("try again; when it persists, check the registry's status")
        };
        failure.into()
    }
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Existing,
    Mounted,
    Uploaded(u64),
}

/// The fallback index with `m` added, or `None` when `m` is already listed. `existing` is what the
/// tag holds (absent: a new index).
///
/// Edited as `serde_json::Value`, not as oci-spec's `ImageIndex`: the index comes from a registry and
/// other tools' entries may carry fields the typed model does not keep.
pub fn merge_referrer(existing: Option<&[u8]>, m: &Manifest) -> Result<Option<Vec<u8>>, String> {
    let mut index = match existing {
        Some(bytes) => {
            let v: Value =
                serde_json::from_slice(bytes).map_err(|_| "holds something that is not JSON")?;
            if !v["manifests"].is_array() {
                return Err("holds something that is not an image index".into());
            }
            v
        }
        None => json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}),
    };
    let list = index["manifests"]
        .as_array_mut()
        .ok_or("holds something that is not an image index")?;
    if list
        .iter()
        .any(|d| d["digest"] == m.manifest.digest.as_str())
    {
        return Ok(None);
    }
    let mut desc = m.manifest.descriptor();
    if let Some(t) = &m.artifact_type {
        desc.insert("artifactType".into(), json!(t));
    }
    let doc: Value = serde_json::from_slice(&m.manifest.data).unwrap_or(Value::Null);
    if let Some(a) = doc.get("annotations").filter(|a| a.is_object()) {
        desc.insert("annotations".into(), a.clone());
    }
    list.push(Value::Object(desc));
    canonical_json(&index).map(Some).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{CYCLONEDX, MANIFEST};

    fn referrer(n: u8) -> Manifest {
        let doc = json!({"schemaVersion": 2, "mediaType": MANIFEST, "artifactType": CYCLONEDX,
            "annotations": {"n": n.to_string()}});
        Manifest {
            manifest: Blob::json(MANIFEST, &doc).unwrap(),
            blobs: Vec::new(),
            artifact_type: Some(CYCLONEDX.into()),
        }
    }

    #[test]
    fn fallback_index_is_created_then_merged_keeping_other_referrers() {
        let first = merge_referrer(None, &referrer(1)).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(v["mediaType"], INDEX);
        assert_eq!(v["manifests"][0]["artifactType"], CYCLONEDX);
        assert_eq!(v["manifests"][0]["annotations"]["n"], "1");
        assert_eq!(merge_referrer(Some(&first), &referrer(1)).unwrap(), None);
        let second = merge_referrer(Some(&first), &referrer(2)).unwrap().unwrap();
        let v: Value = serde_json::from_slice(&second).unwrap();
        let digests: Vec<&str> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["digest"].as_str().unwrap())
            .collect();
        assert_eq!(
            digests,
            [
                referrer(1).manifest.digest.as_str(),
                referrer(2).manifest.digest.as_str()
            ]
        );
        // What oci-spec's typed reader makes of it.
        oci_spec::image::ImageIndex::from_reader(second.as_slice()).unwrap();
    }

    #[test]
    fn a_fallback_tag_holding_something_else_is_refused() {
        let image_manifest =
            serde_json::to_vec(&json!({"schemaVersion": 2, "layers": []})).unwrap();
        assert!(merge_referrer(Some(&image_manifest), &referrer(1))
            .unwrap_err()
            .contains("not an image index"));
        assert!(merge_referrer(Some(b"<html>"), &referrer(1)).is_err());
    }
}
