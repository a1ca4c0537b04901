//! The SBOM formats cargo-tiny writes, as data: the name a user selects, the file beside the tarball,
//! the media type (the blob's, and the referrer's `artifactType`) and the in-toto predicate type an
//! attestation of the document carries.

use std::fmt;

use super::cyclonedx::Version;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    CycloneDx(Version),
    /// SPDX 2.3 JSON.
    Spdx2,
    /// SPDX 3.0.1 JSON-LD.
    Spdx3,
}

/// `application/vnd.cyclonedx+json`: CycloneDX's IANA media type, and the artifact type trivy's
/// `--sbom-sources oci`, Docker Scout and ORAS look for (every CycloneDX version: the version is in
/// the document).
pub const CYCLONEDX_MEDIA_TYPE: &str = "application/vnd.cyclonedx+json";
/// `application/spdx+json`: SPDX 2's IANA media type, and trivy's SPDX artifact type.
pub const SPDX_MEDIA_TYPE: &str = "application/spdx+json";
/// `application/spdx3+json`: SPDX 3's IANA media type (registered 2026-06; "not compatible with SPDX
/// JSON, which uses a different data model and a different media type").
pub const SPDX3_MEDIA_TYPE: &str = "application/spdx3+json";

/// in-toto predicate types (in-toto/attestation's vetted CycloneDX and SPDX predicates).
pub const CYCLONEDX_PREDICATE: &str = "https://cyclonedx.org/bom";
pub const SPDX2_PREDICATE: &str = "https://spdx.dev/Document/v2.3";
pub const SPDX3_PREDICATE: &str = "https://spdx.dev/Document/v3.0.1";

/// What `--sbom` / `sbom = [...]` accept, and the format each names.
const NAMES: &[(&str, Format)] = &[
    ("cyclonedx", Format::DEFAULT),
    ("cyclonedx-1.5", Format::CycloneDx(Version::V1_5)),
    ("cyclonedx-1.6", Format::CycloneDx(Version::V1_6)),
    ("cyclonedx-1.7", Format::CycloneDx(Version::V1_7)),
    ("spdx", Format::Spdx2),
    ("spdx-2.3", Format::Spdx2),
    ("spdx-3.0.1", Format::Spdx3),
];

impl Format {
    /// CycloneDX 1.6: what current scanners read best (trivy 0.59 cannot read 1.7).
    pub const DEFAULT: Format = Format::CycloneDx(Version::V1_6);

    /// Every format, in the order documents are written and reported.
    pub const ALL: [Format; 5] = [
        Format::CycloneDx(Version::V1_5),
        Format::CycloneDx(Version::V1_6),
        Format::CycloneDx(Version::V1_7),
        Format::Spdx2,
        Format::Spdx3,
    ];

    /// One name of [`NAMES`].
    pub fn parse(name: &str) -> Result<Format, String> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
            .map(|(_, f)| *f)
            .ok_or_else(|| {
                let known: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown SBOM format `{}` (known: {})",
                    name.trim(),
                    known.join(", ")
                )
            })
    }

    /// A list of names (`cyclonedx,spdx`): each format once, at most one per file suffix (two
    /// CycloneDX versions would both be `NAME.cdx.json`).
    pub fn parse_list(names: &[&str]) -> Result<Vec<Format>, String> {
        let mut out: Vec<Format> = Vec::new();
        for name in names.iter().flat_map(|n| n.split(',')) {
            let f = Format::parse(name)?;
            if let Some(other) = out.iter().find(|o| o.suffix() == f.suffix()) {
                return Err(if *other == f {
                    format!("SBOM format {f} is selected twice")
                } else {
                    format!(
                        "SBOM formats {other} and {f} would both be written to NAME.{}: select one",
                        f.suffix()
                    )
                });
            }
            out.push(f);
        }
        if out.is_empty() {
            return Err("no SBOM format selected".into());
        }
        Ok(out)
    }

    /// The file name's suffix: `NAME.<suffix>` beside the tarball.
    pub fn suffix(self) -> &'static str {
        match self {
            Format::CycloneDx(_) => "cdx.json",
            Format::Spdx2 => "spdx.json",
            Format::Spdx3 => "spdx3.json",
        }
    }

    /// The blob's media type, also the referrer manifest's `artifactType`.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::CycloneDx(_) => CYCLONEDX_MEDIA_TYPE,
            Format::Spdx2 => SPDX_MEDIA_TYPE,
            Format::Spdx3 => SPDX3_MEDIA_TYPE,
        }
    }

    /// The in-toto predicate type of an attestation carrying this document.
    pub fn predicate_type(self) -> &'static str {
        match self {
            Format::CycloneDx(_) => CYCLONEDX_PREDICATE,
            Format::Spdx2 => SPDX2_PREDICATE,
            Format::Spdx3 => SPDX3_PREDICATE,
        }
    }
}

/// `CycloneDX 1.6`, `SPDX 2.3`, `SPDX 3.0.1`: how status lines name a format.
impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Format::CycloneDx(v) => write!(f, "CycloneDX {}", v.as_str()),
            Format::Spdx2 => f.write_str("SPDX 2.3"),
            Format::Spdx3 => f.write_str("SPDX 3.0.1"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_select_formats() {
        assert_eq!(Format::parse("cyclonedx"), Ok(Format::DEFAULT));
        assert_eq!(Format::parse("SPDX"), Ok(Format::Spdx2));
        assert_eq!(
            Format::parse_list(&["cyclonedx,spdx"]),
            Ok(vec![Format::DEFAULT, Format::Spdx2])
        );
        assert_eq!(
            Format::parse_list(&["cyclonedx-1.5", "spdx-3.0.1", "spdx"]),
            Ok(vec![
                Format::CycloneDx(Version::V1_5),
                Format::Spdx3,
                Format::Spdx2
            ])
        );
        let e = Format::parse("swid").unwrap_err();
        assert!(
            e.starts_with("unknown SBOM format `swid` (known: cyclonedx,"),
            "{e}"
        );
        let e = Format::parse_list(&["cyclonedx,cyclonedx-1.7"]).unwrap_err();
        assert_eq!(e, "SBOM formats CycloneDX 1.6 and CycloneDX 1.7 would both be written to NAME.cdx.json: select one");
        let e = Format::parse_list(&["spdx,spdx-2.3"]).unwrap_err();
        assert_eq!(e, "SBOM format SPDX 2.3 is selected twice");
        assert!(Format::parse_list(&[]).is_err());
    }

    #[test]
    fn each_format_has_its_own_file_and_media_type() {
        let suffixes: std::collections::BTreeSet<_> =
            [Format::DEFAULT, Format::Spdx2, Format::Spdx3]
                .iter()
                .map(|f| f.suffix())
                .collect();
        assert_eq!(suffixes.len(), 3);
        assert_eq!(
            Format::CycloneDx(Version::V1_5).media_type(),
            crate::image::CYCLONEDX
        );
        assert_eq!(Format::Spdx2.media_type(), "application/spdx+json");
        assert_eq!(Format::Spdx3.to_string(), "SPDX 3.0.1");
    }
}
