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

    fn model() -> Model {
        let audit = audit();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let input = SbomInput {
            audit: &audit,
            packages: &[],
            root: Utf8Path::new("/w"),
            lockfile: None,
            bin: "app",
            binary_digest: &digest,
            created: "2023-11-14T22:13:20Z",
        };
        let image = ImageRef {
            name: "ghcr.io/o/app".into(),
            tag: "1.2.0".into(),
        };
        let mut m = Model::new(&input, Some(image)).unwrap();
        m.packages[1].license = Some(model::License::new("MIT/Apache-2.0"));
        m.packages[2].license = Some(model::License::new("Free for all"));
        m
    }

    fn doc(m: &Model, f: Format) -> Value {
        serde_json::from_slice(&render(m, f).unwrap().bytes).unwrap()
    }

    #[test]
    fn every_format_describes_the_image_containing_the_binary_built_from_the_root() {
        let m = model();
        let bin_ref = "pkg:cargo/app@1.2.0?download_url=file:.#bin:app";
        for v in cyclonedx::Version::ALL {
            let d = doc(&m, Format::CycloneDx(v));
            assert_eq!(d["specVersion"], v.as_str());
            let top = &d["metadata"]["component"];
            assert_eq!(
                (&top["type"], &top["name"], &top["version"]),
                (
                    &json!("container"),
                    &json!("ghcr.io/o/app"),
                    &json!("1.2.0")
                )
            );
            assert_eq!(d["components"][0]["bom-ref"], bin_ref);
            assert_eq!(d["components"][0]["hashes"][0]["content"], "ab".repeat(32));
            assert_eq!(
                d["components"][1]["purl"],
                "pkg:cargo/app@1.2.0?download_url=file:."
            );
            assert_eq!(
                d["dependencies"][0],
                json!({"ref": "image:ghcr.io/o/app:1.2.0", "dependsOn": [bin_ref]})
            );
            assert_eq!(
                d["dependencies"][1]["dependsOn"],
                json!(["pkg:cargo/app@1.2.0?download_url=file:."])
            );
        }

        let d = doc(&m, Format::Spdx2);
        let rel = |kind: &str| -> Vec<(String, String)> {
            d["relationships"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|r| r["relationshipType"] == kind)
                .map(|r| {
                    (
                        r["spdxElementId"].as_str().unwrap().into(),
                        r["relatedSpdxElement"].as_str().unwrap().into(),
                    )
                })
                .collect()
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            rel("DESCRIBES"),
            [pair("SPDXRef-DOCUMENT", "SPDXRef-Image")]
        );
        assert_eq!(
            rel("CONTAINS"),
            [
                pair("SPDXRef-Image", "SPDXRef-Binary-app"),
                pair("SPDXRef-Binary-app", "SPDXRef-Package-app-1.2.0")
            ]
        );
        assert_eq!(
            rel("DEPENDS_ON"),
            [pair(
                "SPDXRef-Package-app-1.2.0",
                "SPDXRef-Package-serde-1.0.200"
            )]
        );
        assert_eq!(
            rel("BUILD_DEPENDENCY_OF"),
            [pair(
                "SPDXRef-Package-cc-1.1.0",
                "SPDXRef-Package-app-1.2.0"
            )]
        );
        assert_eq!(d["packages"][0]["primaryPackagePurpose"], "CONTAINER");
        assert_eq!(
            d["packages"][3]["downloadLocation"],
            "https://crates.io/api/v1/crates/serde/1.0.200/download"
        );

        let d = doc(&m, Format::Spdx3);
        let graph = d["@graph"].as_array().unwrap();
        let of_type = |t: &str| graph.iter().filter(|e| e["type"] == t).collect::<Vec<_>>();
        let sbom = of_type("software_Sbom");
        let image = graph
            .iter()
            .find(|e| e["software_primaryPurpose"] == "container")
            .unwrap();
        assert_eq!(sbom[0]["rootElement"][0], image["spdxId"]);
        let scoped = of_type("LifecycleScopedRelationship");
        let scopes: Vec<(&str, usize)> = scoped
            .iter()
            .map(|r| {
                (
                    r["scope"].as_str().unwrap(),
                    r["to"].as_array().unwrap().len(),
                )
            })
            .collect();
        assert_eq!(scopes, [("runtime", 1), ("build", 1)]);
        assert!(scoped[1]["to"][0]
            .as_str()
            .unwrap()
            .ends_with("/Package/cc-1.1.0"));
        // Every element's id lies under the document's namespace.
        let ns = graph[1]["spdxId"]
            .as_str()
            .unwrap()
            .trim_end_matches("/Document");
        assert!(
            ns.starts_with("https://spdx.org/spdxdocs/cargo-tiny/app-"),
            "{ns}"
        );
        for e in &graph[1..] {
            assert!(e["spdxId"].as_str().unwrap().starts_with(ns), "{e}");
        }
    }

    #[test]
    fn a_licence_that_is_no_spdx_expression_is_kept_as_text() {
        let m = model();
        let d = doc(&m, Format::CycloneDx(cyclonedx::Version::V1_6));
        assert_eq!(
            d["components"][2]["licenses"],
            json!([{"expression": "MIT OR Apache-2.0"}])
        );
        assert_eq!(
            d["components"][3]["licenses"],
            json!([{"license": {"name": "Free for all"}}])
        );
        let d = doc(&m, Format::Spdx2);
        assert_eq!(d["packages"][3]["licenseDeclared"], "MIT OR Apache-2.0");
        assert_eq!(d["packages"][4]["licenseDeclared"], "LicenseRef-cargo-0");
        assert_eq!(
            d["hasExtractedLicensingInfos"],
            json!([{"licenseId": "LicenseRef-cargo-0", "extractedText": "Free for all", "name": "Free for all"}])
        );
        let d = doc(&m, Format::Spdx3);
        let e = d["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["simplelicensing_licenseExpression"] == "LicenseRef-cargo-1")
            .unwrap();
        let text_id = &e["simplelicensing_customIdToUri"][0]["value"];
        let text = d["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| &e["spdxId"] == text_id)
            .unwrap();
        assert_eq!(text["simplelicensing_licenseText"], "Free for all");
    }

    #[test]
    fn documents_are_derived_from_their_content() {
        let m = model();
        let mut later = m.clone();
        later.created = "2024-01-01T00:00:00Z".into();
        for f in Format::ALL {
            let a = render(&m, f).unwrap().bytes;
            assert_eq!(a, render(&m, f).unwrap().bytes, "{f}");
            assert!(a.ends_with(b"}\n"), "{f}");
            assert_ne!(a, render(&later, f).unwrap().bytes, "{f}");
        }
        let ns = |m: &Model| doc(m, Format::Spdx2)["documentNamespace"].clone();
        assert_ne!(ns(&m), ns(&later));
    }

    #[test]
    fn cyclonedx_bom_reads_the_image_document() {
        use cyclonedx_bom::models::bom::{Bom, SpecVersion};
        use cyclonedx_bom::validation::Validate;
        let m = model();
        let bytes = cyclonedx::render(&m, cyclonedx::Version::V1_5).unwrap();
        let bom = Bom::parse_from_json_v1_5(bytes.as_slice()).unwrap();
        let result = bom.validate_version(SpecVersion::V1_5);
        assert!(result.passed(), "{result:?}");
    }
}
