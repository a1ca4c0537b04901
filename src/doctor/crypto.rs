//! The crypto-provider check: rustls with both ring and aws-lc-rs panics at run time unless a provider is installed.

use super::findings::{Finding, Severity};
use super::graph::{Graph, Node};

pub fn check(g: &Graph) -> Vec<Finding> {
    let on = |f: &str| {
        g.nodes.iter().any(
            |n| matches!(n, Node::Feature { name, feature } if name == "rustls" && feature == f),
        )
    };
    if on("ring") && on("aws_lc_rs") {
        return vec![Finding {
            code: "crypto-two-providers",
            severity: Severity::Warning,
            message: "rustls has both `ring` and `aws_lc_rs` enabled: `ClientConfig::builder()` panics at run time unless a default CryptoProvider is installed".into(),
            path: vec!["rustls [ring, aws_lc_rs]".into()],
            fix: Some("pick one provider: `rustls = { version = \"0.23\", default-features = false, features = [\"ring\", \"std\", \"tls12\"] }` and the `*-ring` / `*-no-provider` variants of the TLS features, or call `CryptoProvider::install_default` at start-up".into()),
            file: None,
            line: None,
            edit: None,
            verified: None,
        }];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_providers_is_a_warning() {
        let g = Graph::parse("0app v0.1.0\n1rustls feature \"ring\"\n2rustls v0.23.46\n1rustls feature \"aws_lc_rs\"\n2rustls v0.23.46 (*)\n");
        assert_eq!(check(&g)[0].code, "crypto-two-providers");
        let g = Graph::parse("0app v0.1.0\n1rustls feature \"ring\"\n2rustls v0.23.46\n");
        assert!(check(&g).is_empty());
    }
}
