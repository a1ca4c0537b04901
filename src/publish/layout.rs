//! Reads an image back out of a tarball `cargo tiny build` wrote (its OCI layout: `index.json` →
//! the nested image index → the image manifest and the SBOM referrer), with every blob's digest
//! checked, so `cargo tiny push` sends exactly the bytes the build wrote.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::error::Failure;
use crate::image::{sha256, Blob, Built, Image, Kind, Referrer, INDEX, MANIFEST, REF_NAME};
use crate::target::Target;

/// A result read from a tarball, and the `name:tag` it was built as.
#[derive(Debug)]
pub struct Loaded {
    pub built: Built,
    /// `org.opencontainers.image.ref.name` of the layout's entry, when present.
    pub reference: Option<String>,
}

fn bad(path: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!("{}: {what}", path.display()))
        .hint("pass a tarball written by `cargo tiny build` (target/tiny/NAME.tar)")
        .into()
}

/// Manifests and indexes are small; a blob larger than this is a layer, never parsed as JSON.
const DOCUMENT_MAX: usize = 4 << 20;

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
        if !["index.json", "manifest.json"].contains(&name.as_str())
            && !name.starts_with("blobs/sha256/")
        {
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
    let docker_config =
        serde_json::from_slice::<Value>(files.get("manifest.json").map_or(&b"null"[..], |v| v))
            .ok()
            .and_then(|m| m[0]["Config"].as_str().map(str::to_owned));

    // Every blob, keyed by digest, verified against its content.
    let mut blobs: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for (name, data) in files {
        if let Some(hex) = name.strip_prefix("blobs/sha256/") {
            let digest = format!("sha256:{hex}");
            if sha256(&data) != digest {
                return Err(bad(
                    path,
                    format!("{name} does not match its digest (the tarball was altered)"),
                ));
            }
            blobs.insert(digest, data);
        }
    }
    let get = |digest: &str, media_type: &str| -> Result<Blob> {
        let data = blobs
            .get(digest)
            .ok_or_else(|| bad(path, format!("blob {digest} is missing")))?;
        Ok(Blob {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            data: data.clone(),
        })
    };
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let top = get(&str_of(&entry["digest"]), &str_of(&entry["mediaType"]))?;

    // The layout's entry is the index; a plain image manifest is accepted too.
    let listed: Vec<Value> = if top.media_type == INDEX {
        let nested: Value = serde_json::from_slice(&top.data)
            .map_err(|e| bad(path, format!("image index: {e}")))?;
        nested["manifests"].as_array().cloned().unwrap_or_default()
    } else {
        vec![entry.clone()]
    };
    let mut images = Vec::new();
    let mut referrers = Vec::new();
    for d in &listed {
        let manifest = get(
            &str_of(&d["digest"]),
            d["mediaType"].as_str().unwrap_or(MANIFEST),
        )?;
        match Referrer::read(&manifest, get).map_err(|e| bad(path, e))? {
            Some(r) => referrers.push(r),
            None => images.push(image(&manifest, &get).map_err(|e| bad(path, e))?),
        }
    }
    if images.is_empty() {
        return Err(bad(path, "the image index lists no image"));
    }
    // Referrers the index cannot list (of the index itself) are found by their subject.
    for (digest, data) in &blobs {
        let unlisted = data.len() < DOCUMENT_MAX
            && data.first() == Some(&b'{')
            && !listed.iter().any(|d| d["digest"] == digest.as_str());
        if unlisted
            && serde_json::from_slice::<Value>(data)
                .is_ok_and(|v| v["subject"]["digest"] == top.digest.as_str())
        {
            let manifest = get(digest, MANIFEST)?;
            if let Some(r) = Referrer::read(&manifest, get).map_err(|e| bad(path, e))? {
                referrers.push(r);
            }
        }
    }
    let (name, tag) = match &reference {
        Some(r) => crate::reference::split(r),
        None => (String::new(), None),
    };
    let kind = if images.len() > 1 {
        Kind::Index
    } else {
        Kind::Image
    };
    let docker = docker_config
        .and_then(|c| {
            images
                .iter()
                .position(|i| format!("blobs/sha256/{}", i.config.hex()) == c)
        })
        .unwrap_or_else(|| {
            let platforms: Vec<Target> = images.iter().map(|i| i.platform.clone()).collect();
            crate::image::built::docker_choice(&platforms, None)
        });
    let built = Built::read_back(
        name,
        tag.unwrap_or_default(),
        kind,
        images,
        referrers,
        top,
        docker,
    );
    Ok(Loaded { built, reference })
}

