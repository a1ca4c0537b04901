//! What is told about a built result, as plain values: its digests and sizes per platform. The report
//! reads it; the image cache records it, so a reused result is told without being rebuilt.

use serde::{Deserialize, Serialize};

use super::{Built, Compression, Kind, LayerFacts};

/// A built result, told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// `name:tag`.
    pub reference: String,
    pub kind: Kind,
    /// What the tags name: the image manifest, or the index.
    pub digest: String,
    /// The index listing the platforms and their referrers.
    pub index_digest: String,
    /// The platform `docker load` gets (`linux/amd64`).
    pub docker_platform: String,
    pub platforms: Vec<PlatformSummary>,
    /// The Sigstore bundles attached (signatures and attestations), in the order attached.
    #[serde(default)]
    pub bundles: Vec<BundleSummary>,
}

/// One Sigstore bundle referrer, for the JSON messages (and the action's outputs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleSummary {
    /// The digest of the manifest it is about (a platform's, or the index's).
    pub subject: String,
    /// `https://sigstore.dev/cosign/sign/v1`, `https://slsa.dev/provenance/v1`, …
    pub predicate_type: String,
    /// The referrer manifest's digest (what `cosign` and registries list).
    pub digest: String,
}

/// One platform's image, told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformSummary {
    /// `linux/arm64`.
    pub platform: String,
    /// `aarch64-unknown-linux-musl`.
    pub target: String,
    pub manifest_digest: String,
    pub config_digest: String,
    /// The SBOM blob's digest (the one the manifest's annotations name).
    pub sbom_digest: String,
    pub compression: Compression,
    pub layer_media_type: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
}

impl Summary {
    /// `built`, with `layers` in the order of its images.
    pub fn of(built: &Built, layers: &[LayerFacts]) -> Summary {
        Summary {
            reference: built.reference(),
            kind: built.kind,
            digest: built.tagged().digest.clone(),
            index_digest: built.index.digest.clone(),
            docker_platform: built.docker_image().platform.platform(),
            platforms: built
                .images
                .iter()
                .zip(layers)
                .map(|(i, l)| PlatformSummary {
                    platform: i.platform.platform(),
                    target: i.platform.triple.to_string(),
                    manifest_digest: i.manifest.digest.clone(),
                    config_digest: i.config.digest.clone(),
                    sbom_digest: l.sbom_digest.clone(),
                    compression: l.compression,
                    layer_media_type: l.compression.media_type().to_string(),
                    compressed_size: l.compressed_size,
                    uncompressed_size: l.uncompressed_size,
                })
                .collect(),
            bundles: built
                .referrers
                .iter()
                .filter(|r| r.artifact_type == crate::sign::bundle::BUNDLE_MEDIA_TYPE)
                .map(|r| BundleSummary {
                    subject: r.subject.clone(),
                    predicate_type: serde_json::from_slice::<serde_json::Value>(&r.manifest.data)
                        .ok()
                        .and_then(|m| {
                            m["annotations"]["dev.sigstore.bundle.predicateType"]
                                .as_str()
                                .map(str::to_owned)
                        })
                        .unwrap_or_default(),
                    digest: r.manifest.digest.clone(),
                })
                .collect(),
        }
    }

    /// The layer compression (every platform's is the same: one configuration per binary).
    pub fn compression(&self) -> Compression {
        self.platforms
            .first()
            .map(|p| p.compression)
            .unwrap_or_default()
    }
}
