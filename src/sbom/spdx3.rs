//! SPDX 3.0.1 JSON-LD from the [`Model`].
//!
//! A `software_Sbom` (type `build`) whose root element is the image (`software_Package`, purpose
//! `container`), which `contains` the binary (`software_File`, purpose `executable`, its SHA-256),
//! which `contains` the root package. Dependencies are `LifecycleScopedRelationship`s `dependsOn`,
//! with scope `runtime`, or `build` for a host-only package (SPDX 3's word for 2.3's
//! BUILD_DEPENDENCY_OF); licences are `simplelicensing_LicenseExpression`s linked by
//! `hasDeclaredLicense`. Without an image the binary is the root element.
//!
//! Element ids are IRIs under a namespace derived from the document's own content (the same
//! content-derived UUID as CycloneDX's serial number), so two builds of the same inputs agree.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::model::{uuid_from, Model};
use super::spdx2::sanitize;

pub const CONTEXT: &str = "https://spdx.org/rdf/3.0.1/spdx-context.jsonld";
const CREATION_INFO: &str = "_:creationinfo";

/// The document, pretty-printed with a trailing newline.
pub fn render(model: &Model) -> Result<Vec<u8>> {
    // The namespace is a digest of the document written under an empty one.
    let draft = graph(model, "")?;
    let digest = crate::image::sha256(&serde_json::to_vec(&draft)?);
    let base = format!(
        "https://spdx.org/spdxdocs/cargo-tiny/{}-{}",
        sanitize(&model.binary.name),
        uuid_from(&digest)
    );
    let mut out = serde_json::to_vec_pretty(&graph(model, &base)?)?;
    out.push(b'\n');
    Ok(out)
}

fn graph(model: &Model, base: &str) -> Result<Value> {
    let mut g = Graph::new(base);
    let agent = format!("{base}/Agent/cargo-tiny");
    let tool = format!("{base}/Tool/cargo-tiny");
    let creation = json!({
        "type": "CreationInfo",
        "@id": CREATION_INFO,
        "specVersion": "3.0.1",
        "created": model.created,
        "createdBy": [agent],
        "createdUsing": [tool],
    });
    g.element(
        &agent,
        json!({"type": "SoftwareAgent", "name": "cargo-tiny"}),
    );
    g.element(
        &tool,
        json!({"type": "Tool", "name": format!("cargo-tiny {}", model.tool_version)}),
    );

    let ids: Vec<String> = package_ids(model)
        .iter()
        .map(|id| format!("{base}/Package/{id}"))
        .collect();
    let binary = format!("{base}/File/{}", sanitize(&model.binary.name));
    g.element(
        &binary,
        json!({
            "type": "software_File",
            "name": model.binary.name,
            "verifiedUsing": [sha256(&model.binary.sha256)],
            "software_primaryPurpose": "executable",
        }),
    );
    let top = match &model.image {
        Some(image) => {
            let id = format!("{base}/Image/{}", sanitize(&image.name));
            g.element(
                &id,
                json!({
                    "type": "software_Package",
                    "name": image.name,
                    "software_packageVersion": image.tag,
                    "software_primaryPurpose": "container",
                }),
            );
            g.relationship("Relationship", &id, "contains", None, &[&binary]);
            id
        }
        None => binary.clone(),
    };
    g.relationship(
        "Relationship",
        &binary,
        "contains",
        None,
        &[&ids[model.root]],
    );

    let mut licenses: BTreeMap<String, String> = BTreeMap::new();
    for (i, p) in model.packages.iter().enumerate() {
        let mut v = Map::new();
        v.insert("type".into(), json!("software_Package"));
        v.insert("name".into(), json!(p.name));
        if let Some(d) = &p.description {
            v.insert("description".into(), json!(d));
        }
        if let Some(sum) = &p.sha256 {
            v.insert("verifiedUsing".into(), json!([sha256(sum)]));
        }
        v.insert("software_packageVersion".into(), json!(p.version));
        v.insert("software_packageUrl".into(), json!(p.purl));
        if let Some(url) = model.download_location(p) {
            v.insert("software_downloadLocation".into(), json!(url));
        }
        let purpose = if p.root { "application" } else { "library" };
        v.insert("software_primaryPurpose".into(), json!(purpose));
        g.element(&ids[i], Value::Object(v));

        for (scope, host_only) in [("runtime", false), ("build", true)] {
            let mut to: Vec<&str> = p
                .dependencies
                .iter()
                .filter(|d| model.packages[**d].host_only == host_only)
                .map(|d| ids[*d].as_str())
                .collect();
            to.sort_unstable();
            to.dedup();
            if !to.is_empty() {
                g.relationship(
                    "LifecycleScopedRelationship",
                    &ids[i],
                    "dependsOn",
                    Some(scope),
                    &to,
                );
            }
        }
        if let Some(l) = &p.license {
            let n = licenses.len();
            let is_new = !licenses.contains_key(&l.text);
            let id = licenses
                .entry(l.text.clone())
                .or_insert_with(|| format!("{base}/License/{n}"))
                .clone();
            if is_new {
                g.license(&id, &l.text, l.is_expression, n);
            }
            g.relationship("Relationship", &ids[i], "hasDeclaredLicense", None, &[&id]);
        }
    }

    let sbom = format!("{base}/Sbom");
    let document = format!("{base}/Document");
    let elements: Vec<String> = g.ids.clone();
    g.element(
        &sbom,
        json!({
            "type": "software_Sbom",
            "rootElement": [top],
            "element": elements,
            "software_sbomType": ["build"],
        }),
    );
    let mut all = elements;
    all.push(sbom.clone());
    let name = match &model.image {
        Some(image) => format!("{}:{}", image.name, image.tag),
        None => model.binary.name.clone(),
    };
    let mut nodes = vec![creation];
    nodes.push(json!({
        "type": "SpdxDocument",
        "spdxId": document,
        "creationInfo": CREATION_INFO,
        "name": name,
        "profileConformance": ["core", "software", "simpleLicensing"],
        "rootElement": [sbom],
        "element": all,
    }));
    nodes.extend(g.nodes);
    Ok(json!({"@context": CONTEXT, "@graph": nodes}))
}

