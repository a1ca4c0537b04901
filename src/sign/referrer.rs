//! The OCI 1.1 referrer that carries a bundle, as cosign 3 writes it: an image manifest whose
//! `artifactType` is the bundle media type, with the empty config, the bundle as its one layer,
//! `subject` = the signed manifest, and the annotations `dev.sigstore.bundle.content` and
//! `dev.sigstore.bundle.predicateType`. A plain value: its blobs and the descriptor (with
//! `artifactType` and annotations, as an index or a `sha256-<hex>` fallback tag lists it).

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use oci_spec::image::{Descriptor, ImageManifestBuilder, MediaType};

use super::bundle::{SignedBundle, BUNDLE_MEDIA_TYPE};
use crate::image::Blob;

pub const CONTENT_KEY: &str = "dev.sigstore.bundle.content";
pub const PREDICATE_TYPE_KEY: &str = "dev.sigstore.bundle.predicateType";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const EMPTY: &str = "application/vnd.oci.empty.v1+json";

/// A bundle referrer of one subject.
#[derive(Debug, Clone)]
pub struct Referrer {
    /// The referrer manifest.
    pub manifest: Blob,
    /// Its config (`{}`).
    pub empty: Blob,
    /// Its layer: the bundle.
    pub bundle: Blob,
    pub artifact_type: &'static str,
    /// The manifest's annotations (to copy onto its descriptor).
    pub annotations: BTreeMap<String, String>,
    /// The digest of the manifest it refers to.
    pub subject: String,
}

impl Referrer {
    /// The referrer of `subject` (the signed manifest or index, as its blob) carrying `bundle`.
    pub fn new(subject: &Blob, bundle: &SignedBundle) -> Result<Referrer> {
        let empty = Blob::new(EMPTY, b"{}".to_vec());
        let layer = Blob::new(BUNDLE_MEDIA_TYPE, bundle.json.clone());
        let annotations = BTreeMap::from([
            (CONTENT_KEY.to_string(), "dsse-envelope".to_string()),
            (
                PREDICATE_TYPE_KEY.to_string(),
                bundle.predicate_type.clone(),
            ),
        ]);
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::from(BUNDLE_MEDIA_TYPE))
            .config(empty.oci_descriptor()?)
            .layers(vec![layer.oci_descriptor()?])
            .subject(subject.oci_descriptor()?)
            .annotations(annotations.clone().into_iter().collect::<HashMap<_, _>>())
            .build()?;
        Ok(Referrer {
            manifest: Blob::typed(MANIFEST, &manifest)?,
            empty,
            bundle: layer,
            artifact_type: BUNDLE_MEDIA_TYPE,
            annotations,
            subject: subject.digest.clone(),
        })
    }

    /// The blobs to write or push: config, layer, manifest.
    pub fn blobs(&self) -> [&Blob; 3] {
        [&self.empty, &self.bundle, &self.manifest]
    }

    /// The manifest's descriptor with `artifactType` and the annotations, as the referrers API
    /// answers it and as the fallback tag's index must list it.
    pub fn descriptor(&self) -> Result<Descriptor> {
        let mut d = self.manifest.oci_descriptor()?;
        d.set_artifact_type(Some(MediaType::from(self.artifact_type)));
        d.set_annotations(Some(self.annotations.clone().into_iter().collect()));
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_referrer_is_cosign_3_shaped() {
        let subject = Blob::new(MANIFEST, br#"{"schemaVersion":2}"#.to_vec());
        let bundle = SignedBundle {
            json: br#"{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}"#.to_vec(),
            predicate_type: "https://slsa.dev/provenance/v1".into(),
        };
        let r = Referrer::new(&subject, &bundle).unwrap();
        let m: serde_json::Value = serde_json::from_slice(&r.manifest.data).unwrap();
        assert_eq!(m["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(m["config"]["mediaType"], EMPTY);
        assert_eq!(m["config"]["size"], 2);
        assert_eq!(m["layers"][0]["mediaType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(m["layers"][0]["digest"], r.bundle.digest);
        assert_eq!(m["subject"]["digest"], subject.digest);
        assert_eq!(m["subject"]["mediaType"], MANIFEST);
        assert_eq!(m["annotations"][CONTENT_KEY], "dsse-envelope");
        assert_eq!(
            m["annotations"][PREDICATE_TYPE_KEY],
            "https://slsa.dev/provenance/v1"
        );
        let d = serde_json::to_value(r.descriptor().unwrap()).unwrap();
        assert_eq!(d["artifactType"], BUNDLE_MEDIA_TYPE);
        assert_eq!(d["annotations"][CONTENT_KEY], "dsse-envelope");
        assert_eq!(d["digest"], r.manifest.digest);
        // The same inputs give the same bytes.
        assert_eq!(
            Referrer::new(&subject, &bundle).unwrap().manifest,
            r.manifest
        );
    }
}
