//! Publishers: where a built result ([`Built`]: one platform's image or several under an index, with
//! their referrers) goes — the tarball ([`tarball`]), a registry ([`push`], on the session of
//! [`registry`]), the local engine ([`daemon`]). Each takes the result through [`Publisher`] and
//! returns what it did ([`Published`]); the command reports it. The plan decides which publishers run
//! and in which order (a list of [`PublishTo`]).
//!
//! [`layout::read`] takes a result back out of a tarball an earlier build wrote, with the very bytes
//! the tarball holds, so what is pushed or loaded from it is what the build wrote;
//! [`pull::Remote`] takes one back out of a registry (for `cargo tiny verify REF`), every answer
//! checked against its digest.

pub mod credentials;
pub mod daemon;
pub mod layout;
pub mod progress;
pub mod pull;
pub mod push;
pub mod registry;
mod registry_errors;
pub mod tarball;
mod token;
pub mod wire;

use anyhow::Result;
use serde::Serialize;

use crate::image::Built;

/// Where a built result goes; returns what it did.
pub trait Publisher {
    fn publish(&self, built: &Built) -> Result<Published>;

    /// What this publisher did last time, when the image cache found the result unchanged and
    /// `cached` (the receipts it recorded, checked against the files on disk) shows that this
    /// publisher's output is still in place; `None` publishes again.
    fn reuse(&self, cached: &[Published]) -> Option<Published> {
        let _ = cached;
        None
    }
}

/// One publisher of a planned image, as plain values; [`PublishTo::open`] makes the [`Publisher`].
#[derive(Debug, Clone)]
pub enum PublishTo {
    Tarball(tarball::Tarball),
    Registry(push::PushPlan),
    Daemon(daemon::LoadPlan),
}

/// What every publisher of a run shares: the registry sessions (one per host) and the engine.
pub struct Shared<'a> {
    pub registries: Option<&'a push::Registries>,
    pub shell: &'a crate::shell::Shell,
}

impl PublishTo {
    /// The publisher this step describes.
    pub fn open<'a>(&'a self, shared: &Shared<'a>) -> Result<Box<dyn Publisher + 'a>> {
        Ok(match self {
            PublishTo::Tarball(t) => Box::new(t),
            PublishTo::Registry(plan) => Box::new(push::Registry {
                registries: shared
                    .registries
                    .ok_or_else(|| anyhow::anyhow!("a push planned without registry settings"))?,
                plan,
                shell: shared.shell,
            }),
            PublishTo::Daemon(plan) => Box::new(plan),
        })
    }
}

/// What a publisher did.
#[derive(Debug, Clone)]
pub enum Published {
    Tarball(tarball::Written),
    Registry(Pushed),
    Daemon(daemon::Loaded),
}

/// How the referrers were made discoverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Referrers {
    /// The registry indexes referrers itself (it answered `OCI-Subject`).
    Api,
    /// The client wrote the OCI 1.1 fallback tag `sha256-<hex>`.
    FallbackTag,
}

/// The `pushed` object of `--message-format json` (schema in docs/src/reference/json-output.md).
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// `host/repository:tag`.
    pub reference: String,
    /// The image manifest's digest (the tarball's); of a multi-platform image, the index's.
    pub digest: String,
    /// A multi-platform image: each platform's manifest digest, in the index's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// The SBOM referrer manifest's digest (the first image's CycloneDX referrer).
    pub sbom_digest: Option<String>,
    /// Every referrer manifest pushed: its `artifactType`, digest and subject.
    pub attached: Vec<Attached>,
    pub referrers: Option<Referrers>,
    /// Every tag written, as full references.
    pub tags: Vec<String>,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    /// Blobs the registry already had in the repository (HEAD answered 200).
    pub existing_blobs: usize,
    /// Blobs mounted from another repository of the same registry.
    pub mounted_blobs: usize,
    /// How long the push took (status line only).
    #[serde(skip)]
    pub took: std::time::Duration,
    /// Where the credentials came from (`-v` status line only).
    #[serde(skip)]
    pub credentials: String,
}

/// One referrer manifest a push wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Attached {
    pub artifact_type: String,
    pub digest: String,
    pub subject: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{build, tests::input, tests::single};
    use crate::settings::TinyConfig;

    /// A publisher added by a test: what it was handed.
    struct Recording(std::cell::RefCell<Vec<(usize, String)>>);

    impl Publisher for Recording {
        fn publish(&self, built: &Built) -> Result<Published> {
            self.0
                .borrow_mut()
                .push((built.images.len(), built.tagged().digest.clone()));
            Ok(Published::Tarball(tarball::Written::default()))
        }
    }

    #[test]
    fn a_publisher_takes_the_result_through_the_trait() {
        let cfg = TinyConfig::default();
        let one = single(build(&input(&cfg)).unwrap());
        let r = Recording(Default::default());
        let as_trait: &dyn Publisher = &r;
        as_trait.publish(&one).unwrap();
        assert!(as_trait.reuse(&[]).is_none());
        assert_eq!(*r.0.borrow(), [(1, one.images[0].manifest.digest.clone())]);
    }
}