fn sha256(hex: &str) -> Value {
    json!({"type": "Hash", "algorithm": "sha256", "hashValue": hex})
}

/// `<name>-<version>`, unique in the document.
fn package_ids(model: &Model) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    model
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let base = format!("{}-{}", sanitize(&p.name), sanitize(&p.version));
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

/// The graph's elements in the order they were added, each with the shared creation info.
struct Graph<'a> {
    base: &'a str,
    nodes: Vec<Value>,
    ids: Vec<String>,
    relationships: usize,
}

impl<'a> Graph<'a> {
    fn new(base: &'a str) -> Self {
        Graph {
            base,
            nodes: Vec::new(),
            ids: Vec::new(),
            relationships: 0,
        }
    }

    fn element(&mut self, id: &str, fields: Value) {
        let mut v = Map::new();
        let Value::Object(fields) = fields else {
            unreachable!("elements are objects")
        };
        let mut fields = fields.into_iter();
        // `type` first, then the id and creation info, then the element's own fields.
        if let Some((k, t)) = fields.next() {
            v.insert(k, t);
        }
        v.insert("spdxId".into(), json!(id));
        v.insert("creationInfo".into(), json!(CREATION_INFO));
        v.extend(fields);
        self.nodes.push(Value::Object(v));
        self.ids.push(id.to_string());
    }

    fn relationship(
        &mut self,
        kind: &str,
        from: &str,
        relationship: &str,
        scope: Option<&str>,
        to: &[&str],
    ) {
        self.relationships += 1;
        let id = format!("{}/Relationship/{}", self.base, self.relationships);
        let mut v = json!({
            "type": kind,
            "from": from,
            "relationshipType": relationship,
            "to": to,
        });
        if let Some(scope) = scope {
            v["scope"] = json!(scope);
        }
        self.element(&id, v);
    }

    /// A licence expression, or for a licence string that is none, `LicenseRef-cargo-N` pointing at
    /// an element holding the text.
    fn license(&mut self, id: &str, text: &str, is_expression: bool, n: usize) {
        if is_expression {
            self.element(
                id,
                json!({"type": "simplelicensing_LicenseExpression", "simplelicensing_licenseExpression": text}),
            );
            return;
        }
        let text_id = format!("{}/LicenseText/{n}", self.base);
        let key = format!("LicenseRef-cargo-{n}");
        self.element(
            &text_id,
            json!({"type": "simplelicensing_SimpleLicensingText", "simplelicensing_licenseText": text}),
        );
        self.element(
            id,
            json!({
                "type": "simplelicensing_LicenseExpression",
                "simplelicensing_licenseExpression": key,
                "simplelicensing_customIdToUri": [{"type": "DictionaryEntry", "key": key, "value": text_id}],
            }),
        );
    }
}
