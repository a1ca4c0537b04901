//! The image's one layer: a tar built from hand-made ustar headers, then compressed as chosen
//! ([`Compression`]: gzip, gzip-max or zstd, each with fixed headers).
//!
//! The tar is streamed: written straight into a writer that hashes it (the `diff_id`) and feeds the
//! compressor, and a `files` source is read from its handle in chunks, so a large source is never
//! held in memory (only the compressed blob is).
//!
//! Deterministic by construction: entries sorted by path with every parent directory listed, the same
//! mtime on every entry, explicit uid/gid with empty user and group names, no PAX records. The `tar`
//! crate's own path-based appends copy host metadata, so they are not used.

use std::collections::BTreeMap;

use std::io::Write;

use crate::progress::{Meter, Metered};

use anyhow::{Context, Result};

pub use super::compression::Compression;
use super::source::OpenedSource;
pub use crate::digest::{hex_digest, sha256, Hashing};
use crate::error::Failure;

/// A file's contents: bytes in memory (the binary, passwd, the CA bundle: small), or a `files`
/// source read from its handle while the tar is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Data {
    Bytes(Vec<u8>),
    Source {
        opened: OpenedSource,
        /// What errors call the file (`` `files."/dest"` in Cargo.toml: cannot read src ``).
        what: String,
    },
}

impl Data {
    pub fn len(&self) -> u64 {
        match self {
            Data::Bytes(b) => b.len() as u64,
            Data::Source { opened, .. } => opened.size,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `sha256:` of the contents (a source is read in chunks).
    pub fn sha256(&self) -> Result<String> {
        match self {
            Data::Bytes(b) => Ok(sha256(b)),
            Data::Source { opened, what } => opened.sha256().map_err(|e| source_failure(what, e)),
        }
    }
}

impl From<Vec<u8>> for Data {
    fn from(b: Vec<u8>) -> Data {
        Data::Bytes(b)
    }
}

fn source_failure(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!("{what}: {e}"))
        .hint("keep the file in place while cargo tiny build runs")
        .into()
}

/// One file or directory of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// `None` for a directory.
    pub data: Option<Data>,
}

/// The layer's tree, keyed by path without the leading `/` (directories end in `/`).
#[derive(Debug, Clone, Default)]
pub struct Tree {
    entries: BTreeMap<String, Entry>,
}

impl Tree {
    /// Adds a directory (and its parents, 0755 root-owned unless added before).
    pub fn dir(&mut self, path: &str, mode: u32, uid: u64, gid: u64) {
        let path = path.trim_matches('/');
        self.parents(path);
        self.entries.insert(
            format!("{path}/"),
            Entry {
                mode,
                uid,
                gid,
                data: None,
            },
        );
    }

    /// Adds a root-owned file (and its parents).
    pub fn file(&mut self, path: &str, mode: u32, data: impl Into<Data>) {
        let path = path.trim_start_matches('/');
        self.parents(path);
        self.entries.insert(
            path.to_string(),
            Entry {
                mode,
                uid: 0,
                gid: 0,
                data: Some(data.into()),
            },
        );
    }

