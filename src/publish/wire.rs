//! The registry's HTTP API (OCI distribution), on reqwest, with every bound the registry publisher
//! keeps: a connect and a read timeout and a total deadline on every request, response bodies read
//! up to a limit (a manifest 4 MiB as distribution's, a token answer 1 MiB, an error body 8 KiB),
//! `Authorization` only on requests to the registry's own scheme and host (an upload `Location` on
//! another host gets none; reqwest drops the header on a redirect to another host, and an https → http
//! redirect is refused), and every answer checked before it is used (no `Location`, a `Location` that
//! is not a URL, a `Docker-Content-Digest` other than the digest sent: each an error, never a panic).
//!
//! Written on reqwest rather than through oci-client, whose client sends the credentials to any token
//! realm (also over plain HTTP), uses an `identitytoken` as a bearer token, reads bodies whole, and
//! `unwrap`s a registry's `Location` header. The auth flow (challenge, token realm rules, the
//! `identitytoken` exchange) is in `token.rs`. Every failure is a `registry_errors::RegistryError`,
//! so `registry_errors.rs` reads them one way.

use std::time::Duration;

use super::registry_errors::RegistryError as E;
use bytes::Bytes;
use futures_util::Stream;
use reqwest::header::{HeaderMap, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};

use crate::image::sha256;

/// A manifest or an index: distribution refuses larger ones.
pub const MANIFEST_MAX: usize = 4 << 20;
/// A token server's answer.
pub const TOKEN_MAX: usize = 1 << 20;
/// An error body (only its first line is ever shown).
pub const ERROR_MAX: usize = 8 << 10;

/// How long a registry may take.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// Between two reads of an answer (and to connect).
    pub read: Duration,
    /// For a whole request (a blob upload gets one more second per MiB).
    pub total: Duration,
}

impl Bounds {
    /// 60 s between reads, 5 min a request; `CARGO_TINY_REGISTRY_TIMEOUT=SECONDS` sets the read
    /// timeout (and the deadline to five times it).
    pub fn from_env() -> Bounds {
        let read = std::env::var("CARGO_TINY_REGISTRY_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map_or(Duration::from_secs(60), Duration::from_secs);
        Bounds {
            read,
            total: read * 5,
        }
    }

    fn for_upload(&self, size: u64) -> Duration {
        self.total + Duration::from_secs(size >> 20)
    }
}

/// What a request to the registry carries.
#[derive(Clone, PartialEq, Eq)]
pub enum Authz {
    None,
    Basic(String, String),
    Bearer(String),
}

impl std::fmt::Debug for Authz {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Authz::None => "None",
            Authz::Basic(..) => "Basic(…)",
            Authz::Bearer(_) => "Bearer(…)",
        })
    }
}

/// One registry host, reached over one scheme.
pub struct Wire {
    pub http: reqwest::Client,
    pub scheme: &'static str,
    pub host: String,
    pub bounds: Bounds,
}

