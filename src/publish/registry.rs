//! The registry publisher, on the distribution client of `wire.rs` (auth in `token.rs`), driven on a
//! current-thread tokio runtime.
//!
//! A [`Session`] is one registry host (its client, TLS roots, scheme and credentials), shared by
//! every push of a run to that host; each push authenticates for its repository once.
//!
//! Order, so that a failed push leaves the tag as it was: blobs (HEAD first; mount from the repository
//! the image was built as when that is on the same registry; else one streamed PUT, its digest
//! checked while it streams) → each image manifest by digest, then its referrers by digest (when the
//! registry did not answer `OCI-Subject`, each also listed under the OCI 1.1 fallback tag
//! `sha256-<hex>` of its subject: an index, merged with the referrers already there) → with several
//! platforms, the index → the tags, last. Retries with back-off and the plain-HTTP probe for
//! loopback registries are here; what a registry's error means is in `registry_errors.rs`.

use std::future::Future;
use std::time::Duration;

use super::registry_errors::RegistryError as E;
use anyhow::Result;
use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

use std::collections::HashMap;

use super::credentials::Credentials;
use super::progress::Progress;
use super::registry_errors::{explain, retryable, speaks_plain_http, Context};
use super::wire::{Authz, Bounds, Wire};
use super::{Attached, Pushed, Referrers};
use crate::error::Failure;
use crate::image::{canonical_json, Blob, Built, Kind, Referrer, INDEX};
use crate::reference::{self, Destination};
use crate::shell::Shell;

/// Blobs at least this large are sent with a progress indicator; chunks of this size.
const LARGE: u64 = 1024 * 1024;
const ATTEMPTS: u32 = 5;

/// One registry host.
pub struct Session {
    pub(super) wire: Wire,
    pub(super) creds: Credentials,
    /// What the requests to each repository pushed to carry.
    authz: tokio::sync::Mutex<HashMap<String, Authz>>,
}

/// How a session reaches its host.
pub struct Reach<'a> {
    /// PEM bundles trusted besides the system roots (checked when planned).
    pub roots: &'a [Vec<u8>],
    /// Reach the host over plain HTTP.
    pub insecure: bool,
    /// Blob uploads in flight at once.
    pub jobs: usize,
}

impl Session {
    /// The client of `host`: TLS roots, and for a loopback host without TLS plain HTTP.
    pub async fn new(host: &str, reach: &Reach<'_>, creds: Credentials) -> Result<Session> {
        let bounds = Bounds::from_env();
        let http = super::wire::client(reach.roots, bounds)?;
        let scheme = if reach.insecure {
            "http"
        } else if reference::is_loopback(host) {
            // As docker does for loopback registries: HTTPS when the registry speaks it, else HTTP.
            // A TLS server answers a ClientHello at once; one that stays silent is not one.
            match http
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
        Ok(Session {
            wire: Wire {
                http,
                scheme,
                host: host.to_string(),
                bounds,
            },
            creds,
            authz: Default::default(),
        })
    }

    /// Where the credentials came from (`auths in /root/.docker/config.json`, or `none`).
    pub fn credentials_source(&self) -> &str {
        &self.creds.source
    }

    /// Pushes `built` to `dest` under `tags` (the destination's own first).
    pub async fn push(
        &self,
        built: &Built,
        dest: &Destination,
        tags: &[String],
        jobs: usize,
        shell: &Shell,
    ) -> Result<Pushed> {
        let started = std::time::Instant::now();
        let p = Push::new(self, dest).await?;
        let mut pushed = p.push(built, tags, jobs, shell).await?;
        pushed.took = started.elapsed();
        pushed.credentials = self.creds.source.clone();
        Ok(pushed)
    }
}

/// One push: a session, a repository and what its requests carry.
struct Push<'a> {
    s: &'a Session,
    dest: &'a Destination,
    authz: Authz,
}