    fn parents(&mut self, path: &str) {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len().saturating_sub(1)] {
            prefix.push_str(p);
            prefix.push('/');
            self.entries.entry(prefix.clone()).or_insert(Entry {
                mode: 0o755,
                uid: 0,
                gid: 0,
                data: None,
            });
        }
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

/// A built layer: the compressed blob and what the image config and manifest say about it.
#[derive(Debug, Clone)]
pub struct Layer {
    /// The compressed stream (the blob).
    pub compressed: Vec<u8>,
    pub compression: Compression,
    /// `sha256:` of the uncompressed tar (the config's `diff_ids`).
    pub diff_id: String,
    pub uncompressed_size: u64,
}

/// The uncompressed tar of `tree`, every entry stamped with `mtime`.
pub fn tar(tree: &Tree, mtime: u64) -> Result<Vec<u8>> {
    write_tar(tree, mtime, Vec::new())
}

/// The size of [`tar`]'s output, known before it is written: a 512-byte header per entry, the data
/// padded to 512 bytes, and the two zero blocks that end the archive.
pub fn tar_size(tree: &Tree) -> u64 {
    let data: u64 = tree
        .entries
        .values()
        .map(|e| 512 + e.data.as_ref().map_or(0, |d| d.len().div_ceil(512) * 512))
        .sum();
    data + 1024
}

/// The ustar header of a regular file of `size` bytes, or of a directory (`None`): no host metadata.
pub fn header(
    path: &str,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: u64,
    size: Option<u64>,
) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)
        .with_context(|| format!("layer path {path}"))?;
    h.set_mode(mode);
    h.set_uid(uid);
    h.set_gid(gid);
    h.set_mtime(mtime);
    h.set_entry_type(match size {
        Some(_) => tar::EntryType::Regular,
        None => tar::EntryType::Directory,
    });
    h.set_size(size.unwrap_or(0));
    h.set_cksum();
    Ok(h)
}

/// Writes the tar of `tree` into `w` (a `files` source in chunks from its handle); gives `w` back.
pub fn write_tar<W: Write>(tree: &Tree, mtime: u64, w: W) -> Result<W> {
    let mut b = tar::Builder::new(w);
    for (path, e) in &tree.entries {
        let size = e.data.as_ref().map(Data::len);
        let h = header(path, e.mode, e.uid, e.gid, mtime, size)?;
        match &e.data {
            Some(Data::Bytes(d)) => b.append(&h, d.as_slice())?,
            Some(Data::Source { opened, what }) => {
                let r = opened.reader().map_err(|e| source_failure(what, e))?;
                // 1 MiB reads and writes (io::copy's own buffer is 8 KiB).
                let r = std::io::BufReader::with_capacity(1 << 20, r);
                b.append(&h, r).map_err(|e| source_failure(what, e))?
            }
            None => b.append(&h, std::io::empty())?,
        }
    }
    Ok(b.into_inner()?)
}

/// gzip at level 9 with a fixed header (see [`super::compression::gzip`]).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    super::compression::gzip(data)
}

impl Layer {
    /// The OCI media type of the blob.
    pub fn media_type(&self) -> &'static str {
        self.compression.media_type()
    }
}

/// Builds the layer of `tree`, compressed with `compression`: the tar streams through the hash and
/// the compressor, only the compressed blob is kept.
pub fn build(tree: &Tree, mtime: u64, compression: Compression) -> Result<Layer> {
    build_metered(tree, mtime, compression, &Meter::none())
}

