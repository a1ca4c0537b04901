//! What a registry's failure means: not found, retry, TLS, plain HTTP, the distribution error codes
//! in the body; read from [`RegistryError`] for the registry publisher's messages and retries.

/// A failed registry or token request, as `wire.rs` and `token.rs` see it. (The variants and
/// their texts are those of oci-client's error type, which this module read until the crate was
/// dropped: nothing else of it was used.)
#[derive(Debug)]
pub enum RegistryError {
    /// The credentials were not sent (a token realm they may not go to).
    AuthenticationFailure(String),
    /// A token answer that holds no token.
    RegistryTokenDecodeError(String),
    /// No answer (connection, TLS, timeout, a body cut short), or reqwest's own error.
    RequestError(reqwest::Error),
    /// An answer with an unexpected status; `message` is its body (bounded), where the
    /// distribution spec puts `{"errors":[{"code":…}]}`.
    ServerError {
        code: u16,
        url: String,
        message: String,
    },
    /// An answer the distribution spec does not allow (no `Location`, a wrong digest, …).
    SpecViolationError(String),
    UnauthorizedError {
        url: String,
    },
    UrlParseError(String),
}

use RegistryError as E;

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            E::AuthenticationFailure(s) => write!(f, "Authentication failure: {s}"),
            E::RegistryTokenDecodeError(s) => write!(f, "Failed to decode registry token: {s}"),
            E::RequestError(e) => e.fmt(f),
            E::ServerError { code, url, message } => {
                write!(
                    f,
                    "Server error: url {url}, code: {code}, message: {message}"
                )
            }
            E::SpecViolationError(s) => write!(f, "OCI distribution spec violation: {s}"),
            E::UnauthorizedError { url } => write!(f, "Not authorized: url {url}"),
            E::UrlParseError(s) => write!(f, "Error parsing Url {s}"),
        }
    }
}

impl std::error::Error for RegistryError {
    /// As oci-client's `#[error(transparent)]`: a request error's causes are its own.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            E::RequestError(e) => e.source(),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for RegistryError {
    fn from(e: reqwest::Error) -> Self {
        E::RequestError(e)
    }
}

/// The distribution spec's code for "too many requests" (retried like a 429).
const TOOMANYREQUESTS: &str = "TOOMANYREQUESTS";

use crate::shell::escape;
use serde_json::Value;

use super::credentials::Credentials;
use crate::error::Failure;
use crate::reference::Destination;

pub(super) fn status_of(e: &E) -> Option<u16> {
    match e {
        E::ServerError { code, .. } => Some(*code),
        E::UnauthorizedError { .. } => Some(401),
        E::RequestError(r) => r.status().map(|s| s.as_u16()),
        _ => None,
    }
}

