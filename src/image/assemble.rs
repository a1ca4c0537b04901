//! From a verified binary to what the image is made of: its [`ImageInput`] (config, annotations,
//! files) and its SBOM. Pure: the caller has read the binary, the CA bundle and opened the extra
//! files; nothing here reads or writes a file, spawns or prints. [`super::build`] turns the input into
//! the [`super::Image`] value, after the image cache had its say.

use std::collections::BTreeMap;

use anyhow::Result;
use auditable_serde::VersionInfo;
use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;

use super::{layer, ImageInput};
use crate::sbom::{self, Sbom, SbomInput};
use crate::settings::TinyConfig;

/// Everything one image is made from.
pub struct Parts<'a> {
    pub name: &'a str,
    pub tag: &'a str,
    pub bin: &'a str,
    pub config: &'a TinyConfig,
    /// The bin's package (the annotations come from it).
    pub package: &'a Package,
    /// `cargo metadata`'s packages, the workspace root and the lockfile text (for the SBOM).
    pub packages: &'a [Package],
    pub root: &'a Utf8Path,
    pub lockfile: Option<&'a str>,
    /// git HEAD's commit id.
    pub revision: Option<&'a str>,
    /// The packages this build compiled into the binary.
    pub audit: &'a VersionInfo,
    pub binary: Vec<u8>,
    pub ca_bundle: Option<Vec<u8>>,
    pub files: Vec<(String, u32, layer::Data)>,
    pub arch: (&'static str, Option<&'static str>),
    /// RFC 3339 and seconds since the epoch, the same instant.
    pub created: &'a str,
    pub epoch: i64,
}

/// The image's input and its SBOM (whose document the input carries too).
pub fn assemble(parts: Parts<'_>) -> Result<(ImageInput<'_>, Sbom)> {
    let binary_digest = super::sha256(&parts.binary);
    let sbom = sbom::build(&SbomInput {
        audit: parts.audit,
        packages: parts.packages,
        root: parts.root,
        lockfile: parts.lockfile,
        bin: parts.bin,
        binary_digest: &binary_digest,
        created: parts.created,
    })?;

    let mut annotations = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            annotations.insert(
                format!("org.opencontainers.image.{k}"),
                v.trim().to_string(),
            );
        }
    };
    put("title", Some(parts.name.to_string()));
    put("description", parts.package.description.clone());
    put("version", Some(parts.package.version.to_string()));
    put("revision", parts.revision.map(str::to_owned));
    put("source", parts.package.repository.clone());
    put("url", parts.package.homepage.clone());
    put("licenses", parts.package.license.clone());
    put("authors", Some(parts.package.authors.join(", ")));
    put("documentation", parts.package.documentation.clone());

    let input = ImageInput {
        name: parts.name.to_string(),
        tag: parts.tag.to_string(),
        bin: parts.bin.to_string(),
        binary: parts.binary,
        arch: parts.arch,
        config: parts.config,
        files: parts.files,
        ca_bundle: parts.ca_bundle,
        created: parts.epoch,
        annotations,
        sbom: sbom.json.clone(),
    };
    Ok((input, sbom))
}
