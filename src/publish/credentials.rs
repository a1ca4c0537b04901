//! Registry credentials where docker and podman keep them.
//!
//! Files, first match wins (podman's order, which also reads docker's file):
//! `$REGISTRY_AUTH_FILE`, `${XDG_RUNTIME_DIR}/containers/auth.json`, then docker's
//! `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`). In each file, for the registry host:
//! `credHelpers.<host>` (run `docker-credential-<helper> get`), then `credsStore` (a helper for every
//! host, as docker uses it), then `auths.<host>` (base64 `user:password` in `auth`, `username`/`password`,
//! or an `identitytoken`).
//! Nothing found is anonymous access; the sources tried are kept for the unauthorized message.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Result;
use base64::Engine;
use serde_json::Value;

use crate::error::Failure;

/// Where credential files are looked for (the process environment, or a test's).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub registry_auth_file: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub home: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Env {
            registry_auth_file: var("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR"),
            docker_config: var("DOCKER_CONFIG"),
            home: var("HOME"),
        }
    }

    /// The credential files, in the order they are read.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut v = Vec::new();
        if let Some(f) = &self.registry_auth_file {
            v.push(f.clone());
        }
        if let Some(d) = &self.xdg_runtime_dir {
            v.push(d.join("containers/auth.json"));
        }
        match (&self.docker_config, &self.home) {
            (Some(d), _) => v.push(d.join("config.json")),
            (None, Some(h)) => v.push(h.join(".docker/config.json")),
            (None, None) => {}
        }
        v
    }
}

/// What a registry may be sent.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Anonymous,
    /// A user and password (or a helper's secret).
    Basic(String, String),
    /// A user and an OAuth2 refresh token (`identitytoken`, or a helper's `<token>` answer), only
    /// ever exchanged at a token realm, never sent to the registry itself.
    Identity(String, String),
}

/// Never prints a secret.
impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Secret::Anonymous => f.write_str("Anonymous"),
            Secret::Basic(u, _) => write!(f, "Basic({u:?}, …)"),
            Secret::Identity(u, _) => write!(f, "Identity({u:?}, …)"),
        }
    }
}

impl Secret {
    /// The secret strings, to be kept out of any message.
    pub fn words(&self) -> Vec<&str> {
        match self {
            Secret::Anonymous => Vec::new(),
            Secret::Basic(_, p) | Secret::Identity(_, p) => vec![p.as_str()],
        }
    }
}

/// The credentials for one registry, and where they came from.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub auth: Secret,
    /// `auths in /root/.docker/config.json`, `docker-credential-pass`, or `none`.
    pub source: String,
    /// The files that were read (for the unauthorized message).
    pub tried: Vec<String>,
}

/// The keys a file may use for a host: docker writes `host`, `https://host`, and Docker Hub's legacy
/// `https://index.docker.io/v1/`.
fn keys_for(host: &str) -> Vec<String> {
    let mut v = vec![
        host.to_string(),
        format!("https://{host}"),
        format!("http://{host}"),
        format!("https://{host}/v1/"),
        format!("https://{host}/v2/"),
    ];
    if matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        v.push("https://index.docker.io/v1/".into());
        v.push("docker.io".into());
    }
    v
}

fn entry<'a>(map: Option<&'a Value>, host: &str) -> Option<&'a Value> {
    let map = map?.as_object()?;
    keys_for(host).iter().find_map(|k| map.get(k))
}

/// What one config file says about a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// Run `docker-credential-<name> get`.
    Helper(String),
    Basic(String, String),
    /// A user name and an `identitytoken` (an OAuth2 refresh token).
    Token(String, String),
}

/// Reads one `config.json` / `auth.json` document for `host`.
pub fn lookup(doc: &Value, host: &str) -> Result<Option<(Found, &'static str)>, String> {
    if let Some(h) = entry(doc.get("credHelpers"), host).and_then(Value::as_str) {
        return Ok(Some((Found::Helper(h.to_string()), "credHelpers")));
    }
    // As docker does: with a store, the store holds the secrets (`auths` keeps empty entries).
    if let Some(s) = doc
        .get("credsStore")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        return Ok(Some((Found::Helper(s.to_string()), "credsStore")));
    }
    if let Some(a) = entry(doc.get("auths"), host) {
        if let Some(t) = a
            .get("identitytoken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let user = a.get("username").and_then(Value::as_str).unwrap_or("");
            return Ok(Some((Found::Token(user.into(), t.to_string()), "auths")));
        }
        if let Some(b64) = a
            .get("auth")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
        {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("`auths.\"{host}\".auth` is not base64"))?;
            let text = String::from_utf8(raw)
                .map_err(|_| format!("`auths.\"{host}\".auth` is not UTF-8"))?;
            let (u, p) = text
                .split_once(':')
                .ok_or_else(|| format!("`auths.\"{host}\".auth` is not `user:password`"))?;
            return Ok(Some((Found::Basic(u.into(), p.into()), "auths")));
        }
        if let (Some(u), Some(p)) = (
            a.get("username").and_then(Value::as_str),
            a.get("password").and_then(Value::as_str),
        ) {
            return Ok(Some((Found::Basic(u.into(), p.into()), "auths")));
        }
    }
    Ok(None)
}

