//! Verifying a bundle: its signature (with a public key, or with a Fulcio certificate whose
//! identity and issuer match, chained to the trust root, with its Rekor entry), and that its
//! statement's subject is the expected manifest digest. sigstore-verify does the cryptography;
//! this adds the regexp identity matchers and the one-line errors that name what failed.

use anyhow::Result;
use sigstore_trust_root::TrustedRoot;
use sigstore_types::{Bundle, DerPublicKey, SignatureContent, VerificationMaterialContent};
use sigstore_verify::{PublicKeyVerificationPolicy, VerificationPolicy, Verifier};

use super::statement::{sha256_hex, PAYLOAD_TYPE, STATEMENT_V1};
use crate::error::Failure;

/// How an identity or issuer is matched.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    /// Anchored: the whole value must match.
    Regex(regex::Regex),
}

impl Matcher {
    /// A regexp matcher; the pattern is anchored at both ends, as cosign's `--…-regexp` are not:
    /// a partial match is too easy to get wrong for an identity.
    pub fn regex(pattern: &str) -> Result<Matcher> {
        regex::Regex::new(&format!("^(?:{pattern})$"))
            .map(Matcher::Regex)
            .map_err(|e| {
                Failure::new(format!("`{pattern}` is not a regular expression: {e}")).into()
            })
    }

    fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "`{s}`"),
            Matcher::Regex(r) => {
                let p = r.as_str();
                write!(f, "/{}/", &p[4..p.len() - 2])
            }
        }
    }
}

/// Who must have signed.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Signed with this key (key mode). Log entries, when the bundle has some, are checked too.
    Key(DerPublicKey),
    /// Signed keylessly by this identity (the certificate's SAN) from this OIDC issuer.
    Identity { identity: Matcher, issuer: Matcher },
}

/// What a verified bundle says.
#[derive(Debug, Clone)]
pub struct Verified {
    pub predicate_type: String,
    /// The statement's predicate.
    pub predicate: serde_json::Value,
    /// The certificate's identity, or `key <hint>` in key mode.
    pub signer: String,
    pub issuer: Option<String>,
    /// When the signature was logged or timestamped (seconds since the epoch), when it was.
    pub signed_at: Option<i64>,
}

/// The trust root of key mode: no authority (the key is the trust).
pub fn keys_only_root() -> TrustedRoot {
    TrustedRoot::from_json(
        r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[],"ctlogs":[],"timestampAuthorities":[]}"#,
    )
    .expect("an empty trust root parses")
}

/// Sigstore's public-good trust root, as the crate embeds it.
pub fn public_good_root() -> TrustedRoot {
    TrustedRoot::from_json(sigstore_trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT)
        .expect("the embedded trust root parses")
}