/// The HTTP client every registry request goes through: timeouts, the redirect policy, TLS roots.
pub fn client(roots: &[Vec<u8>], bounds: Bounds) -> anyhow::Result<reqwest::Client> {
    // reqwest is built without a provider (no aws-lc C build): ring, installed once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut certs = Vec::new();
    for pem in roots {
        certs.extend(reqwest::Certificate::from_pem_bundle(pem)?);
    }
    Ok(reqwest::Client::builder()
        .user_agent(concat!("cargo-tiny/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(bounds.read.min(Duration::from_secs(30)))
        .read_timeout(bounds.read)
        // reqwest drops `Authorization` when a redirect leaves the scheme, host or port.
        .redirect(reqwest::redirect::Policy::custom(|a| {
            let downgrade = a
                .previous()
                .last()
                .is_some_and(|p| p.scheme() == "https" && a.url().scheme() != "https");
            if a.previous().len() >= 10 {
                a.error("more than 10 redirects")
            } else if downgrade {
                a.error("refused a redirect from https to plain http")
            } else {
                a.follow()
            }
        }))
        .tls_certs_merge(certs)
        .build()?)
}

/// `host[:port]` of a URL, as a registry host is written.
pub fn host_of(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    }
}

/// A request failed with this status; the first [`ERROR_MAX`] bytes of the body as the message.
async fn failed(res: Response) -> E {
    let code = res.status().as_u16();
    let url = res.url().to_string();
    let message = match read_limited(res, ERROR_MAX).await {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(_) => String::new(),
    };
    E::ServerError { code, url, message }
}

/// The body, refused beyond `limit` bytes (by its `Content-Length`, or while reading it).
pub async fn read_limited(mut res: Response, limit: usize) -> Result<Vec<u8>, E> {
    let too_large = |url: &Url| {
        let limit = if limit >= 1 << 20 {
            format!("{} MiB", limit >> 20)
        } else {
            format!("{} KiB", limit >> 10)
        };
        E::SpecViolationError(format!(
            "{} answered more than {limit}, the limit for this answer; it was not read further",
            host_of(url)
        ))
    };
    if res.content_length().is_some_and(|n| n > limit as u64) {
        return Err(too_large(res.url()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(too_large(res.url()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The `Docker-Content-Digest` an answer names, when it names one; an error when it is not the
/// digest that was sent.
fn check_digest(headers: &HeaderMap, sent: &str, host: &str) -> Result<(), E> {
    let Some(v) = headers.get("Docker-Content-Digest") else {
        return Ok(());
    };
    let answered = v.to_str().unwrap_or("(not text)").trim();
    if answered != sent {
        return Err(E::SpecViolationError(format!(
            "{host} stored {} as {}: the digest it answered is not the one sent",
            crate::shell::escape(sent),
            crate::shell::escape(answered)
        )));
    }
    Ok(())
}

impl Wire {
    pub fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.host)
    }

    /// A request, authorized only when it goes to the registry itself (same scheme and host).
    pub fn request(&self, method: Method, url: &str, authz: &Authz) -> Result<RequestBuilder, E> {
        let parsed = Url::parse(url).map_err(|e| E::UrlParseError(e.to_string()))?;
        let mut req = self
            .http
            .request(method, parsed.clone())
            .timeout(self.bounds.total);
        if parsed.scheme() == self.scheme && host_of(&parsed) == self.host {
            req = match authz {
                Authz::None => req,
                Authz::Basic(u, p) => req.basic_auth(u, Some(p)),
                Authz::Bearer(t) => req.bearer_auth(t),
            };
        }
        Ok(req)
    }

    /// Whether the repository holds the blob.
    pub async fn blob_exists(&self, repo: &str, digest: &str, authz: &Authz) -> Result<bool, E> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let res = self.request(Method::HEAD, &url, authz)?.send().await?;
        match res.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(failed(res).await),
        }
    }

    /// Mounts the blob from another repository of the registry; false when it was not mounted.
    pub async fn mount(&self, repo: &str, from: &str, digest: &str, authz: &Authz) -> bool {
        let url = self.url(&format!(
            "/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"
        ));
        match self.request(Method::POST, &url, authz) {
            Ok(req) => req
                .header(CONTENT_LENGTH, 0)
                .send()
                .await
                .is_ok_and(|r| r.status() == StatusCode::CREATED),
            Err(_) => false,
        }
    }

    /// Uploads a blob in one PUT after the POST that opens the upload; `body` yields its bytes, and
    /// holds back the last chunk when the bytes do not match `digest`, so the registry never commits
    /// them.
    pub async fn upload<S>(
        &self,
        repo: &str,
        digest: &str,
        size: u64,
        body: S,
        authz: &Authz,
    ) -> Result<(), E>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + Sync + 'static,
    {
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let res = self
            .request(Method::POST, &url, authz)?
            .header(CONTENT_LENGTH, 0)
            .send()
            .await?;
        if res.status() != StatusCode::ACCEPTED && !res.status().is_success() {
            return Err(failed(res).await);
        }
        let mut location = self.location(&res)?;
        location.query_pairs_mut().append_pair("digest", digest);
        let res = self
            .request(Method::PUT, location.as_str(), authz)?
            .timeout(self.bounds.for_upload(size))
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, size)
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await?;
        if res.status() != StatusCode::CREATED && !res.status().is_success() {
            return Err(failed(res).await);
        }
        check_digest(res.headers(), digest, &self.host)
    }

    /// The upload URL an answer names (relative to the request's).
    fn location(&self, res: &Response) -> Result<Url, E> {
        let loc = res.headers().get(LOCATION).ok_or_else(|| {
            E::SpecViolationError(format!(
                "{} answered {} without the Location header of the upload",
                self.host,
                res.status().as_u16()
            ))
        })?;
        loc.to_str()
            .ok()
            .and_then(|l| res.url().join(l).ok())
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| {
                E::SpecViolationError(format!(
                    "{} answered an upload Location that is not an http(s) URL: {}",
                    self.host,
                    crate::shell::escape(&String::from_utf8_lossy(loc.as_bytes()))
                ))
            })
    }

    /// PUTs a manifest; true when the registry answered `OCI-Subject` (it indexes referrers).
    pub async fn put_manifest(
        &self,
        repo: &str,
        reference: &str,
        media_type: &str,
        data: &[u8],
        authz: &Authz,
    ) -> Result<bool, E> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let res = self
            .request(Method::PUT, &url, authz)?
            .header(CONTENT_TYPE, media_type)
            .body(data.to_vec())
            .send()
            .await?;
        if !res.status().is_success() {
            return Err(failed(res).await);
        }
        check_digest(res.headers(), &sha256(data), &self.host)?;
        Ok(res.headers().contains_key("OCI-Subject"))
    }

    /// A manifest's bytes (up to [`MANIFEST_MAX`]), `None` when the registry has none.
    pub async fn get_manifest(
        &self,
        repo: &str,
        reference: &str,
        accept: &str,
        authz: &Authz,
    ) -> Result<Option<Vec<u8>>, E> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let res = self
            .request(Method::GET, &url, authz)?
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await?;
        match res.status() {
            s if s.is_success() => Ok(Some(read_limited(res, MANIFEST_MAX).await?)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(failed(res).await),
        }
    }
}

