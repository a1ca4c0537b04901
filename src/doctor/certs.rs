//! The certs check: does the binary read the system trust store at run time (image needs CA certificates)?

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};

/// Crates that load the system CA store at run time.
const SYSTEM_STORE: &[&str] = &[
    "rustls-native-certs",
    "rustls-platform-verifier",
    "openssl-probe",
];

pub fn check(g: &Graph) -> Vec<Finding> {
    let mut out = Vec::new();
    let openssl = g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::Package { name, .. } if name == "openssl-sys"));
    for n in &g.nodes {
        let Node::Package { name, version } = n else {
            continue;
        };
        // openssl-probe comes with native-tls, which the tls check already reports.
        if SYSTEM_STORE.contains(&name.as_str()) && !(openssl && name == "openssl-probe") {
            out.push(Finding {
                code: "certs-system-store",
                severity: Severity::Warning,
                message: format!("{name} v{version} reads the system CA store at run time: a FROM-scratch image needs CA certificates (SSL_CERT_FILE)"),
                path: vec![name.clone()],
                fix: Some("use the webpki-roots variant of the TLS feature (roots embedded), or add a CA bundle to the image".into()),
                file: None,
                line: None,
                edit: None,
            });
        }
    }
    out
}
