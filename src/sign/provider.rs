//! sigstore-crypto's cryptography on ring, the crypto library the rest of cargo-tiny already uses
//! (through rustls): the sigstore crates' own provider is aws-lc-rs, a larger C build.
//!
//! What ring cannot do is sign or verify a digest computed elsewhere ("prehashed"): sigstore-crypto
//! uses that for hashedrekord message signatures, which cargo-tiny neither writes nor accepts (it
//! signs DSSE envelopes, whose signature is over the whole PAE). Those two calls fail with an error
//! that says so.

use ring::digest;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, VerificationAlgorithm};
use sigstore_crypto::provider::{CryptoProvider, HashContext, SigningKeyPair};
use sigstore_crypto::{Error, KeyAlgorithm, Result, SigningScheme};
use sigstore_types::HashAlgorithm;

/// The provider; installed once by [`install`].
#[derive(Debug)]
pub struct RingProvider;

static PROVIDER: RingProvider = RingProvider;

/// Makes ring sigstore-crypto's provider for the process (idempotent; the first install wins, and
/// nothing else in cargo-tiny installs one).
pub fn install() {
    let _ = sigstore_crypto::install_default_provider(&PROVIDER);
}

struct Hash(digest::Context);

impl HashContext for Hash {
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

/// An ECDSA P-256 key pair (the one kind Sigstore signs with).
pub struct P256(EcdsaKeyPair);

impl P256 {
    pub fn from_pkcs8(der: &[u8]) -> Result<Self> {
        EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            der,
            &SystemRandom::new(),
        )
        .map(P256)
        .map_err(|e| Error::InvalidKeyFormat(format!("not a PKCS#8 ECDSA P-256 key ({e})")))
    }
}

impl SigningKeyPair for P256 {
    fn algorithm(&self) -> KeyAlgorithm {
        KeyAlgorithm::EcdsaP256
    }

    fn public_key_bytes(&self) -> &[u8] {
        self.0.public_key().as_ref()
    }

    fn sign_raw(&self, data: &[u8]) -> Result<Vec<u8>> {
        self.0
            .sign(&SystemRandom::new(), data)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| Error::Signing("ECDSA P-256 signing failed".into()))
    }

    fn sign_prehashed(&self, _digest: &[u8]) -> Result<Vec<u8>> {
        Err(Error::UnsupportedAlgorithm(
            "signing a precomputed digest (ring signs whole messages)".into(),
        ))
    }
}

fn algorithm(scheme: SigningScheme) -> Option<&'static dyn VerificationAlgorithm> {
    Some(match scheme {
        SigningScheme::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
        SigningScheme::EcdsaP256Sha384 => &signature::ECDSA_P256_SHA384_ASN1,
        SigningScheme::EcdsaP384Sha256 => &signature::ECDSA_P384_SHA256_ASN1,
        SigningScheme::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
        SigningScheme::Ed25519 => &signature::ED25519,
        SigningScheme::RsaPssSha256 => &signature::RSA_PSS_2048_8192_SHA256,
        SigningScheme::RsaPssSha384 => &signature::RSA_PSS_2048_8192_SHA384,
        SigningScheme::RsaPssSha512 => &signature::RSA_PSS_2048_8192_SHA512,
        SigningScheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        SigningScheme::RsaPkcs1Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
        SigningScheme::RsaPkcs1Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        _ => return None,
    })
}

impl CryptoProvider for RingProvider {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>> {
        let algorithm = match algorithm {
            HashAlgorithm::Sha2256 => &digest::SHA256,
            HashAlgorithm::Sha2384 => &digest::SHA384,
            HashAlgorithm::Sha2512 => &digest::SHA512,
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "cannot compute {other} digests"
                )))
            }
        };
        Ok(Box::new(Hash(digest::Context::new(algorithm))))
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        let algorithm = algorithm(scheme)
            .ok_or_else(|| Error::UnsupportedAlgorithm(format!("{} signatures", scheme.name())))?;
        UnparsedPublicKey::new(algorithm, spki_pubkey_bytes)
            .verify(data, signature)
            .map_err(|_| Error::Verification(format!("{} signature invalid", scheme.name())))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        _spki_pubkey_bytes: &[u8],
        _digest: &[u8],
        _signature: &[u8],
    ) -> Result<()> {
        Err(Error::UnsupportedAlgorithm(format!(
            "{} signatures over a precomputed digest (hashedrekord message signatures)",
            scheme.name()
        )))
    }

    fn generate_key_pair(&self, algorithm: KeyAlgorithm) -> Result<Box<dyn SigningKeyPair>> {
        if algorithm != KeyAlgorithm::EcdsaP256 {
            return Err(Error::UnsupportedAlgorithm(format!(
                "generating {algorithm:?} keys"
            )));
        }
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| Error::KeyGeneration("ECDSA P-256 key generation failed".into()))?;
        Ok(Box::new(P256::from_pkcs8(pkcs8.as_ref())?))
    }

    fn key_pair_from_pkcs8_der(&self, pkcs8: &[u8]) -> Result<Box<dyn SigningKeyPair>> {
        Ok(Box::new(P256::from_pkcs8(pkcs8)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigstore_crypto::KeyPair;

    #[test]
    fn signs_and_verifies_through_sigstore_crypto() {
        install();
        let key = KeyPair::generate_ecdsa_p256().unwrap();
        let public = key.public_key_der().unwrap();
        let sig = key.sign(b"message").unwrap();
        sigstore_crypto::verify_signature(
            &public,
            b"message",
            &sig,
            SigningScheme::EcdsaP256Sha256,
        )
        .unwrap();
        assert!(sigstore_crypto::verify_signature(
            &public,
            b"messagE",
            &sig,
            SigningScheme::EcdsaP256Sha256
        )
        .is_err());
        assert_eq!(
            sigstore_crypto::sha256(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