/// An image manifest and the blobs it names; its platform from its config.
fn image(manifest: &Blob, get: &impl Fn(&str, &str) -> Result<Blob>) -> Result<Image> {
    let doc =
        oci_spec::image::ImageManifest::from_reader(manifest.data.as_slice()).map_err(|e| {
            anyhow::anyhow!(
                "manifest {} is not an OCI image manifest: {e}",
                manifest.digest
            )
        })?;
    let blob = |d: &oci_spec::image::Descriptor| get(d.digest().as_ref(), d.media_type().as_ref());
    let config = blob(doc.config())?;
    let c: Value = serde_json::from_slice(&config.data)
        .map_err(|e| anyhow::anyhow!("config {}: {e}", config.digest))?;
    let platform = format!(
        "{}/{}",
        c["os"].as_str().unwrap_or_default(),
        c["architecture"].as_str().unwrap_or_default()
    );
    let platform = Target::from_platform(&platform).map_err(|_| {
        anyhow::anyhow!(
            "manifest {} is for {platform}, not a platform cargo-tiny builds",
            manifest.digest
        )
    })?;
    Ok(Image {
        platform,
        manifest: Blob {
            media_type: MANIFEST.into(),
            ..manifest.clone()
        },
        config,
        layers: doc.layers().iter().map(blob).collect::<Result<_>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::build;
    use crate::image::tests::{input, single};
    use crate::publish::tarball;
    use crate::settings::TinyConfig;

    fn same(a: &Built, b: &Built) {
        assert_eq!(a.index, b.index);
        assert_eq!(a.images, b.images);
        assert_eq!(a.referrers, b.referrers);
        assert_eq!((a.kind, a.docker), (b.kind, b.docker));
        assert_eq!(a.reference(), b.reference());
        assert_eq!(a.blobs(), b.blobs());
    }

    #[test]
    fn reads_back_what_the_tarball_publisher_wrote() {
        let cfg = TinyConfig::default();
        let built = single(build(&input(&cfg)).unwrap());
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("hello.tar");
        std::fs::write(&tar, tarball::tarball(&built, 0).unwrap()).unwrap();
        let loaded = read(&tar).unwrap();
        assert_eq!(loaded.reference.as_deref(), Some("hello:0.1.0"));
        same(&loaded.built, &built);
        assert_eq!(loaded.built.name, "hello");
        assert_eq!(loaded.built.tagged(), &built.images[0].manifest);
    }

    #[test]
    fn reads_back_every_platform_of_a_multi_platform_tarball() {
        let mut m = crate::image::built::tests::two();
        // A referrer of the index itself: not listed in the index, found by its subject.
        let doc = crate::image::Document {
            artifact_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            media_type: "application/vnd.dev.sigstore.bundle.v0.3+json".into(),
            data: b"{}".to_vec(),
            title: None,
            annotations: Default::default(),
        };
        let index = m.index.clone();
        m.attach(Referrer::new(&doc, &index, "1970-01-01T00:00:00Z").unwrap())
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("multi.tar");
        std::fs::write(&tar, tarball::tarball(&m, 0).unwrap()).unwrap();
        let back = read(&tar).unwrap().built;
        same(&back, &m);
        assert_eq!(back.tagged(), &m.index);
    }

    #[test]
    fn altered_truncated_and_foreign_tarballs_are_one_line_errors() {
        let cfg = TinyConfig::default();
        let img = single(build(&input(&cfg)).unwrap());
        let bytes = tarball::tarball(&img, 0).unwrap();
        let layer = &img.images[0].layers[0];
        let dir = tempfile::tempdir().unwrap();
        let msg = |data: &[u8]| {
            let p = dir.path().join("x.tar");
            std::fs::write(&p, data).unwrap();
            format!("{:#}", read(&p).unwrap_err())
        };
        // Flip a byte inside the layer blob's data.
        let mut altered = bytes.clone();
        let at = altered
            .windows(layer.data.len().min(64))
            .position(|w| w == &layer.data[..layer.data.len().min(64)])
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
