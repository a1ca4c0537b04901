//! OpenVEX v0.2.0: reading and checking a user's VEX document before it is attached to an image, and
//! the in-toto statement that carries it.
//!
//! [`parse`] checks what the OpenVEX JSON schema checks (required fields, no unknown ones, the status
//! and justification labels, `not_affected` with a justification or impact statement, `affected` with
//! an action statement, integer versions, RFC 3339 timestamps, unique statements and products) plus
//! what the spec asks in prose (every statement names a product). [`Vex::check_products`] then checks
//! that each product and subcomponent names a package of this image by purl (or the image itself,
//! `pkg:oci/NAME`). Errors are one line, saying which statement and what to change.
//!
//! Typed with serde here: the `openvex` crate (0.1.1) models the pre-v0.2.0 draft (`vulnerability`
//! and `products` as plain strings, `role` required) and brings chrono along.
//!
//! What trivy's `--vex oci` reads: an in-toto statement whose `predicateType` is the OpenVEX context
//! ([`PREDICATE_TYPE`]) inside a DSSE envelope ([`DSSE_MEDIA_TYPE`]). trivy 0.59 (openvex/discovery
//! through cosign 2.2's `FetchAttestations`) finds it only under cosign's `sha256-<hex>.att` tag and
//! compares the statement's predicate type with `https://openvex.dev/ns/v0.2.0` exactly; later trivy
//! releases first list OCI 1.1 referrers of the image manifest with artifact type
//! [`DSSE_MEDIA_TYPE`] or a Sigstore bundle, then fall back to the `.att` tag. Neither reads an
//! annotation to find it; cosign writes [`COSIGN_PREDICATE_ANNOTATION`] on `.att` layers and
//! [`BUNDLE_PREDICATE_ANNOTATION`] on bundle referrers, which registries' listings show.

use std::collections::BTreeSet;
use std::str::FromStr;

use packageurl::PackageUrl;
use serde::Deserialize;
use serde_json::{json, Value};

/// The only `@context` accepted: OpenVEX v0.2.0.
pub const CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";
/// The in-toto predicate type of a statement carrying OpenVEX (go-vex's `vex.Context`).
pub const PREDICATE_TYPE: &str = CONTEXT;
/// A DSSE envelope: the `.att` layer media type and the referrer `artifactType` trivy accepts.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const IN_TOTO_STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// cosign 2's annotation on an attestation layer under the `.att` tag.
pub const COSIGN_PREDICATE_ANNOTATION: &str = "predicateType";
/// cosign 3's annotation on a Sigstore bundle referrer.
pub const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// A VEX document larger than this is refused (they are kilobytes).
pub const MAX_BYTES: usize = 4 << 20;

/// A checked OpenVEX document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vex {
    /// The document as given: what is attached.
    pub bytes: Vec<u8>,
    pub statements: usize,
    doc: Document,
}

// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id")]
    id: String,
    author: String,
    role: Option<String>,
    timestamp: String,
    last_updated: Option<String>,
    version: u64,
    tooling: Option<String>,
    statements: Vec<Statement>,
}

// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Statement {
    #[serde(rename = "@id")]
    id: Option<String>,
    version: Option<u64>,
    vulnerability: Vulnerability,
    timestamp: Option<String>,
    last_updated: Option<String>,
    #[serde(default)]
    products: Vec<Component>,
    status: Status,
    supplier: Option<String>,
    status_notes: Option<String>,
    justification: Option<Justification>,
    impact_statement: Option<String>,
    action_statement: Option<String>,
    action_statement_timestamp: Option<String>,
}

// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Vulnerability {
    #[serde(rename = "@id")]
    id: Option<String>,
    name: String,
    description: Option<String>,
    aliases: Option<Vec<String>>,
}

/// A product, or (without `subcomponents`) a subcomponent.
// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Component {
    #[serde(rename = "@id")]
    id: Option<String>,
    identifiers: Option<Identifiers>,
    hashes: Option<Hashes>,
    subcomponents: Option<Vec<Component>>,
}

// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Identifiers {
    purl: Option<String>,
    cpe22: Option<String>,
    cpe23: Option<String>,
}

