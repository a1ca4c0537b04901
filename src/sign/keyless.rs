//! Keyless signing: an OIDC token from the environment, a short-lived certificate from Fulcio for
//! an ephemeral key, the signature's entry in Rekor (v1 API), and a timestamp when a timestamp
//! authority is configured. Every URL is configurable ([`Services`]) so that tests run against
//! local stand-ins.
//!
//! The requests are made here (bounded, see [`super::http`]) with the sigstore crates' types for
//! what is sent and read: `sigstore-rekor`'s `DsseEntry` and `LogEntry`, `sigstore-types`'
//! certificates, `sigstore-oidc`'s token. Fulcio's answer is read by hand (its parser in
//! `sigstore-fulcio` is private; only the certificate chain is taken). The timestamp goes through
//! `sigstore-tsa`'s client with the same timeout, but that client reads the answer unbounded.

use std::time::Duration;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use serde::Deserialize;
use sigstore_crypto::KeyPair;
use sigstore_oidc::IdentityToken;
use sigstore_types::{
    DerCertificate, DsseEnvelope, SignatureBytes, TimestampToken, TransparencyLogEntry,
};

use super::http::Http;
use crate::error::Failure;

/// Where keyless signing goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Services {
    pub fulcio: String,
    pub rekor: String,
    /// An RFC 3161 timestamp authority (`…/api/v1/timestamp`), when one is wanted.
    pub tsa: Option<String>,
    /// Per request.
    pub timeout: Duration,
    /// Extra CA certificates (PEM) for the services' TLS.
    pub ca_pem: Vec<Vec<u8>>,
}

impl Services {
    /// Sigstore's public-good instance.
    pub fn public_good() -> Services {
        Services {
            fulcio: "https://fulcio.sigstore.dev".into(),
            rekor: "https://rekor.sigstore.dev".into(),
            tsa: None,
            timeout: Duration::from_secs(60),
            ca_pem: Vec::new(),
        }
    }
}

/// The environment variables that point keyless signing at another Sigstore instance (a private
/// one, or the tests' stand-ins): the Fulcio and Rekor base URLs, a timestamp authority's
/// `…/api/v1/timestamp` URL, and a PEM file of CA certificates for their TLS.
pub const FULCIO_VAR: &str = "CARGO_TINY_FULCIO_URL";
pub const REKOR_VAR: &str = "CARGO_TINY_REKOR_URL";
pub const TSA_VAR: &str = "CARGO_TINY_TSA_URL";
pub const CA_VAR: &str = "CARGO_TINY_SIGSTORE_CA";

/// The command line's Sigstore endpoints (`--fulcio-url`, `--rekor-url`, `--timestamp-server-url`,
/// `--sigstore-ca`); each, when given, wins over its environment variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub fulcio: Option<String>,
    pub rekor: Option<String>,
    pub tsa: Option<String>,
    pub ca: Option<std::path::PathBuf>,
}