/// How long a credential helper may take.
pub const HELPER_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of a helper's stdout is read (an answer is a few hundred bytes).
const HELPER_OUTPUT_MAX: u64 = 64 << 10;

/// Runs `docker-credential-<helper> get` with the host on stdin: killed after [`HELPER_TIMEOUT`],
/// its stdout read up to [`HELPER_OUTPUT_MAX`], its stderr discarded. Nothing it prints reaches a
/// message (its answer holds the secret, also when it fails).
pub fn run_helper(helper: &str, host: &str) -> Result<Option<Secret>> {
    run_helper_within(helper, host, HELPER_TIMEOUT)
}

fn run_helper_within(helper: &str, host: &str, timeout: Duration) -> Result<Option<Secret>> {
    let program = format!("docker-credential-{helper}");
    let hint = format!(
        "install {program} on PATH, or remove `{helper}` from the credential file and run `docker login {host}`"
    );
    let mut child = crate::process::spawn(
        Command::new(&program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null()),
        &hint,
    )?;
    if let Some(mut stdin) = child.stdin.take() {
        // The helper may exit before reading; its answer decides.
        let _ = stdin.write_all(host.as_bytes());
    }
    // Read on a thread, bounded; the wait below is bounded by the timeout.
    let stdout = child.stdout.take();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut more = false;
        if let Some(s) = stdout {
            let mut s = s.take(HELPER_OUTPUT_MAX + 1);
            let _ = s.read_to_end(&mut out);
            more = out.len() as u64 > HELPER_OUTPUT_MAX;
        }
        let _ = tx.send((out, more));
    });
    let started = Instant::now();
    let mut answer = None;
    let status = loop {
        if answer.is_none() {
            answer = rx.try_recv().ok();
        }
        let flooded = answer.as_ref().is_some_and(|(_, more)| *more);
        if flooded {
            let _ = child.kill();
            let _ = child.wait();
            crate::fail!(
                hint = hint,
                "{program} get answered more than {} KiB for {host}; it was stopped and its answer not used",
                HELPER_OUTPUT_MAX >> 10
            );
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if started.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            crate::fail!(
                hint = format!("check that `{program} get` answers (it may wait for a password prompt or a locked keyring), or run `docker login {host}`"),
                "{program} get did not answer within {} s for {host}; it was stopped",
                timeout.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // The helper has exited; a grandchild holding its stdout open is not waited for long.
    let (out, more) = match answer {
        Some(a) => a,
        None => rx
            .recv_timeout(Duration::from_secs(1))
            .unwrap_or((Vec::new(), false)),
    };
    if more {
        crate::fail!(
            hint = hint,
            "{program} get answered more than {} KiB for {host}; its answer was not used",
            HELPER_OUTPUT_MAX >> 10
        );
    }
    let stdout = String::from_utf8_lossy(&out);
    if !status.success() {
        // The protocol's answer for "no credentials for this host".
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        crate::fail!(
            hint = hint,
            "{program} get failed for {host} ({status}; its output is not shown, as it may hold a secret)"
        );
    }
    let v: Value = serde_json::from_str(&stdout).map_err(|_| {
        Failure::new(format!(
            "{program} get answered something that is not JSON for {host} (not shown, as it may hold a secret)"
        ))
        .hint(hint.clone())
    })?;
    let user = v.get("Username").and_then(Value::as_str).unwrap_or("");
    let secret = v.get("Secret").and_then(Value::as_str).unwrap_or("");
    Ok(match (user, secret) {
        (_, "") => None,
        // Helpers return identity tokens under this user name.
        ("<token>", t) => Some(Secret::Identity(String::new(), t.to_string())),
        (u, s) => Some(Secret::Basic(u.to_string(), s.to_string())),
    })
}

/// The credentials for `host`: [`find`], then [`Lookup::credentials`].
pub fn for_host(env: &Env, host: &str) -> Result<Credentials> {
    find(env, host)?.credentials(host)
}

/// What the credential files say about one host, read when a push is planned: the files are read
/// in order up to the first that names the host, so an unreadable or unparsable one fails before
/// anything is compiled. A credential helper runs only when the push needs it.
pub struct Lookup {
    /// The first file naming the host: what it names, under which key.
    found: Option<(PathBuf, Found, &'static str)>,
    /// The files after it, read only when its helper has nothing (a `credsStore` falls through).
    rest: Vec<PathBuf>,
    tried: Vec<String>,
    /// Files others may read.
    pub warnings: Vec<String>,
}

/// Reads `env`'s credential files for `host`, up to the first that names it.
pub fn find(env: &Env, host: &str) -> Result<Lookup> {
    let mut files = env.files().into_iter();
    let mut tried = Vec::new();
    let mut warnings = Vec::new();
    let found = read_until_found(&mut files, host, &mut tried, &mut warnings)?;
    Ok(Lookup {
        found,
        rest: files.collect(),
        tried,
        warnings,
    })
}

/// A credential file is small; a larger one is refused unread.
const FILE_MAX: u64 = 4 << 20;

/// A warning when group or others may read `file` (it holds secrets).
fn readable_by_others(file: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(file).ok()?.permissions().mode();
    (mode & 0o077 != 0).then(|| {
        let shown = crate::shell::escape(&file.display().to_string()).into_owned();
        format!(
            "credential file {shown} can be read by other users (mode {:o}); run `chmod 600 {shown}`",
            mode & 0o777
        )
    })
}

fn read_until_found(
    files: &mut impl Iterator<Item = PathBuf>,
    host: &str,
    tried: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<(PathBuf, Found, &'static str)>> {
    for file in files.by_ref() {
        let text = match crate::fsutil::read_regular(&file, FILE_MAX) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => crate::fail!(
                hint = "make the file readable, or point $DOCKER_CONFIG / $REGISTRY_AUTH_FILE elsewhere",
                "cannot read {}: {e}",
                file.display()
            ),
        };
        tried.push(file.display().to_string());
        if let Some(w) = readable_by_others(&file) {
            warnings.push(w);
        }
        let doc: Value = serde_json::from_slice(&text).map_err(|e| bad_file(&file, e))?;
        if let Some((found, key)) = lookup(&doc, host).map_err(|w| bad_file(&file, w))? {
            return Ok(Some((file, found, key)));
        }
    }
    Ok(None)
}

impl Lookup {
    /// The credentials: running the helper a file names, and when a `credsStore` helper has none,
    /// going on with the next files.
    pub fn credentials(&self, host: &str) -> Result<Credentials> {
        let mut tried = self.tried.clone();
        let mut rest = self.rest.clone().into_iter();
        let mut next = self
            .found
            .as_ref()
            .map(|(f, found, key)| (f.clone(), found.clone(), *key));
        while let Some((file, found, key)) = next {
            let auth = match found {
                Found::Basic(u, p) => Some(Secret::Basic(u, p)),
                Found::Token(u, t) => Some(Secret::Identity(u, t)),
                Found::Helper(h) => match run_helper(&h, host)? {
                    Some(a) => Some(a),
                    None if key == "credsStore" => {
                        tried.push(format!("docker-credential-{h}"));
                        None
                    }
                    None => crate::fail!(
                        hint = format!("run `docker login {host}`"),
                        "docker-credential-{h} (credHelpers in {}) has no credentials for {host}",
                        file.display()
                    ),
                },
            };
            if let Some(auth) = auth {
                return Ok(Credentials {
                    auth,
                    source: format!("{key} in {}", file.display()),
                    tried,
                });
            }
            next = read_until_found(&mut rest, host, &mut tried, &mut Vec::new())?;
        }
        Ok(Credentials {
            auth: Secret::Anonymous,
            source: "none".into(),
            tried,
        })
    }
}

fn bad_file(file: &Path, what: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!("credential file {}: {what}", file.display()))
        .hint("fix or remove the file, or log in again with `docker login` / `podman login`")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn auths_entry_decodes_base64_user_password() {
        // base64("user:pa:ss")
        let doc = json!({"auths": {"ghcr.io": {"auth": "dXNlcjpwYTpzcw=="}}});
        assert_eq!(
            lookup(&doc, "ghcr.io").unwrap(),
            Some((Found::Basic("user".into(), "pa:ss".into()), "auths"))
        );
        assert_eq!(lookup(&doc, "quay.io").unwrap(), None);
    }

    #[test]
    fn keys_with_scheme_and_docker_hub_legacy_key_match() {
        let doc = json!({"auths": {
            "https://localhost:5000": {"username": "u", "password": "p"},
            "https://index.docker.io/v1/": {"auth": "YTpi"}
        }});
        assert_eq!(
            lookup(&doc, "localhost:5000").unwrap().unwrap().0,
            Found::Basic("u".into(), "p".into())
        );
        assert_eq!(
            lookup(&doc, "docker.io").unwrap().unwrap().0,
            Found::Basic("a".into(), "b".into())
        );
    }

    #[test]
    fn cred_helpers_then_the_store_then_auths_as_docker_reads_them() {
        let doc = json!({
            "auths": {"ghcr.io": {"auth": "YTpi"}, "quay.io": {}},
            "credHelpers": {"ghcr.io": "gh"},
            "credsStore": "desktop"
        });
        assert_eq!(
            lookup(&doc, "ghcr.io").unwrap(),
            Some((Found::Helper("gh".into()), "credHelpers"))
        );
        // With a store, `auths` entries (empty ones, as `docker login` leaves them) are not read.
        assert_eq!(
            lookup(&doc, "quay.io").unwrap(),
            Some((Found::Helper("desktop".into()), "credsStore"))
        );
        let no_store = json!({"auths": {"quay.io": {"auth": "YTpi"}}});
        assert_eq!(
            lookup(&no_store, "quay.io").unwrap().unwrap().0,
            Found::Basic("a".into(), "b".into())
        );
    }

    #[test]
    fn identity_tokens_and_broken_entries() {
        let doc = json!({"auths": {"r.io": {"auth": "YTpi", "identitytoken": "tok"}}});
        assert_eq!(
            lookup(&doc, "r.io").unwrap().unwrap().0,
            Found::Token(String::new(), "tok".into())
        );
        let bad = json!({"auths": {"r.io": {"auth": "!!"}}});
        assert!(lookup(&bad, "r.io").unwrap_err().contains("not base64"));
        // base64("nocolon")
        let bad = json!({"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}});
        assert!(lookup(&bad, "r.io").unwrap_err().contains("user:password"));
    }

    #[test]
    fn files_in_podman_order_then_docker() {
        let env = Env {
            registry_auth_file: Some("/a/auth.json".into()),
            xdg_runtime_dir: Some("/run/user/0".into()),
            docker_config: None,
            home: Some("/root".into()),
        };
        assert_eq!(
            env.files(),
            [
                PathBuf::from("/a/auth.json"),
                "/run/user/0/containers/auth.json".into(),
                "/root/.docker/config.json".into()
            ]
        );
        let env = Env {
            docker_config: Some("/d".into()),
            home: Some("/root".into()),
            ..Default::default()
        };
        assert_eq!(env.files(), [PathBuf::from("/d/config.json")]);
    }

    #[test]
    fn first_file_with_an_entry_wins_and_missing_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let podman = dir.path().join("auth.json");
        std::fs::write(&podman, r#"{"auths":{"other.io":{"auth":"YTpi"}}}"#).unwrap();
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        std::fs::write(
            dir.path().join("docker/config.json"),
            r#"{"auths":{"r.io":{"auth":"dTpw"}}}"#,
        )
        .unwrap();
        let env = Env {
            registry_auth_file: Some(podman),
            xdg_runtime_dir: Some(dir.path().join("nowhere")),
            docker_config: Some(dir.path().join("docker")),
            home: None,
        };
        let c = for_host(&env, "r.io").unwrap();
        assert_eq!(c.auth, Secret::Basic("u".into(), "p".into()));
        assert!(c.source.starts_with("auths in "), "{}", c.source);
        assert_eq!(c.tried.len(), 2);
        let none = for_host(&env, "x.io").unwrap();
        assert_eq!(none.auth, Secret::Anonymous);
    }

    #[test]
    fn a_file_that_is_not_json_is_a_one_line_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("config.json"), "{").unwrap();
        let env = Env {
            docker_config: Some(dir.path().into()),
            ..Default::default()
        };
        let e = format!("{:#}", for_host(&env, "r.io").unwrap_err());
        assert!(e.starts_with("credential file "), "{e}");
    }
}
