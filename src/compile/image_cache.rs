//! Reusing an image whose inputs are unchanged: a no-op `cargo tiny build` neither recompresses the
//! layer nor rewrites the tarball.
//!
//! One record per built result (one platform's image, or several under an index): its key is a
//! digest of everything [`crate::image::build`], the index and the tarball publisher are a function
//! of — every platform's whole [`ImageInput`] (its byte fields by digest: the binary, the `files`
//! sources' contents, the CA bundle, the SBOM, which itself covers the audit data and the source
//! date), the result's kind and docker platform, the tarball mtime, the layer encoding and the tool
//! (version and executable). The record, in `<target-dir>/tiny/.cache/`, holds the key, what the
//! tarball publisher wrote (the tarball and the files beside it, with their digests) and what is
//! reported about the result. A hit needs the same key *and* every recorded file on disk still
//! holding the recorded bytes; anything else rebuilds.
//!
//! The record is a hint, never the truth: it sits in the target dir, which a CI cache restores and
//! anyone who can write there can forge. A hit is therefore re-read from the tarball before anything
//! is reported, pushed or marked reused ([`verify`]): every blob's digest recomputed, the record's
//! digests compared with the ones the tarball gives, each platform's layer decompressed and checked
//! against its config's diff_id and to hold the binary just compiled, and the SBOM referrer checked
//! to be this build's SBOM. The alternative, a digest kept outside the target dir, would need a
//! place of its own that no CI cache restores; the re-read costs a decompression of the layer
//! (milliseconds for a usual binary) and needs none. A record that disagrees is discarded, with a
//! note, and the image rebuilt.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::image::{sha256, Built, ImageInput, Kind, Summary};
use crate::publish::tarball::Written;
use crate::target::Target;

/// Bumped when the record's meaning changes.
const FORMAT: u32 = 3;

/// What a reused result is told from: the cache record's payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cached {
    pub summary: Summary,
    pub written: Written,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    format: u32,
    key: String,
    cached: Cached,
}

/// The cache record's path for a tarball: one per output path, under the target dir.
pub fn record_path(target_dir: &Path, tarball: &Path) -> PathBuf {
    let id = sha256(tarball.as_os_str().as_encoded_bytes());
    target_dir
        .join("tiny")
        .join(".cache")
        .join(format!("{}.json", &id["sha256:".len()..][..32]))
}

/// The tool's identity: version, and size and mtime of the running executable (so that a rebuilt
/// cargo-tiny of the same version does not reuse images an older build of it wrote).
fn tool_identity() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| {
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            format!("{}:{mtime}", m.len())
        })
        .unwrap_or_default();
    format!("{}+{exe}", env!("CARGO_PKG_VERSION"))
}

/// The key of a result: a digest over every platform's input, the kind, the docker platform and
/// the tarball's mtime. New fields of [`ImageInput`] are covered automatically (its `Debug` form is
/// hashed, with the byte fields swapped for their digests). A `files` source is hashed by streaming
/// it from its handle.
pub fn key(
    inputs: &[&ImageInput<'_>],
    kind: Kind,
    docker: &Target,
    mtime: u64,
) -> anyhow::Result<String> {
    let mut text = format!(
        "format {FORMAT}\ntool {}\nkind {kind:?}\ndocker {docker}\nmtime {mtime}\n",
        tool_identity()
    );
    for input in inputs {
        text.push_str(&input_text(input)?);
    }
    Ok(sha256(text.as_bytes()))
}

fn input_text(input: &ImageInput<'_>) -> anyhow::Result<String> {
    // `load` only matters to the engine: editing it rewrites nothing. (Tags do: the local image
    // gets them, in `RepoTags`.)
    let mut config = input.config.clone();
    config.load = None;
    let mut shape = input.clone();
    shape.config = &config;
    shape.binary = Vec::new();
    shape.files = Vec::new();
    shape.ca_bundle = None;
    shape.sboms = Vec::new();
    let sboms: Vec<(String, String)> = input
        .sboms
        .iter()
        .map(|d| (d.format.to_string(), sha256(&d.bytes)))
        .collect();
    let files = input
        .files
        .iter()
        .map(|(dest, mode, data)| Ok((dest.clone(), *mode, data.sha256()?)))
        .collect::<anyhow::Result<Vec<(String, u32, String)>>>()?;
    Ok(format!(
        "layer {}\nbinary {}\nfiles {files:?}\nca {:?}\nsbom {sboms:?}\ninput {shape:?}\n",
        input.config.compression.as_str(),
        sha256(&input.binary),
        input.ca_bundle.as_deref().map(sha256),
    ))
}

/// A record is a few KiB; a larger one (or a device, a FIFO) is no record.
const RECORD_MAX: u64 = 1 << 20;

/// A regular file, opened without blocking on a FIFO; `None` for anything else.
fn open_regular(path: &Path) -> Option<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    file.metadata().ok()?.is_file().then_some(file)
}