// Every field of the schema is typed so that serde checks it; some are never read.
#[allow(dead_code)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hashes {
    md5: Option<String>,
    sha1: Option<String>,
    #[serde(rename = "sha-256")]
    sha256: Option<String>,
    #[serde(rename = "sha-384")]
    sha384: Option<String>,
    #[serde(rename = "sha-512")]
    sha512: Option<String>,
    #[serde(rename = "sha3-224")]
    sha3_224: Option<String>,
    #[serde(rename = "sha3-256")]
    sha3_256: Option<String>,
    #[serde(rename = "sha3-384")]
    sha3_384: Option<String>,
    #[serde(rename = "sha3-512")]
    sha3_512: Option<String>,
    #[serde(rename = "blake2s-256")]
    blake2s_256: Option<String>,
    #[serde(rename = "blake2b-256")]
    blake2b_256: Option<String>,
    #[serde(rename = "blake2b-512")]
    blake2b_512: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Status {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Justification {
    ComponentNotPresent,
    VulnerableCodeNotPresent,
    VulnerableCodeNotInExecutePath,
    VulnerableCodeCannotBeControlledByAdversary,
    InlineMitigationsAlreadyExist,
}

/// Reads and checks an OpenVEX v0.2.0 document. The error is one line, to follow
/// `VEX document PATH: ` (`not JSON: …`, `statement 2 (CVE-…): …`).
pub fn parse(bytes: &[u8]) -> Result<Vex, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!(
            "{} bytes, more than the {} MiB a VEX document may have",
            bytes.len(),
            MAX_BYTES >> 20
        ));
    }
    let raw: Value = serde_json::from_slice(bytes).map_err(|e| format!("not JSON: {e}"))?;
    let context = raw.get("@context").and_then(Value::as_str);
    if context != Some(CONTEXT) {
        return Err(format!(
            "not an OpenVEX v0.2.0 document: `@context` is {}, expected \"{CONTEXT}\"",
            context.map_or("missing".to_string(), |c| format!("\"{c}\""))
        ));
    }
    let doc: Document = serde_json::from_value(raw.clone())
        .map_err(|e| format!("not valid OpenVEX v0.2.0: {e}"))?;
    if doc.version < 1 {
        return Err("not valid OpenVEX v0.2.0: `version` must be 1 or more".into());
    }
    timestamp("`timestamp`", &doc.timestamp)?;
    if let Some(t) = &doc.last_updated {
        timestamp("`last_updated`", t)?;
    }
    if doc.statements.is_empty() {
        return Err("no statements: an OpenVEX document needs at least one".into());
    }
    let raw_statements = raw["statements"].as_array().cloned().unwrap_or_default();
    unique(&raw_statements, "statements")?;
    for (i, (s, raw)) in doc.statements.iter().zip(&raw_statements).enumerate() {
        let at = format!("statement {} ({})", i + 1, s.vulnerability.name);
        statement(s, &at)?;
        unique(
            raw["products"].as_array().map(Vec::as_slice).unwrap_or(&[]),
            &format!("{at}: products"),
        )?;
    }
    Ok(Vex {
        bytes: bytes.to_vec(),
        statements: doc.statements.len(),
        doc,
    })
}

fn statement(s: &Statement, at: &str) -> Result<(), String> {
    if s.version == Some(0) {
        return Err(format!("{at}: `version` must be 1 or more"));
    }
    for (what, t) in [
        ("`timestamp`", &s.timestamp),
        ("`last_updated`", &s.last_updated),
        (
            "`action_statement_timestamp`",
            &s.action_statement_timestamp,
        ),
    ] {
        if let Some(t) = t {
            timestamp(&format!("{at}: {what}"), t)?;
        }
    }
    match s.status {
        Status::NotAffected if s.justification.is_none() && s.impact_statement.is_none() => {
            return Err(format!(
                "{at}: status not_affected needs a `justification` or an `impact_statement`"
            ))
        }
        Status::Affected if s.action_statement.is_none() => {
            return Err(format!(
                "{at}: status affected needs an `action_statement` (how to remediate or mitigate)"
            ))
        }
        _ => {}
    }
    if s.products.is_empty() {
        return Err(format!(
            "{at}: names no product: list the packages it is about in `products`, by purl"
        ));
    }
    for p in &s.products {
        identified(p, at)?;
        for sub in p.subcomponents.iter().flatten() {
            if sub.subcomponents.is_some() {
                return Err(format!("{at}: a subcomponent cannot have `subcomponents`"));
            }
            identified(sub, at)?;
        }
    }
    Ok(())
}

