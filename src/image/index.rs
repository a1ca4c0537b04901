//! A multi-platform image: one [`Image`] per platform under one image index.
//!
//! The index lists every platform's image manifest (with its `platform`) and every SBOM referrer
//! (`artifactType` CycloneDX, `platform` unknown/unknown, as `docker buildx` lists attestations; each
//! referrer's `subject` is its own platform's manifest). The layout's `index.json` names this index
//! (one entry, so skopeo and podman need no reference), `manifest.json` names the host platform's
//! image (docker 20.10 loads one image per tag). The platforms are in [`crate::target::SUPPORTED`]'s
//! order, so the same inputs give the same bytes.

use anyhow::Result;
use serde_json::json;

use super::{Blob, Image, CREATED, CYCLONEDX, INDEX, REF_NAME};
use crate::target::Target;

/// Images of one binary for several platforms, and the index that ties them.
#[derive(Debug, Clone)]
pub struct MultiImage {
    /// `(platform, image)`, in the fixed platform order.
    pub images: Vec<(Target, Image)>,
    /// Which of `images` goes into `manifest.json` for `docker load` (the host's, or the one
    /// `--docker-platform` names).
    pub docker: usize,
    pub index: Blob,
}

impl MultiImage {
    /// Ties the images (one per platform, same name and tag) under one index. The image `docker
    /// load` gets is `docker`'s (`--docker-platform`) when given and built, else the host's platform
    /// when built, else the first.
    pub fn new(
        mut images: Vec<(Target, Image)>,
        created: &str,
        docker: Option<&Target>,
    ) -> Result<MultiImage> {
        images.sort_by_key(|(t, _)| *t);
        let reference = images
            .first()
            .map(|(_, i)| i.reference())
            .unwrap_or_default();
        let mut manifests = Vec::new();
        for (t, img) in &images {
            let mut d = img.manifest.descriptor();
            d.insert("platform".into(), t.platform_json());
            manifests.push(serde_json::Value::Object(d));
        }
        for (_, img) in &images {
            let mut d = img.referrer.descriptor();
            d.insert("artifactType".into(), json!(CYCLONEDX));
            d.insert(
                "platform".into(),
                json!({"architecture": "unknown", "os": "unknown"}),
            );
            manifests.push(serde_json::Value::Object(d));
        }
        let index = Blob::json(
            INDEX,
            &json!({
                "schemaVersion": 2,
                "mediaType": INDEX,
                "manifests": manifests,
                "annotations": {CREATED: created, REF_NAME: reference},
            }),
        )?;
        let host = Target::host();
        let position = |want: Option<&Target>| images.iter().position(|(t, _)| Some(t) == want);
        let docker = position(docker)
            .or_else(|| position(host.as_ref()))
            .unwrap_or(0);
        Ok(MultiImage {
            images,
            docker,
            index,
        })
    }

    /// The image `docker load` gets.
    pub fn docker_image(&self) -> &(Target, Image) {
        &self.images[self.docker]
    }

    /// Every blob of every platform and the index, each once, sorted by digest. (Each platform's own
    /// nested index is left out: nothing in this layout names it.)
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut v: Vec<&Blob> = vec![&self.index];
        for (_, i) in &self.images {
            v.extend(i.platform_blobs());
        }
        super::sorted_blobs(v)
    }

    /// The tarball's bytes, written into `w` (see [`crate::publish::tarball::write_layout`]).
    pub fn write_tarball<W: std::io::Write>(&self, mtime: u64, w: W) -> Result<W> {
        crate::publish::tarball::write_layout(
            &self.index,
            &self.docker_image().1,
            &self.blobs(),
            mtime,
            w,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TinyConfig;
    use serde_json::Value;

    fn two() -> MultiImage {
        let cfg = TinyConfig::default();
        let mut x86 = super::super::tests::input(&cfg);
        x86.binary = b"\x7fELF x86".to_vec();
        let mut arm = super::super::tests::input(&cfg);
        arm.binary = b"\x7fELF arm".to_vec();
        arm.arch = ("arm64", Some("v8"));
        let t = |p: &str| Target::from_platform(p).unwrap();
        // Given in the other order: the index is in the fixed one.
        MultiImage::new(
            vec![
                (t("linux/arm64"), super::super::build(&arm).unwrap()),
                (t("linux/amd64"), super::super::build(&x86).unwrap()),
            ],
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
            let referrer = &m.images[k].1.referrer;
            assert_eq!(list[2 + k].digest().to_string(), referrer.digest);
            let r = ImageManifest::from_reader(referrer.data.as_slice()).unwrap();
            assert_eq!(
                r.subject().as_ref().unwrap().digest().to_string(),
                list[k].digest().to_string()
            );
        }
        let v: Value = serde_json::from_slice(&m.index.data).unwrap();
        assert_eq!(v["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(v["annotations"][REF_NAME], "hello:0.1.0");
    }

    #[test]
    fn the_tarball_has_every_blob_and_docker_gets_the_host_image() {
        let m = two();
        let bytes = m.write_tarball(0, Vec::new()).unwrap();
        assert_eq!(bytes, two().write_tarball(0, Vec::new()).unwrap());
        let mut a = tar::Archive::new(bytes.as_slice());
        let mut files = std::collections::BTreeMap::new();
        for e in a.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).unwrap();
            files.insert(name, data);
        }
        for b in m.blobs() {
            assert!(files.contains_key(&format!("blobs/sha256/{}", b.hex())));
        }
        let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
        assert_eq!(index["manifests"][0]["digest"], m.index.digest.as_str());
        let docker: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let host = m.docker_image();
        assert_eq!(Some(&host.0), Target::host().as_ref());
        assert_eq!(
            docker[0]["Config"],
            format!("blobs/sha256/{}", host.1.config.hex())
        );
        assert_eq!(docker.as_array().unwrap().len(), 1);
    }
}