impl Endpoints {
    /// The flags given, by name (for "only with keyless signing").
    pub fn given(&self) -> Vec<&'static str> {
        [
            ("--fulcio-url", self.fulcio.is_some()),
            ("--rekor-url", self.rekor.is_some()),
            ("--timestamp-server-url", self.tsa.is_some()),
            ("--sigstore-ca", self.ca.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

impl Services {
    /// Sigstore's public-good instance, each URL replaced by its variable when set. `var` reads
    /// an environment variable.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Services> {
        Services::resolve(&Endpoints::default(), var)
    }

    /// Sigstore's public-good instance, each URL replaced by its flag in `flags`, else by its
    /// environment variable (`var` reads one); each checked under the name it came from.
    pub fn resolve(flags: &Endpoints, var: impl Fn(&str) -> Option<String>) -> Result<Services> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        // (flag name, flag value, variable name): the flag first.
        let pick = |flag: &'static str, given: &Option<String>, env: &'static str| match given {
            Some(v) => Some((flag, v.clone())),
            None => var(env).map(|v| (env, v)),
        };
        let mut s = Services::public_good();
        for (flag, given, env, slot) in [
            ("--fulcio-url", &flags.fulcio, FULCIO_VAR, &mut s.fulcio),
            ("--rekor-url", &flags.rekor, REKOR_VAR, &mut s.rekor),
        ] {
            if let Some((name, url)) = pick(flag, given, env) {
                *slot = checked_url(name, &url)?;
            }
        }
        if let Some((name, url)) = pick("--timestamp-server-url", &flags.tsa, TSA_VAR) {
            s.tsa = Some(checked_url(name, &url)?);
        }
        let ca = match &flags.ca {
            Some(path) => Some(("--sigstore-ca", path.display().to_string())),
            None => var(CA_VAR).map(|p| (CA_VAR, p)),
        };
        if let Some((name, path)) = ca {
            let pem =
                crate::fsutil::read_regular(std::path::Path::new(&path), 4 << 20).map_err(|e| {
                    let shown = super::http::printable(path.as_bytes());
                    Failure::new(match name.starts_with("--") {
                        true => format!("{name} {shown}: {e}"),
                        false => format!("{name}={shown}: {e}"),
                    })
                    .hint("point it at a PEM file of CA certificates")
                })?;
            s.ca_pem.push(pem);
        }
        Ok(s)
    }
}

/// A Sigstore service URL: https, or plain http only to a loopback host (a local stand-in) — the
/// OIDC token and what is signed must not cross a network in the clear.
fn checked_url(name: &str, url: &str) -> Result<String> {
    match reqwest::Url::parse(url) {
        // A user name or password in the URL would be printed in every error that names it.
        Ok(u) if !u.username().is_empty() || u.password().is_some() => Err(Failure::new(format!(
            "{name}: the URL holds a user name or password, which cargo-tiny would print in its errors"
        ))
        .hint("give the Sigstore service's URL without credentials")
        .into()),
        Ok(u) if u.scheme() == "https" || (u.scheme() == "http" && is_loopback(&u)) => {
            Ok(url.trim_end_matches('/').to_string())
        }
        Ok(u) if u.scheme() == "http" => Err(Failure::new(format!(
            "{name}: `{}` is plain http to a host that is not loopback: the OIDC token would cross the network in the clear",
            super::http::printable(url.as_bytes())
        ))
        .hint("use its https:// URL")
        .into()),
        _ => Err(Failure::new(format!(
            "{name}: `{}` is not an http(s) URL",
            super::http::printable(url.as_bytes())
        ))
        .hint("e.g. https://fulcio.sigstore.dev")
        .into()),
    }
}

fn is_loopback(u: &reqwest::Url) -> bool {
    u.host_str().is_some_and(crate::reference::is_loopback)
}

/// Whether this run has a way to get an OIDC token (checked before compiling; the token itself is
/// requested just before signing, GitHub's last minutes).
pub fn token_available(var: impl Fn(&str) -> Option<String>) -> Result<()> {
    let set = |name: &str| var(name).is_some_and(|v| !v.trim().is_empty());
    if set("SIGSTORE_ID_TOKEN")
        || (set("ACTIONS_ID_TOKEN_REQUEST_URL") && set("ACTIONS_ID_TOKEN_REQUEST_TOKEN"))
    {
        return Ok(());
    }
    Err(
        Failure::new("keyless signing needs an OIDC token, and there is none")
            .hint(NO_TOKEN_HINT)
            .into(),
    )
}

/// The audience Fulcio accepts.
pub const AUDIENCE: &str = "sigstore";

const NO_TOKEN_HINT: &str = "in GitHub Actions give the job `permissions: id-token: write`; elsewhere set SIGSTORE_ID_TOKEN to an OIDC token with audience `sigstore`, or sign with a key";

/// The OIDC token of this run: `SIGSTORE_ID_TOKEN`, else GitHub Actions' token endpoint
/// (`ACTIONS_ID_TOKEN_REQUEST_URL` + `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, audience `sigstore`).
/// `var` reads a variable.
pub async fn identity_token(
    http: &Http,
    var: impl Fn(&str) -> Option<String>,
) -> Result<IdentityToken> {
    let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    let jwt = if let Some(jwt) = var("SIGSTORE_ID_TOKEN") {
        jwt
    } else if let (Some(url), Some(bearer)) = (
        var("ACTIONS_ID_TOKEN_REQUEST_URL"),
        var("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
    ) {
        let sep = if url.contains('?') { '&' } else { '?' };
        let body = http
            .send(
                "the GitHub Actions OIDC token endpoint",
                http.get(&format!("{url}{sep}audience={AUDIENCE}"))
                    .bearer_auth(bearer),
            )
            .await?;
        #[derive(Deserialize)]
        struct Answer {
            value: String,
        }
        serde_json::from_slice::<Answer>(&body)
            .map_err(|_| {
                Failure::new("the GitHub Actions OIDC token endpoint answered no token")
                    .hint(NO_TOKEN_HINT)
            })?
            .value
    } else {
        return Err(
            Failure::new("keyless signing needs an OIDC token, and there is none")
                .hint(NO_TOKEN_HINT)
                .into(),
        );
    };
    let token = IdentityToken::from_jwt(jwt.trim()).map_err(|_| {
        Failure::new("the OIDC token is not a JWT with `iss` and `sub`").hint(NO_TOKEN_HINT)
    })?;
    if token.is_expired() {
        return Err(Failure::new(format!("the OIDC token of {} has expired", token.issuer()))
            .hint("sign within the token's lifetime (GitHub Actions' last about 5 minutes: request one just before signing)")
            .into());
    }
    Ok(token)
}

/// A keyless signing session: one token, one ephemeral key and its certificate.
pub struct Keyless {
    pub(super) http: Http,
    pub(super) services: Services,
    pub(super) pair: KeyPair,
    pub(super) certificate: DerCertificate,
    /// The token's identity (what Fulcio puts in the certificate) and issuer.
    identity: String,
    issuer: String,
}

impl std::fmt::Debug for Keyless {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyless({})", self.services.fulcio)
    }
}

impl Keyless {
    /// Gets a certificate for a fresh key from Fulcio, for the identity of `token`.
    pub async fn start(http: Http, services: Services, token: &IdentityToken) -> Result<Keyless> {
        super::provider::install();
        let pair = KeyPair::generate_ecdsa_p256()?;
        let public_pem = pair.public_key_der()?.to_pem();
        // Proof of possession: the identity, signed with the key.
        let proof = pair.sign(token.identity().as_bytes())?;
        let request = serde_json::json!({
            "credentials": {"oidcIdentityToken": token.expose_secret()},
            "publicKeyRequest": {
                "publicKey": {"algorithm": "ECDSA", "content": public_pem},
                "proofOfPossession": base64::engine::general_purpose::STANDARD.encode(proof.as_bytes()),
            },
        });
        let url = format!(
            "{}/api/v2/signingCert",
            services.fulcio.trim_end_matches('/')
        );
        // Named with its URL: it may come from a flag or a variable.
        let service = format!("Fulcio at {}", services.fulcio);
        let body = http.send(&service, http.post_json(&url, &request)).await?;
        let certificate = leaf_certificate(&body)?;
        Ok(Keyless {
            http,
            services,
            pair,
            certificate,
            identity: token.identity().to_string(),
            issuer: token.issuer().to_string(),
        })
    }

