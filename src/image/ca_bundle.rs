//! Whether the image needs the CA bundle, decided from the dependency list read out of the binary.

use std::path::PathBuf;

use anyhow::Result;
use auditable_serde::VersionInfo;

use crate::error::Failure;
use crate::settings::CaCertificates;

/// The host bundle copied into the image (`CARGO_TINY_CA_BUNDLE` overrides it).
pub const HOST_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The decision and the reason, for the output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub include: bool,
    pub reason: String,
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
        },
        CaCertificates::Never => Decision {
            include: false,
            reason: "ca-certificates = \"never\"".into(),
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
                }
            } else if !built_in.is_empty() {
                Decision {
                    include: false,
                    reason: format!("{} compile the roots in", built_in.join(", ")),
                }
            } else {
                Decision {
                    include: false,
                    reason: "no crate in the binary reads a trust store".into(),
                }
            }
        }
    }
}

/// Reads the host bundle, or fails saying how to get one.
pub fn read_host_bundle(reason: &str) -> Result<Vec<u8>> {
    let path = std::env::var_os("CARGO_TINY_CA_BUNDLE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(HOST_BUNDLE));
    std::fs::read(&path).map_err(|e| {
        Failure::new(format!(
            "the image needs CA certificates ({reason}) but {} cannot be read: {e}",
            path.display()
        ))
        .hint("install the host's CA bundle (apt-get install ca-certificates), point CARGO_TINY_CA_BUNDLE at one, or set ca-certificates = \"never\" in [package.metadata.tiny]")
        .into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
