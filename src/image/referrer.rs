//! Referrers: documents about an image (an SBOM today; VEX, signature bundles, provenance next),
//! each attached by an OCI 1.1 artifact manifest whose `subject` names the manifest it is about.
//!
//! A referrer is a plain value made from a [`Document`] and its subject. It never changes a byte of
//! the image it refers to; the publishers take every referrer of a [`super::Built`] alike (the
//! tarball writes its blobs, the registry pushes it by digest and lists it under its subject's
//! fallback tag), so a new kind of document needs no change in them.

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use oci_spec::image::{ImageManifest, ImageManifestBuilder, MediaType};

use super::{Blob, CREATED, EMPTY, MANIFEST};

/// A document to attach to a manifest.
#[derive(Clone, PartialEq, Eq)]
pub struct Document {
    /// The referrer manifest's `artifactType` (`application/vnd.cyclonedx+json`).
    pub artifact_type: String,
    /// The document's own media type (its layer's).
    pub media_type: String,
    pub data: Vec<u8>,
    /// `org.opencontainers.image.title` of its layer: the file name it is saved as (`api.cdx.json`).
    pub title: Option<String>,
    /// Annotations of the referrer manifest, besides `org.opencontainers.image.created`.
    pub annotations: BTreeMap<String, String>,
}

/// The document's digest, not its bytes (the image cache hashes the `Debug` form of its inputs).
impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("artifact_type", &self.artifact_type)
            .field("media_type", &self.media_type)
            .field("data", &super::sha256(&self.data))
            .field("title", &self.title)
            .field("annotations", &self.annotations)
            .finish()
    }
}

/// A document attached to a manifest: its artifact manifest and the blobs it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Referrer {
    pub artifact_type: String,
    /// The digest of the manifest (or index) it is about.
    pub subject: String,
    /// The artifact manifest.
    pub manifest: Blob,
    /// Its config: the empty blob `{}`.
    pub config: Blob,
    /// Its one layer: the document.
    pub document: Blob,
}

impl Referrer {
    /// Attaches `doc` to `subject` (a manifest or index blob), dated `created` (RFC 3339).
    pub fn new(doc: &Document, subject: &Blob, created: &str) -> Result<Referrer> {
        let oci =
            |e: oci_spec::OciSpecError| anyhow::anyhow!("building the referrer manifest: {e}");
        let config = Blob::new(EMPTY, b"{}".to_vec());
        let document = Blob::new(&doc.media_type, doc.data.clone());
        let mut layer = document.oci_descriptor()?;
        if let Some(title) = &doc.title {
            layer.set_annotations(Some(HashMap::from([(
                "org.opencontainers.image.title".to_string(),
                title.clone(),
            )])));
        }
        let mut annotations: HashMap<String, String> =
            doc.annotations.clone().into_iter().collect();
        annotations.insert(CREATED.to_string(), created.to_string());
        let manifest = ImageManifestBuilder::default()
            .schema_version(2u32)
            .media_type(MediaType::ImageManifest)
            .artifact_type(MediaType::from(doc.artifact_type.as_str()))
            .config(config.oci_descriptor()?)
            .layers(vec![layer])
            .subject(subject.oci_descriptor()?)
            .annotations(annotations)
            .build()
            .map_err(oci)?;
        Ok(Referrer {
            artifact_type: doc.artifact_type.clone(),
            subject: subject.digest.clone(),
            manifest: Blob::typed(MANIFEST, &manifest)?,
            config,
            document,
        })
    }

    /// A referrer manifest read back (from a tarball), with the blobs it names from `blobs`; `None`
    /// when the manifest has no `subject` (it is not a referrer).
    pub fn read(
        manifest: &Blob,
        blob: impl Fn(&str, &str) -> Result<Blob>,
    ) -> Result<Option<Referrer>> {
        let doc = ImageManifest::from_reader(manifest.data.as_slice()).map_err(|e| {
            anyhow::anyhow!("manifest {} is not an OCI manifest: {e}", manifest.digest)
        })?;
        let Some(subject) = doc.subject() else {
            return Ok(None);
        };
        let [layer] = doc.layers().as_slice() else {
            anyhow::bail!(
                "referrer {} has {} layers, not one document",
                manifest.digest,
                doc.layers().len()
            );
        };
        let artifact_type = match doc.artifact_type() {
            Some(t) => t.to_string(),
            None => doc.config().media_type().to_string(),
        };
        Ok(Some(Referrer {
            artifact_type,
            subject: subject.digest().to_string(),
            manifest: manifest.clone(),
            config: blob(
                doc.config().digest().as_ref(),
                doc.config().media_type().as_ref(),
            )?,
            document: blob(layer.digest().as_ref(), layer.media_type().as_ref())?,
        }))
    }

    /// The blobs the manifest names: config, then the document.
    pub fn blobs(&self) -> [&Blob; 2] {
        [&self.config, &self.document]
    }

    /// The manifest's own annotations (what a referrers index lists with it).
    pub fn annotations(&self) -> Option<serde_json::Value> {
        let doc: serde_json::Value = serde_json::from_slice(&self.manifest.data).ok()?;
        doc.get("annotations").filter(|a| a.is_object()).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::CYCLONEDX;

    fn sbom() -> Document {
        Document {
            artifact_type: CYCLONEDX.into(),
            media_type: CYCLONEDX.into(),
            data: br#"{"bomFormat":"CycloneDX"}"#.to_vec(),
            title: Some("hello.cdx.json".into()),
            annotations: BTreeMap::new(),
        }
    }

    #[test]
    fn a_referrer_names_its_subject_and_reads_back_as_itself() {
        let subject = Blob::new(MANIFEST, br#"{"schemaVersion":2}"#.to_vec());
        let r = Referrer::new(&sbom(), &subject, "1970-01-01T00:00:00Z").unwrap();
        assert_eq!(r.subject, subject.digest);
        let m = ImageManifest::from_reader(r.manifest.data.as_slice()).unwrap();
        assert_eq!(m.artifact_type().as_ref().unwrap().to_string(), CYCLONEDX);
        assert_eq!(m.layers()[0].digest().to_string(), r.document.digest);
        let all = [&r.config, &r.document];
        let back = Referrer::read(&r.manifest, |digest, media_type| {
            let b = all.iter().find(|b| b.digest == digest).unwrap();
            assert_eq!(b.media_type, media_type);
            Ok((*b).clone())
        })
        .unwrap()
        .unwrap();
        assert_eq!(back, r);
        assert_eq!(r.annotations().unwrap()[CREATED], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn another_kind_of_document_is_only_another_value() {
        let subject = Blob::new(MANIFEST, br#"{"schemaVersion":2}"#.to_vec());
        let bundle = Document {
            artifact_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            data: b"{}".to_vec(),
            title: None,
            annotations: BTreeMap::from([(
                "dev.sigstore.bundle.content".to_string(),
                "message-signature".to_string(),
            )]),
        };
        let r = Referrer::new(&bundle, &subject, "1970-01-01T00:00:00Z").unwrap();
        let a = r.annotations().unwrap();
        assert_eq!(a["dev.sigstore.bundle.content"], "message-signature");
        let v: serde_json::Value = serde_json::from_slice(&r.manifest.data).unwrap();
        assert!(v["layers"][0].get("annotations").is_none(), "{v}");
    }
}
