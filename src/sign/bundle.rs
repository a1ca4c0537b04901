//! A statement signed into a Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! holding a DSSE envelope, as cosign 3 writes them: with a key, the bundle names the key by its
//! hint and carries no log entry (offline); keyless, it carries the Fulcio certificate, the Rekor
//! entry and, when configured, an RFC 3161 timestamp.

use anyhow::Result;
use sigstore_bundle::BundleV03;
use sigstore_types::{
    Bundle, DsseEnvelope, DsseSignature, KeyId, MediaType, PayloadBytes, PublicKeyIdentifier,
    SignatureContent, VerificationMaterial, VerificationMaterialContent,
};

use super::keyless::Keyless;
use super::keys::SigningKey;
use super::statement::PAYLOAD_TYPE;

/// Media type of the bundles written.
pub const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// Who signs.
#[derive(Debug)]
pub enum Signer {
    /// A key the user holds (offline).
    Key(SigningKey),
    /// A Fulcio certificate for an ephemeral key; the signatures are logged in Rekor.
    Keyless(Keyless),
}

/// A signed statement.
#[derive(Debug, Clone)]
pub struct SignedBundle {
    /// The bundle's JSON, as stored (the referrer's layer).
    pub json: Vec<u8>,
    /// The statement's predicate type.
    pub predicate_type: String,
}

/// Signs the statement bytes (an in-toto statement, see [`super::statement`]).
pub async fn sign(signer: &Signer, statement: &[u8]) -> Result<SignedBundle> {
    let predicate_type = predicate_type_of(statement)?;
    let pair = match signer {
        Signer::Key(key) => &key.pair,
        Signer::Keyless(k) => &k.pair,
    };
    // ring signs the whole PAE (not a digest of it, as sigstore-sign's signer does).
    let signature = pair.sign(&sigstore_types::pae(PAYLOAD_TYPE, statement))?;
    let envelope = DsseEnvelope::new(
        PAYLOAD_TYPE,
        PayloadBytes::new(statement.to_vec()),
        DsseSignature::new(signature.clone(), KeyId::default()),
    );
    let bundle = match signer {
        Signer::Key(key) => Bundle::new(
            MediaType::Bundle0_3,
            VerificationMaterial::new(VerificationMaterialContent::PublicKey(
                PublicKeyIdentifier::new(key.hint()),
            )),
            SignatureContent::DsseEnvelope(envelope),
        ),
        Signer::Keyless(k) => {
            let entry = k.log(&envelope).await?;
            let timestamp = k.timestamp(&signature).await?;
            let mut b = BundleV03::with_certificate_and_dsse(k.certificate().clone(), envelope)
                .with_tlog_entry(entry);
            if let Some(ts) = timestamp {
                b = b.with_rfc3161_timestamp(ts);
            }
            b.into_bundle()
        }
    };
    Ok(SignedBundle {
        json: bundle.to_json()?.into_bytes(),
        predicate_type,
    })
}

/// The `predicateType` of an in-toto statement (refusing what is not one).
fn predicate_type_of(statement: &[u8]) -> Result<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "_type")]
        type_: String,
        #[serde(rename = "predicateType")]
        predicate_type: String,
    }
    match serde_json::from_slice::<Head>(statement) {
        Ok(h) if h.type_ == super::statement::STATEMENT_V1 => Ok(h.predicate_type),
        _ => crate::fail!("what is to be signed is not an in-toto Statement v1"),
    }
}
