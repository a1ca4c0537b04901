//! The one model every SBOM format is rendered from, built once from what the build knows: the
//! packages cargo compiled into the binary (the audit data, filtered), `cargo metadata`'s
//! descriptions and licences, Cargo.lock's checksums, the binary's digest and the image it goes into.
//!
//! Everything here is derived from the inputs: no clock, no randomness, no path of this machine
//! (local packages' purls are relative to the workspace root).

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use auditable_serde::{DependencyKind, Source};

use super::purl::{find, purl};
use super::SbomInput;

/// The image the binary goes into: the SBOM's described top element. Its manifest digest cannot be
/// in the SBOM (the image manifest names the SBOM's digest in an annotation: a cycle), so it is named
/// by repository and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    pub name: String,
    pub tag: String,
}

/// One compiled package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// The canonical purl.
    pub purl: String,
    /// Unique in the document: the purl, or `purl#N` for a second package with the same purl.
    pub id: String,
    pub description: Option<String>,
    pub license: Option<License>,
    /// SHA-256 of the `.crate` file, from Cargo.lock (registry packages only).
    pub sha256: Option<String>,
    /// Compiled for the host only (build scripts, proc macros and what only they use): not in the
    /// binary.
    pub host_only: bool,
    /// The package whose binary this is.
    pub root: bool,
    /// Indices into [`Model::packages`], each once, in the audit data's order.
    pub dependencies: Vec<usize>,
    pub source: Source,
    /// Cargo's source id (`registry+…`, `git+…#rev`), when `cargo metadata` gave one.
    pub source_id: Option<String>,
}

/// A package's licence as written in its manifest (`/` read as `OR`, the old crates.io spelling).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    pub text: String,
    /// Whether `text` is a valid SPDX licence expression (SPDX licence list ids, `LicenseRef-…`).
    pub is_expression: bool,
}

impl License {
    pub fn new(manifest: &str) -> License {
        let text = manifest.replace('/', " OR ");
        let is_expression = spdx::Expression::parse(&text).is_ok();
        License {
            text,
            is_expression,
        }
    }
}

/// The executable the root package's bin target compiled to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub name: String,
    /// Hex SHA-256 of the binary's bytes (no `sha256:` prefix).
    pub sha256: String,
}

/// What every format describes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub packages: Vec<Package>,
    /// Index of the root package in [`Model::packages`].
    pub root: usize,
    pub binary: Binary,
    pub image: Option<ImageRef>,
    /// RFC 3339, UTC, seconds (the build's source date).
    pub created: String,
    /// cargo-tiny's version (the tool named in each document).
    pub tool_version: String,
}

impl Model {
    /// The model of `input`'s binary, in `image` when there is one.
    pub fn new(input: &SbomInput<'_>, image: Option<ImageRef>) -> Result<Model> {
        let checksums = lock_checksums(input.lockfile);
        let audit = &input.audit.packages;
        let mut packages = Vec::with_capacity(audit.len());
        let mut seen = BTreeSet::new();
        for (i, p) in audit.iter().enumerate() {
            let m = find(input.packages, p);
            let purl = purl(p, m, input.root)?;
            let mut id = purl.clone();
            if !seen.insert(id.clone()) {
                id = format!("{purl}#{i}");
                seen.insert(id.clone());
            }
            let source_id = m.and_then(|m| m.source.as_ref()).map(|s| s.repr.clone());
            let sha256 = source_id.as_ref().and_then(|src| {
                checksums
                    .get(&(p.name.clone(), p.version.to_string(), src.clone()))
                    .cloned()
            });
            let mut dependencies: Vec<usize> = Vec::new();
            for d in &p.dependencies {
                if *d < audit.len() && !dependencies.contains(d) {
                    dependencies.push(*d);
                }
            }
            packages.push(Package {
                name: p.name.clone(),
                version: p.version.to_string(),
                purl,
                id,
                description: m
                    .and_then(|m| m.description.as_deref())
                    .map(|d| d.trim().to_string()),
                license: m.and_then(|m| m.license.as_deref()).map(License::new),
                sha256,
                host_only: p.kind == DependencyKind::Build,
                root: p.root,
                dependencies,
                source: p.source.clone(),
                source_id,
            });
        }
        let root = audit.iter().position(|p| p.root).unwrap_or(0);
        Ok(Model {
            packages,
            root,
            binary: Binary {
                name: input.bin.to_string(),
                sha256: input
                    .binary_digest
                    .trim_start_matches("sha256:")
                    .to_string(),
            },
            image,
            created: input.created.to_string(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        })
    }

    pub fn root_package(&self) -> &Package {
        &self.packages[self.root]
    }

    /// Where a package can be downloaded from, when that is known: crates.io's download URL, or the
    /// git repository at the commit cargo checked out.
    pub fn download_location(&self, p: &Package) -> Option<String> {
        match (&p.source, p.source_id.as_deref()) {
            (Source::CratesIo, _) => Some(format!(
                "https://crates.io/api/v1/crates/{}/{}/download",
                p.name, p.version
            )),
            (Source::Git, Some(id)) => {
                let url = id.trim_start_matches("git+");
                let (url, rev) = url.split_once('#').unwrap_or((url, ""));
                let url = url.split('?').next().unwrap_or(url);
                Some(if rev.is_empty() {
                    format!("git+{url}")
                } else {
                    format!("git+{url}@{rev}")
                })
            }
            _ => None,
        }
    }
}

/// `(name, version, source) → checksum` from Cargo.lock (v3/v4 keep them per package).
fn lock_checksums(text: Option<&str>) -> HashMap<(String, String, String), String> {
    let Some(lock) = text.and_then(|t| t.parse::<toml::Table>().ok()) else {
        return HashMap::new();
    };
    lock.get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            Some(((s("name")?, s("version")?, s("source")?), s("checksum")?))
        })
        .collect()
}

/// A version-5-shaped UUID from the first 16 bytes of a `sha256:` digest: a document's serial number
/// or namespace, derived from its own content.
pub fn uuid_from(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    let mut b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::purl::CRATES_IO;

    #[test]
    fn checksums_come_from_the_lockfile() {
        let lock = "version = 4\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n";
        let sums = lock_checksums(Some(lock));
        assert_eq!(
            sums[&(
                "serde".to_string(),
                "1.0.200".to_string(),
                CRATES_IO[0].to_string()
            )],
            "abc"
        );
    }

    #[test]
    fn licences_are_read_as_spdx_expressions() {
        let l = License::new("MIT/Apache-2.0");
        assert_eq!(l.text, "MIT OR Apache-2.0");
        assert!(l.is_expression);
        assert!(License::new("Apache-2.0 WITH LLVM-exception").is_expression);
        assert!(!License::new("Free for non-commercial use").is_expression);
    }
}