/// A trust root file (`trusted_root.json`, as `cosign trusted-root create` or a Sigstore
/// instance's TUF repository gives it).
pub fn root_from_file(path: &std::path::Path) -> Result<TrustedRoot> {
    use std::io::Read as _;
    const MAX: u64 = 4 * 1024 * 1024;
    let cannot = |why: String| -> anyhow::Error {
        Failure::new(format!(
            "cannot read the trust root {}: {why}",
            path.display()
        ))
        .into()
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(|e| cannot(e.to_string()))?
        .take(MAX + 1)
        .read_to_string(&mut text)
        .map_err(|_| cannot("not UTF-8 text".into()))?;
    if text.len() as u64 > MAX {
        return Err(cannot(format!("larger than {MAX} bytes")));
    }
    TrustedRoot::from_json(&text).map_err(|e| cannot(first_line(&e.to_string())))
}

/// Verifies `bundle_json` for `subject` (`sha256:<hex>`, the manifest it must be about).
/// `what` names the bundle in errors ("the provenance of sha256:…").
pub fn verify(
    what: &str,
    bundle_json: &[u8],
    subject: &str,
    policy: &Policy,
    root: &TrustedRoot,
) -> Result<Verified> {
    let fail = |why: String| -> anyhow::Error { Failure::new(format!("{what}: {why}")).into() };
    super::provider::install();
    let text =
        std::str::from_utf8(bundle_json).map_err(|_| fail("the bundle is not UTF-8".into()))?;
    let bundle = Bundle::from_json(text).map_err(|e| {
        fail(format!(
            "not a Sigstore bundle ({})",
            first_line(&e.to_string())
        ))
    })?;
    let SignatureContent::DsseEnvelope(envelope) = &bundle.content else {
        return Err(fail("the bundle holds no DSSE envelope".into()));
    };
    if envelope.payload_type != PAYLOAD_TYPE {
        return Err(fail(format!(
            "the envelope's payload is `{}`, not an in-toto statement",
            envelope.payload_type.chars().take(80).collect::<String>()
        )));
    }

    let subject_hex = sha256_hex(subject)?;
    let digest = sigstore_types::Sha256Hash::from_hex(subject_hex)?;
    let verifier = Verifier::new(root).map_err(|e| fail(format!("the trust root: {e}")))?;
    let has_tlog = !bundle.verification_material.tlog_entries.is_empty();
    let (signer, issuer, signed_at) = match policy {
        Policy::Key(key) => {
            if !matches!(
                bundle.verification_material.content,
                VerificationMaterialContent::PublicKey(_)
            ) {
                return Err(fail(
                    "signed keylessly (a certificate), not with a key: verify it with an identity and an issuer".into(),
                ));
            }
            let has_timestamp = !bundle
                .verification_material
                .timestamp_verification_data
                .rfc3161_timestamps
                .is_empty();
            let signed_at = if has_tlog || has_timestamp {
                let mut p = PublicKeyVerificationPolicy::new(key.clone());
                if !has_tlog {
                    p = p.skip_tlog_unsafe();
                }
                let result = verifier
                    .verify(digest, &bundle, &p)
                    .map_err(|e| fail(explain(&e.to_string())))?;
                result.integrated_time().map(|t| t.as_second())
            } else {
                // An offline key-mode bundle (cosign's `--tlog-upload=false`): no log entry or
                // timestamp to check, which sigstore-verify requires; the key is the trust, so
                // the envelope's signature over its PAE is what is verified (`cosign verify
                // --insecure-ignore-tlog` does the same).
                let scheme = sigstore_crypto::KeyAlgorithm::from_spki(key)
                    .map_err(|e| fail(format!("the public key: {e}")))?
                    .default_signing_scheme();
                sigstore_crypto::verify_signature(
                    key,
                    &envelope.pae(),
                    &envelope.signature.sig,
                    scheme,
                )
                .map_err(|e| fail(explain(&format!("DSSE signature verification failed: {e}"))))?;
                None
            };
            (
                format!("key {}", super::keys::key_hint(key)),
                None,
                signed_at,
            )
        }
        Policy::Identity { identity, issuer } => {
            let p = match (identity, issuer) {
                (Matcher::Exact(id), Matcher::Exact(iss)) => {
                    VerificationPolicy::new(id.as_str(), iss.as_str())
                }
                _ => VerificationPolicy::any_identity(),
            };
            let result = verifier
                .verify(digest, &bundle, &p)
                .map_err(|e| fail(explain(&e.to_string())))?;
            let got_identity = result.identity().map(|i| i.as_str().to_string());
            let got_issuer = result.issuer().map(str::to_string);
            let got_identity = got_identity.unwrap_or_default();
            if !identity.matches(&got_identity) {
                return Err(fail(format!("signed by `{got_identity}`, not {identity}")));
            }
            let iss = got_issuer.clone().unwrap_or_default();
            if !issuer.matches(&iss) {
                return Err(fail(format!(
                    "the signer's OIDC issuer is `{iss}`, not {issuer}"
                )));
            }
            let at = result
                .verified_timestamps()
                .first()
                .copied()
                .or(result.integrated_time())
                .map(|t| t.as_second());
            (got_identity, got_issuer, at)
        }
    };

    // sigstore-verify has checked that a subject digest is the artifact's; say which statement.
    let statement: serde_json::Value = serde_json::from_slice(envelope.payload.as_bytes())
        .map_err(|_| fail("the signed statement is not JSON".into()))?;
    if statement["_type"] != STATEMENT_V1 {
        return Err(fail(
            "the signed payload is not an in-toto Statement v1".into(),
        ));
    }
    let about_subject = statement["subject"]
        .as_array()
        .is_some_and(|s| s.iter().any(|s| s["digest"]["sha256"] == subject_hex));
    if !about_subject {
        return Err(fail(format!("the statement is not about {subject}")));
    }
    Ok(Verified {
        predicate_type: statement["predicateType"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        predicate: statement["predicate"].clone(),
        signer,
        issuer,
        signed_at,
    })
}

/// sigstore-verify's error, in the words of what failed.
fn explain(e: &str) -> String {
    let e = first_line(e);
    let rows: &[(&str, &str)] = &[
        (
            "DSSE signature verification failed",
            "the signature does not verify (the statement or the key differs from what was signed)",
        ),
        ("does not match", "the statement is not about this manifest"),
    ];
    rows.iter()
        .find(|(needle, _)| e.contains(needle))
        .map(|(_, says)| format!("{says}: {e}"))
        .unwrap_or(e)
}

fn first_line(s: &str) -> String {
    super::http::printable(s.lines().next().unwrap_or_default().as_bytes())
}
