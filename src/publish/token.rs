//! Authenticating to a registry as docker does: the `WWW-Authenticate` challenge of `GET /v2/`, then
//! Basic credentials on the registry's own requests, or a bearer token from the challenge's realm
//! (Basic credentials in a GET, or an `identitytoken` exchanged by an OAuth2 `refresh_token` POST,
//! falling back to the GET when the POST answers 404).
//!
//! Where credentials may go: to the registry host they were stored for, over TLS unless the session
//! reaches it over plain HTTP (a loopback host, or `--insecure-registry`); to a token realm over
//! https (never after an https registry: no downgrade), or over plain HTTP only on the registry's own
//! host name when the registry itself is reached over plain HTTP. A realm anywhere else gets no
//! credentials: the push fails with a message naming the realm.

use super::registry_errors::RegistryError as E;
use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, StatusCode, Url};
use serde_json::Value;

use super::credentials::Secret;
use super::wire::{host_of, read_limited, Authz, Wire, ERROR_MAX, TOKEN_MAX};
use crate::shell::escape;

/// What `GET /v2/` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// 200: no authentication.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// The parameters of a `WWW-Authenticate` header: `Bearer realm="…",service="…"`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ',') {
                value.push(c);
                chars.next();
            }
        }
        params.push((key.trim().to_ascii_lowercase(), value));
    }
    let get = |k: &str| params.iter().find(|(p, _)| p == k).map(|(_, v)| v.clone());
    Some(Challenge::Bearer {
        realm: get("realm")?,
        service: get("service"),
    })
}

/// Whether credentials may go to `realm` for a registry reached as `wire`.
pub fn realm_may_have_credentials(wire: &Wire, realm: &Url) -> bool {
    match realm.scheme() {
        // No downgrade: an https registry's realm over https only, any host.
        "https" => true,
        "http" => {
            let host_name = |h: &str| {
                Url::parse(&format!("http://{h}/"))
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
            };
            wire.scheme == "http" && realm.host_str().map(str::to_owned) == host_name(&wire.host)
        }
        _ => false,
    }
}

/// What the registry's requests carry for `scope` (`repository:NAME:pull,push`).
pub async fn authorize(wire: &Wire, secret: &Secret, scope: &str) -> anyhow::Result<Authz, E> {
    let url = wire.url("/v2/");
    let res = wire
        .request(Method::GET, &url, &Authz::None)?
        .send()
        .await?;
    let challenge = match res.status() {
        s if s.is_success() => Challenge::None,
        StatusCode::UNAUTHORIZED => {
            let header = res
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            parse_challenge(header).ok_or_else(|| {
                E::SpecViolationError(format!(
                    "{} answered 401 with a WWW-Authenticate header that is not Basic or Bearer: {}",
                    wire.host,
                    escape(header)
                ))
            })?
        }
        _ => {
            let code = res.status().as_u16();
            let url = res.url().to_string();
            let body = read_limited(res, ERROR_MAX).await.unwrap_or_default();
            return Err(E::ServerError {
                code,
                url,
                message: String::from_utf8_lossy(&body).into_owned(),
            });
        }
    };
    match (challenge, secret) {
        (Challenge::None, _) => Ok(Authz::None),
        (Challenge::Basic, Secret::Basic(u, p)) => Ok(Authz::Basic(u.clone(), p.clone())),
        // An identity token is for a token server only; Basic gets its user and no password.
        (Challenge::Basic, _) => Ok(Authz::None),
        (Challenge::Bearer { realm, service }, _) => {
            token(wire, secret, &realm, service.as_deref(), scope)
                .await
                .map(Authz::Bearer)
        }
    }
}

