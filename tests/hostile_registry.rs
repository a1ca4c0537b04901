//! `cargo tiny push` against registries, token servers and credential helpers that lie, hang,
//! redirect or answer too much (started here on loopback by `common::fake`): the secret never reaches
//! another host or the output (every byte captured is grepped), each malformed answer is one line and
//! exit 1 (never 101, never a signal), a hang ends within the bound, a huge body is refused with
//! bounded memory (wait4's ru_maxrss).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use common::fake::{ok, Fake, Reply, Request};
use common::*;

const PASSWORD: &str = "pw-SECRET-7f3a91";
const REFRESH: &str = "refresh-SECRET-c0ffee";

/// examples/hello built once for this test binary; the tarball's path.
fn tarball() -> &'static Path {
    static TAR: OnceLock<PathBuf> = OnceLock::new();
    TAR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let root = dir.join("hello");
        copy_tree(&repo().join("examples/hello"), &root);
        let tarball = dir.join("out/hello.tar");
        let r = run(cargo_tiny()
            .args(["build", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(fixture_target_dir())
            .arg("--output")
            .arg(&tarball));
        assert_eq!(r.code, 0, "{}", r.stderr);
        tarball
    })
}

/// A HOME whose docker config.json holds `auths.<host>` = `entry`, mode 0600.
fn home_with(host: &str, entry: serde_json::Value) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().unwrap();
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    let cfg = docker.join("config.json");
    std::fs::write(
        &cfg,
        serde_json::json!({"auths": {host: entry}}).to_string(),
    )
    .unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

fn basic_entry() -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    serde_json::json!({"auth": b64})
}

/// `cargo tiny push TARBALL HOST/hello:1` with `home`, a 2 s read timeout, and `envs`.
fn push(host: &str, home: &Path, envs: &[(&str, &str)]) -> (Run, Duration) {
    let started = Instant::now();
    let r = run(cargo_tiny()
        .arg("push")
        .arg(tarball())
        .arg(format!("{host}/hello:1"))
        .env("HOME", home)
        .env("CARGO_TINY_REGISTRY_TIMEOUT", "2")
        .envs(envs.iter().copied()));
    (r, started.elapsed())
}