    /// Who signs: the token's identity, as the certificate names it.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    pub fn certificate(&self) -> &DerCertificate {
        &self.certificate
    }

    /// Records a signed envelope in Rekor; the entry as a bundle holds it.
    pub async fn log(&self, envelope: &DsseEnvelope) -> Result<TransparencyLogEntry> {
        let entry = sigstore_rekor::DsseEntry::new(envelope, &self.certificate)?;
        let url = format!(
            "{}/api/v1/log/entries",
            self.services.rekor.trim_end_matches('/')
        );
        let body = self
            .http
            .send(
                &format!("Rekor at {}", self.services.rekor),
                self.http.post_json(&url, &serde_json::to_value(&entry)?),
            )
            .await?;
        let entries: std::collections::BTreeMap<String, sigstore_rekor::LogEntry> =
            serde_json::from_slice(&body)
                .map_err(|e| Failure::new(format!("Rekor's answer is not a log entry: {e}")))?;
        let Some((_, entry)) = entries.into_iter().next() else {
            crate::fail!("Rekor answered no log entry");
        };
        entry
            .to_bundle_entry(sigstore_types::KindVersion::DsseV001)
            .context("Rekor's log entry")
    }

    /// A timestamp over the signature, when a timestamp authority is configured.
    pub async fn timestamp(&self, signature: &SignatureBytes) -> Result<Option<TimestampToken>> {
        let Some(url) = &self.services.tsa else {
            return Ok(None);
        };
        let client = sigstore_tsa::TimestampClient::builder(url)
            .with_http_client(self.http.client().clone())
            .build()?;
        let token = client.timestamp_signature(signature).await.map_err(|e| {
            Failure::new(format!(
                "the timestamp authority {url}: {}",
                super::http::printable(e.to_string().as_bytes())
            ))
        })?;
        Ok(Some(token))
    }
}

