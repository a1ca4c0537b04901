//! CycloneDX 1.5, 1.6 and 1.7 JSON from the [`Model`].
//!
//! Written as JSON here rather than with `cyclonedx-bom`'s model (a dev-dependency: the tests read
//! and validate these documents with it): its serial number and timestamp can be set, so determinism
//! is not the obstacle; what it would change is:
//! - its only public constructor for text (`NormalizedString::new`) turns newlines and tabs into
//!   spaces, so the multi-line descriptions copied from `cargo metadata` would be rewritten (eight
//!   in the http-service example alone);
//! - its writer drops empty `dependsOn` lists and orders keys its own way: every SBOM, and with it
//!   every image digest, would change for no change in content;
//! - it writes 1.3–1.5 only (0.8.1), and would add 19 crates to the build (time, uuid with its
//!   random generator, xml-rs, fluent-uri, a second strum, …).
//!
//! Host-only packages have `scope: excluded`. The described element (`metadata.component`) is the
//! image (type `container`) when there is one, which depends on the binary, which depends on the root
//! package; without an image it is the root package with the binary nested in it.

use std::collections::BTreeSet;

use anyhow::Result;
use serde_json::{json, Map, Value};

use super::model::{uuid_from, Model, Package};

/// The CycloneDX versions cargo-tiny writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    V1_5,
    V1_6,
    V1_7,
}

impl Version {
    pub const ALL: [Version; 3] = [Version::V1_5, Version::V1_6, Version::V1_7];

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1_5 => "1.5",
            Version::V1_6 => "1.6",
            Version::V1_7 => "1.7",
        }
    }
}

/// The document, pretty-printed with a trailing newline.
pub fn render(model: &Model, version: Version) -> Result<Vec<u8>> {
    let pkgs = &model.packages;
    let root = model.root;
    let bin_ref = format!("{}#bin:{}", pkgs[root].id, model.binary.name);
    let binary = json!({
        "type": "application",
        "bom-ref": bin_ref,
        "name": model.binary.name,
        "version": pkgs[root].version,
        "hashes": [{"alg": "SHA-256", "content": model.binary.sha256}],
    });

    let mut components: Vec<Value> = Vec::new();
    let mut dependencies: Vec<Value> = Vec::new();
    let top = match &model.image {
        None => {
            let mut main = component(&pkgs[root], "application");
            main["components"] = json!([binary]);
            main
        }
        Some(image) => {
            let image_ref = format!("image:{}:{}", image.name, image.tag);
            components.push(binary);
            components.push(component(&pkgs[root], "application"));
            dependencies.push(json!({"ref": image_ref, "dependsOn": [bin_ref]}));
            dependencies.push(json!({"ref": bin_ref, "dependsOn": [pkgs[root].id]}));
            json!({
                "type": "container",
                "bom-ref": image_ref,
                "name": image.name,
                "version": image.tag,
            })
        }
    };
    components.extend(
        (0..pkgs.len())
            .filter(|i| *i != root)
            .map(|i| component(&pkgs[i], "library")),
    );
    dependencies.extend(pkgs.iter().map(|p| {
        let on: BTreeSet<&str> = p
            .dependencies
            .iter()
            .map(|d| pkgs[*d].id.as_str())
            .collect();
        json!({"ref": p.id, "dependsOn": on})
    }));

    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": version.as_str(),
        "serialNumber": "",
        "version": 1,
        "metadata": {
            "timestamp": model.created,
            "tools": {"components": [{
                "type": "application",
                "name": "cargo-tiny",
                "version": model.tool_version,
            }]},
            "component": top,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let digest = crate::image::sha256(&serde_json::to_vec(&bom)?);
    bom["serialNumber"] = json!(format!("urn:uuid:{}", uuid_from(&digest)));
    let mut out = serde_json::to_vec_pretty(&bom)?;
    out.push(b'\n');
    Ok(out)
}

fn component(p: &Package, kind: &str) -> Value {
    let mut c = Map::new();
    c.insert("type".into(), json!(kind));
    c.insert("bom-ref".into(), json!(p.id));
    c.insert("name".into(), json!(p.name));
    c.insert("version".into(), json!(p.version));
    if let Some(d) = &p.description {
        c.insert("description".into(), json!(d));
    }
    if !p.root {
        let scope = if p.host_only { "excluded" } else { "required" };
        c.insert("scope".into(), json!(scope));
    }
    if let Some(sum) = &p.sha256 {
        c.insert("hashes".into(), json!([{"alg": "SHA-256", "content": sum}]));
    }
    if let Some(l) = &p.license {
        // A string that is no SPDX expression is kept as a licence name, not passed off as one.
        let entry = if l.is_expression {
            json!({"expression": l.text})
        } else {
            json!({"license": {"name": l.text}})
        };
        c.insert("licenses".into(), json!([entry]));
    }
    c.insert("purl".into(), json!(p.purl));
    Value::Object(c)
}
