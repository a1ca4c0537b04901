//! Signatures and attestations of images, as Sigstore bundles that are OCI referrers of what they
//! sign (cosign 3's layout), and their verification.
//!
//! For each manifest (each platform's, and the index) [`sign`] makes up to three referrers: a plain
//! signature ([`statement::signature`]), the SLSA v1 provenance ([`provenance`]) and the SBOM
//! attestation ([`statement::document`]); each is an in-toto statement about the manifest's digest,
//! in a DSSE envelope, in a bundle ([`bundle`]), in a referrer manifest ([`referrer`]). No image
//! byte changes. [`verify::verify`] checks one bundle against a key or an identity.
//!
//! Files: `statement.rs` (in-toto v1, the document predicates), `provenance.rs` (SLSA v1),
//! `keys.rs` (PEM keys), `keyless.rs` (OIDC token, Fulcio, Rekor, TSA), `http.rs` (bounded
//! requests), `bundle.rs` (DSSE + bundle), `referrer.rs` (the OCI referrer), `verify.rs`,
//! `provider.rs` (sigstore-crypto on ring).

pub mod bundle;
pub mod http;
pub mod keyless;
pub mod keys;
pub mod provenance;
pub mod provider;
pub mod referrer;
pub mod statement;
pub mod verify;

use std::path::PathBuf;

use anyhow::Result;

pub use bundle::{SignedBundle, Signer};
pub use referrer::Referrer;

use crate::image::Blob;
use statement::{DocumentKind, Subject};

/// How to sign, as the command line and the configuration say.
#[derive(Debug, Clone)]
pub enum Mode {
    /// `--sign-key PATH`.
    Key(PathBuf),
    /// Keyless, against these services.
    Keyless(keyless::Services),
}

impl Mode {
    /// Keyless against the services the flags, else the environment, name (Sigstore's
    /// public-good instance by default), with a token available: checked before compiling.
    pub fn keyless(flags: &keyless::Endpoints) -> Result<Mode> {
        let var = |k: &str| std::env::var(k).ok();
        keyless::token_available(var)?;
        Ok(Mode::Keyless(keyless::Services::resolve(flags, var)?))
    }
}

/// Readies a signer: reads the key, or gets the OIDC token and the Fulcio certificate (once per
/// run). `var` reads an environment variable.
pub fn signer(mode: &Mode, var: impl Fn(&str) -> Option<String>) -> Result<Signer> {
    match mode {
        Mode::Key(path) => Ok(Signer::Key(keys::SigningKey::from_file(path)?)),
        Mode::Keyless(services) => runtime()?.block_on(async {
            let http = http::Http::new(services.timeout, &services.ca_pem)?;
            let token = keyless::identity_token(&http, var).await?;
            Ok(Signer::Keyless(
                keyless::Keyless::start(http, services.clone(), &token).await?,
            ))
        }),
    }
}

/// What to sign about one manifest (an image manifest or an index).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The manifest, as written.
    pub subject: &'a Blob,
    /// The subject's name in the statements: the repository, or empty for a tarball.
    pub name: String,
    /// The provenance predicate, when provenance is wanted.
    pub provenance: Option<serde_json::Value>,
    /// The SBOM (or VEX) document to attest.
    pub documents: Vec<(DocumentKind, &'a [u8])>,
}

/// What [`sign`] made for one request: the signature's referrer, then the provenance's, then one
/// per document, in that order.
#[derive(Debug, Clone)]
pub struct Signed {
    pub subject: String,
    pub referrers: Vec<Referrer>,
}

/// Signs each request: a signature, the provenance and each document, each a referrer of the
/// request's subject.
pub fn sign(signer: &Signer, requests: &[Request<'_>]) -> Result<Vec<Signed>> {
    runtime()?.block_on(async {
        let mut out = Vec::new();
        for r in requests {
            let subject = vec![Subject::new(r.name.clone(), &r.subject.digest)?];
            let mut statements = vec![statement::signature(subject.clone()).to_bytes()];
            if let Some(p) = &r.provenance {
                statements.push(
                    statement::Statement::new(subject.clone(), provenance::PREDICATE_TYPE, p)
                        .to_bytes(),
                );
            }
            for (kind, doc) in &r.documents {
                statements.push(statement::document(subject.clone(), *kind, doc)?.to_bytes());
            }
            let mut referrers = Vec::new();
            for s in &statements {
                let b = bundle::sign(signer, s).await?;
                referrers.push(Referrer::new(r.subject, &b)?);
            }
            out.push(Signed {
                subject: r.subject.digest.clone(),
                referrers,
            });
        }
        Ok(out)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Blob {
        Blob::new(
            "application/vnd.oci.image.manifest.v1+json",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#
                .to_vec(),
        )
    }

    #[test]
    fn key_mode_signs_and_verifies_and_one_changed_byte_fails() {
        let key = keys::SigningKey::from_pem(keys::tests::TEST_KEY).unwrap();
        let public = key.public_key().clone();
        let signer = Signer::Key(key);
        let m = manifest();
        let sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.6"}"#;
        let p = provenance::Provenance::default().predicate();
        let signed = sign(
            &signer,
            &[Request {
                subject: &m,
                name: "registry.example/app".into(),
                provenance: Some(p),
                documents: vec![(DocumentKind::CycloneDx, sbom)],
            }],
        )
        .unwrap();
        assert_eq!(signed[0].referrers.len(), 3);
        let policy = verify::Policy::Key(public);
        let root = verify::keys_only_root();
        let types: Vec<String> = signed[0]
            .referrers
            .iter()
            .map(|r| {
                verify::verify("x", &r.bundle.data, &m.digest, &policy, &root)
                    .unwrap()
                    .predicate_type
            })
            .collect();
        assert_eq!(
            types,
            [
                statement::SIGN_V1,
                provenance::PREDICATE_TYPE,
                "https://cyclonedx.org/bom"
            ]
        );

        // The SBOM statement with one byte changed in its payload.
        let bundle = &signed[0].referrers[2].bundle.data;
        let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
        let payload = v["dsseEnvelope"]["payload"].as_str().unwrap().to_string();
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut bytes = b64.decode(payload).unwrap();
        let at = bytes.windows(4).position(|w| w == b"1.6\"").unwrap();
        bytes[at + 2] = b'7';
        v["dsseEnvelope"]["payload"] = b64.encode(bytes).into();
        let err = verify::verify(
            "the SBOM attestation",
            &serde_json::to_vec(&v).unwrap(),
            &m.digest,
            &policy,
            &root,
        )
        .unwrap_err();
        let err = format!("{err:#}");
        assert!(
            err.starts_with("the SBOM attestation: the signature does not verify"),
            "{err}"
        );

        // Another manifest: the statement is not about it.
        let other = Blob::new("application/vnd.oci.image.manifest.v1+json", b"{}".to_vec());
        let err = format!(
            "{:#}",
            verify::verify("the signature", bundle, &other.digest, &policy, &root).unwrap_err()
        );
        assert!(err.contains("is not about sha256:"), "{err}");

        // Another key.
        let other_key = keys::SigningKey::from_pem(&generate_key()).unwrap();
        let err = format!(
            "{:#}",
            verify::verify(
                "the signature",
                bundle,
                &m.digest,
                &verify::Policy::Key(other_key.public_key().clone()),
                &root
            )
            .unwrap_err()
        );
        assert!(err.contains("does not verify"), "{err}");
    }

    /// A fresh PKCS#8 PEM key.
    fn generate_key() -> String {
        use base64::Engine as _;
        let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &ring::rand::SystemRandom::new(),
        )
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n")
    }
}
