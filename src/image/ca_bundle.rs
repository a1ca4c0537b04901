//! Whether the image needs the CA bundle, decided from the dependency list read out of the binary.

use std::path::PathBuf;

use anyhow::Result;
use auditable_serde::VersionInfo;

use crate::error::Failure;
use crate::settings::CaCertificates;

/// The crate whose copy of Mozilla's root store becomes the image's CA bundle, and its version (the
/// one Cargo.lock pins; a unit test keeps the two equal). Every host gives the same bytes.
pub const MOZILLA_CRATE: &str = "webpki-root-certs";
pub const MOZILLA_VERSION: &str = "1.0.11";

/// A host file is used only when asked for by name.
pub const HOST_BUNDLE_VAR: &str = "CARGO_TINY_CA_BUNDLE";

/// The decision and the reason, for the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub include: bool,
    pub reason: String,
    /// Where the bundle's bytes came from, once read ([`read`]).
    pub source: Option<String>,
}

pub fn decide(mode: CaCertificates, audit: &VersionInfo) -> Decision {
    let has = |list: &[String]| {
        let mut found: Vec<&str> = audit
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .filter(|n| list.iter().any(|c| c == n))
            .collect();
        found.sort();
        found.dedup();
        found
    };
    match mode {
        CaCertificates::Always => Decision {
            include: true,
            reason: "ca-certificates = \"always\"".into(),
            source: None,
        },
        CaCertificates::Never => Decision {
            include: false,
            reason: "ca-certificates = \"never\"".into(),
            source: None,
        },
        CaCertificates::Auto => {
            // Which crates read the system store and which compile the roots in: data, shared with
            // doctor's certs check (src/knowledge/crates.toml, `[trust_store]`).
            let store = &crate::knowledge::get().crates.trust_store;
            let system = has(&store.system);
            let built_in = has(&store.built_in);
            if !system.is_empty() {
                Decision {
                    include: true,
                    reason: format!("{} read the system trust store", system.join(", ")),
                    source: None,
                }
            } else if !built_in.is_empty() {
                Decision {
                    include: false,
                    reason: format!("{} compile the roots in", built_in.join(", ")),
                    source: None,
                }
            } else {
                Decision {
                    include: false,
                    reason: "no crate in the binary reads a trust store".into(),
                    source: None,
                }
            }
        }
    }
}

/// The bundle's bytes and where they came from: Mozilla's roots as [`MOZILLA_CRATE`] ships them
/// (PEM, LF line ends, in the crate's order), or the file `CARGO_TINY_CA_BUNDLE` names.
pub fn read(reason: &str) -> Result<(Vec<u8>, String)> {
    match std::env::var_os(HOST_BUNDLE_VAR) {
        None => Ok((
            mozilla_pem(),
            format!(
                "Mozilla's {} roots from {MOZILLA_CRATE} {MOZILLA_VERSION}",
                webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
            ),
        )),
        Some(path) => {
            let path = PathBuf::from(path);
            let bytes = std::fs::read(&path).map_err(|e| {
                Failure::new(format!(
                    "the image needs CA certificates ({reason}) but {} ({HOST_BUNDLE_VAR}) cannot be read: {e}",
                    path.display()
                ))
                .hint(format!("point {HOST_BUNDLE_VAR} at a readable PEM bundle, or unset it to use Mozilla's roots from {MOZILLA_CRATE}"))
            })?;
            Ok((
                bytes,
                format!("the host file {} ({HOST_BUNDLE_VAR})", path.display()),
            ))
        }
    }
}

/// Mozilla's root certificates as one PEM bundle.
pub fn mozilla_pem() -> Vec<u8> {
    let pems: Vec<pem::Pem> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|der| pem::Pem::new("CERTIFICATE", der.as_ref()))
        .collect();
    let config = pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF);
    pem::encode_many_config(&pems, config).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stated_version_is_the_locked_one() {
        let lock: toml_edit::DocumentMut = include_str!("../../Cargo.lock").parse().unwrap();
        let versions: Vec<&str> = lock["package"]
            .as_array_of_tables()
            .unwrap()
            .iter()
            .filter(|p| p["name"].as_str() == Some(MOZILLA_CRATE))
            .filter_map(|p| p["version"].as_str())
            .collect();
        assert_eq!(versions, [MOZILLA_VERSION]);
    }

    #[test]
    fn the_mozilla_bundle_is_every_root_as_pem() {
        let bytes = mozilla_pem();
        let parsed = pem::parse_many(&bytes).unwrap();
        assert!(parsed.len() > 100, "{}", parsed.len());
        assert_eq!(parsed.len(), webpki_root_certs::TLS_SERVER_ROOT_CERTS.len());
        assert!(parsed.iter().all(|p| p.tag() == "CERTIFICATE"));
        assert_eq!(
            parsed[0].contents(),
            webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref()
        );
        assert!(!bytes.contains(&b'\r'));
        assert_eq!(bytes, mozilla_pem(), "deterministic");
    }

    fn audit(names: &[&str]) -> VersionInfo {
        let pkgs: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(i, n)| {
                format!(
                    r#"{{"name":"{n}","version":"1.0.0","source":"crates.io"{}}}"#,
                    if i == 0 { r#","root":true"# } else { "" }
                )
            })
            .collect();
        serde_json::from_str(&format!(r#"{{"packages":[{}]}}"#, pkgs.join(","))).unwrap()
    }

    #[test]
    fn auto_follows_the_trust_store_crates() {
        let d = decide(
            CaCertificates::Auto,
            &audit(&["app", "rustls-native-certs"]),
        );
        assert!(
            d.include && d.reason.contains("rustls-native-certs"),
            "{d:?}"
        );
        let d = decide(CaCertificates::Auto, &audit(&["app", "webpki-roots"]));
        assert!(!d.include && d.reason.contains("webpki-roots"), "{d:?}");
        assert!(!decide(CaCertificates::Auto, &audit(&["app"])).include);
        assert!(decide(CaCertificates::Always, &audit(&["app"])).include);
        assert!(!decide(CaCertificates::Never, &audit(&["app", "native-tls"])).include);
    }
}
