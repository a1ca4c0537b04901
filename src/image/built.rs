//! The built result of one binary, whatever the number of platforms: its images (one per platform),
//! their referrers, and the image index that lists them — what every publisher takes.
//!
//! The index lists every platform's image manifest (with its `platform`) and every referrer of one of
//! them (with its `artifactType` and the `platform` unknown/unknown, as `docker buildx` lists
//! attestations). Whether the tags name the one image's manifest or that index is the build's
//! [`Kind`], decided once by the plan. The platforms are in the target table's order, so the same
//! inputs give the same bytes. One platform's index is the nested index of a single-platform
//! tarball; several platforms' is the index the tags name.

use anyhow::Result;
use serde_json::json;

use super::{Blob, Image, Referrer, CREATED, INDEX, REF_NAME};
use crate::target::Target;

/// What the tags of a result name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One platform: the image manifest.
    Image,
    /// Several platforms: the index.
    Index,
}

/// One binary's built result.
#[derive(Debug, Clone)]
pub struct Built {
    /// `ghcr.io/acme/api` and its tag.
    pub name: String,
    pub tag: String,
    pub kind: Kind,
    /// One image per platform, in the target table's order.
    pub images: Vec<Image>,
    /// Documents attached to the images (or to the index), each an OCI referrer.
    pub referrers: Vec<Referrer>,
    /// Which of `images` `docker load` gets (`manifest.json`); see [`docker_choice`].
    pub docker: usize,
    /// The index listing the images and their referrers.
    pub index: Blob,
    created: String,
    /// More tags of `name` the local image gets (`docker load`'s `RepoTags`), besides `tag`.
    pub tags: Vec<String>,
}

/// The platform `docker load` gets from several: `asked` (`--docker-platform`) when built, else the
/// host's when built, else the first.
pub fn docker_choice(platforms: &[Target], asked: Option<&Target>) -> usize {
    let position = |want: Option<&Target>| platforms.iter().position(|t| Some(t) == want);
    position(asked)
        .or_else(|| position(Target::host().as_ref()))
        .unwrap_or(0)
}

impl Built {
    /// Ties `images` (any order; one per platform) and their `referrers` under one index dated
    /// `created` (RFC 3339); `docker` as [`docker_choice`] picks it.
    pub fn new(
        name: &str,
        tag: &str,
        kind: Kind,
        mut images: Vec<Image>,
        referrers: Vec<Referrer>,
        created: &str,
        docker: Option<&Target>,
    ) -> Result<Built> {
        if images.is_empty() {
            anyhow::bail!("a built result without an image");
        }
        images.sort_by_key(|i| i.platform.clone());
        let platforms: Vec<Target> = images.iter().map(|i| i.platform.clone()).collect();
        let docker = docker_choice(&platforms, docker);
        let mut built = Built {
            name: name.to_string(),
            tag: tag.to_string(),
            kind,
            images,
            referrers,
            docker,
            index: Blob::new(INDEX, Vec::new()),
            created: created.to_string(),
            tags: Vec::new(),
        };
        built.tie()?;
        Ok(built)
    }

    /// A result read back from a layout, its index kept byte for byte as it was read (the
    /// referrers in the order found).
    pub fn read_back(
        name: String,
        tag: String,
        kind: Kind,
        images: Vec<Image>,
        referrers: Vec<Referrer>,
        index: Blob,
        docker: usize,
    ) -> Built {
        let created = serde_json::from_slice::<serde_json::Value>(&index.data)
            .ok()
            .and_then(|v| v["annotations"][CREATED].as_str().map(str::to_owned))
            .unwrap_or_default();
        Built {
            name,
            tag,
            kind,
            images,
            referrers,
            docker,
            index,
            created,
            tags: Vec::new(),
        }
    }

    /// Attaches one more referrer: the images keep every byte; the index lists it when its subject
    /// is one of the images (a referrer of the index itself cannot be listed in it).
    pub fn attach(&mut self, referrer: Referrer) -> Result<()> {
        self.referrers.push(referrer);
        self.tie()
    }

    /// Orders the referrers by their subject's platform (stable) and makes the index.
    fn tie(&mut self) -> Result<()> {
        let images = &self.images;
        let position = |r: &Referrer| {
            images
                .iter()
                .position(|i| i.manifest.digest == r.subject)
                .unwrap_or(usize::MAX)
        };
        // Stable: a platform's referrers keep the order they were attached in.
        self.referrers.sort_by_key(position);

        let mut manifests = Vec::new();
        for img in &self.images {
            let mut d = img.manifest.descriptor();
            d.insert("platform".into(), img.platform.platform_json());
            manifests.push(serde_json::Value::Object(d));
        }
        for r in self.referrers.iter().filter(|r| position(r) != usize::MAX) {
            let mut d = r.manifest.descriptor();
            d.insert("artifactType".into(), json!(r.artifact_type));
            d.insert(
                "platform".into(),
                json!({"architecture": "unknown", "os": "unknown"}),
            );
            manifests.push(serde_json::Value::Object(d));
        }
        self.index = Blob::json(
            INDEX,
            &json!({
                "schemaVersion": 2,
                "mediaType": INDEX,
                "manifests": manifests,
                "annotations": {CREATED: self.created, REF_NAME: self.reference()},
            }),
        )?;
        Ok(())
    }

    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The same result, also tagged `tags` locally (each once, `tag` not again).
    pub fn with_tags(mut self, tags: &[String]) -> Built {
        for t in tags {
            if *t != self.tag && !self.tags.contains(t) {
                self.tags.push(t.clone());
            }
        }
        self
    }