/// The leaf of the chain in Fulcio's `/api/v2/signingCert` answer (embedded or detached SCT).
fn leaf_certificate(body: &[u8]) -> Result<DerCertificate> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        signed_certificate_embedded_sct: Option<WithChain>,
        signed_certificate_detached_sct: Option<WithChain>,
    }
    #[derive(Deserialize)]
    struct WithChain {
        chain: Chain,
    }
    #[derive(Deserialize)]
    struct Chain {
        certificates: Vec<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| Failure::new(format!("Fulcio's answer is not a certificate chain: {e}")))?;
    let leaf = answer
        .signed_certificate_embedded_sct
        .or(answer.signed_certificate_detached_sct)
        .and_then(|c| c.chain.certificates.into_iter().next());
    let Some(pem) = leaf else {
        crate::fail!("Fulcio answered no certificate");
    };
    DerCertificate::from_pem(&pem)
        .map_err(|_| Failure::new("Fulcio's certificate is not PEM").into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", b64(r#"{"alg":"ES256"}"#), b64(claims))
    }

    #[test]
    fn sigstore_urls_are_https_or_loopback_http() {
        for ok in [
            "https://fulcio.sigstore.dev",
            "http://127.0.0.1:3000",
            "http://localhost:8080/",
            "http://[::1]:9000",
        ] {
            assert!(checked_url("CARGO_TINY_FULCIO_URL", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://fulcio.internal",
            "http://10.0.0.5:3000",
            "ftp://x",
            "fulcio",
        ] {
            let e = checked_url("CARGO_TINY_FULCIO_URL", bad)
                .unwrap_err()
                .to_string();
            assert!(e.contains("CARGO_TINY_FULCIO_URL"), "{bad}: {e}");
        }
        for secret in [
            "https://ci:s3cr3t@fulcio.internal",
            "https://token@fulcio.internal",
        ] {
            let e = checked_url("--fulcio-url", secret).unwrap_err().to_string();
            assert!(e.contains("user name or password"), "{e}");
            assert!(!e.contains("s3cr3t") && !e.contains("token@"), "{e}");
        }
    }

    #[test]
    fn a_flag_wins_over_its_variable_and_is_named_when_wrong() {
        let env = |name: &str| match name {
            FULCIO_VAR => Some("https://fulcio.from-env.example".to_string()),
            REKOR_VAR => Some("https://rekor.from-env.example".to_string()),
            _ => None,
        };
        let flags = Endpoints {
            fulcio: Some("http://127.0.0.1:9/".into()),
            tsa: Some("https://tsa.example/api/v1/timestamp".into()),
            ..Default::default()
        };
        let s = Services::resolve(&flags, env).unwrap();
        assert_eq!(s.fulcio, "http://127.0.0.1:9");
        assert_eq!(s.rekor, "https://rekor.from-env.example");
        assert_eq!(
            s.tsa.as_deref(),
            Some("https://tsa.example/api/v1/timestamp")
        );
        assert_eq!(flags.given(), ["--fulcio-url", "--timestamp-server-url"]);
        let bad = Endpoints {
            rekor: Some("http://rekor.internal".into()),
            ..Default::default()
        };
        let e = format!("{:#}", Services::resolve(&bad, env).unwrap_err());
        assert!(
            e.starts_with("--rekor-url: `http://rekor.internal` is plain http"),
            "{e}"
        );
        let missing = Endpoints {
            ca: Some("/no/such/ca.pem".into()),
            ..Default::default()
        };
        let e = format!("{:#}", Services::resolve(&missing, env).unwrap_err());
        assert!(e.starts_with("--sigstore-ca /no/such/ca.pem: "), "{e}");
    }

    #[test]
    fn the_token_comes_from_sigstore_id_token_first_and_is_never_echoed() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = Http::new(Duration::from_secs(5), &[]).unwrap();
        let good = jwt(
            r#"{"iss":"https://issuer.example","sub":"repo:acme/app","aud":"sigstore","exp":4102444800,"iat":1}"#,
        );
        let t = rt
            .block_on(identity_token(&http, |v| {
                (v == "SIGSTORE_ID_TOKEN").then(|| good.clone())
            }))
            .unwrap();
        assert_eq!(t.subject(), "repo:acme/app");

        let err = rt.block_on(identity_token(&http, |_| None)).unwrap_err();
        assert!(format!("{err:#}").contains("needs an OIDC token"));

        let expired =
            jwt(r#"{"iss":"https://issuer.example","sub":"s","aud":"sigstore","exp":2,"iat":1}"#);
        let err = format!(
            "{:#}",
            rt.block_on(identity_token(&http, |v| {
                (v == "SIGSTORE_ID_TOKEN").then(|| expired.clone())
            }))
            .unwrap_err()
        );
        assert!(err.contains("expired") && !err.contains(&expired), "{err}");

        let err = format!(
            "{:#}",
            rt.block_on(identity_token(&http, |v| {
                (v == "SIGSTORE_ID_TOKEN").then(|| "secret-not-a-jwt".to_string())
            }))
            .unwrap_err()
        );
        assert!(!err.contains("secret-not-a-jwt"), "{err}");
    }

    #[test]
    fn fulcio_answers_are_read_for_their_leaf() {
        assert!(leaf_certificate(b"{}").is_err());
        assert!(leaf_certificate(
            br#"{"signedCertificateEmbeddedSct":{"chain":{"certificates":["x"]}}}"#
        )
        .is_err());
    }
}
