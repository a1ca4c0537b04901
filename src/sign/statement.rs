//! in-toto Statement v1 (<https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md>),
//! generic over its predicate, and the predicates cargo-tiny attests that are documents of their own
//! (an SBOM, a VEX), as a table.
//!
//! Written by hand rather than with sigstore-types' `Statement` because that one holds its predicate
//! as a `serde_json::Value` (a typed predicate here is serialised once, in its own field order), and
//! the `in-toto` crate has no Statement v1 or SLSA types.

use anyhow::Result;
use serde::Serialize;

use crate::error::Failure;

/// `_type` of every statement.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// DSSE `payloadType` of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The predicate of a plain image signature, as cosign 3 writes it.
pub const SIGN_V1: &str = "https://sigstore.dev/cosign/sign/v1";

/// What a statement is about: an image manifest (or index), by digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The image repository (`registry/name`), or empty when the image has none yet (a tarball).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub digest: SubjectDigest,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubjectDigest {
    /// Lowercase hex.
    pub sha256: String,
}

impl Subject {
    /// A subject from an OCI digest (`sha256:<64 hex>`).
    pub fn new(name: impl Into<String>, digest: &str) -> Result<Self> {
        Ok(Subject {
            name: name.into(),
            digest: SubjectDigest {
                sha256: sha256_hex(digest)?.to_string(),
            },
        })
    }

    /// The subject's digest as OCI writes it.
    pub fn oci_digest(&self) -> String {
        format!("sha256:{}", self.digest.sha256)
    }
}

/// The hex of a `sha256:<64 lowercase hex>` digest.
pub fn sha256_hex(digest: &str) -> Result<&str> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(hex)
        }
        _ => Err(Failure::new(format!(
            "`{}` is not a sha256 digest (sha256:<64 lowercase hex>)",
            digest.chars().take(80).collect::<String>()
        ))
        .into()),
    }
}

/// An in-toto Statement v1 with a predicate of type `P`.
#[derive(Debug, Clone, Serialize)]
pub struct Statement<P> {
    #[serde(rename = "_type")]
    pub type_: &'static str,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    pub predicate: P,
}

impl<P: Serialize> Statement<P> {
    pub fn new(subject: Vec<Subject>, predicate_type: impl Into<String>, predicate: P) -> Self {
        Statement {
            type_: STATEMENT_V1,
            subject,
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// The bytes that are signed: compact JSON, fields in the order above.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement serialises")
    }
}

/// The statement of a plain signature: "this key or identity signed this manifest".
pub fn signature(subject: Vec<Subject>) -> Statement<serde_json::Map<String, serde_json::Value>> {
    Statement::new(subject, SIGN_V1, serde_json::Map::new())
}

/// A document attested as it is (an SBOM, a VEX): its kind says the predicate type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    CycloneDx,
    Spdx,
    OpenVex,
}

/// kind, predicate type (what cosign's `--type` maps to and what scanners look for), name.
const DOCUMENTS: &[(DocumentKind, &str, &str)] = &[
    (
        DocumentKind::CycloneDx,
        "https://cyclonedx.org/bom",
        "CycloneDX SBOM",
    ),
    (DocumentKind::Spdx, "https://spdx.dev/Document", "SPDX SBOM"),
    (
        DocumentKind::OpenVex,
        "https://openvex.dev/ns/v0.2.0",
        "OpenVEX document",
    ),
];

impl DocumentKind {
    fn row(self) -> &'static (DocumentKind, &'static str, &'static str) {
        DOCUMENTS
            .iter()
            .find(|r| r.0 == self)
            .expect("every kind is in DOCUMENTS")
    }

    pub fn predicate_type(self) -> &'static str {
        self.row().1
    }

    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// The kind whose predicate type this is.
    pub fn of_predicate_type(predicate_type: &str) -> Option<Self> {
        DOCUMENTS
            .iter()
            .find(|r| r.1 == predicate_type)
            .map(|r| r.0)
    }
}

/// The statement attesting a document: the document's JSON is the predicate, unchanged.
pub fn document(
    subject: Vec<Subject>,
    kind: DocumentKind,
    json: &[u8],
) -> Result<Statement<Box<serde_json::value::RawValue>>> {
    let raw: Box<serde_json::value::RawValue> = serde_json::from_slice(json)
        .map_err(|e| Failure::new(format!("the {} to attest is not JSON: {e}", kind.name())))?;
    if !raw.get().trim_start().starts_with('{') {
        crate::fail!("the {} to attest is not a JSON object", kind.name());
    }
    Ok(Statement::new(subject, kind.predicate_type(), raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signature_statement_is_the_in_toto_v1_shape() {
        let s = signature(vec![Subject::new("registry.example/app", D).unwrap()]);
        assert_eq!(
            String::from_utf8(s.to_bytes()).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"registry.example/app","digest":{"sha256":"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{}}"#
        );
    }

    #[test]
    fn a_document_is_the_predicate_byte_for_byte() {
        let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}"#;
        let s = document(
            vec![Subject::new("", D).unwrap()],
            DocumentKind::CycloneDx,
            sbom,
        )
        .unwrap();
        let bytes = String::from_utf8(s.to_bytes()).unwrap();
        assert!(bytes.ends_with(&format!(
            r#""predicateType":"https://cyclonedx.org/bom","predicate":{}}}"#,
            std::str::from_utf8(sbom).unwrap()
        )));
        assert!(!bytes.contains(r#""name""#), "an empty name is left out");
        assert_eq!(
            DocumentKind::of_predicate_type("https://spdx.dev/Document"),
            Some(DocumentKind::Spdx)
        );
        assert!(document(vec![], DocumentKind::OpenVex, b"[1]").is_err());
        assert!(document(vec![], DocumentKind::OpenVex, b"{").is_err());
    }

    #[test]
    fn digests_are_checked() {
        for bad in [
            "sha256:0123",
            "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(Subject::new("", bad).is_err(), "{bad}");
        }
        assert_eq!(Subject::new("", D).unwrap().oci_digest(), D);
    }
}