/// The distribution error codes in the response (`NAME_UNKNOWN`, `UNAUTHORIZED`, …).
pub(super) fn registry_codes(e: &E) -> Vec<String> {
    let from_value = |v: &Value| -> Vec<String> {
        v["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x["code"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    match e {
        E::ServerError { message, .. } => serde_json::from_str::<Value>(message)
            .map(|v| from_value(&v))
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

pub(super) fn retryable(e: &E) -> bool {
    // The answer first: a 429 or 5xx is retried whatever words the request's URL holds.
    let code = status_of(e);
    if matches!(code, Some(429) | Some(500..=599)) {
        return true;
    }
    if registry_codes(e).iter().any(|c| c == TOOMANYREQUESTS) {
        return true;
    }
    if is_tls(&error_chain(e)) {
        return false;
    }
    // Connection refused or reset, timeouts: the request never got an answer.
    matches!(e, E::RequestError(r) if code.is_none() && (r.is_connect() || r.is_timeout() || r.is_request() || r.is_body()))
}

pub(super) fn error_chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut v = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if v.last() != Some(&text) {
            v.push(text);
        }
        cur = s.source();
    }
    v
}

pub(super) fn one_line(chain: &[String]) -> String {
    chain.join(": ").replace('\n', " ")
}

pub(super) fn last_cause(chain: &[String]) -> String {
    chain.last().cloned().unwrap_or_default().replace('\n', " ")
}

/// Whether the innermost cause is a TLS error (rustls' and webpki's words). Only the innermost
/// cause: the outer ones quote the request's URL, and a repository named `rustls-demo` or a host
/// `registry.mtls.corp` must not read as a TLS failure.
pub(super) fn is_tls(chain: &[String]) -> bool {
    let text = last_cause(chain).to_lowercase();
    [
        "certificate",
        "tls",
        "handshake",
        "invalidcontenttype",
        "corrupt message",
    ]
    .iter()
    .any(|w| text.contains(w))
}

/// A plain-HTTP server answering a TLS ClientHello: rustls reads its HTTP text as a bad record.
pub(super) fn speaks_plain_http(e: &reqwest::Error) -> bool {
    let text = one_line(&error_chain(e)).to_lowercase();
    text.contains("invalidcontenttype") || text.contains("corrupt message")
}

/// What a failed request was part of.
pub(super) struct Context<'a> {
    pub dest: &'a Destination,
    pub scheme: &'a str,
    pub creds: &'a Credentials,
    /// What the account must be allowed: `push to`, `pull from`.
    pub access: &'a str,
}

/// One line saying what failed (while trying to `what`) and how to fix it.
pub(super) fn explain(e: E, what: &str, cx: &Context<'_>) -> anyhow::Error {
    let host = &cx.dest.host;
    let name = cx.dest.name();
    let chain = error_chain(&e);
    let codes = registry_codes(&e);
    let status = status_of(&e);
    let has = |c: &str| codes.iter().any(|x| x == c);
    let body = match &e {
        E::ServerError { message, .. } => message.as_str(),
        _ => "",
    };
    let failure = if let E::AuthenticationFailure(why) = &e {
        // A token realm the credentials may not go to (token.rs says which).
        Failure::new(why.clone()).hint(format!(
            "the registry's token realm must be https (or, for a plain-HTTP registry on loopback or --insecure-registry, on its own host); the credentials for {host} were not sent"
        ))
    } else if let E::SpecViolationError(detail) | E::RegistryTokenDecodeError(detail) = &e {
        // A malformed answer: what was wrong with it.
        Failure::new(format!("malformed answer while trying to {what}: {detail}"))
            .hint("the registry does not follow the OCI distribution API here; report it to the registry's operator")
    } else if matches!(status, Some(401 | 403))
        || has("UNAUTHORIZED")
        || has("DENIED")
        || matches!(e, E::AuthenticationFailure(_) | E::UnauthorizedError { .. })
    {
        let creds = match cx.creds.source.as_str() {
            "none" if cx.creds.tried.is_empty() => {
                "no credentials (no credential file found)".to_string()
            }
            "none" => format!("no credentials for {host} in {}", cx.creds.tried.join(", ")),
            s => format!("credentials from {s}"),
        };
        Failure::new(format!(
            "unauthorized: {host} refused access to {name} (to {what}; {creds})"
        ))
        .hint(format!(
            "run `docker login {host}` (or `podman login {host}`) with an account that may {} {name}, or set $DOCKER_CONFIG / $REGISTRY_AUTH_FILE",
            cx.access
        ))
    } else if has("NAME_UNKNOWN") || has("NAME_INVALID") {
        Failure::new(format!(
            "name unknown: {host} has no repository {} (while trying to {what})",
            cx.dest.repository
        ))
        .hint("check the image name, or create the repository on the registry first")
    } else if has("MANIFEST_INVALID") || has("MANIFEST_BLOB_UNKNOWN") || has("TAG_INVALID") {
        Failure::new(format!(
            "manifest invalid: {host} refused to {what}: {}",
            codes.join(", ")
        ))
        .hint("the registry may not accept OCI manifests or artifacts; report it with `cargo tiny build -v` output")
    } else if cx.scheme == "http"
        && status == Some(400)
        && body.contains("HTTP request to an HTTPS server")
    {
        // What Go's TLS server answers a plain-HTTP request with.
        Failure::new(format!(
            "{host} refused a plain-HTTP request (400 Bad Request): it speaks HTTPS"
        ))
        .hint(format!(
            "drop --insecure-registry {host}; pass --registry-ca FILE when its certificate is not signed by a system root"
        ))
    } else if is_tls(&chain) {
        Failure::new(format!("TLS failure talking to {host}: {}", last_cause(&chain)))
            .hint(format!(
                "pass --registry-ca FILE with the CA that signed {host}'s certificate, or --insecure-registry {host} if it speaks plain HTTP"
            ))
    } else if matches!(&e, E::RequestError(r) if r.is_connect() || r.is_timeout()) {
        Failure::new(format!(
            "registry {host} unreachable ({}://{host}): {}",
            cx.scheme,
            last_cause(&chain)
        ))
        .hint("check the host name and port, your network, and that the registry is running")
    } else if let (Some(code), E::ServerError { .. }) = (status, &e) {
        let said = if codes.is_empty() {
            first_line(body)
        } else {
            codes.join(", ")
        };
        let said = if said.is_empty() {
            String::new()
        } else {
            format!(": {said}")
        };
        Failure::new(format!("{host} answered {code} to the request to {what}{said}")).hint(
            if (400..500).contains(&code) {
                "the registry refused the request; check the image name and your access, and report it with `cargo tiny build -v` output"
            } else {
                "try again; when it persists, check the registry's status"
            },
        )
    } else {
        Failure::new(format!("{host} failed to {what}: {}", one_line(&chain)))
            .hint("try again; when it persists, check the registry's status")
    };
    let mut failure = failure;
    failure.message = redact(&escape(&failure.message), cx.creds);
    failure.into()
}