    /// Every `name:tag` the local image gets: [`Built::reference`] first, then [`Built::tags`].
    pub fn references(&self) -> Vec<String> {
        std::iter::once(self.reference())
            .chain(self.tags.iter().map(|t| format!("{}:{t}", self.name)))
            .collect()
    }

    /// What the tags name: the image manifest, or the index.
    pub fn tagged(&self) -> &Blob {
        match self.kind {
            Kind::Image => &self.images[0].manifest,
            Kind::Index => &self.index,
        }
    }

    /// The image `docker load` gets.
    pub fn docker_image(&self) -> &Image {
        &self.images[self.docker]
    }

    /// The referrers whose subject is `digest`.
    pub fn referrers_of<'a>(&'a self, digest: &'a str) -> impl Iterator<Item = &'a Referrer> {
        self.referrers.iter().filter(move |r| r.subject == digest)
    }

    /// Every blob (the index, each image's and each referrer's, manifests included), each once,
    /// sorted by digest: what a layout holds.
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut v: Vec<&Blob> = vec![&self.index];
        for i in &self.images {
            v.extend(i.blobs());
        }
        for r in &self.referrers {
            v.push(&r.manifest);
            v.extend(r.blobs());
        }
        super::sorted_blobs(v)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::image::{build, tests::input, Document, CYCLONEDX};
    use crate::settings::TinyConfig;
    use serde_json::Value;

    pub(crate) fn two() -> Built {
        let cfg = TinyConfig::default();
        let mut x86 = input(&cfg);
        x86.binary = b"\x7fELF x86".to_vec();
        let mut arm = input(&cfg);
        arm.binary = b"\x7fELF arm".to_vec();
        arm.platform = Target::from_platform("linux/arm64").unwrap();
        // Given in the other order: the index is in the fixed one.
        let (mut images, mut referrers) = (Vec::new(), Vec::new());
        for i in [arm, x86] {
            let m = build(&i).unwrap();
            images.push(m.image);
            referrers.extend(m.referrers);
        }
        Built::new(
            "hello",
            "0.1.0",
            Kind::Index,
            images,
            referrers,
            "1970-01-01T00:00:00Z",
            None,
        )
        .unwrap()
    }

    #[test]
    fn the_index_lists_each_platform_and_each_referrer_of_its_own_manifest() {
        use oci_spec::image::{ImageIndex, ImageManifest};
        let m = two();
        let i = ImageIndex::from_reader(m.index.data.as_slice()).unwrap();
        let list = i.manifests();
        assert_eq!(list.len(), 4);
        let arch: Vec<String> = list
            .iter()
            .map(|d| d.platform().as_ref().unwrap().architecture().to_string())
            .collect();
        assert_eq!(arch, ["amd64", "arm64", "unknown", "unknown"]);
        for k in 0..2 {
            let referrer = &m.referrers[k];
            assert_eq!(list[2 + k].digest().to_string(), referrer.manifest.digest);
            let r = ImageManifest::from_reader(referrer.manifest.data.as_slice()).unwrap();
            assert_eq!(
                r.subject().as_ref().unwrap().digest().to_string(),
                list[k].digest().to_string()
            );
        }
        let v: Value = serde_json::from_slice(&m.index.data).unwrap();
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(v["annotations"][REF_NAME], "hello:0.1.0");
        assert_eq!(m.tagged(), &m.index);
        assert_eq!(Some(&m.docker_image().platform), Target::host().as_ref());
    }

    /// A new document is only another referrer: no image byte changes; a referrer of the index
    /// itself is carried but not listed in it.
    #[test]
    fn attaching_a_referrer_changes_no_image_byte() {
        let mut m = two();
        let images = m.images.clone();
        let vex = Document {
            artifact_type: "application/vnd.openvex+json".into(),
            media_type: "application/vnd.openvex+json".into(),
            data: b"{}".to_vec(),
            title: None,
            annotations: Default::default(),
        };
        let subject = m.images[1].manifest.clone();
        m.attach(Referrer::new(&vex, &subject, "1970-01-01T00:00:00Z").unwrap())
            .unwrap();
        assert_eq!(m.images, images);
        let v: Value = serde_json::from_slice(&m.index.data).unwrap();
        let types: Vec<&str> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["artifactType"].as_str())
            .collect();
        // Ordered by subject: amd64's SBOM, then arm64's SBOM and VEX.
        assert_eq!(
            types,
            [CYCLONEDX, CYCLONEDX, "application/vnd.openvex+json"]
        );
        let index = m.index.clone();
        m.attach(Referrer::new(&vex, &index, "1970-01-01T00:00:00Z").unwrap())
            .unwrap();
        assert_eq!(m.index, index, "a referrer of the index is not in it");
        assert_eq!(m.referrers_of(&index.digest).count(), 1);
        assert!(m
            .blobs()
            .iter()
            .any(|b| b.digest == m.referrers[3].manifest.digest));
    }
}
