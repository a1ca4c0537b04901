//! The HTTP requests of keyless signing (the OIDC token, Fulcio, Rekor): each with a timeout, each
//! answer read up to a size limit, and errors that name the service, never the token.

use std::time::Duration;

use crate::error::Failure;
use anyhow::Result;

/// Largest answer read from a Sigstore service or a token endpoint (a certificate chain or a log
/// entry is a few KiB).
pub const MAX_ANSWER: usize = 1024 * 1024;

/// One client for a signing run.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new(timeout: Duration, extra_roots_pem: &[Vec<u8>]) -> Result<Http> {
        // reqwest is built without a provider: ring, as for the registry publisher.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut roots = Vec::new();
        for pem in extra_roots_pem {
            roots.extend(reqwest::Certificate::from_pem_bundle(pem)?);
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("cargo-tiny/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout)
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tls_certs_merge(roots)
            .build()?;
        Ok(Http { client })
    }

    /// The client, for the sigstore crates that take one (the timestamp authority).
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends `request` to `service` and reads a successful answer of at most [`MAX_ANSWER`] bytes.
    pub async fn send(&self, service: &str, request: reqwest::RequestBuilder) -> Result<Vec<u8>> {
        let response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                "could not connect".to_string()
            } else {
                "the request failed".to_string()
            };
            Failure::new(format!("{service}: {why}"))
                .hint("check the URL and the network, or set a longer timeout")
        })?;
        let status = response.status();
        let body = read_bounded(response, service).await?;
        if !status.is_success() {
            crate::fail!("{service} answered {status}: {}", printable(&body));
        }
        Ok(body)
    }

    pub fn post_json(&self, url: &str, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.client
            .post(url)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(serde_json::to_vec(body).expect("JSON serialises"))
    }

    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url).header("Accept", "application/json")
    }
}

async fn read_bounded(mut response: reqwest::Response, service: &str) -> Result<Vec<u8>> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_ANSWER as u64)
    {
        crate::fail!("{service}: the answer is larger than {MAX_ANSWER} bytes");
    }
    let mut body = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| {
            Failure::new(format!(
                "{service}: the answer broke off{}",
                if e.is_timeout() { " (timed out)" } else { "" }
            ))
        })?;
        let Some(chunk) = chunk else { break };
        if body.len() + chunk.len() > MAX_ANSWER {
            crate::fail!("{service}: the answer is larger than {MAX_ANSWER} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first 200 characters of an error answer, control characters replaced: it reaches the
/// terminal.
pub fn printable(body: &[u8]) -> String {
    String::from_utf8_lossy(body)
        .chars()
        .take(200)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}