/// `sha256:` of a file, read in chunks (a tarball may hold a large layer).
fn file_digest(path: &Path) -> Option<String> {
    let mut file = open_regular(path)?;
    let mut sink = crate::image::layer::Hashing::new(std::io::sink());
    std::io::copy(&mut file, &mut sink).ok()?;
    Some(crate::image::layer::hex_digest(sink.hasher))
}

/// The recorded result when `key` matches and the tarball and every file beside it are on disk as
/// recorded, at the paths `beside` (this build's).
pub fn lookup(record: &Path, key: &str, tarball: &Path, beside: &[PathBuf]) -> Option<Cached> {
    let text = crate::fsutil::read_regular(record, RECORD_MAX).ok()?;
    let r: Record = serde_json::from_slice(&text).ok()?;
    let w = &r.cached.written;
    if r.format != FORMAT || r.key != key || w.path != tarball {
        return None;
    }
    if w.beside.len() != beside.len() || w.beside.iter().zip(beside).any(|((p, _), want)| p != want)
    {
        return None;
    }
    let size = open_regular(tarball)?.metadata().ok()?.len();
    if size != w.size || file_digest(tarball)? != w.digest {
        return None;
    }
    for (path, digest) in &w.beside {
        if file_digest(path)? != *digest {
            return None;
        }
    }
    Some(r.cached)
}

/// Where a cache hit disagrees with the tarball it names or with this build's inputs (`inputs` in
/// the plan's platform order); `Ok` when the tarball holds, digest for digest, what the record says.
pub fn verify(cached: &Cached, built: &Built, inputs: &[&ImageInput<'_>]) -> Result<(), String> {
    let s = &cached.summary;
    let same = |what: &str, recorded: &str, actual: &str| {
        if recorded == actual {
            Ok(())
        } else {
            Err(format!(
                "the record says {what} {recorded}, the tarball holds {actual}"
            ))
        }
    };
    same("the image", &s.digest, &built.tagged().digest)?;
    same("the index", &s.index_digest, &built.index.digest)?;
    same("the name", &s.reference, &built.reference())?;
    if s.platforms.len() != built.images.len() || inputs.len() != built.images.len() {
        return Err(format!(
            "the record lists {} platforms, the tarball holds {}",
            s.platforms.len(),
            built.images.len()
        ));
    }
    for ((p, image), input) in s.platforms.iter().zip(&built.images).zip(inputs) {
        same("the platform", &p.platform, &image.platform.platform())?;
        same(
            "the platform",
            &input.platform.platform(),
            &image.platform.platform(),
        )?;
        same("the manifest", &p.manifest_digest, &image.manifest.digest)?;
        same("the config", &p.config_digest, &image.config.digest)?;
        let [layer] = image.layers.as_slice() else {
            return Err(format!(
                "{} holds {} layers, not one",
                image.manifest.digest,
                image.layers.len()
            ));
        };
        same("the layer type", &p.layer_media_type, &layer.media_type)?;
        if p.compressed_size != layer.size() {
            return Err(format!(
                "the record says the layer is {} bytes, the tarball's is {}",
                p.compressed_size,
                layer.size()
            ));
        }
        // This build's SBOMs: the first is the one the manifest names; each is a referrer of the
        // image with exactly this build's bytes.
        let first = input
            .sboms
            .first()
            .ok_or("this build has no SBOM document")?;
        same("the SBOM", &p.sbom_digest, &sha256(&first.bytes))?;
        for doc in &input.sboms {
            let digest = sha256(&doc.bytes);
            built
                .referrers_of(&image.manifest.digest)
                .find(|r| r.document.digest == digest)
                .ok_or_else(|| {
                    format!(
                        "the tarball has no {:?} referrer with this build's document",
                        doc.format
                    )
                })?;
        }
        let config: serde_json::Value = serde_json::from_slice(&image.config.data)
            .map_err(|_| "the image config is not JSON".to_string())?;
        let diff_id = config["rootfs"]["diff_ids"][0].as_str().unwrap_or_default();
        layer_holds(layer, diff_id, p.uncompressed_size, &input.binary)?;
    }
    Ok(())
}

/// The layer decompresses to `diff_id` (`size` bytes) and holds a file with the binary's bytes.
fn layer_holds(
    layer: &crate::image::Blob,
    diff_id: &str,
    size: u64,
    binary: &[u8],
) -> Result<(), String> {
    use std::io::Read;
    // From memory, or (a layer over the size kept in memory) from the tarball it was read back
    // from: its bytes checked against its digest on the way. (Reading `data` alone found a stored
    // layer empty, so an image with a large layer was never reused.)
    let data = std::io::BufReader::new(
        layer
            .verified_reader()
            .map_err(|e| format!("the layer: {e}"))?,
    );
    let reader: Box<dyn Read + '_> = match layer.media_type.as_str() {
        crate::settings::compression::LAYER_GZIP => Box::new(flate2::read::GzDecoder::new(data)),
        crate::settings::compression::LAYER_ZSTD => Box::new(
            zstd::stream::read::Decoder::with_buffer(data)
                .map_err(|e| format!("the layer: {e}"))?,
        ),
        other => {
            return Err(format!(
                "the layer's media type {other} is not one cargo-tiny writes"
            ))
        }
    };
    let mut hashing = crate::digest::Hashing::new(std::io::sink());
    let mut tee = TeeReader {
        inner: reader,
        copy: &mut hashing,
    };
    let mut found = false;
    {
        let mut archive = tar::Archive::new(&mut tee);
        let entries = archive
            .entries()
            .map_err(|e| format!("the layer is not a tar: {e}"))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| format!("the layer is not a tar: {e}"))?;
            if found || entry.size() != binary.len() as u64 {
                continue;
            }
            let mut bytes = Vec::with_capacity(binary.len());
            entry
                .read_to_end(&mut bytes)
                .map_err(|e| format!("the layer: {e}"))?;
            found = bytes == binary;
        }
    }
    // The rest of the stream (the tar's end blocks) is part of the diff_id.
    std::io::copy(&mut tee, &mut std::io::sink()).map_err(|e| format!("the layer: {e}"))?;
    let got = crate::digest::hex_digest(hashing.hasher.clone());
    if got != diff_id || hashing.count != size {
        return Err(format!(
            "the layer decompresses to {got} ({} bytes), not the config's {diff_id} ({size} bytes)",
            hashing.count
        ));
    }
    if !found {
        return Err("the layer does not hold the binary just compiled".into());
    }
    Ok(())
}

