//! From a verified binary to what the image says about it: the [`ImageInput`]'s annotations and
//! SBOM, from the package, the workspace and the audit data. Pure: the caller has read the binary,
//! the CA bundle and opened the extra files into the input; nothing here reads or writes a file,
//! spawns or prints. [`super::build`] turns the input into the image, after the image cache had its
//! say.

use std::collections::BTreeMap;

use anyhow::Result;
use auditable_serde::VersionInfo;
use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;

use super::ImageInput;
use crate::sbom::{self, Sbom, SbomInput};

/// Where an image's SBOM and annotations come from, besides the [`ImageInput`] itself.
pub struct Provenance<'a> {
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
}

/// Fills the input's SBOM and annotations from where the binary came from; returns the SBOM (whose
/// document the input carries too).
pub fn assemble(input: &mut ImageInput<'_>, from: &Provenance<'_>) -> Result<Sbom> {
    let binary_digest = super::sha256(&input.binary);
    let sbom = sbom::build(&SbomInput {
        audit: from.audit,
        packages: from.packages,
        root: from.root,
        lockfile: from.lockfile,
        bin: &input.bin,
        binary_digest: &binary_digest,
        created: &input.created.rfc3339(),
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
    let package = from.package;
    put("title", Some(input.name.clone()));
    put("description", package.description.clone());
    put("version", Some(package.version.to_string()));
    put("revision", from.revision.map(str::to_owned));
    put("source", package.repository.clone());
    put("url", package.homepage.clone());
    put("licenses", package.license.clone());
    put("authors", Some(package.authors.join(", ")));
    put("documentation", package.documentation.clone());

    input.annotations = annotations;
    input.sbom = sbom.json.clone();
    Ok(sbom)
}
