//! Reads an image back out of a tarball `cargo tiny build` wrote (its OCI layout: `index.json` →
//! the nested image index → the image manifest and the SBOM referrer), with every blob's digest
//! checked, so `cargo tiny push` sends exactly the bytes the build wrote.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::{manifest_of, Artifact};
use crate::error::Failure;
use crate::image::{sha256, Blob, CYCLONEDX, INDEX, MANIFEST, REF_NAME};

/// An image read from a tarball, and the `name:tag` it was built as.
#[derive(Debug)]
pub struct Loaded {
    pub artifact: Artifact,
    /// `org.opencontainers.image.ref.name` of the layout's entry, when present.
    pub reference: Option<String>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!("{}: {what}", path.display()))
        .hint("pass a tarball written by `cargo tiny build` (target/tiny/NAME.tar)")
        .into()
}

/// Reads the tarball at `path`.
pub fn read(path: &Path) -> Result<Loaded> {
    let file = std::fs::File::open(path).map_err(|e| {
        Failure::new(format!("cannot open {}: {e}", path.display()))
            .hint("build it first with `cargo tiny build`, or pass the path of an image tarball")
    })?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|e| bad(path, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(path, format!("not a tar archive: {e}")))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = entry
            .path()
            .map_err(|e| bad(path, e))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        if name != "index.json" && !name.starts_with("blobs/sha256/") {
            continue;
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| bad(path, format!("cannot read {name}: {e}")))?;
        files.insert(name, data);
    }
    let index_json = files
        .get("index.json")
        .ok_or_else(|| bad(path, "no index.json: not an OCI image layout"))?;
    let index: Value =
        serde_json::from_slice(index_json).map_err(|e| bad(path, format!("index.json: {e}")))?;
    let entries = index["manifests"].as_array().cloned().unwrap_or_default();
    if entries.len() != 1 {
        return Err(bad(
            path,
            format!(
                "index.json lists {} entries, expected the one image cargo-tiny writes",
                entries.len()
            ),
        ));
    }
    let entry = &entries[0];
    let reference = entry["annotations"][REF_NAME].as_str().map(str::to_owned);

    // Every blob, keyed by digest, verified against its content.
    let mut blobs: BTreeMap<String, Blob> = BTreeMap::new();
    for (name, data) in files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            let digest = format!("sha256:{hex}");
            if sha256(&data) != digest {
                return Err(bad(
                    path,
                    format!("{name} does not match its digest (the tarball was altered)"),
                ));
            }
            blobs.insert(
                digest.clone(),
                Blob {
                    media_type: String::new(),
                    digest,
                    data,
                },
            );
        }
    }
    let get = |digest: &str, media_type: &str| -> Result<Blob> {
        let b = blobs
            .get(digest)
            .ok_or_else(|| bad(path, format!("blob {digest} is missing")))?;
        Ok(Blob {
            media_type: media_type.to_string(),
            ..b.clone()
        })
    };
    let mut top = get(
        entry["digest"].as_str().unwrap_or_default(),
        entry["mediaType"].as_str().unwrap_or_default(),
    )?;
    // The layout's entry is the nested index; a plain image manifest is accepted too.
    let (image_desc, referrer_desc) = if top.media_type == INDEX {
        let nested: Value = serde_json::from_slice(&top.data)
            .map_err(|e| bad(path, format!("image index: {e}")))?;
        let list = nested["manifests"].as_array().cloned().unwrap_or_default();
        let is_sbom = |d: &Value| d["artifactType"] == CYCLONEDX;
        let images: Vec<&Value> = list.iter().filter(|d| !is_sbom(d)).collect();
        if images.len() > 1 {
            // A multi-platform image: every platform with the referrer whose subject it is, and
            // the index itself under the tags.
            let mut platforms = Vec::new();
            for d in &images {
                let manifest = get(
                    d["digest"].as_str().unwrap_or_default(),
                    d["mediaType"].as_str().unwrap_or(MANIFEST),
                )?;
                let mut referrer = None;
                for r in list.iter().filter(|d| is_sbom(d)) {
                    let blob = get(r["digest"].as_str().unwrap_or_default(), MANIFEST)?;
                    let doc: Value = serde_json::from_slice(&blob.data)
                        .map_err(|e| bad(path, format!("SBOM manifest: {e}")))?;
                    if doc["subject"]["digest"] == manifest.digest.as_str() {
                        referrer = Some(manifest_of(&blob, &blobs)?);
                    }
                }
                platforms.push((manifest_of(&manifest, &blobs)?, referrer));
            }
            let (image, referrer) = platforms.remove(0);
            let built_as = reference
                .as_deref()
                .map(|r| crate::reference::split(r).0)
                .unwrap_or_default();
            return Ok(Loaded {
                artifact: Artifact {
                    built_as,
                    image,
                    referrer,
                    others: platforms,
                    index: Some(top),
                },
                reference,
            });
        }
        if images.is_empty() {
            return Err(bad(path, "the image index lists no image"));
        }
        (images[0].clone(), list.iter().find(|d| is_sbom(d)).cloned())
    } else {
        top.media_type = MANIFEST.into();
        (entry.clone(), None)
    };
    let manifest = get(
        image_desc["digest"].as_str().unwrap_or_default(),
        image_desc["mediaType"].as_str().unwrap_or(MANIFEST),
    )?;
    let image = manifest_of(&manifest, &blobs)?;
    let referrer = match referrer_desc {
        Some(d) => Some(manifest_of(
            &get(
                d["digest"].as_str().unwrap_or_default(),
                d["mediaType"].as_str().unwrap_or(MANIFEST),
            )?,
            &blobs,
        )?),
        None => None,
    };
    let built_as = reference
        .as_deref()
        .map(|r| crate::reference::split(r).0)
        .unwrap_or_default();
    Ok(Loaded {
        artifact: Artifact {
            built_as,
            image,
            referrer,
            others: Vec::new(),
            index: None,
        },
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::build;
    use crate::image::tests::input;
    use crate::publish::tarball;
    use crate::settings::TinyConfig;

    #[test]
    fn reads_back_what_the_tarball_publisher_wrote() {
        let cfg = TinyConfig::default();
        let img = build(&input(&cfg)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("hello.tar");
        let sbom = dir.path().join("hello.cdx.json");
        let publisher = tarball::Tarball {
            path: &tar,
            sbom: &sbom,
            mtime: 0,
        };
        crate::publish::Publisher::publish(&publisher, &img).unwrap();
        let loaded = read(&tar).unwrap();
        assert_eq!(loaded.reference.as_deref(), Some("hello:0.1.0"));
        let a = loaded.artifact;
        let fresh = Artifact::from_image(&img).unwrap();
        assert_eq!(a.built_as, "hello");
        assert_eq!(a.image.manifest, fresh.image.manifest);
        assert_eq!(a.image.blobs, fresh.image.blobs);
        let (r, f) = (a.referrer.unwrap(), fresh.referrer.unwrap());
        assert_eq!(r.manifest, f.manifest);
        assert_eq!(r.blobs, f.blobs);
        assert_eq!(r.artifact_type.as_deref(), Some(CYCLONEDX));
        assert_eq!(r.blobs[1].data, img.sbom.data);
    }

    #[test]
    fn reads_back_every_platform_of_a_multi_platform_tarball() {
        use crate::image::index::MultiImage;
        use crate::target::Target;
        let cfg = TinyConfig::default();
        let mut arm = input(&cfg);
        arm.binary = b"\x7fELF arm".to_vec();
        arm.arch = ("arm64", Some("v8"));
        let m = MultiImage::new(
            vec![
                (
                    Target::from_platform("linux/amd64").unwrap(),
                    build(&input(&cfg)).unwrap(),
                ),
                (
                    Target::from_platform("linux/arm64").unwrap(),
                    build(&arm).unwrap(),
                ),
            ],
            "1970-01-01T00:00:00Z",
            None,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("multi.tar");
        let bytes = m.write_tarball(0, Vec::new()).unwrap();
        std::fs::write(&tar, bytes).unwrap();
        let a = read(&tar).unwrap().artifact;
        let fresh = Artifact::from_multi(&m).unwrap();
        assert_eq!(a.index, fresh.index);
        assert_eq!(a.image.manifest, fresh.image.manifest);
        assert_eq!(a.others.len(), 1);
        assert_eq!(a.others[0].0.manifest, fresh.others[0].0.manifest);
        assert_eq!(
            a.others[0].1.as_ref().unwrap().manifest,
            fresh.others[0].1.as_ref().unwrap().manifest
        );
        assert_eq!(
            a.referrer.as_ref().unwrap().manifest,
            fresh.referrer.as_ref().unwrap().manifest
        );
    }

    #[test]
    fn altered_truncated_and_foreign_tarballs_are_one_line_errors() {
        let cfg = TinyConfig::default();
        let img = build(&input(&cfg)).unwrap();
        let bytes = tarball::tarball(&img, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let msg = |data: &[u8]| {
            let p = dir.path().join("x.tar");
            std::fs::write(&p, data).unwrap();
            format!("{:#}", read(&p).unwrap_err())
        };
        // Flip a byte inside the layer blob's data.
        let mut altered = bytes.clone();
        let at = altered
            .windows(img.layer.data.len().min(64))
            .position(|w| w == &img.layer.data[..img.layer.data.len().min(64)])
            .unwrap();
        altered[at + 10] ^= 0xff;
        assert!(
            msg(&altered).contains("does not match its digest"),
            "{}",
            msg(&altered)
        );
        assert!(msg(b"not a tar at all").contains("x.tar"));
        assert!(msg(&bytes[..1024]).contains("x.tar"));
        let missing = dir.path().join("missing.tar");
        assert!(format!("{:#}", read(&missing).unwrap_err()).starts_with("cannot open"));
    }
}