impl<'a> Push<'a> {
    /// Authenticates for `dest`'s repository once per session.
    async fn new(s: &'a Session, dest: &'a Destination) -> Result<Push<'a>> {
        let mut known = s.authz.lock().await;
        let mut p = Push {
            s,
            dest,
            authz: Authz::None,
        };
        if let Some(a) = known.get(&dest.repository) {
            p.authz = a.clone();
            return Ok(p);
        }
        let scope = format!("repository:{}:pull,push", dest.repository);
        let authz = p
            .retry(|| super::token::authorize(&s.wire, &s.creds.auth, &scope))
            .await
            .map_err(|e| p.explain(e, "authenticate"))?;
        known.insert(dest.repository.clone(), authz.clone());
        p.authz = authz;
        Ok(p)
    }

    async fn push(
        &self,
        built: &Built,
        tags: &[String],
        jobs: usize,
        shell: &Shell,
    ) -> Result<Pushed> {
        // Every blob but the manifests and the index, which are PUT as manifests.
        let manifests: Vec<&str> = built
            .images
            .iter()
            .map(|i| i.manifest.digest.as_str())
            .chain(built.referrers.iter().map(|r| r.manifest.digest.as_str()))
            .chain([built.index.digest.as_str()])
            .collect();
        let blobs: Vec<&Blob> = built
            .blobs()
            .into_iter()
            .filter(|b| !manifests.contains(&b.digest.as_str()))
            .collect();

        // Cross-repository mount source: the repository the image was built as, on this registry.
        let mount_from = reference::registry_host(&built.name)
            .filter(|(h, repo)| *h == self.dest.host && *repo != self.dest.repository)
            .map(|(_, repo)| repo.to_string());

        let progress = Progress::new(shell);
        let outcomes: Vec<Outcome> = futures_util::stream::iter(blobs)
            .map(|b| self.push_blob(b, mount_from.as_ref(), &progress))
            .buffer_unordered(jobs.max(1))
            .try_collect()
            .await?;
        progress.finish();

        // Each image by digest, then its referrers.
        let mut how = None;
        let mut attached = Vec::new();
        for image in &built.images {
            self.put_manifest(&image.manifest.digest, &image.manifest)
                .await?;
            for r in built.referrers_of(&image.manifest.digest) {
                how.get_or_insert(self.put_referrer_listed(r).await?);
                attached.push(attached_of(r));
            }
        }
        let tagged = built.tagged();
        // Referrers of the index: the index first, by digest.
        let of_index: Vec<&Referrer> = built.referrers_of(&built.index.digest).collect();
        if built.kind == Kind::Index && !of_index.is_empty() {
            self.put_manifest(&tagged.digest, tagged).await?;
        }
        for r in of_index {
            how.get_or_insert(self.put_referrer_listed(r).await?);
            attached.push(attached_of(r));
        }
        for t in tags {
            self.put_manifest(t, tagged).await?;
        }
        let count = |o: Outcome| outcomes.iter().filter(|x| **x == o).count();
        Ok(Pushed {
            reference: self.dest.reference(),
            digest: tagged.digest.clone(),
            manifests: match built.kind {
                Kind::Index => built
                    .images
                    .iter()
                    .map(|i| i.manifest.digest.clone())
                    .collect(),
                Kind::Image => Vec::new(),
            },
            sbom_digest: built
                .referrers_of(&built.images[0].manifest.digest)
                .find(|r| is_sbom(&r.artifact_type))
                .map(|r| r.manifest.digest.clone()),
            attached,
            referrers: how,
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
            took: Duration::ZERO,
            credentials: String::new(),
        })
    }

    async fn push_blob(
        &self,
        b: &Blob,
        mount_from: Option<&String>,
        progress: &Progress<'_>,
    ) -> Result<Outcome> {
        let (wire, repo) = (&self.s.wire, self.dest.repository.as_str());
        let what = format!("check blob {}", b.digest);
        if self
            .retry(|| wire.blob_exists(repo, &b.digest, &self.authz))
            .await
            .map_err(|e| self.explain(e, &what))?
        {
            return Ok(Outcome::Existing);
        }
        if let Some(src) = mount_from {
            // 201 when the source repository holds it; anything else falls back to an upload.
            if wire.mount(repo, src, &b.digest, &self.authz).await {
                return Ok(Outcome::Mounted);
            }
        }
        let what = format!("upload blob {}", b.digest);
        let task = (b.size() >= LARGE).then(|| progress.start(b.size()));
        self.retry(|| {
            // Read from memory or from the tarball in chunks, never held whole.
            let chunks: Box<dyn Iterator<Item = std::io::Result<Bytes>> + Send + Sync> =
                match b.reader() {
                    Ok(r) => Box::new(Chunks(std::sync::Mutex::new(r))),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                };
            let body = super::wire::verified(chunks, b.digest.clone(), b.size());
            let body: std::pin::Pin<
                Box<dyn futures_util::Stream<Item = std::io::Result<Bytes>> + Send + Sync>,
            > = match &task {
                Some(task) => {
                    task.restart();
                    let task = task.clone();
                    Box::pin(body.inspect(move |c| {
                        if let Ok(c) = c {
                            task.advance(c.len() as u64)
                        }
                    }))
                }
                None => Box::pin(body),
            };
            wire.upload(repo, &b.digest, b.size(), body, &self.authz)
        })
        .await
        .map_err(|e| self.explain(e, &what))?;
        Ok(Outcome::Uploaded(b.size()))
    }

    /// A referrer by digest, and when the registry does not index referrers, listed under the
    /// fallback tag of its subject.
    async fn put_referrer_listed(&self, r: &Referrer) -> Result<Referrers> {
        let indexed = self.put_referrer(r).await?;
        if !indexed {
            self.update_fallback_tag(r).await?;
        }
        Ok(if indexed {
            Referrers::Api
        } else {
            Referrers::FallbackTag
        })
    }

    /// PUTs a manifest under `reference` (a digest or a tag); true when the registry answered
    /// `OCI-Subject`.
    async fn put_manifest(&self, reference: &str, m: &Blob) -> Result<bool> {
        let sep = if reference.starts_with("sha256:") {
            '@'
        } else {
            ':'
        };
        let what = format!("write manifest {}{sep}{reference}", self.dest.name());
        self.retry(|| {
            self.s.wire.put_manifest(
                &self.dest.repository,
                reference,
                &m.media_type,
                &m.data,
                &self.authz,
            )
        })
        .await
        .map_err(|e| self.explain(e, &what))
    }

    /// PUTs the referrer manifest by digest; true when the registry answered `OCI-Subject` (it keeps
    /// the referrers index itself).
    async fn put_referrer(&self, m: &Referrer) -> Result<bool> {
        self.put_manifest(&m.manifest.digest, &m.manifest).await
    }

    /// Reads the fallback tag `sha256-<hex>`, adds the referrer's descriptor when absent, writes it
    /// back; the other referrers listed there (signatures, attestations) stay.
    async fn update_fallback_tag(&self, m: &Referrer) -> Result<()> {
        let tag = m.subject.replace(':', "-");
        let what = format!("read the referrers tag {tag}");
        let existing = self
            .retry(|| {
                self.s
                    .wire
                    .get_manifest(&self.dest.repository, &tag, INDEX, &self.authz)
            })
            .await
            .map_err(|e| self.explain(e, &what))?;
        let index = merge_referrer(existing.as_deref(), m).map_err(|w| {
            Failure::new(format!("{}: the tag {tag} {w}", self.dest.name())).hint(
                "the tag is reserved for the OCI referrers index of the image; delete it from the registry and push again",
            )
        })?;
        if let Some(index) = index {
            self.put_manifest(&tag, &Blob::new(INDEX, index)).await?;
        }
        Ok(())
    }

    async fn retry<T, F, Fut>(&self, op: F) -> Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        retry(op).await
    }

    /// One line saying what failed and how to fix it.
    fn explain(&self, e: E, what: &str) -> anyhow::Error {
        explain(
            e,
            what,
            &Context {
                dest: self.dest,
                scheme: self.s.wire.scheme,
                creds: &self.s.creds,
                access: "push to",
            },
        )
    }
}