/// A distribution registry's answers for a push that works: override what a case changes.
fn registry(req: &Request) -> Reply {
    let t = req.target.as_str();
    match req.method.as_str() {
        "GET" if t == "/v2/" => ok(200, &[], "{}"),
        "HEAD" => ok(404, &[], ""),
        "POST" => ok(202, &["Location: /upload/1"], ""),
        "PUT" => ok(201, &[], ""),
        "GET" => ok(404, &[], r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#),
        _ => ok(405, &[], ""),
    }
}

/// One line on stderr, exit 1, no raw control character, no secret.
fn one_line_failure(r: &Run, case: &str) {
    assert_eq!(
        r.code, 1,
        "{case}: exit {} (101 is a panic, -1 a signal)\n{}",
        r.code, r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{case}: {}", r.stderr);
    assert!(r.stderr.starts_with("error: "), "{case}: {}", r.stderr);
    assert!(
        !r.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{case}: raw control character in {:?}",
        r.stderr
    );
    no_secret(r, case);
}

fn no_secret(r: &Run, case: &str) {
    for s in [PASSWORD, REFRESH] {
        assert!(
            !r.stderr.contains(s) && !r.stdout.contains(s),
            "{case}: secret in the output: {}{}",
            r.stdout,
            r.stderr
        );
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{s}"));
        assert!(
            !r.stderr.contains(&b64),
            "{case}: encoded secret in the output"
        );
    }
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// Basic credentials go to the registry's own host only: not to a token realm on another host over
/// plain HTTP, not along a redirect or an upload Location to another host.
#[test]
fn basic_credentials_never_reach_another_host() {
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));

    // A token realm on another host, over plain HTTP: nothing is sent there, the push says why.
    let thief = Fake::start("127.0.0.2", |_, _| ok(200, &[], r#"{"token":"t"}"#));
    let realm = format!("http://{}/token", thief.host);
    let reg = Fake::start("127.0.0.1", move |req, _| {
        if req.target == "/v2/" {
            let h = format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"x\"");
            return Reply::With(401, vec![h], Vec::new());
        }
        registry(req)
    });
    let home = home_with(&reg.host, basic_entry());
    let (r, _) = push(&reg.host, home.path(), &[]);
    one_line_failure(&r, "plain-HTTP realm on another host");
    assert!(r.stderr.contains("not https"), "{}", r.stderr);
    assert!(thief.requests().is_empty(), "the other host was asked");
    assert!(!contains(&reg.received(), &b64));

    // Redirects and upload Locations to another host: the registry gets the credentials (Basic
    // challenge), the other host never does.
    let other = Fake::start("127.0.0.2", |_, _| ok(500, &[], ""));
    let elsewhere = other.host.clone();
    let reg = Fake::start("127.0.0.1", move |req, _| {
        let t = req.target.as_str();
        if t == "/v2/" && req.header("authorization").is_none() {
            return Reply::With(
                401,
                vec!["WWW-Authenticate: Basic realm=\"r\"".into()],
                Vec::new(),
            );
        }
        match req.method.as_str() {
            "HEAD" => ok(307, &[&format!("Location: http://{elsewhere}{t}")], ""),
            "POST" => ok(
                202,
                &[&format!("Location: http://{elsewhere}/upload/1")],
                "",
            ),
            _ => registry(req),
        }
    });
    let home = home_with(&reg.host, basic_entry());
    let (r, _) = push(&reg.host, home.path(), &[]);
    one_line_failure(&r, "redirect to another host");
    assert!(
        reg.requests()
            .iter()
            .any(|q| q.header("authorization") == Some(&format!("Basic {b64}"))),
        "the registry itself got the credentials (else this test proves nothing)"
    );
    assert!(!other.requests().is_empty(), "the other host was reached");
    for q in other.requests() {
        assert!(q.header("authorization").is_none(), "{q:?}");
    }
    assert!(!contains(&other.received(), &b64));
    assert!(!contains(&other.received(), PASSWORD));
}

/// An `identitytoken` is exchanged at the realm by an OAuth2 refresh_token POST (and the GET token
/// request when the POST answers 404); it never reaches the registry, the access token does.
#[test]
fn identity_token_is_exchanged_never_sent_as_a_bearer() {
    for post_404 in [false, true] {
        let tokens = Fake::start("127.0.0.1", move |req, _| match req.method.as_str() {
            "POST" if post_404 => ok(404, &[], "not here"),
            "POST" => ok(
                200,
                &[],
                r#"{"access_token":"ACCESS-by-post","expires_in":300}"#,
            ),
            _ => ok(200, &[], r#"{"token":"ACCESS-by-get"}"#),
        });
        let realm = format!("http://{}/oauth2/token", tokens.host);
        let reg = Fake::start("127.0.0.1", move |req, _| {
            let authorized = req
                .header("authorization")
                .is_some_and(|a| a.starts_with("Bearer ACCESS-by-"));
            if req.target == "/v2/" || !authorized {
                let h = format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"reg\"");
                return Reply::With(401, vec![h], Vec::new());
            }
            registry(req)
        });
        let home = home_with(
            &reg.host,
            serde_json::json!({"username": "00000000-0000-0000-0000-000000000000", "identitytoken": REFRESH}),
        );
        let (r, _) = push(&reg.host, home.path(), &[]);
        assert_eq!(r.code, 0, "post_404={post_404}: {}", r.stderr);
        no_secret(&r, "identity token");
        let asked = tokens.requests();
        let post = &asked[0];
        assert_eq!(post.method, "POST");
        let body = String::from_utf8_lossy(&post.raw).to_string();
        assert!(body.contains("grant_type=refresh_token"), "{body}");
        assert!(body.contains(&format!("refresh_token={REFRESH}")), "{body}");
        assert!(body.contains("service=reg"), "{body}");
        assert_eq!(
            asked.iter().any(|q| q.method == "GET"),
            post_404,
            "GET only after a 404: {asked:?}"
        );
        assert!(
            !contains(&reg.received(), REFRESH),
            "the refresh token reached the registry"
        );
        let want = if post_404 {
            "Bearer ACCESS-by-get"
        } else {
            "Bearer ACCESS-by-post"
        };
        assert!(reg
            .requests()
            .iter()
            .any(|q| q.header("authorization") == Some(want)));
    }
}

/// Every malformed answer is one line and exit 1: no panic (101), no signal, nothing raw.
#[test]
fn malformed_answers_are_one_line_errors() {
    type Case = (
        &'static str,
        fn(&Request, &str) -> Option<Reply>,
        &'static str,
    );
    let cases: &[Case] = &[
        (
            "201/202 without Location",
            |q, _| (q.method == "POST").then(|| ok(202, &[], "")),
            "without the Location",
        ),
        (
            "Location not a URL",
            |q, _| (q.method == "POST").then(|| ok(202, &["Location: http://[::1"], "")),
            "not an http(s) URL",
        ),
        (
            "Location not http",
            |q, _| (q.method == "POST").then(|| ok(202, &["Location: ftp://h/x"], "")),
            "not an http(s) URL",
        ),
        (
            "challenge without realm",
            |q, _| {
                (q.target == "/v2/").then(|| ok(401, &["WWW-Authenticate: Bearer service=x"], ""))
            },
            "not Basic or Bearer",
        ),
        (
            "challenge of another scheme",
            |q, _| (q.target == "/v2/").then(|| ok(401, &["WWW-Authenticate: Negotiate"], "")),
            "not Basic or Bearer",
        ),
        (
            "realm not a URL",
            |q, _| {
                (q.target == "/v2/")
                    .then(|| ok(401, &["WWW-Authenticate: Bearer realm=\"::\""], ""))
            },
            "not a URL",
        ),
        (
            "token not JSON",
            |q, me| match q.target.as_str() {
                "/v2/" => Some(ok(
                    401,
                    &[&format!(
                        "WWW-Authenticate: Bearer realm=\"http://{me}/token\""
                    )],
                    "",
                )),
                t if t.starts_with("/token") => Some(ok(200, &[], "<html>")),
                _ => None,
            },
            "not JSON",
        ),
        (
            "token answer without a token",
            |q, me| match q.target.as_str() {
                "/v2/" => Some(ok(
                    401,
                    &[&format!(
                        "WWW-Authenticate: Bearer realm=\"http://{me}/token\""
                    )],
                    "",
                )),
                t if t.starts_with("/token") => Some(ok(200, &[], r#"{"expires_in":1}"#)),
                _ => None,
            },
            "no token",
        ),
        (
            "token answer of 2 GiB",
            |q, me| match q.target.as_str() {
                "/v2/" => Some(ok(
                    401,
                    &[&format!(
                        "WWW-Authenticate: Bearer realm=\"http://{me}/token\""
                    )],
                    "",
                )),
                t if t.starts_with("/token") => Some(Reply::Endless(2 << 30)),
                _ => None,
            },
            "more than",
        ),
        (
            "manifest digest forged",
            |q, _| {
                (q.method == "PUT" && q.target.contains("/manifests/")).then(|| ok(201, &["Docker-Content-Digest: sha256:0000000000000000000000000000000000000000000000000000000000000000"], ""))
            },
            "not the one sent",
        ),
        (
            "blob digest forged",
            |q, _| {
                (q.method == "PUT" && q.target.starts_with("/upload")).then(|| ok(201, &["Docker-Content-Digest: sha256:1111111111111111111111111111111111111111111111111111111111111111"], ""))
            },
            "not the one sent",
        ),
        (
            "not HTTP at all",
            |q, _| (q.method == "HEAD").then(|| Reply::Raw(b"SSH-2.0-OpenSSH\r\n\r\n".to_vec())),
            "127.0.0.1",
        ),
        (
            "garbage status line",
            |q, _| (q.method == "POST").then(|| Reply::Raw(b"HTTP/1.1 99999 ???\r\n\r\n".to_vec())),
            "127.0.0.1",
        ),
        (
            "error body with escapes",
            |q, _| {
                (q.method == "POST")
                    .then(|| ok(400, &[], "\x1b[2J\x1b[31mFAKE OK\r\x08\x08 pushed"))
            },
            "\\u{1b}",
        ),
        (
            "error codes with escapes",
            |q, _| {
                (q.method == "POST").then(|| {
                    ok(
                        400,
                        &[],
                        "{\"errors\":[{\"code\":\"\\u001b]0;title\\u0007X\"}]}",
                    )
                })
            },
            "\\u{1b}",
        ),
        (
            "fallback tag of 2 GiB",
            |q, _| {
                (q.method == "GET" && q.target.contains("/manifests/sha256-"))
                    .then_some(Reply::Endless(2 << 30))
            },
            "more than 4 MiB",
        ),
        (
            "a 404 on a blob check is fine, a 400 over plain HTTP is not called HTTPS",
            |q, _| {
                (q.method == "POST")
                    .then(|| ok(400, &[], r#"{"errors":[{"code":"DIGEST_INVALID"}]}"#))
            },
            "DIGEST_INVALID",
        ),
    ];
    let mut table = Vec::new();
    for (name, tweak, expect) in cases {
        let tweak = *tweak;
        let reg = Fake::start("127.0.0.1", move |req, me| {
            tweak(req, me).unwrap_or_else(|| registry(req))
        });
        let home = tempfile::tempdir().unwrap();
        let (r, took) = push(&reg.host, home.path(), &[]);
        one_line_failure(&r, name);
        assert!(
            r.stderr.contains(expect),
            "{name}: expected `{expect}` in {}",
            r.stderr
        );
        assert!(!r.stderr.contains("speaks HTTPS"), "{name}: {}", r.stderr);
        assert!(took < Duration::from_secs(30), "{name}: took {took:?}");
        table.push(format!(
            "{name} → exit {} in {:.1} s: {}",
            r.code,
            took.as_secs_f64(),
            r.stderr.trim()
        ));
    }
    eprintln!("{}", table.join("\n"));
}

/// A registry that never answers, and one that answers forever, end within the bound; the huge
/// answer is refused with bounded memory.
#[test]
fn hanging_and_endless_registries_end_within_the_bound() {
    let reg = Fake::start("127.0.0.1", |req, _| match req.method.as_str() {
        "HEAD" => Reply::Hang,
        _ => registry(req),
    });
    let home = tempfile::tempdir().unwrap();
    let (r, took) = push(&reg.host, home.path(), &[]);
    one_line_failure(&r, "hang");
    // 2 s read timeout, 5 attempts with back-off (0.25 + 0.5 + 1 + 2 s).
    assert!(took < Duration::from_secs(25), "took {took:?}");
    eprintln!(
        "hanging registry: exit {} after {:.1} s: {}",
        r.code,
        took.as_secs_f64(),
        r.stderr.trim()
    );

    // 2 GiB served as the fallback tag's index: peak memory by wait4.
    let reg = Fake::start("127.0.0.1", |req, _| {
        if req.method == "GET" && req.target.contains("/manifests/sha256-") {
            Reply::Endless(2 << 30)
        } else {
            registry(req)
        }
    });
    let started = Instant::now();
    let mut cmd = cargo_tiny();
    cmd.arg("push")
        .arg(tarball())
        .arg(format!("{}/hello:1", reg.host))
        .env("HOME", home.path())
        .env("CARGO_TINY_REGISTRY_TIMEOUT", "2");
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let took = started.elapsed();
    eprintln!(
        "2 GiB body served: exit {code} after {:.1} s, peak RSS {} MiB",
        took.as_secs_f64(),
        maxrss_kib / 1024
    );
    assert_eq!(code, 1);
    assert!(maxrss_kib < 100 * 1024, "peak RSS {maxrss_kib} KiB");
}

/// Exit code (-1 for a signal) and peak RSS (KiB) of `cmd`, from wait4.
// The child is reaped by wait4, which clippy does not see.
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut Command) -> (i32, i64) {
    let child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    (code, usage.ru_maxrss)
}

/// A credential helper that hangs is stopped within the bound; one that prints too much, or fails
/// printing the secret, is one line without its output.
#[test]
fn credential_helpers_are_bounded_and_never_quoted() {
    use std::os::unix::fs::PermissionsExt;
    let bin = tempfile::tempdir().unwrap();
    let helpers = [
        ("hang", "#!/bin/sh\nsleep 3600\n"),
        ("flood", "#!/bin/sh\nhead -c 20000000 /dev/zero\n"),
        ("leaky", &*format!("#!/bin/sh\necho '{{\"Username\":\"alice\",\"Secret\":\"{PASSWORD}\"}}'\necho {PASSWORD} >&2\nexit 1\n")),
        ("garbled", &*format!("#!/bin/sh\necho 'Secret={PASSWORD}'\n")),
    ];
    for (name, script) in &helpers {
        let p = bin.path().join(format!("docker-credential-{name}"));
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let reg = Fake::start("127.0.0.1", |req, _| registry(req));
    for (name, _) in &helpers {
        let home = tempfile::tempdir().unwrap();
        let docker = home.path().join(".docker");
        std::fs::create_dir_all(&docker).unwrap();
        let cfg = docker.join("config.json");
        std::fs::write(
            &cfg,
            serde_json::json!({"credHelpers": {reg.host.as_str(): name}}).to_string(),
        )
        .unwrap();
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (r, took) = push(&reg.host, home.path(), &[("PATH", &path)]);
        one_line_failure(&r, name);
        assert!(
            r.stderr.contains(&format!("docker-credential-{name}")),
            "{}",
            r.stderr
        );
        assert!(took < Duration::from_secs(30), "{name}: took {took:?}");
        eprintln!(
            "helper {name}: exit {} after {:.1} s: {}",
            r.code,
            took.as_secs_f64(),
            r.stderr.trim()
        );
    }
}

/// An auth file others can read is named with the chmod that fixes it; one that is a device or a
/// FIFO is one line, at once.
#[test]
fn auth_files_readable_by_others_or_not_regular() {
    use std::os::unix::fs::PermissionsExt;
    let reg = Fake::start("127.0.0.1", |req, _| registry(req));
    let home = home_with(&reg.host, basic_entry());
    let cfg = home.path().join(".docker/config.json");
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (r, _) = push(&reg.host, home.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let warning = r
        .stderr
        .lines()
        .find(|l| l.starts_with("warning:"))
        .unwrap_or_default();
    assert!(warning.contains(&cfg.display().to_string()), "{}", r.stderr);
    assert!(
        warning.contains(&format!("chmod 600 {}", cfg.display())),
        "{}",
        r.stderr
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (r, _) = push(&reg.host, home.path(), &[]);
    assert!(!r.stderr.contains("warning:"), "{}", r.stderr);

    for (name, make) in [
        (
            "a device",
            (|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()) as fn(&Path),
        ),
        ("a FIFO", |p: &Path| {
            assert!(Command::new("mkfifo").arg(p).status().unwrap().success())
        }),
    ] {
        std::fs::remove_file(&cfg).unwrap();
        make(&cfg);
        let (r, took) = push(&reg.host, home.path(), &[]);
        one_line_failure(&r, name);
        assert!(
            r.stderr.contains("not a regular file"),
            "{name}: {}",
            r.stderr
        );
        assert!(took < Duration::from_secs(10), "{name}: took {took:?}");
    }
}

/// `left` bytes of xorshift64 output (incompressible), generated as they are read.
struct Gen {
    x: u64,
    left: u64,
    buf: Vec<u8>,
    at: usize,
}
impl std::io::Read for Gen {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.left == 0 {
                return Ok(0);
            }
            self.buf.resize(1 << 20, 0);
            for w in self.buf.chunks_exact_mut(8) {
                self.x ^= self.x << 13;
                self.x ^= self.x >> 7;
                self.x ^= self.x << 17;
                w.copy_from_slice(&self.x.to_le_bytes());
            }
            let n = self.left.min(1 << 20) as usize;
            self.buf.truncate(n);
            self.left -= n as u64;
            self.at = 0;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Gen {
    fn new(size: u64) -> Gen {
        Gen {
            x: 0x9e37_79b9_7f4a_7c15,
            left: size,
            buf: Vec::new(),
            at: 0,
        }
    }
}

/// A tarball holding one image whose layer is `size` bytes of pseudo-random (incompressible) data,
/// generated on the fly (hashed by `sha256sum`, then written straight into the tar).
fn big_tarball(dir: &Path, size: u64) -> PathBuf {
    use std::io::Write;
    let mut sum = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = sum.stdin.take().unwrap();
    std::io::copy(&mut Gen::new(size), &mut stdin).unwrap();
    drop(stdin);
    let out = sum.wait_with_output().unwrap();
    let layer_hex = String::from_utf8(out.stdout).unwrap()[..64].to_string();
    let sha = |d: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(d)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let config = serde_json::json!({"architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_hex}")]}, "config": {}})
    .to_string();
    let manifest = serde_json::json!({"schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", sha(config.as_bytes())), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": format!("sha256:{layer_hex}"), "size": size}]})
    .to_string();
    let index = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", sha(manifest.as_bytes())), "size": manifest.len(),
            "platform": {"architecture": "amd64", "os": "linux"}}]})
    .to_string();
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{}", sha(index.as_bytes())), "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "big:1"}}]})
    .to_string();
    let path = dir.join("big.tar");
    let mut t = tar::Builder::new(std::io::BufWriter::new(
        std::fs::File::create(&path).unwrap(),
    ));
    let mut add = |name: &str, len: u64, data: &mut dyn std::io::Read| {
        let mut h = tar::Header::new_gnu();
        h.set_size(len);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, name, data).unwrap();
    };
    for doc in [&config, &manifest, &index] {
        add(
            &format!("blobs/sha256/{}", sha(doc.as_bytes())),
            doc.len() as u64,
            &mut doc.as_bytes(),
        );
    }
    add("index.json", top.len() as u64, &mut top.as_bytes());
    let mut gen = Gen::new(size);
    add(&format!("blobs/sha256/{layer_hex}"), size, &mut gen);
    t.into_inner().unwrap().flush().unwrap();
    path
}

