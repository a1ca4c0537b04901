//! The SBOM: one [`Model`] of what the binary was compiled from (the packages read back out of the
//! binary's audit data and cross-checked against what cargo compiled, enriched with what
//! `cargo metadata` and `Cargo.lock` know), rendered into each [`Format`]: CycloneDX 1.5/1.6/1.7
//! ([`cyclonedx`]), SPDX 2.3 JSON ([`spdx2`]), SPDX 3.0.1 JSON-LD ([`spdx3`]). [`vex`] checks an
//! OpenVEX document to attach beside them.
//!
//! Deterministic: timestamps are the build's source date, serial numbers and namespaces UUIDs derived
//! from each document's own content, local paths relative to the workspace. Nothing random, nothing
//! from the clock, nothing from the checkout's path.

pub mod cyclonedx;
pub mod format;
pub mod model;
pub mod purl;
pub mod spdx2;
pub mod spdx3;
pub mod vex;

use anyhow::Result;
use auditable_serde::VersionInfo;
use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;

pub use format::Format;
pub use model::{ImageRef, Model};
pub use purl::{purl, same_package};

/// Everything the SBOM is made from.
pub struct SbomInput<'a> {
    pub audit: &'a VersionInfo,
    /// `cargo metadata`'s packages.
    pub packages: &'a [Package],
    /// The workspace root (local paths in purls are relative to it).
    pub root: &'a Utf8Path,
    /// The text of the workspace's Cargo.lock, when there is one.
    pub lockfile: Option<&'a str>,
    pub bin: &'a str,
    /// `sha256:…` of the binary.
    pub binary_digest: &'a str,
    pub created: &'a str,
}

/// The document, pretty-printed with a trailing newline, and the number of packages it lists.
pub struct Sbom {
    pub json: Vec<u8>,
    pub packages: usize,
}

/// One rendered document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub format: Format,
    /// The bytes to write and attach (pretty JSON, trailing newline).
    pub bytes: Vec<u8>,
}

/// `model` in `format`.
pub fn render(model: &Model, format: Format) -> Result<Document> {
    let bytes = match format {
        Format::CycloneDx(v) => cyclonedx::render(model, v)?,
        Format::Spdx2 => spdx2::render(model)?,
        Format::Spdx3 => spdx3::render(model)?,
    };
    Ok(Document { format, bytes })
}

/// The CycloneDX 1.5 document the build attaches today: the root package described, the binary in
/// it, no image element. The wiring of `--sbom` replaces this call with [`Model::new`] (with the
/// image) and [`render`] per selected format.
pub fn build(input: &SbomInput<'_>) -> Result<Sbom> {
    let model = Model::new(input, None)?;
    Ok(Sbom {
        json: cyclonedx::render(&model, cyclonedx::Version::V1_5)?,
        packages: model.packages.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn audit() -> VersionInfo {
        serde_json::from_str(
            r#"{"packages":[
                {"name":"app","version":"1.2.0","source":"local","dependencies":[1,2],"root":true},
                {"name":"serde","version":"1.0.200","source":"crates.io"},
                {"name":"cc","version":"1.1.0","source":"crates.io","kind":"build"}
            ]}"#,
        )
        .unwrap()
    }

    fn sbom(created: &str) -> Value {
        let audit = audit();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let s = build(&SbomInput {
            audit: &audit,
            packages: &[],
            root: Utf8Path::new("/w"),
            lockfile: None,
            bin: "app",
            binary_digest: &digest,
            created,
        })
        .unwrap();
        assert_eq!(s.packages, 3);
        serde_json::from_slice(&s.json).unwrap()
    }

    #[test]
    fn lists_every_audited_package_with_its_graph() {
        let v = sbom("1970-01-01T00:00:00Z");
        assert_eq!(v["metadata"]["component"]["name"], "app");
        let comps = v["components"].as_array().unwrap();
        assert_eq!(comps.len(), 2);
        assert_eq!(comps[0]["purl"], "pkg:cargo/serde@1.0.200");
        assert_eq!(comps[0]["scope"], "required");
        assert_eq!(
            comps[1]["scope"], "excluded",
            "build dependencies are not in the binary"
        );
        assert_eq!(
            v["dependencies"][0]["dependsOn"],
            json!(["pkg:cargo/cc@1.1.0", "pkg:cargo/serde@1.0.200"])
        );
    }

    #[test]
    fn serial_and_timestamp_are_derived_not_random() {
        let a = sbom("1970-01-01T00:00:00Z");
        assert_eq!(a, sbom("1970-01-01T00:00:00Z"));
        let b = sbom("2023-11-14T22:13:20Z");
        assert_ne!(a["serialNumber"], b["serialNumber"]);
        assert_eq!(b["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        let serial = a["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "5", "version nibble");
    }

    #[test]
    fn cyclonedx_bom_reads_and_validates_it() {
        use cyclonedx_bom::models::bom::Bom;
        use cyclonedx_bom::validation::Validate;
        let v = sbom("1970-01-01T00:00:00Z");
        let bom = Bom::parse_from_json_v1_5(serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
        let result = bom.validate_version(cyclonedx_bom::models::bom::SpecVersion::V1_5);
        assert!(result.passed(), "{result:?}");
    }
}