/// A bearer token from `realm`.
async fn token(
    wire: &Wire,
    secret: &Secret,
    realm: &str,
    service: Option<&str>,
    scope: &str,
) -> Result<String, E> {
    let realm_url = Url::parse(realm).map_err(|_| {
        E::SpecViolationError(format!(
            "{} named a token realm that is not a URL: {}",
            wire.host,
            escape(realm)
        ))
    })?;
    if !matches!(realm_url.scheme(), "http" | "https") {
        return Err(E::SpecViolationError(format!(
            "{} named a token realm that is not http(s): {}",
            wire.host,
            escape(realm)
        )));
    }
    if !matches!(secret, Secret::Anonymous) && !realm_may_have_credentials(wire, &realm_url) {
        return Err(E::AuthenticationFailure(format!(
            "{}'s token realm {} is not https: the credentials were not sent there",
            wire.host,
            escape(realm_url.as_str())
        )));
    }
    let mut query: Vec<(&str, &str)> = vec![("scope", scope)];
    if let Some(s) = service {
        query.push(("service", s));
    }
    let total = wire.bounds.total;
    let get = |user: Option<(&str, &str)>| {
        let mut req = wire
            .http
            .get(realm_url.clone())
            .query(&query)
            .timeout(total);
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        req
    };
    let res = match secret {
        Secret::Anonymous => get(None).send().await?,
        Secret::Basic(u, p) => get(Some((u, p))).send().await?,
        Secret::Identity(user, refresh) => {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("client_id", "cargo-tiny"),
                ("scope", scope),
            ];
            if let Some(s) = service {
                form.push(("service", s));
            }
            let res = wire
                .http
                .post(realm_url.clone())
                .form(&form)
                .timeout(total)
                .send()
                .await?;
            if res.status() == StatusCode::NOT_FOUND {
                // As docker: the GET token request, with the user name and no password.
                let user = (!user.is_empty()).then_some((user.as_str(), ""));
                get(user).send().await?
            } else {
                res
            }
        }
    };
    let status = res.status();
    let from = host_of(res.url());
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        return Err(E::ServerError {
            code: status.as_u16(),
            url: res.url().to_string(),
            message: String::new(),
        });
    }
    if !status.is_success() {
        let code = status.as_u16();
        let url = res.url().to_string();
        let body = read_limited(res, ERROR_MAX).await.unwrap_or_default();
        return Err(E::ServerError {
            code,
            url,
            message: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    let body = read_limited(res, TOKEN_MAX).await?;
    let v: Value = serde_json::from_slice(&body).map_err(|_| {
        E::RegistryTokenDecodeError(format!(
            "the token server {from} answered something that is not JSON"
        ))
    })?;
    ["token", "access_token"]
        .iter()
        .find_map(|k| v[k].as_str().filter(|t| !t.is_empty()))
        .map(str::to_owned)
        .ok_or_else(|| {
            E::RegistryTokenDecodeError(format!("the token server {from} answered no token"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed_with_quoted_commas_and_any_case() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.io/token?a=1,b=2",service="reg.io",scope="repository:x:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.io/token?a=1,b=2".into(),
                service: Some("reg.io".into())
            })
        );
        assert_eq!(
            parse_challenge("bearer realm=http://a/t"),
            Some(Challenge::Bearer {
                realm: "http://a/t".into(),
                service: None
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="x""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn credentials_go_to_https_realms_and_to_the_plain_http_registry_host_only() {
        let bounds = super::super::wire::Bounds::from_env();
        let wire = |scheme: &'static str, host: &str| Wire {
            http: super::super::wire::client(&[], bounds).unwrap(),
            scheme,
            host: host.into(),
            bounds,
        };
        let url = |u: &str| Url::parse(u).unwrap();
        let https = wire("https", "reg.io");
        assert!(realm_may_have_credentials(
            &https,
            &url("https://auth.other.io/token")
        ));
        assert!(!realm_may_have_credentials(
            &https,
            &url("http://reg.io/token")
        ));
        assert!(!realm_may_have_credentials(
            &https,
            &url("http://auth.other.io/token")
        ));
        let plain = wire("http", "127.0.0.1:5000");
        assert!(realm_may_have_credentials(
            &plain,
            &url("http://127.0.0.1:5001/token")
        ));
        assert!(realm_may_have_credentials(
            &plain,
            &url("https://127.0.0.2/token")
        ));
        assert!(!realm_may_have_credentials(
            &plain,
            &url("http://127.0.0.2:5001/token")
        ));
        assert!(!realm_may_have_credentials(
            &plain,
            &url("ftp://127.0.0.1/token")
        ));
    }
}