/// The first line of a body, at most 200 characters.
fn first_line(body: &str) -> String {
    let line = body.trim().lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

/// `text` with every secret of `creds` replaced (a registry could echo one back).
fn redact(text: &str, creds: &Credentials) -> String {
    let mut out = text.to_string();
    for w in creds.auth.words().into_iter().filter(|w| w.len() >= 4) {
        out = out.replace(w, "***");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_is_told_by_the_innermost_cause_not_by_the_url() {
        let chain = |url: &str, cause: &str| {
            vec![
                format!("error sending request for url ({url})"),
                "client error (Connect)".to_string(),
                cause.to_string(),
            ]
        };
        let url = "https://registry.mtls.corp/v2/acme/rustls-demo/blobs/uploads/";
        assert!(!is_tls(&chain(url, "connection reset by peer")));
        assert!(is_tls(&chain(
            "https://127.0.0.1:5000/v2/",
            "invalid peer certificate: UnknownIssuer"
        )));
        assert!(is_tls(&chain(
            "https://127.0.0.1:5000/v2/",
            "received corrupt message of type InvalidContentType"
        )));
    }

    #[test]
    fn only_throttling_server_errors_and_lost_connections_are_retried() {
        let server = |code| E::ServerError {
            code,
            url: String::new(),
            message: String::new(),
        };
        assert!(retryable(&server(429)));
        assert!(retryable(&server(503)));
        assert!(!retryable(&server(404)));
        assert!(!retryable(&server(401)));
        assert!(!retryable(&E::UnauthorizedError { url: String::new() }));
    }

    #[test]
    fn registry_error_codes_are_read_from_the_body() {
        let e = E::ServerError {
            code: 404,
            url: String::new(),
            message: r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#.into(),
        };
        assert_eq!(registry_codes(&e), ["NAME_UNKNOWN"]);
    }
}