/// [`build`], counting the tar's bytes into `meter` as they reach the compressor.
pub fn build_metered(
    tree: &Tree,
    mtime: u64,
    compression: Compression,
    meter: &Meter,
) -> Result<Layer> {
    let size = tar_size(tree);
    // gzip-max takes the tar whole and compresses it when finished: counting the tar's bytes would
    // fill the bar at once, so its line says only how long it has run.
    let whole = compression == Compression::GzipMax;
    let counted = if whole { Meter::none() } else { meter.clone() };
    counted.grow(size);
    let sink = Metered::new(Hashing::new(compression.writer(size)?), counted);
    let sink = write_tar(tree, mtime, sink)?.inner;
    let _busy = whole.then(|| {
        meter.busy(format!(
            "zopfli on a {} tar",
            crate::shell::human_size(size)
        ))
    });
    Ok(Layer {
        compressed: sink.inner.finish()?,
        compression,
        diff_id: hex_digest(sink.hasher),
        uncompressed_size: sink.count,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Tree {
        let mut t = Tree::default();
        t.file("/usr/local/bin/app", 0o755, b"\x7fELF".to_vec());
        t.file(
            "/etc/passwd",
            0o644,
            b"root:x:0:0::/:/sbin/nologin\n".to_vec(),
        );
        t.dir("/tmp", 0o1777, 0, 0);
        t
    }

    #[test]
    fn parents_are_explicit_and_sorted() {
        let t = sample();
        let paths: Vec<&str> = t.paths().collect();
        assert_eq!(
            paths,
            [
                "etc/",
                "etc/passwd",
                "tmp/",
                "usr/",
                "usr/local/",
                "usr/local/bin/",
                "usr/local/bin/app"
            ]
        );
    }

    #[test]
    fn headers_carry_no_host_metadata() {
        let raw = tar(&sample(), 42).unwrap();
        let mut a = tar::Archive::new(raw.as_slice());
        for e in a.entries().unwrap() {
            let e = e.unwrap();
            let h = e.header();
            assert_eq!(h.mtime().unwrap(), 42);
            assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0));
            assert_eq!(h.username().unwrap(), Some(""));
            assert!(h.as_ustar().is_some(), "ustar, no PAX/GNU records");
        }
    }

    #[test]
    fn same_tree_same_digest() {
        let a = build(&sample(), 0, Compression::Gzip).unwrap();
        let b = build(&sample(), 0, Compression::Gzip).unwrap();
        assert_eq!(a.compressed, b.compressed);
        assert_ne!(
            build(&sample(), 1, Compression::Gzip).unwrap().diff_id,
            a.diff_id
        );
        // Pinned: a change of deflate backend or header shows up here.
        assert_eq!(&a.compressed[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
    }

    #[test]
    fn compression_changes_the_blob_not_the_diff_id() {
        let gz = build(&sample(), 0, Compression::Gzip).unwrap();
        for c in [Compression::GzipMax, Compression::Zstd] {
            let l = build(&sample(), 0, c).unwrap();
            assert_eq!(l.diff_id, gz.diff_id, "{c}: same tar");
            assert_ne!(l.compressed, gz.compressed, "{c}: other bytes");
            assert_eq!(l.media_type(), c.media_type());
            assert_eq!(l.compressed, build(&sample(), 0, c).unwrap().compressed);
        }
    }

    #[test]
    fn a_source_streams_into_the_same_layer_as_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big.bin");
        // Over one zopfli chunk (1 MB) and not a multiple of 512.
        let bytes: Vec<u8> = (0..1_300_001u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &bytes).unwrap();
        let opened = crate::image::source::OpenedSource::open(&p).unwrap();
        let mut in_memory = sample();
        in_memory.file("/data/big.bin", 0o644, bytes.clone());
        let mut streamed = sample();
        streamed.file(
            "/data/big.bin",
            0o644,
            Data::Source {
                opened: opened.clone(),
                what: "big.bin".into(),
            },
        );
        let raw = tar(&in_memory, 7).unwrap();
        assert_eq!(raw.len() as u64, tar_size(&in_memory));
        assert_eq!(tar(&streamed, 7).unwrap(), raw);
        for c in Compression::ALL {
            let a = build(&streamed, 7, c).unwrap();
            assert_eq!(a.compressed, c.compress(&raw).unwrap(), "{c}");
            assert_eq!(a.diff_id, sha256(&raw));
            assert_eq!(a.uncompressed_size, raw.len() as u64);
        }
        // The file shrinks after it was checked: an error naming it, no layer.
        std::fs::OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(1000)
            .unwrap();
        let e = build(&streamed, 7, Compression::Gzip).unwrap_err();
        let f = e.downcast_ref::<Failure>().expect("a user-facing failure");
        assert!(
            f.to_string()
                .starts_with("big.bin: changed size during the build (1300001 → 1000 bytes)"),
            "{f}"
        );
    }

    #[test]
    fn an_empty_source_is_an_empty_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("empty");
        std::fs::write(&p, "").unwrap();
        let mut t = sample();
        t.file(
            "/data/empty",
            0o644,
            Data::Source {
                opened: crate::image::source::OpenedSource::open(&p).unwrap(),
                what: "empty".into(),
            },
        );
        let mut bytes = sample();
        bytes.file("/data/empty", 0o644, Vec::new());
        assert_eq!(tar(&t, 0).unwrap(), tar(&bytes, 0).unwrap());
        assert_eq!(tar_size(&t), tar(&t, 0).unwrap().len() as u64);
    }
}
