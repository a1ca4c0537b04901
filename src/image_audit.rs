//! What `cargo tiny verify` compares an SBOM with: the dependency list cargo-auditable embedded in
//! the image's own binary (read from the layer, the file the config's entrypoint names), as
//! `name@version` pairs, against the `pkg:cargo/…` purls the document lists (CycloneDX `purl`,
//! SPDX 2.3 `referenceLocator`).

use std::collections::BTreeSet;
use std::io::Read;

use serde_json::Value;

use crate::image::Image;
use crate::settings::compression::{LAYER_GZIP, LAYER_ZSTD};

/// Largest binary read out of a layer.
const MAX_BINARY: u64 = 1 << 30;

/// `(name, version)` of each package.
pub type Packages = BTreeSet<(String, String)>;

/// The packages in the audit data of `image`'s binary (its entrypoint, in its one layer).
pub fn binary_packages(image: &Image) -> Result<Packages, String> {
    let config: Value = serde_json::from_slice(&image.config.data)
        .map_err(|_| "the image config is not JSON".to_string())?;
    let Some(entrypoint) = config["config"]["Entrypoint"][0].as_str() else {
        return Err("the image config names no entrypoint".into());
    };
    let wanted = entrypoint.trim_start_matches('/');
    let mut binary = None;
    for layer in &image.layers {
        // From memory, or (a layer over the size a tarball's blobs are read into memory up to)
        // from the tarball: its bytes checked against its digest on the way. (`data` alone is
        // empty for such a layer.)
        let data = std::io::BufReader::new(
            layer
                .verified_reader()
                .map_err(|e| format!("the layer: {e}"))?,
        );
        let reader: Box<dyn Read + '_> = match layer.media_type.as_str() {
            // A registry may hold the layer under docker's media type for the same bytes.
            LAYER_GZIP | "application/vnd.docker.image.rootfs.diff.tar.gzip" => {
                Box::new(flate2::read::GzDecoder::new(data))
            }
            LAYER_ZSTD => Box::new(
                zstd::stream::read::Decoder::with_buffer(data)
                    .map_err(|e| format!("the layer: {e}"))?,
            ),
            other => {
                return Err(format!(
                    "the layer's media type {other} is not one cargo-tiny writes"
                ))
            }
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(|e| format!("the layer: {e}"))? {
            let mut entry = entry.map_err(|e| format!("the layer: {e}"))?;
            let path = entry.path().map_err(|e| format!("the layer: {e}"))?;
            if path.to_string_lossy().trim_start_matches("./") != wanted {
                continue;
            }
            let mut bytes = Vec::new();
            (&mut entry)
                .take(MAX_BINARY)
                .read_to_end(&mut bytes)
                .map_err(|e| format!("the layer: {e}"))?;
            binary = Some(bytes);
        }
    }
    let Some(binary) = binary else {
        return Err(format!("the layer holds no {entrypoint} (the entrypoint)"));
    };
    let info = auditable_info::audit_info_from_slice(
        &binary,
        auditable_info::Limits::default().decompressed_json_size,
    )
    .map_err(|e| format!("{entrypoint} has no readable audit data: {e}"))?;
    Ok(info
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect())
}

/// The cargo packages an SBOM document lists, by their purls.
pub fn document_packages(doc: &Value) -> Packages {
    let mut out = Packages::new();
    walk(doc, &mut out);
    out
}

fn walk(v: &Value, out: &mut Packages) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if let (true, Some(s)) = (k == "purl" || k == "referenceLocator", v.as_str()) {
                    if let Ok(p) = s.parse::<packageurl::PackageUrl<'_>>() {
                        if p.ty() == "cargo" {
                            if let Some(version) = p.version() {
                                out.insert((p.name().to_string(), version.to_string()));
                            }
                        }
                    }
                }
                walk(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
        _ => {}
    }
}

/// `None` when the two lists are equal, else what differs (up to 3 of each side).
pub fn difference(binary: &Packages, document: &Packages) -> Option<String> {
    let show = |set: Vec<&(String, String)>| {
        let n = set.len();
        let mut s: Vec<String> = set
            .iter()
            .take(3)
            .map(|(n, v)| format!("{n}@{v}"))
            .collect();
        if n > 3 {
            s.push(format!("and {} more", n - 3));
        }
        s.join(", ")
    };
    let extra: Vec<_> = document.difference(binary).collect();
    let missing: Vec<_> = binary.difference(document).collect();
    match (extra.is_empty(), missing.is_empty()) {
        (true, true) => None,
        (false, true) => Some(format!(
            "lists {} the binary's audit data does not",
            show(extra)
        )),
        (true, false) => Some(format!(
            "misses {} of the binary's audit data",
            show(missing)
        )),
        (false, false) => Some(format!(
            "lists {} the binary's audit data does not, and misses {}",
            show(extra),
            show(missing)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_of_both_formats_are_read_and_differences_named() {
        let doc = serde_json::json!({
            "components": [{"purl": "pkg:cargo/serde@1.0.0"}, {"purl": "pkg:cargo/hello@0.1.0?download_url=file:."}],
            "packages": [{"externalRefs": [{"referenceLocator": "pkg:cargo/semver@1.0.0%2Bbuild"}]}],
            "other": {"purl": "pkg:npm/left-pad@1.0.0"}
        });
        let got = document_packages(&doc);
        let pair = |n: &str, v: &str| (n.to_string(), v.to_string());
        assert_eq!(
            got,
            Packages::from([
                pair("serde", "1.0.0"),
                pair("hello", "0.1.0"),
                pair("semver", "1.0.0+build")
            ])
        );
        assert_eq!(difference(&got, &got), None);
        let mut binary = got.clone();
        binary.remove(&pair("serde", "1.0.0"));
        binary.insert(pair("libc", "0.2.0"));
        assert_eq!(
            difference(&binary, &got).unwrap(),
            "lists serde@1.0.0 the binary's audit data does not, and misses libc@0.2.0"
        );
    }
}