/// Passes the bytes read through to a writer (the diff_id's hasher).
struct TeeReader<'a, R, W> {
    inner: R,
    copy: &'a mut W,
}

impl<R: std::io::Read, W: std::io::Write> std::io::Read for TeeReader<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Records a written result. The cache is an optimisation: failing to write it is not an error (the
/// next build rebuilds), and a stale record is removed first so it can never match.
pub fn store(record: &Path, key: &str, cached: &Cached) {
    let _ = std::fs::remove_file(record);
    let Some(dir) = record.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    crate::fsutil::sweep_stale_temps(dir);
    let Ok(json) = serde_json::to_vec(&Record {
        format: FORMAT,
        key: key.to_string(),
        cached: cached.clone(),
    }) else {
        return;
    };
    // fsutil's writer: a killed run's `.cargo-tiny-<pid>-*.tmp` is swept by a later one.
    let write = |mut f: &std::fs::File| {
        use std::io::Write;
        Ok(f.write_all(&json)?)
    };
    if let Ok(tmp) = crate::fsutil::stage(record, crate::fsutil::Mode::Shared, "", write) {
        let _ = tmp.persist(record);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::TinyConfig;
    use std::collections::BTreeMap;

    fn amd64() -> Target {
        Target::from_platform("linux/amd64").unwrap()
    }

    fn key(input: &ImageInput<'_>, mtime: u64) -> anyhow::Result<String> {
        super::key(&[input], Kind::Image, &amd64(), mtime)
    }

    fn input(cfg: &TinyConfig) -> ImageInput<'_> {
        ImageInput {
            name: "app".into(),
            tag: "1.0.0".into(),
            bin: "app".into(),
            binary: b"\x7fELF binary".to_vec(),
            platform: amd64(),
            config: cfg,
            files: vec![("/etc/app.toml".into(), 0o644, b"a = 1".to_vec().into())],
            ca_bundle: None,
            created: crate::source_date::SourceDate::at(0),
            annotations: BTreeMap::new(),
            sboms: vec![crate::sbom::Document {
                format: crate::sbom::Format::DEFAULT,
                bytes: b"{}".to_vec(),
            }],
        }
    }

    #[test]
    fn a_source_is_hashed_by_streaming_like_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("app.toml");
        std::fs::write(&p, "a = 1").unwrap();
        let cfg = TinyConfig::default();
        let mut i = input(&cfg);
        i.files[0].2 = crate::image::layer::Data::Source {
            opened: crate::image::source::OpenedSource::open(&p).unwrap(),
            what: "app.toml".into(),
        };
        assert_eq!(key(&i, 0).unwrap(), key(&input(&cfg), 0).unwrap());
        std::fs::write(&p, "a = 22").unwrap();
        let e = key(&i, 0).unwrap_err().to_string();
        assert!(e.starts_with("app.toml: changed size"), "{e}");
    }

    #[test]
    fn every_input_changes_the_key() {
        let cfg = TinyConfig::default();
        let base = key(&input(&cfg), 0).unwrap();
        assert_eq!(base, key(&input(&cfg), 0).unwrap(), "deterministic");
        let mut changed = Vec::new();
        let mut i = input(&cfg);
        i.binary.push(0);
        changed.push(key(&i, 0).unwrap());
        let mut i = input(&cfg);
        i.files[0].2 = b"a = 2".to_vec().into();
        changed.push(key(&i, 0).unwrap());
        let mut i = input(&cfg);
        i.created = crate::source_date::SourceDate::at(1);
        changed.push(key(&i, 0).unwrap());
        changed.push(key(&input(&cfg), 1).unwrap());
        let mut i = input(&cfg);
        i.annotations
            .insert("org.opencontainers.image.revision".into(), "abc".into());
        changed.push(key(&i, 0).unwrap());
        let mut i = input(&cfg);
        i.sboms[0].bytes = b"{ }".to_vec();
        changed.push(key(&i, 0).unwrap());
        let mut i = input(&cfg);
        i.sboms[0].format = crate::sbom::Format::Spdx2;
        changed.push(key(&i, 0).unwrap());
        let mut i = input(&cfg);
        i.ca_bundle = Some(Vec::new());
        changed.push(key(&i, 0).unwrap());
        let other = TinyConfig {
            user: "0:0".into(),
            ..TinyConfig::default()
        };
        changed.push(key(&input(&other), 0).unwrap());
        let mut arm = input(&cfg);
        arm.platform = Target::from_platform("linux/arm64").unwrap();
        changed.push(key(&arm, 0).unwrap());
        let one = input(&cfg);
        changed.push(super::key(&[&one, &arm], Kind::Index, &amd64(), 0).unwrap());
        changed.push(super::key(&[&one], Kind::Index, &amd64(), 0).unwrap());
        changed.push(
            super::key(
                &[&one],
                Kind::Image,
                &Target::from_platform("linux/arm64").unwrap(),
                0,
            )
            .unwrap(),
        );
        for (n, k) in changed.iter().enumerate() {
            assert_ne!(*k, base, "change #{n} kept the key");
        }
    }

    #[test]
    fn load_does_not_change_the_key_tags_do() {
        let cfg = TinyConfig::default();
        let load = TinyConfig {
            load: Some(crate::settings::LoadInto::Docker),
            ..TinyConfig::default()
        };
        assert_eq!(
            key(&input(&cfg), 0).unwrap(),
            key(&input(&load), 0).unwrap()
        );
        // The local image gets its tags (`RepoTags`): other tags, other tarball bytes.
        let tagged = TinyConfig {
            tags: vec!["latest".into()],
            ..TinyConfig::default()
        };
        assert_ne!(
            key(&input(&cfg), 0).unwrap(),
            key(&input(&tagged), 0).unwrap()
        );
    }

    #[test]
    fn a_hit_needs_the_key_and_the_recorded_files() {
        let dir = tempfile::tempdir().unwrap();
        let (tar, sbom) = (dir.path().join("a.tar"), dir.path().join("a.cdx.json"));
        std::fs::write(&tar, b"tar bytes").unwrap();
        std::fs::write(&sbom, b"{}").unwrap();
        let record = record_path(dir.path(), &tar);
        let cached = Cached {
            summary: Summary {
                reference: "a:1".into(),
                kind: Kind::Image,
                digest: "sha256:m".into(),
                index_digest: "sha256:i".into(),
                docker_platform: "linux/amd64".into(),
                platforms: Vec::new(),
                bundles: Vec::new(),
            },
            written: Written {
                path: tar.clone(),
                size: 9,
                digest: sha256(b"tar bytes"),
                beside: vec![(sbom.clone(), sha256(b"{}"))],
            },
        };
        let beside = [sbom.clone()];
        store(&record, "k", &cached);
        assert_eq!(lookup(&record, "k", &tar, &beside), Some(cached.clone()));
        assert_eq!(lookup(&record, "other", &tar, &beside), None);
        let elsewhere = [dir.path().join("b.cdx.json")];
        assert_eq!(
            lookup(&record, "k", &tar, &elsewhere),
            None,
            "other SBOM path"
        );
        std::fs::write(&sbom, b"{ }").unwrap();
        assert_eq!(lookup(&record, "k", &tar, &beside), None, "edited SBOM");
        std::fs::write(&sbom, b"{}").unwrap();
        std::fs::write(&tar, b"tar byteZ").unwrap();
        assert_eq!(lookup(&record, "k", &tar, &beside), None, "edited tarball");
        std::fs::remove_file(&tar).unwrap();
        assert_eq!(lookup(&record, "k", &tar, &beside), None, "deleted tarball");
        std::fs::write(&record, b"garbage").unwrap();
        assert_eq!(lookup(&record, "k", &tar, &beside), None, "corrupt record");
    }
}
