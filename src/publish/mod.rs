//! Publishers: the tarball ([`tarball`]) and the registry ([`registry`]).
//!
//! A publisher takes what was built, as an [`Artifact`]: the image manifest with the blobs it names,
//! and the SBOM referrer manifest with its blobs. [`Artifact::from_image`] takes it from a fresh
//! [`Image`] value; [`layout::read`] takes it back out of a tarball an earlier build wrote. Both carry
//! the very bytes the tarball holds, so the pushed digest is the tarball's.

pub mod command;
pub mod credentials;
pub mod layout;
pub mod progress;
pub mod push;
pub mod registry;
mod registry_errors;
pub mod tarball;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use oci_spec::image::ImageManifest;
use serde::Serialize;

use crate::error::Failure;
use crate::image::{Blob, Image};

/// Where a built image goes: the tarball ([`tarball::Tarball`]) and a registry
/// ([`push::Registry`]) today; a daemon would be a third. A publisher takes the [`Image`] value and
/// tells what it did.
pub trait Publisher {
    /// What publishing tells: the tarball's size and digest, the registry's digest and tags.
    type Receipt;
    fn publish(&self, image: &Image) -> Result<Self::Receipt>;
}

/// A manifest and the blobs it names (config first, then layers).
#[derive(Debug, Clone)]
pub struct Manifest {
    pub manifest: Blob,
    pub blobs: Vec<Blob>,
    /// `artifactType` of an artifact manifest (the SBOM referrer's `application/vnd.cyclonedx+json`).
    pub artifact_type: Option<String>,
}

/// What a publisher pushes: the image and, when there is one, its SBOM referrer.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// The name the image was built under (`ghcr.io/acme/api`): the source of cross-repository mounts.
    pub built_as: String,
    pub image: Manifest,
    pub referrer: Option<Manifest>,
    /// A multi-platform image: the other platforms' images (and referrers), pushed by digest.
    pub others: Vec<(Manifest, Option<Manifest>)>,
    /// A multi-platform image: the index the tags name (instead of `image`'s manifest).
    pub index: Option<Blob>,
}

impl Artifact {
    /// The image and its SBOM referrer, from the built value.
    pub fn from_image(img: &Image) -> Result<Artifact> {
        let blobs: BTreeMap<String, Blob> = img
            .blobs()
            .into_iter()
            .map(|b| (b.digest.clone(), b.clone()))
            .collect();
        Ok(Artifact {
            built_as: img.name.clone(),
            image: manifest_of(&img.manifest, &blobs)?,
            referrer: Some(manifest_of(&img.referrer, &blobs)?),
            others: Vec::new(),
            index: None,
        })
    }

    /// Every platform's image and SBOM referrer, and the index under the tags.
    pub fn from_multi(m: &crate::image::index::MultiImage) -> Result<Artifact> {
        let mut all = Vec::new();
        for (_, img) in &m.images {
            let a = Artifact::from_image(img)?;
            all.push((a.image, a.referrer));
        }
        if all.is_empty() {
            anyhow::bail!("a multi-platform image without images");
        }
        let (image, referrer) = all.remove(0);
        Ok(Artifact {
            built_as: m.images[0].1.name.clone(),
            image,
            referrer,
            others: all,
            index: Some(m.index.clone()),
        })
    }
}

/// The blobs a manifest names, looked up by digest (media types from the manifest's descriptors).
pub fn manifest_of(manifest: &Blob, blobs: &BTreeMap<String, Blob>) -> Result<Manifest> {
    let doc = ImageManifest::from_reader(manifest.data.as_slice()).map_err(|e| {
        Failure::new(format!(
            "manifest {} is not an OCI image manifest: {e}",
            manifest.digest
        ))
        .hint("rebuild the image with `cargo tiny build`")
    })?;
    let mut out = Vec::new();
    for d in std::iter::once(doc.config()).chain(doc.layers()) {
        let digest = d.digest().to_string();
        let Some(b) = blobs.get(&digest) else {
            crate::fail!(
                hint = "rebuild the image with `cargo tiny build`",
                "manifest {} names blob `{digest}`, which is missing",
                manifest.digest
            );
        };
        out.push(Blob {
            media_type: d.media_type().to_string(),
            digest: b.digest.clone(),
            data: b.data.clone(),
        });
    }
    Ok(Manifest {
        manifest: manifest.clone(),
        blobs: out,
        artifact_type: doc.artifact_type().as_ref().map(|t| t.to_string()),
    })
}

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// Tags written besides the image's own (`--tag`, `tags = [...]`).
    pub tags: Vec<String>,
    /// Hosts reached over plain HTTP (`--insecure-registry`).
    pub insecure: Vec<String>,
    /// Extra PEM roots (`--registry-ca`).
    pub registry_ca: Vec<PathBuf>,
    /// Blob uploads in flight at once.
    pub jobs: usize,
}

/// How the SBOM referrer was made discoverable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Referrers {
    /// The registry indexes referrers itself (it answered `OCI-Subject`).
    Api,
    /// The client wrote the OCI 1.1 fallback tag `sha256-<hex>`.
    FallbackTag,
}

/// The `pushed` object of `--message-format json` (schema in README).
#[derive(Debug, Clone, Serialize)]
pub struct Pushed {
    /// `host/repository:tag`.
    pub reference: String,
    /// The image manifest's digest (the tarball's); of a multi-platform image, the index's.
    pub digest: String,
    /// A multi-platform image: each platform's manifest digest, in the index's order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub manifests: Vec<String>,
    /// The SBOM referrer manifest's digest.
    pub sbom_digest: Option<String>,
    pub referrers: Option<Referrers>,
    /// Every tag written, as full references.
    pub tags: Vec<String>,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    /// Blobs the registry already had in the repository (HEAD answered 200).
    pub existing_blobs: usize,
    /// Blobs mounted from another repository of the same registry.
    pub mounted_blobs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TinyConfig;

    #[test]
    fn manifests_are_read_as_oci_types() {
        let cfg = TinyConfig::default();
        let img = crate::image::build(&crate::image::tests::input(&cfg)).unwrap();
        let a = Artifact::from_image(&img).unwrap();
        let types: Vec<&str> = a
            .image
            .blobs
            .iter()
            .map(|b| b.media_type.as_str())
            .collect();
        assert_eq!(types, [crate::image::CONFIG, crate::image::LAYER_GZIP]);
        let referrer = a.referrer.unwrap();
        assert_eq!(
            referrer.artifact_type.as_deref(),
            Some(crate::image::CYCLONEDX)
        );
        assert_eq!(referrer.blobs[1].digest, img.sbom.digest);

        // What is not an image manifest, or names a blob that is not there, is refused.
        let blobs: BTreeMap<String, Blob> = img
            .blobs()
            .into_iter()
            .map(|b| (b.digest.clone(), b.clone()))
            .collect();
        let not_a_manifest = Blob::new(crate::image::MANIFEST, br#"{"layers":"x"}"#.to_vec());
        let e = manifest_of(&not_a_manifest, &blobs).unwrap_err();
        assert!(e.downcast_ref::<Failure>().is_some(), "{e:?}");
        assert!(e.to_string().contains("not an OCI image manifest"), "{e}");
        let mut fewer = blobs.clone();
        fewer.remove(&img.layer.digest);
        let e = manifest_of(&img.manifest, &fewer).unwrap_err();
        assert!(e.to_string().contains("which is missing"), "{e}");
    }
}
