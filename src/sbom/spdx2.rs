//! SPDX 2.3 JSON from the [`Model`]: what scanners (trivy, grype) and regulators read today.
//!
//! The document describes the image (`primaryPackagePurpose: CONTAINER`), which CONTAINS the binary
//! (`APPLICATION`, its SHA-256), which CONTAINS the root package; packages DEPENDS_ON what they use at
//! run time, and a host-only package (build script, proc macro, what only they use) is a
//! BUILD_DEPENDENCY_OF the package that needs it. Without an image the binary is the described
//! element. The namespace is derived from the document's content, like CycloneDX's serial number.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::model::{uuid_from, Model, Package};

/// The element ids every document uses.
const DOCUMENT: &str = "SPDXRef-DOCUMENT";
const IMAGE: &str = "SPDXRef-Image";

/// The document, pretty-printed with a trailing newline.
pub fn render(model: &Model) -> Result<Vec<u8>> {
    let ids = package_ids(model);
    let binary_id = format!("SPDXRef-Binary-{}", sanitize(&model.binary.name));
    let mut licenses = LicenseRefs::default();

    let mut packages: Vec<Value> = Vec::new();
    let mut relationships: Vec<Value> = Vec::new();
    let mut rel = |from: &str, kind: &str, to: &str| {
        relationships.push(json!({
            "spdxElementId": from,
            "relationshipType": kind,
            "relatedSpdxElement": to,
        }));
    };

    let described = match &model.image {
        Some(image) => {
            packages.push(json!({
                "name": image.name,
                "SPDXID": IMAGE,
                "versionInfo": image.tag,
                "downloadLocation": "NOASSERTION",
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "primaryPackagePurpose": "CONTAINER",
            }));
            rel(IMAGE, "CONTAINS", &binary_id);
            IMAGE.to_string()
        }
        None => binary_id.clone(),
    };
    rel(DOCUMENT, "DESCRIBES", &described);
    packages.push(json!({
        "name": model.binary.name,
        "SPDXID": binary_id,
        "versionInfo": model.root_package().version,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "checksums": [{"algorithm": "SHA256", "checksumValue": model.binary.sha256}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "APPLICATION",
    }));
    rel(&binary_id, "CONTAINS", &ids[model.root]);

    for (i, p) in model.packages.iter().enumerate() {
        packages.push(package(model, p, &ids[i], &mut licenses));
        let on: BTreeSet<usize> = p.dependencies.iter().copied().collect();
        for d in on {
            if model.packages[d].host_only {
                rel(&ids[d], "BUILD_DEPENDENCY_OF", &ids[i]);
            } else {
                rel(&ids[i], "DEPENDS_ON", &ids[d]);
            }
        }
    }

    let name = match &model.image {
        Some(image) => format!("{}:{}", image.name, image.tag),
        None => model.binary.name.clone(),
    };
    let mut doc = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": DOCUMENT,
        "name": name,
        "documentNamespace": "",
        "creationInfo": {
            "created": model.created,
            "creators": [format!("Tool: cargo-tiny-{}", model.tool_version)],
        },
        "packages": packages,
        "relationships": relationships,
    });
    if !licenses.refs.is_empty() {
        doc["hasExtractedLicensingInfos"] = licenses
            .refs
            .iter()
            .map(|(text, id)| json!({"licenseId": id, "extractedText": text, "name": text}))
            .collect();
    }
    let digest = crate::image::sha256(&serde_json::to_vec(&doc)?);
    doc["documentNamespace"] = json!(format!(
        "https://spdx.org/spdxdocs/cargo-tiny/{}-{}",
        sanitize(&model.binary.name),
        uuid_from(&digest)
    ));
    let mut out = serde_json::to_vec_pretty(&doc)?;
    out.push(b'\n');
    Ok(out)
}

fn package(model: &Model, p: &Package, id: &str, licenses: &mut LicenseRefs) -> Value {
    let mut v = Map::new();
    v.insert("name".into(), json!(p.name));
    v.insert("SPDXID".into(), json!(id));
    v.insert("versionInfo".into(), json!(p.version));
    let download = model.download_location(p);
    v.insert(
        "downloadLocation".into(),
        json!(download.as_deref().unwrap_or("NOASSERTION")),
    );
    v.insert("filesAnalyzed".into(), json!(false));
    if let Some(sum) = &p.sha256 {
        v.insert(
            "checksums".into(),
            json!([{"algorithm": "SHA256", "checksumValue": sum}]),
        );
    }
    v.insert("licenseConcluded".into(), json!("NOASSERTION"));
    let declared = match &p.license {
        Some(l) if l.is_expression => l.text.clone(),
        Some(l) => licenses.id(&l.text),
        None => "NOASSERTION".into(),
    };
    v.insert("licenseDeclared".into(), json!(declared));
    v.insert("copyrightText".into(), json!("NOASSERTION"));
    if let Some(d) = &p.description {
        v.insert("description".into(), json!(d));
    }
    v.insert(
        "externalRefs".into(),
        json!([{
            "referenceCategory": "PACKAGE-MANAGER",
            "referenceType": "purl",
            "referenceLocator": p.purl,
        }]),
    );
    let purpose = if p.root { "APPLICATION" } else { "LIBRARY" };
    v.insert("primaryPackagePurpose".into(), json!(purpose));
    Value::Object(v)
}

/// `SPDXRef-Package-<name>-<version>`, unique (a second package with the same name and version, from
/// another source, gets its index appended).
fn package_ids(model: &Model) -> Vec<String> {
    let mut seen = BTreeSet::new();
    model
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let base = format!(
                "SPDXRef-Package-{}-{}",
                sanitize(&p.name),
                sanitize(&p.version)
            );
            let id = if seen.contains(&base) {
                format!("{base}-{i}")
            } else {
                base
            };
            seen.insert(id.clone());
            id
        })
        .collect()
}

/// An SPDX id may hold letters, digits, `.` and `-` only.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Licence strings that are no SPDX expression, each under a `LicenseRef-` id with its text.
#[derive(Default)]
struct LicenseRefs {
    refs: BTreeMap<String, String>,
}

impl LicenseRefs {
    fn id(&mut self, text: &str) -> String {
        let n = self.refs.len();
        self.refs
            .entry(text.to_string())
            .or_insert_with(|| format!("LicenseRef-cargo-{n}"))
            .clone()
    }
}
