//! The image's one layer: a tar built from hand-made ustar headers, then compressed as chosen
//! ([`Compression`]: gzip, gzip-max or zstd, each with fixed headers).
//!
//! Deterministic by construction: entries sorted by path with every parent directory listed, the same
//! mtime on every entry, explicit uid/gid with empty user and group names, no PAX records. The `tar`
//! crate's own path-based appends copy host metadata, so they are not used.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

pub use super::compression::Compression;
use sha2::{Digest, Sha256};

/// One file or directory of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    /// `None` for a directory.
    pub data: Option<Vec<u8>>,
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
    pub fn file(&mut self, path: &str, mode: u32, data: Vec<u8>) {
        let path = path.trim_start_matches('/');
        self.parents(path);
        self.entries.insert(
            path.to_string(),
            Entry {
                mode,
                uid: 0,
                gid: 0,
                data: Some(data),
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
    let mut b = tar::Builder::new(Vec::new());
    for (path, e) in &tree.entries {
        let mut h = tar::Header::new_ustar();
        h.set_path(path)
            .with_context(|| format!("layer path {path}"))?;
        h.set_mode(e.mode);
        h.set_uid(e.uid);
        h.set_gid(e.gid);
        h.set_mtime(mtime);
        let data: &[u8] = match &e.data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                d
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                &[]
            }
        };
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data)?;
    }
    Ok(b.into_inner()?)
}

/// gzip at level 9 with a fixed header (see [`super::compression::gzip`]).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    super::compression::gzip(data)
}

pub fn sha256(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

impl Layer {
    /// The OCI media type of the blob.
    pub fn media_type(&self) -> &'static str {
        self.compression.media_type()
    }
}

/// Builds the layer of `tree`, compressed with `compression`.
pub fn build(tree: &Tree, mtime: u64, compression: Compression) -> Result<Layer> {
    let raw = tar(tree, mtime)?;
    Ok(Layer {
        compressed: compression.compress(&raw)?,
        compression,
        diff_id: sha256(&raw),
        uncompressed_size: raw.len() as u64,
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
}