/// The schema's `anyOf`: an `@id`, or `identifiers` with at least one of purl, cpe22, cpe23.
fn identified(c: &Component, at: &str) -> Result<(), String> {
    if let Some(ids) = &c.identifiers {
        if ids.purl.is_none() && ids.cpe22.is_none() && ids.cpe23.is_none() {
            return Err(format!(
                "{at}: `identifiers` needs a `purl`, `cpe22` or `cpe23`"
            ));
        }
    } else if c.id.is_none() {
        return Err(format!(
            "{at}: a product needs an `@id` or `identifiers` (a purl such as pkg:cargo/NAME@VERSION)"
        ));
    }
    Ok(())
}

fn unique(items: &[Value], what: &str) -> Result<(), String> {
    for (i, a) in items.iter().enumerate() {
        if items[..i].contains(a) {
            return Err(format!("{what}: item {} repeats an earlier one", i + 1));
        }
    }
    Ok(())
}

/// RFC 3339 `date-time` (the schema's format): a date, `T`, a time, and `Z` or an offset.
fn timestamp(what: &str, t: &str) -> Result<(), String> {
    static RFC3339: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let re = RFC3339.get_or_init(|| {
        regex::Regex::new(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
            .expect("a valid pattern")
    });
    if re.is_match(t) {
        Ok(())
    } else {
        Err(format!(
            "{what} \"{t}\" is not an RFC 3339 date-time (e.g. 2024-05-01T12:00:00Z)"
        ))
    }
}

impl Vex {
    /// Checks that every product and subcomponent names a package of this image by purl (type, name
    /// and version equal; each qualifier the VEX purl has, equal), or is the image itself
    /// (`pkg:oci/<last segment of image_name>`, whose subcomponents must then be packages).
    pub fn check_products(&self, package_purls: &[String], image_name: &str) -> Result<(), String> {
        let packages: Vec<PackageUrl> = package_purls
            .iter()
            .filter_map(|p| PackageUrl::from_str(p).ok())
            .collect();
        let image = image_name.rsplit('/').next().unwrap_or(image_name);
        for (i, s) in self.doc.statements.iter().enumerate() {
            let at = format!("statement {} ({})", i + 1, s.vulnerability.name);
            for p in &s.products {
                let purl = purl_of(p, &at)?;
                let is_image = purl.ty() == "oci" && purl.name().eq_ignore_ascii_case(image);
                if !is_image {
                    names_a_package(&purl, &packages, &at)?;
                }
                for sub in p.subcomponents.iter().flatten() {
                    names_a_package(&purl_of(sub, &at)?, &packages, &at)?;
                }
            }
        }
        Ok(())
    }

    /// The set of purls the document's products and subcomponents name.
    pub fn purls(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for s in &self.doc.statements {
            for p in &s.products {
                for c in std::iter::once(p).chain(p.subcomponents.iter().flatten()) {
                    if let Some(purl) = raw_purl(c) {
                        out.insert(purl.to_string());
                    }
                }
            }
        }
        out
    }
}

fn raw_purl(c: &Component) -> Option<&str> {
    c.identifiers
        .as_ref()
        .and_then(|i| i.purl.as_deref())
        .or_else(|| c.id.as_deref().filter(|id| id.starts_with("pkg:")))
}

fn purl_of(c: &Component, at: &str) -> Result<PackageUrl<'static>, String> {
    let Some(text) = raw_purl(c) else {
        let shown = c.id.as_deref().unwrap_or("a product without a purl");
        return Err(format!(
            "{at}: {shown} is not a package URL: name the package as pkg:cargo/NAME@VERSION"
        ));
    };
    PackageUrl::from_str(text).map_err(|e| format!("{at}: {text} is not a valid package URL: {e}"))
}

fn names_a_package(want: &PackageUrl, packages: &[PackageUrl], at: &str) -> Result<(), String> {
    let matches = |p: &PackageUrl| {
        p.ty() == want.ty()
            && p.namespace() == want.namespace()
            && p.name() == want.name()
            && want.version().is_none_or(|v| p.version() == Some(v))
            && want
                .qualifiers()
                .iter()
                .all(|(k, v)| p.qualifiers().get(k) == Some(v))
    };
    if packages.iter().any(matches) {
        Ok(())
    } else {
        Err(format!(
            "{at}: {want} is no package of this image: name one of the packages in its SBOM"
        ))
    }
}