impl Wire {
    /// `GET /v2/<repo>/<what>` (`manifests/<ref>`, `blobs/<digest>`, `referrers/<digest>`): the
    /// answer when it is a success, `None` on 404, else the failure. Redirects (a blob store) are
    /// followed without `Authorization` to another host. `size`: the bytes expected (a blob gets
    /// one more second per MiB).
    pub async fn get(
        &self,
        repo: &str,
        what: &str,
        accept: &str,
        size: u64,
        authz: &Authz,
    ) -> Result<Option<Response>, E> {
        let url = self.url(&format!("/v2/{repo}/{what}"));
        let res = self
            .request(Method::GET, &url, authz)?
            .timeout(self.bounds.for_upload(size))
            .header(reqwest::header::ACCEPT, accept)
            .send()
            .await?;
        match res.status() {
            s if s.is_success() => Ok(Some(res)),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(failed(res).await),
        }
    }
}

/// A blob's bytes as a stream of chunks whose sha256 is checked on the way: the last chunk is held
/// back (an error instead) when the bytes do not add up to `digest` and `size`.
pub fn verified<I>(
    chunks: I,
    digest: String,
    size: u64,
) -> impl Stream<Item = Result<Bytes, std::io::Error>>
where
    I: Iterator<Item = std::io::Result<Bytes>> + Send + Sync + 'static,
{
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    let mut seen = 0u64;
    let mut chunks = chunks.peekable();
    futures_util::stream::iter(std::iter::from_fn(move || {
        let chunk = match chunks.next()? {
            Ok(c) => c,
            Err(e) => return Some(Err(e)),
        };
        hasher.update(&chunk);
        seen += chunk.len() as u64;
        if chunks.peek().is_none() || seen >= size {
            let got = crate::digest::hex_digest(hasher.clone());
            if got != digest || seen != size {
                return Some(Err(std::io::Error::other(format!(
                    "the blob's bytes ({seen} bytes, {got}) are not {digest} ({size} bytes); the upload was not completed"
                ))));
            }
        }
        Some(Ok(chunk))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    fn collect(
        chunks: Vec<&'static [u8]>,
        digest: &str,
        size: u64,
    ) -> Vec<Result<Bytes, std::io::Error>> {
        let it = chunks.into_iter().map(|c| Ok(Bytes::from_static(c)));
        let s = verified(it, digest.to_string(), size);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(s.collect::<Vec<_>>())
    }

    #[test]
    fn a_blob_whose_bytes_do_not_match_is_cut_before_its_last_chunk() {
        let good = sha256(b"hello world");
        let r = collect(vec![b"hello ", b"world"], &good, 11);
        assert!(r.iter().all(|c| c.is_ok()));
        // Altered, or of another length: the last chunk is an error, so the PUT never completes.
        let r = collect(vec![b"hello ", b"WORLD"], &good, 11);
        assert!(r[0].is_ok() && r[1].is_err());
        let e = r[1].as_ref().unwrap_err().to_string();
        assert!(e.contains("not") && e.contains(&good), "{e}");
        let r = collect(vec![b"hello ", b"world!"], &good, 11);
        assert!(r.last().unwrap().is_err());
        let r = collect(vec![b"hello "], &good, 11);
        assert!(r.last().unwrap().is_err());
    }
}