/// `cargo tiny push` of a 1 GiB incompressible image streams the layer from the tarball: peak memory
/// (wait4's ru_maxrss) far below the layer's size; the registry receives every byte.
#[test]
fn a_1_gib_incompressible_image_is_pushed_with_bounded_memory() {
    if !require_tool("sha256sum", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let size = 1u64 << 30;
    let tar = big_tarball(dir.path(), size);
    let generated = started.elapsed();
    let reg = Fake::start("127.0.0.1", |req, _| registry(req));
    let home = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut cmd = cargo_tiny();
    cmd.arg("push")
        .arg(&tar)
        .arg(format!("{}/big:1", reg.host))
        .env("HOME", home.path());
    let (code, maxrss_kib) = run_measured(&mut cmd);
    let took = started.elapsed();
    let upload = reg.requests().into_iter().find(|q| {
        q.method == "PUT"
            && q.target.starts_with("/upload")
            && q.header("content-length") == Some(&size.to_string())
    });
    eprintln!(
        "1 GiB incompressible layer pushed: exit {code} in {:.1} s (tarball generated in {:.1} s), peak RSS {} MiB",
        took.as_secs_f64(),
        generated.as_secs_f64(),
        maxrss_kib / 1024
    );
    assert_eq!(code, 0);
    assert!(upload.is_some(), "no 1 GiB upload reached the registry");
    assert!(maxrss_kib < 128 * 1024, "peak RSS {maxrss_kib} KiB");
}

/// A CA and a server certificate for 127.0.0.1 and 127.0.0.2 it signs (openssl, as tests/push.rs):
/// (directory, ca.pem path, cert.pem bytes, key.pem bytes).
fn local_ca() -> (tempfile::TempDir, PathBuf, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let r = run(Command::new("sh")
        .arg("-ec")
        .arg(
            "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=cargo-tiny test CA' 2>/dev/null
             openssl req -newkey rsa:2048 -nodes -keyout key.pem -out srv.csr -subj '/CN=127.0.0.1' 2>/dev/null
             printf 'subjectAltName=IP:127.0.0.1,IP:127.0.0.2\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
             openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf 2>/dev/null",
        )
        .current_dir(dir.path()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let read = |f: &str| std::fs::read(dir.path().join(f)).unwrap();
    let (cert, key) = (read("cert.pem"), read("key.pem"));
    let ca = dir.path().join("ca.pem");
    (dir, ca, cert, key)
}

/// Over TLS end to end (the fake registry serves https with a local CA given by --registry-ca): the
/// https registry gets the Basic credentials, but a token realm it names over plain HTTP — on
/// another host or on its own — gets nothing, and a redirect or an upload Location from https to
/// http (its own host or another) never carries an Authorization header.
#[test]
fn an_https_registry_never_hands_the_credentials_to_plain_http() {
    if !require_tool("openssl", &["version"]) {
        return;
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    let (_certs, ca, cert, key) = local_ca();
    let ca_arg = ca.display().to_string();
    let envs: &[(&str, &str)] = &[];
    let push_tls = |host: &str, home: &Path| {
        run(cargo_tiny()
            .arg("push")
            .arg(tarball())
            .arg(format!("{host}/hello:1"))
            .args(["--registry-ca", &ca_arg])
            .env("HOME", home)
            .env("CARGO_TINY_REGISTRY_TIMEOUT", "2")
            .envs(envs.iter().copied()))
    };

    // The control: a Basic challenge over TLS, the push completes with the credentials.
    let reg = Fake::start_tls("127.0.0.1", &cert, &key, |req, _| {
        if req.header("authorization").is_none() && req.target == "/v2/" {
            return Reply::With(
                401,
                vec!["WWW-Authenticate: Basic realm=\"r\"".into()],
                Vec::new(),
            );
        }
        registry(req)
    });
    let home = home_with(&reg.host, basic_entry());
    let r = push_tls(&reg.host, home.path());
    assert_eq!(r.code, 0, "{}", r.stderr);
    no_secret(&r, "https registry, Basic");
    assert!(
        reg.requests()
            .iter()
            .any(|q| q.header("authorization") == Some(&format!("Basic {b64}"))),
        "the https registry got the credentials (else this test proves nothing)"
    );

    // Token realms over plain HTTP, on another host and on the registry's own address.
    for ip in ["127.0.0.2", "127.0.0.1"] {
        let thief = Fake::start(ip, |_, _| ok(200, &[], r#"{"token":"t"}"#));
        let realm = format!("http://{}/token", thief.host);
        let reg = Fake::start_tls("127.0.0.1", &cert, &key, move |req, _| {
            if req.target == "/v2/" {
                let h = format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"x\"");
                return Reply::With(401, vec![h], Vec::new());
            }
            registry(req)
        });
        let home = home_with(&reg.host, basic_entry());
        let r = push_tls(&reg.host, home.path());
        let case = format!("https registry, plain-HTTP realm on {ip}");
        one_line_failure(&r, &case);
        assert!(r.stderr.contains("not https"), "{case}: {}", r.stderr);
        assert!(thief.requests().is_empty(), "{case}: the realm was asked");
        assert!(!contains(&reg.received(), &b64), "{case}");
    }

    // Redirects and upload Locations from https to http: the other end never gets Authorization.
    for ip in ["127.0.0.2", "127.0.0.1"] {
        let other = Fake::start(ip, |_, _| ok(500, &[], ""));
        let elsewhere = other.host.clone();
        let reg = Fake::start_tls("127.0.0.1", &cert, &key, move |req, _| {
            let t = req.target.as_str();
            if t == "/v2/" && req.header("authorization").is_none() {
                return Reply::With(
                    401,
                    vec!["WWW-Authenticate: Basic realm=\"r\"".into()],
                    Vec::new(),
                );
            }
            match req.method.as_str() {
                "HEAD" => ok(307, &[&format!("Location: http://{elsewhere}{t}")], ""),
                "POST" => ok(
                    202,
                    &[&format!("Location: http://{elsewhere}/upload/1")],
                    "",
                ),
                _ => registry(req),
            }
        });
        let home = home_with(&reg.host, basic_entry());
        let r = push_tls(&reg.host, home.path());
        let case = format!("https registry redirecting to http on {ip}");
        one_line_failure(&r, &case);
        assert!(
            reg.requests()
                .iter()
                .any(|q| q.header("authorization") == Some(&format!("Basic {b64}"))),
            "{case}: the registry itself got the credentials"
        );
        for q in other.requests() {
            assert!(q.header("authorization").is_none(), "{case}: {q:?}");
        }
        assert!(!contains(&other.received(), &b64), "{case}");
        assert!(!contains(&other.received(), PASSWORD), "{case}");
        eprintln!(
            "{case}: {} request(s) reached the http end, none with credentials",
            other.requests().len()
        );
    }
}