/// `op` again after a throttling answer, a server error or a lost connection, up to [`ATTEMPTS`]
/// times with a doubling back-off.
pub(super) async fn retry<T, F, Fut>(mut op: F) -> Result<T, E>
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

fn attached_of(r: &Referrer) -> Attached {
    Attached {
        artifact_type: r.artifact_type.clone(),
        digest: r.manifest.digest.clone(),
        subject: r.subject.clone(),
    }
}

/// A reader's bytes in chunks of [`LARGE`].
struct Chunks(std::sync::Mutex<Box<dyn std::io::Read + Send>>);

impl Iterator for Chunks {
    type Item = std::io::Result<Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = self.0.get_mut().unwrap_or_else(|e| e.into_inner());
        let mut buf = Vec::with_capacity(LARGE as usize);
        use std::io::Read;
        match r.take(LARGE).read_to_end(&mut buf) {
            Ok(0) => None,
            Ok(_) => Some(Ok(Bytes::from(buf))),
            Err(e) => Some(Err(e)),
        }
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
pub fn merge_referrer(existing: Option<&[u8]>, m: &Referrer) -> Result<Option<Vec<u8>>, String> {
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
    desc.insert("artifactType".into(), json!(m.artifact_type));
    if let Some(a) = m.annotations() {
        desc.insert("annotations".into(), a);
    }
    list.push(Value::Object(desc));
    canonical_json(&index).map(Some).map_err(|e| e.to_string())
}

/// Whether a referrer of this artifact type is an SBOM (the first one is the one `sbom_digest` names).
fn is_sbom(artifact_type: &str) -> bool {
    crate::sbom::Format::FILES
        .iter()
        .any(|f| f.media_type() == artifact_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{Document, CYCLONEDX, MANIFEST};

    fn referrer(n: u8) -> Referrer {
        let doc = Document {
            artifact_type: CYCLONEDX.into(),
            media_type: CYCLONEDX.into(),
            data: b"{}".to_vec(),
            title: None,
            annotations: [("n".to_string(), n.to_string())].into(),
        };
        let subject = Blob::new(MANIFEST, b"{}".to_vec());
        Referrer::new(&doc, &subject, "1970-01-01T00:00:00Z").unwrap()
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
