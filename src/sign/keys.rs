//! Keys read from PEM files: the signing key of key mode (PKCS#8 ECDSA P-256) and the public key a
//! verifier is given. Messages name the file and the PEM label, never a byte of the key.

use std::path::Path;

use anyhow::Result;
use base64::Engine as _;
use sigstore_crypto::KeyPair;
use sigstore_types::DerPublicKey;

use crate::error::Failure;

/// Largest key file read (a PEM P-256 key is a few hundred bytes).
const MAX_KEY_FILE: u64 = 64 * 1024;

/// A key-mode signing key.
pub struct SigningKey {
    pub(super) pair: KeyPair,
    public: DerPublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({})", self.hint())
    }
}

const GENERATE: &str = "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out tiny.key` (public half: `openssl pkey -in tiny.key -pubout -out tiny.pub`)";

impl SigningKey {
    /// Reads a PKCS#8 PEM ECDSA P-256 private key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = read_bounded(path, "signing key")?;
        Self::from_pem(&text).map_err(|e| {
            let failure = e
                .downcast::<Failure>()
                .unwrap_or_else(|e| Failure::new(e.to_string()));
            Failure::new(format!("{}: {}", path.display(), failure.message))
                .hint(failure.hint.unwrap_or_default())
                .into()
        })
    }

    pub fn from_pem(text: &str) -> Result<Self> {
        let block = pem::parse(text.trim()).map_err(|_| {
            Failure::new("not a PEM file (-----BEGIN PRIVATE KEY-----)").hint(GENERATE)
        })?;
        match block.tag() {
            "PRIVATE KEY" => {}
            "EC PRIVATE KEY" => {
                return Err(Failure::new("a SEC1 EC key; a PKCS#8 one is needed")
                    .hint("convert it: `openssl pkcs8 -topk8 -nocrypt -in KEY -out tiny.key`")
                    .into())
            }
            tag if tag.starts_with("ENCRYPTED") => {
                return Err(Failure::new(format!(
                    "an encrypted key ({tag}), which cargo-tiny does not decrypt"
                ))
                .hint("give it an unencrypted PKCS#8 key: `openssl pkcs8 -topk8 -nocrypt -in KEY -out tiny.key`, kept as a CI secret")
                .into())
            }
            tag => {
                return Err(Failure::new(format!("a PEM `{tag}`, not a private key"))
                    .hint(GENERATE)
                    .into())
            }
        }
        super::provider::install();
        let pair = KeyPair::from_pkcs8_der(block.contents())
            .map_err(|_| Failure::new("not an ECDSA P-256 PKCS#8 key").hint(GENERATE))?;
        let public = pair
            .public_key_der()
            .map_err(|e| Failure::new(format!("cannot encode the public key: {e}")))?;
        Ok(SigningKey { pair, public })
    }

    pub fn public_key(&self) -> &DerPublicKey {
        &self.public
    }

    /// The bundle's `publicKey.hint`: base64 of the SHA-256 of the DER public key.
    pub fn hint(&self) -> String {
        key_hint(&self.public)
    }
}

/// base64(sha256(SubjectPublicKeyInfo DER)), the hint cosign writes for a key.
pub fn key_hint(public: &DerPublicKey) -> String {
    use sha2::Digest as _;
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(public.as_bytes()))
}

/// Reads a PEM public key (`-----BEGIN PUBLIC KEY-----`), as cosign writes `cosign.pub`.
pub fn public_key_from_file(path: &Path) -> Result<DerPublicKey> {
    let text = read_bounded(path, "public key")?;
    DerPublicKey::from_pem(text.trim()).map_err(|_| {
        Failure::new(format!(
            "{} is not a PEM public key (-----BEGIN PUBLIC KEY-----)",
            path.display()
        ))
        .hint("pass the public half of the signing key: `openssl pkey -in tiny.key -pubout`")
        .into()
    })
}

fn read_bounded(path: &Path, what: &str) -> Result<String> {
    use std::io::Read as _;
    let cannot = |e: &dyn std::fmt::Display| {
        Failure::new(format!("cannot read the {what} {}: {e}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(|e| cannot(&e))?;
    let mut text = String::new();
    file.take(MAX_KEY_FILE + 1)
        .read_to_string(&mut text)
        .map_err(|_| cannot(&"not UTF-8 text"))?;
    if text.len() as u64 > MAX_KEY_FILE {
        return Err(cannot(&format!("larger than {MAX_KEY_FILE} bytes")).into());
    }
    Ok(text)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A throwaway test key (`openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`).
    pub(crate) const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgz1H+SmM1wf04okMC
Aj1OLgK9rQGS4u1N5oYJjS+8Dj6hRANCAAT366JsIfIY8iK4yPYFGOqQ5clWeXLG
gcgR967P+Q06lu6ZMBvE221KwOsMP9xBZ7s4H5TbiaD1jilMXzoUqBDg
-----END PRIVATE KEY-----
";

    #[test]
    fn reads_a_pkcs8_key_and_refuses_others_without_echoing_them() {
        let key = SigningKey::from_pem(TEST_KEY).unwrap();
        assert_eq!(key.hint().len(), 44);
        for (pem, says) in [
            ("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", "SEC1"),
            ("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted"),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "P-256"),
            ("MIGHAgEAMBMGByqGSM49AgEGCCqGSM49", "not a PEM"),
        ] {
            let err = format!("{:#}", SigningKey::from_pem(pem).unwrap_err());
            assert!(err.contains(says), "{err}");
            assert!(!err.contains("AAAA") && !err.contains("MIGH"), "{err}");
        }
    }
}
