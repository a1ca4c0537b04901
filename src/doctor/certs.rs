//! The certs check: does the binary read the system trust store at run time (image needs CA
//! certificates)? The crates are the image's (`src/knowledge/crates.toml`, `[trust_store]`).

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};

pub fn check(g: &Graph) -> Vec<Finding> {
    let known = &crate::knowledge::get().crates;
    let store = &known.trust_store;
    let mut out = Vec::new();
    let native_tls = g
        .nodes
        .iter()
        .any(|n| matches!(n, Node::Package { name, .. } if known.is_native_tls(name)));
    for n in &g.nodes {
        let Node::Package { name, version } = n else {
            continue;
        };
        // The OpenSSL stack (openssl-probe comes with native-tls) is on the tls check's path.
        let reported = native_tls && store.openssl_stack.contains(name);
        if store.system.contains(name) && !reported {
            out.push(Finding {
                code: "certs-system-store",
                severity: Severity::Warning,
                message: format!("{name} v{version} reads the system CA store at run time: a FROM-scratch image needs CA certificates (SSL_CERT_FILE)"),
                path: vec![name.clone()],
                fix: Some("use the webpki-roots variant of the TLS feature (roots embedded), or add a CA bundle to the image".into()),
                file: None,
                line: None,
                edit: None,
                verified: None,
            });
        }
    }
    out
}