/// The in-toto statement (v1) carrying `vex` about the image manifest `digest` (`sha256:…`), named
/// `name` (the image's repository), compact JSON.
pub fn statement_for(vex: &Vex, name: &str, digest: &str) -> Result<Vec<u8>, serde_json::Error> {
    let predicate: Value = serde_json::from_slice(&vex.bytes)?;
    serde_json::to_vec(&json!({
        "_type": IN_TOTO_STATEMENT_V1,
        "subject": [{"name": name, "digest": {"sha256": digest.trim_start_matches("sha256:")}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate,
    }))
}

/// A DSSE envelope around an in-toto statement, without signatures: what `--vex oci` reads when
/// images are not signed (trivy decodes the payload without verifying it). Signing fills
/// `signatures`.
pub fn unsigned_envelope(statement: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD.encode(statement);
    let v = json!({"payloadType": IN_TOTO_PAYLOAD_TYPE, "payload": payload, "signatures": []});
    serde_json::to_vec(&v).expect("a JSON value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.com/vex/1",
      "author": "Example Security <security@example.com>",
      "timestamp": "2024-05-01T12:00:00Z",
      "version": 1,
      "statements": [
        {
          "vulnerability": {"name": "RUSTSEC-2024-0001"},
          "products": [
            {"@id": "pkg:oci/http-service",
             "subcomponents": [{"@id": "pkg:cargo/serde@1.0.200"}]},
            {"identifiers": {"purl": "pkg:cargo/cc@1.1.0"}}
          ],
          "status": "not_affected",
          "justification": "vulnerable_code_not_in_execute_path"
        }
      ]
    }"#;

    fn purls() -> Vec<String> {
        vec![
            "pkg:cargo/app@1.2.0?download_url=file:.".into(),
            "pkg:cargo/serde@1.0.200".into(),
            "pkg:cargo/cc@1.1.0".into(),
        ]
    }

    fn edit(f: impl FnOnce(&mut Value)) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(GOOD).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn a_valid_document_is_kept_byte_for_byte() {
        let vex = parse(GOOD.as_bytes()).unwrap();
        assert_eq!(vex.bytes, GOOD.as_bytes());
        assert_eq!(vex.statements, 1);
        vex.check_products(&purls(), "ghcr.io/o/http-service")
            .unwrap();
        assert_eq!(
            vex.purls().into_iter().collect::<Vec<_>>(),
            [
                "pkg:cargo/cc@1.1.0",
                "pkg:cargo/serde@1.0.200",
                "pkg:oci/http-service"
            ]
        );
    }

    #[test]
    fn what_the_schema_refuses_is_refused_in_one_line() {
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{".to_vec(), "not JSON"),
            (edit(|v| v["@context"] = json!("https://openvex.dev/ns/v0.0.1")), "not an OpenVEX v0.2.0 document: `@context` is \"https://openvex.dev/ns/v0.0.1\""),
            (edit(|v| { v.as_object_mut().unwrap().remove("author"); }), "missing field `author`"),
            (edit(|v| v["colour"] = json!("red")), "unknown field `colour`"),
            (edit(|v| v["version"] = json!("1")), "invalid type: string \"1\", expected u64"),
            (edit(|v| v["version"] = json!(0)), "`version` must be 1 or more"),
            (edit(|v| v["timestamp"] = json!("yesterday")), "`timestamp` \"yesterday\" is not an RFC 3339 date-time"),
            (edit(|v| v["statements"] = json!([])), "no statements"),
            (edit(|v| v["statements"][0]["status"] = json!("maybe")), "unknown variant `maybe`"),
            (edit(|v| v["statements"][0]["justification"] = json!("trust_me")), "unknown variant `trust_me`"),
            (edit(|v| { v["statements"][0].as_object_mut().unwrap().remove("justification"); }), "statement 1 (RUSTSEC-2024-0001): status not_affected needs a `justification` or an `impact_statement`"),
            (edit(|v| v["statements"][0]["status"] = json!("affected")), "status affected needs an `action_statement`"),
            (edit(|v| { v["statements"][0].as_object_mut().unwrap().remove("products"); }), "names no product"),
            (edit(|v| v["statements"][0]["products"][1] = json!({"hashes": {"sha-256": "ab"}})), "a product needs an `@id` or `identifiers`"),
            (edit(|v| v["statements"][0]["products"][1] = json!({"identifiers": {}})), "`identifiers` needs a `purl`, `cpe22` or `cpe23`"),
            (edit(|v| v["statements"][0]["products"][1] = v["statements"][0]["products"][0].clone()), "products: item 2 repeats an earlier one"),
            (edit(|v| v["statements"][0]["vulnerability"] = json!("CVE-1")), "invalid type: string \"CVE-1\""),
        ];
        for (bytes, want) in cases {
            let e = parse(&bytes).unwrap_err();
            assert!(e.contains(want), "{want:?} not in {e:?}");
            assert!(!e.contains('\n'), "{e:?}");
        }
    }

    #[test]
    fn products_must_name_this_images_packages() {
        let check = |doc: Vec<u8>| {
            parse(&doc)
                .unwrap()
                .check_products(&purls(), "http-service")
        };
        let e = check(edit(|v| {
            v["statements"][0]["products"][1] = json!({"@id": "pkg:cargo/openssl@0.10.0"})
        }))
        .unwrap_err();
        assert_eq!(e, "statement 1 (RUSTSEC-2024-0001): pkg:cargo/openssl@0.10.0 is no package of this image: name one of the packages in its SBOM");
        // Another version of a package of the image is not it.
        assert!(check(edit(
            |v| v["statements"][0]["products"][1] = json!({"@id": "pkg:cargo/cc@1.0.0"})
        ))
        .is_err());
        // Without a version, any version; a qualifier must match.
        check(edit(|v| {
            v["statements"][0]["products"][1] = json!({"@id": "pkg:cargo/cc"})
        }))
        .unwrap();
        check(edit(|v| {
            v["statements"][0]["products"][1] =
                json!({"@id": "pkg:cargo/app@1.2.0?download_url=file:."})
        }))
        .unwrap();
        assert!(check(edit(|v| v["statements"][0]["products"][1] =
            json!({"@id": "pkg:cargo/app@1.2.0?download_url=file:elsewhere"})))
        .is_err());
        // Another image's subcomponent, a CPE-only product, an @id that is no purl.
        assert!(check(edit(
            |v| v["statements"][0]["products"][0]["@id"] = json!("pkg:oci/other")
        ))
        .is_err());
        let e =
            check(edit(
                |v| {
                    v["statements"][0]["products"][1] =
                        json!({"identifiers": {"cpe23": "cpe:2.3:a:x:y:1:*:*:*:*:*:*:*"}})
                },
            ))
            .unwrap_err();
        assert!(
            e.contains("a product without a purl is not a package URL"),
            "{e}"
        );
        let e = check(edit(|v| {
            v["statements"][0]["products"][1] = json!({"@id": "https://example.com/product"})
        }))
        .unwrap_err();
        assert!(
            e.contains("https://example.com/product is not a package URL"),
            "{e}"
        );
        // A subcomponent that is no package of the image.
        let e = check(edit(|v| {
            v["statements"][0]["products"][0]["subcomponents"][0]["@id"] =
                json!("pkg:cargo/rand@0.8.5")
        }))
        .unwrap_err();
        assert!(e.contains("pkg:cargo/rand@0.8.5 is no package"), "{e}");
    }

    #[test]
    fn the_statement_carries_the_document_about_the_image() {
        let vex = parse(GOOD.as_bytes()).unwrap();
        let digest = format!("sha256:{}", "cd".repeat(32));
        let st = statement_for(&vex, "127.0.0.1:5000/http-service", &digest).unwrap();
        let v: Value = serde_json::from_slice(&st).unwrap();
        assert_eq!(v["_type"], IN_TOTO_STATEMENT_V1);
        assert_eq!(v["predicateType"], "https://openvex.dev/ns/v0.2.0");
        assert_eq!(v["subject"][0]["digest"]["sha256"], "cd".repeat(32));
        assert_eq!(v["predicate"], serde_json::from_str::<Value>(GOOD).unwrap());
        let env: Value = serde_json::from_slice(&unsigned_envelope(&st)).unwrap();
        assert_eq!(env["payloadType"], IN_TOTO_PAYLOAD_TYPE);
        use base64::Engine;
        let payload = base64::engine::general_purpose::STANDARD
            .decode(env["payload"].as_str().unwrap())
            .unwrap();
        assert_eq!(payload, st);
    }
}
