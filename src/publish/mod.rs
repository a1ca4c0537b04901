//! Publishers beside the tarball writer ([`crate::image::archive`]): the registry.
//!
//! A publisher takes what was built, as an [`Artifact`]: the image manifest with the blobs it names,
//! and the SBOM referrer manifest with its blobs. [`Artifact::from_image`] takes it from a fresh
//! [`Image`] value; [`layout::read`] takes it back out of a tarball an earlier build wrote. Both carry
//! the very bytes the tarball holds, so the pushed digest is the tarball's.

pub mod command;
pub mod credentials;
pub mod layout;
pub mod progress;
pub mod reference;
pub mod registry;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::error::Failure;
use crate::image::{Blob, Image};

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
    let doc: Value = serde_json::from_slice(&manifest.data).map_err(|e| {
        Failure::new(format!("manifest {} is not JSON: {e}", manifest.digest))
            .hint("rebuild the image with `cargo tiny build`")
    })?;
    let mut descriptors: Vec<&Value> = vec![&doc["config"]];
    if let Some(layers) = doc["layers"].as_array() {
        descriptors.extend(layers);
    }
    let mut out = Vec::new();
    for d in descriptors {
        let digest = d["digest"].as_str().unwrap_or_default();
        let media_type = d["mediaType"].as_str().unwrap_or_default();
        let Some(b) = blobs.get(digest) else {
            crate::fail!(
                hint = "rebuild the image with `cargo tiny build`",
                "manifest {} names blob `{digest}`, which is missing",
                manifest.digest
            );
        };
        out.push(Blob {
            media_type: media_type.to_string(),
            digest: b.digest.clone(),
            data: b.data.clone(),
        });
    }
    Ok(Manifest {
        manifest: manifest.clone(),
        blobs: out,
        artifact_type: doc["artifactType"].as_str().map(str::to_owned),
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
