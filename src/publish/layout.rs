//! Reads an image back out of a tarball `cargo tiny build` wrote (its OCI layout: `index.json` →
//! the nested image index → the image manifest and the SBOM referrer), with every blob's digest
//! checked, so `cargo tiny push` sends exactly the bytes the build wrote.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use crate::error::Failure;
use crate::image::{sha256, Blob, Built, Image, Kind, Referrer, Stored, INDEX, MANIFEST, REF_NAME};
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

/// The tarball, which must be a regular file (a device or a FIFO is refused without reading it).
fn open_tarball(path: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            Failure::new(format!("cannot open {}: {e}", path.display())).hint(
                "build it first with `cargo tiny build`, or pass the path of an image tarball",
            )
        })?;
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return Err(bad(path, "not a regular file"));
    }
    Ok(file)
}

/// A descriptor's `mediaType` (in `doc`, field `field`) must be a media type as RFC 6838 writes
/// them (`type/subtype`, restricted characters): it becomes a `Content-Type` header on a push.
fn media_type(v: &Value, doc: &str, field: &str) -> Result<()> {
    let text = v.as_str().unwrap_or_default();
    let token = |s: &str| {
        !s.is_empty()
            && s.len() <= 127
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = text
        .split_once('/')
        .is_some_and(|(t, sub)| token(t) && token(sub));
    if ok {
        return Ok(());
    }
    anyhow::bail!(
        "{doc}: field {field} is not a media type: {}",
        if v.is_string() {
            format!("`{}`", crate::shell::escape(text))
        } else {
            format!("{v}")
        }
    )
}

/// Manifests and indexes are small; a blob larger than this is a layer, never parsed as JSON.
const DOCUMENT_MAX: usize = 4 << 20;

/// Reads the tarball at `path`.
pub fn read(path: &Path) -> Result<Loaded> {
    let file = open_tarball(path)?;
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    // Layers: where they are in the file, their digest checked as they were read past.
    let mut stored: BTreeMap<String, Stored> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut archive = tar::Archive::new(file);
    let entries = archive
        .entries()
        .map_err(|e| bad(path, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(path, format!("not a tar archive: {e}")))?;
        let name = entry
            .path()
            .map_err(|e| bad(path, e))?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        // Two entries for one path: which one a reader takes differs (last wins for most); refused.
        if !seen.insert(name.clone()) {
            return Err(bad(
                path,
                format!(
                    "two entries for {}: the tarball was altered",
                    crate::shell::escape(&name)
                ),
            ));
        }
        if !entry.header().entry_type().is_file() {
            continue;
        }
        if !["index.json", "manifest.json"].contains(&name.as_str())
            && !name.starts_with("blobs/sha256/")
        {
            continue;
        }
        let size = entry.header().size().map_err(|e| bad(path, e))?;
        if size > DOCUMENT_MAX as u64 {
            let Some(hex) = name.strip_prefix("blobs/sha256/") else {
                return Err(bad(
                    path,
                    format!("{name} is larger than {} MiB", DOCUMENT_MAX >> 20),
                ));
            };
            let offset = entry.raw_file_position();
            let mut sink = crate::digest::Hashing::new(std::io::sink());
            std::io::copy(&mut entry, &mut sink)
                .map_err(|e| bad(path, format!("cannot read {name}: {e}")))?;
            if crate::digest::hex_digest(sink.hasher) != format!("sha256:{hex}")
                || sink.count != size
            {
                return Err(bad(
                    path,
                    format!("{name} does not match its digest (the tarball was altered)"),
                ));
            }
            stored.insert(
                format!("sha256:{hex}"),
                Stored {
                    path: path.to_path_buf(),
                    offset,
                    len: size,
                },
            );
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
        let (data, at) = match (blobs.get(digest), stored.get(digest)) {
            (Some(data), _) => (data.clone(), None),
            (None, Some(at)) => (Vec::new(), Some(at.clone())),
            (None, None) => return Err(bad(path, format!("blob {digest} is missing"))),
        };
        Ok(Blob {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            data,
            stored: at,
        })
    };
    let str_of = |v: &Value| v.as_str().unwrap_or_default().to_string();
    media_type(&entry["mediaType"], "index.json", "manifests[0].mediaType")
        .map_err(|w| bad(path, w))?;
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
    for (i, d) in listed.iter().enumerate() {
        if top.media_type == INDEX {
            media_type(
                &d["mediaType"],
                &format!("the image index {}", top.digest),
                &format!("manifests[{i}].mediaType"),
            )
            .map_err(|w| bad(path, w))?;
        }
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
    let named = format!("manifest {}", manifest.digest);
    media_type(
        &Value::from(doc.config().media_type().to_string()),
        &named,
        "config.mediaType",
    )?;
    for (i, l) in doc.layers().iter().enumerate() {
        media_type(
            &Value::from(l.media_type().to_string()),
            &named,
            &format!("layers[{i}].mediaType"),
        )?;
    }
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

    /// The tarball's entries, rewritten by `edit` (name, data) → entries.
    fn rewrite(bytes: &[u8], edit: impl Fn(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>) -> Vec<u8> {
        let mut out = tar::Builder::new(Vec::new());
        let mut archive = tar::Archive::new(bytes);
        for e in archive.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            for (n, d) in edit(&name, data) {
                let mut h = tar::Header::new_gnu();
                h.set_size(d.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                out.append_data(&mut h, n, d.as_slice()).unwrap();
            }
        }
        out.into_inner().unwrap()
    }

    #[test]
    fn two_entries_for_one_path_and_malformed_media_types_are_refused() {
        let cfg = TinyConfig::default();
        let img = single(build(&input(&cfg)).unwrap());
        let bytes = tarball::tarball(&img, 0).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let msg = |data: &[u8]| {
            let p = dir.path().join("x.tar");
            std::fs::write(&p, data).unwrap();
            format!("{:#}", read(&p).unwrap_err())
        };
        // A second index.json (naming nothing that exists) after the first: not last-wins.
        let twice = rewrite(&bytes, |n, d| {
            if n == "index.json" {
                vec![(n.into(), d), (n.into(), br#"{"manifests":[]}"#.to_vec())]
            } else {
                vec![(n.into(), d)]
            }
        });
        let e = msg(&twice);
        assert!(e.contains("two entries for index.json"), "{e}");
        // A media type that would inject a header.
        let injected = rewrite(&bytes, |n, d| {
            let d = if n == "index.json" {
                String::from_utf8(d)
                    .unwrap()
                    .replace(
                        INDEX,
                        "application/vnd.oci.image.index.v1+json\\r\\nX-Evil: 1",
                    )
                    .into_bytes()
            } else {
                d
            };
            vec![(n.into(), d)]
        });
        let e = msg(&injected);
        assert!(
            e.contains("index.json: field manifests[0].mediaType is not a media type"),
            "{e}"
        );
        assert!(!e.contains('\r'), "{e}");
        assert!(media_type(&Value::from(MANIFEST), "m", "f").is_ok());
        for bad in ["", "text", "a/b c", "a/b;x=1", "/b", "a/"] {
            let e = media_type(
                &Value::from(bad),
                "manifest sha256:x",
                "layers[0].mediaType",
            )
            .unwrap_err()
            .to_string();
            assert!(
                e.starts_with("manifest sha256:x: field layers[0].mediaType"),
                "{e}"
            );
        }
        assert!(media_type(&Value::from(3), "m", "f")
            .unwrap_err()
            .to_string()
            .ends_with(": 3"));
    }
}
