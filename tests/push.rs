//! `cargo tiny build --push` and `cargo tiny push` against Debian's `docker-registry` (distribution
//! 2.8, no referrers API) on 127.0.0.1: same digest as the tarball, pulled back and run by podman, the
//! SBOM under the OCI 1.1 fallback tag, no re-upload, other referrers kept, TLS + Basic auth with
//! credentials from docker's config.json and from a credential helper.
//!
//! Each test starts its own registry on a free loopback port and stops it when done. Engine tests skip
//! locally when a tool is missing and fail in CI (`CI=true`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::registry::Registry;
use common::*;
use serde_json::{json, Value};

const GREETING: &str = "Hello, world! (a static Rust binary, FROM scratch)";

/// One cargo-tiny build at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

/// The JSON messages of a run, by reason.
fn message(r: &Run, reason: &str) -> Value {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == reason)
        .unwrap_or_else(|| panic!("no {reason} message in:\n{}\n{}", r.stdout, r.stderr))
}

/// examples/hello copied into `dir` and built with `extra` flags; the tarball goes to dir/out/hello.tar.
fn build_hello(dir: &Path, extra: &[&str]) -> (Run, PathBuf) {
    let root = dir.join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.join("out/hello.tar");
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(&tarball)
        .args(extra);
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    (run(&mut cmd), tarball)
}

/// `cargo tiny push` with a credential environment of our own (never the user's files): `home`
/// holds what the test put there; `cargo_tiny()` removed the rest (see `common::isolate`).
fn push(tarball: &Path, args: &[&str], home: &Path, envs: &[(&str, &str)]) -> Run {
    let mut cmd = cargo_tiny();
    cmd.arg("push")
        .arg(tarball)
        .args(args)
        .args(["--message-format", "json"])
        .env("HOME", home)
        .envs(envs.iter().copied());
    run(&mut cmd)
}

fn tools(list: &[&str]) -> bool {
    list.iter().all(|t| require_tool(t, &["--version"]))
}

#[test]
fn build_push_gives_the_tarball_digest_pulls_back_runs_and_lists_the_sbom_in_the_fallback_tag() {
    if !tools(&["docker-registry", "skopeo", "podman"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let name = format!("{}/hello", reg.host());
    let (r, tarball) = build_hello(dir.path(), &["--image", &name, "--push", "--tag", "latest"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = message(&r, "image");
    let digest = image["manifest_digest"].as_str().unwrap().to_string();
    let pushed = &image["pushed"];
    assert_eq!(pushed["reference"], format!("{name}:0.1.0"));
    assert_eq!(pushed["digest"], digest.as_str());
    assert_eq!(pushed["referrers"], "fallback-tag");
    assert_eq!(pushed["uploaded_blobs"], 4, "{pushed}");
    assert!(pushed["uploaded_bytes"].as_u64().unwrap() > 100_000);
    assert!(
        r.stderr.contains(&format!("Pushed {name}:0.1.0@{digest}")),
        "{}",
        r.stderr
    );

    // skopeo sees the tarball's digest under both tags.
    for tag in ["0.1.0", "latest"] {
        let s = run(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{name}:{tag}"),
        ]));
        assert_eq!(s.code, 0, "{}", s.stderr);
        let v: Value = serde_json::from_str(&s.stdout).unwrap();
        assert_eq!(v["Digest"], digest.as_str(), "{tag}");
    }

    // The fallback tag is an index listing the SBOM manifest, whose blob is hello.cdx.json.
    let tag = digest.replace(':', "-");
    let index = reg.get_json(&format!("/v2/hello/manifests/{tag}"));
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index}");
    assert_eq!(entries[0]["digest"], pushed["sbom_digest"]);
    assert_eq!(entries[0]["artifactType"], "application/vnd.cyclonedx+json");
    let sbom_manifest = reg.get_json(&format!(
        "/v2/hello/manifests/{}",
        entries[0]["digest"].as_str().unwrap()
    ));
    assert_eq!(sbom_manifest["subject"]["digest"], digest.as_str());
    let (status, blob) = reg.http(
        "GET",
        &format!(
            "/v2/hello/blobs/{}",
            sbom_manifest["layers"][0]["digest"].as_str().unwrap()
        ),
        "application/json",
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(
        blob,
        std::fs::read(dir.path().join("out/hello.cdx.json")).unwrap()
    );

    // Pulled back into an OCI directory, the copy runs under podman.
    let oci = dir.path().join("pulled");
    let s = run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{name}:0.1.0"),
        &format!("oci:{}:pulled", oci.display()),
    ]));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let local = format!("localhost/cargo-tiny-push-test:{}", reg.port);
    let s = run(Command::new("skopeo").args([
        "copy",
        &format!("oci:{}:pulled", oci.display()),
        &format!("containers-storage:{local}"),
    ]));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let s = common::podman_run("--rm", &[&local]);
    let _ = run(Command::new("podman").args(["rmi", "-f", &local]));
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert_eq!(s.stdout.trim(), GREETING);

    // `cargo tiny push` of the tarball: the same digest, nothing uploaded again.
    let home = dir.path().join("home");
    let again = push(&tarball, &[], &home, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let p = &message(&again, "pushed")["pushed"];
    assert_eq!(p["digest"], digest.as_str());
    assert_eq!(p["uploaded_blobs"], 0, "{p}");
    assert_eq!(p["uploaded_bytes"], 0);
    assert_eq!(p["existing_blobs"], 4);

    // To another repository of the same registry: every blob is mounted, none uploaded.
    let other = push(&tarball, &[&format!("{}/copy:v1", reg.host())], &home, &[]);
    assert_eq!(other.code, 0, "{}", other.stderr);
    let p = &message(&other, "pushed")["pushed"];
    assert_eq!(p["digest"], digest.as_str());
    assert_eq!(
        (p["mounted_blobs"].as_u64(), p["uploaded_blobs"].as_u64()),
        (Some(4), Some(0)),
        "{p}"
    );
}

#[test]
fn another_referrer_in_the_fallback_index_is_kept() {
    if !tools(&["docker-registry"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &["--image", &format!("{}/hello", reg.host())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let home = dir.path().join("home");
    let first = push(&tarball, &[], &home, &[]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let pushed = message(&first, "pushed")["pushed"].clone();
    let digest = pushed["digest"].as_str().unwrap();
    let subject = reg.get_json(&format!("/v2/hello/manifests/{digest}"));

    // A signing tool's referrer (config and layer: the empty blob, already in the repository)…
    let empty = json!({"mediaType": "application/vnd.oci.empty.v1+json", "size": 2,
        "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"});
    let sig = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.signature.v1",
        "config": empty, "layers": [empty],
        "subject": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
            "size": serde_json::to_vec(&subject).unwrap().len()},
    }))
    .unwrap();
    let sig_digest = format!("sha256:{}", sha256_hex(&sig));
    let (status, body) = reg.http(
        "PUT",
        &format!("/v2/hello/manifests/{sig_digest}"),
        "application/vnd.oci.image.manifest.v1+json",
        &sig,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    // …which rewrote the fallback index with only itself, as a client that does not merge would.
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sig_digest,
            "size": sig.len(), "artifactType": "application/vnd.example.signature.v1"}],
    }))
    .unwrap();
    let tag = digest.replace(':', "-");
    let (status, body) = reg.http(
        "PUT",
        &format!("/v2/hello/manifests/{tag}"),
        "application/vnd.oci.image.index.v1+json",
        &index,
    );
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));

    let again = push(&tarball, &[], &home, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    let listed: Vec<String> = reg.get_json(&format!("/v2/hello/manifests/{tag}"))["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["digest"].as_str().unwrap().to_string())
        .collect();
    let sbom_digest = pushed["sbom_digest"].as_str().unwrap().to_string();
    assert_eq!(listed, [sig_digest.clone(), sbom_digest.clone()]);

    // An independent reader of the referrers tag schema (oras-project's Rust client, whose referrers
    // call falls back to the `sha256-<hex>` tag on a 404 from the referrers API) finds both.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = oci_client::Client::new(oci_client::client::ClientConfig {
        protocol: oci_client::client::ClientProtocol::Http,
        ..Default::default()
    });
    let subject = oci_client::Reference::with_digest(reg.host(), "hello".into(), digest.into());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (all, sboms) = rt.block_on(async {
        (
            client.pull_referrers(&subject, None).await.unwrap(),
            client
                .pull_referrers(&subject, Some("application/vnd.cyclonedx+json"))
                .await
                .unwrap(),
        )
    });
    assert_eq!(all.manifests.len(), 2);
    assert_eq!(sboms.manifests.len(), 1);
    assert_eq!(sboms.manifests[0].digest, sbom_digest);
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn tls_and_basic_auth_need_the_ca_and_credentials_from_config_json_or_a_helper() {
    if !tools(&["docker-registry", "skopeo"])
        || !require_tool("openssl", &["version"])
        || !require_tool("htpasswd", &["-nbB", "u", "p"])
    {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let c = certs.path();
    let sh = |script: &str| {
        let r = run(Command::new("sh").arg("-ec").arg(script).current_dir(c));
        assert_eq!(r.code, 0, "{script}: {}", r.stderr);
    };
    // A CA, and a server certificate for 127.0.0.1 it signs.
    sh("openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj '/CN=cargo-tiny test CA' 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout key.pem -out srv.csr -subj '/CN=127.0.0.1' 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > ext.cnf
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cert.pem -days 2 -extfile ext.cnf 2>/dev/null
        htpasswd -Bbn pusher s3cret > htpasswd");
    let reg = Registry::start(|port| {
        format!(
            "http:\n  addr: 127.0.0.1:{port}\n  tls:\n    certificate: {0}/cert.pem\n    key: {0}/key.pem\nauth:\n  htpasswd:\n    realm: test\n    path: {0}/htpasswd\n",
            c.display()
        )
    });
    let host = reg.host();
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = message(&r, "image")["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let home = dir.path().join("home");
    let ca = c.join("ca.pem").display().to_string();
    let dest = format!("{host}/hello:1");

    // Without --registry-ca: the TLS failure, said so.
    let r = push(&tarball, &[&dest], &home, &[]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: TLS failure talking to"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("--registry-ca"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    // Without credentials: unauthorized, with the fix.
    let r = push(&tarball, &[&dest, "--registry-ca", &ca], &home, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: unauthorized"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("docker login {host}")),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    // The failed push wrote no tag.
    let s = run(Command::new("skopeo").args([
        "inspect",
        "--creds",
        "pusher:s3cret",
        "--cert-dir",
        &c.display().to_string(),
        &format!("docker://{dest}"),
    ]));
    assert_ne!(s.code, 0);

    // Credentials in docker's config.json ($DOCKER_CONFIG), as `docker login` writes them.
    let docker = dir.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {&host: {"auth": "cHVzaGVyOnMzY3JldA=="}}}).to_string(),
    )
    .unwrap();
    let docker_config = docker.display().to_string();
    let r = push(
        &tarball,
        &[&dest, "--registry-ca", &ca],
        &home,
        &[("DOCKER_CONFIG", &docker_config)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(message(&r, "pushed")["pushed"]["digest"], digest.as_str());

    // skopeo wants the CA as ca.crt in a directory.
    let skopeo_certs = dir.path().join("skopeo-certs");
    std::fs::create_dir_all(&skopeo_certs).unwrap();
    std::fs::copy(c.join("ca.pem"), skopeo_certs.join("ca.crt")).unwrap();
    let s = run(Command::new("skopeo").args([
        "inspect",
        "--creds",
        "pusher:s3cret",
        "--cert-dir",
        &skopeo_certs.display().to_string(),
        &format!("docker://{dest}"),
    ]));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let v: Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(v["Digest"], digest.as_str());

    // A credential helper on PATH (`credsStore`), speaking the docker-credential protocol.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-cargotinytest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\nread host\nif [ \"$1\" = get ] && [ \"$host\" = {host} ]; then\n  echo '{{\"ServerURL\":\"{host}\",\"Username\":\"pusher\",\"Secret\":\"s3cret\"}}'\n  exit 0\nfi\necho 'credentials not found in native keychain'\nexit 1\n"
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(
        store.join("config.json"),
        r#"{"credsStore":"cargotinytest"}"#,
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let r = push(
        &tarball,
        &[&format!("{host}/helped:2"), "--registry-ca", &ca],
        &home,
        &[
            ("DOCKER_CONFIG", &store.display().to_string()),
            ("PATH", &path),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(message(&r, "pushed")["pushed"]["digest"], digest.as_str());
}

#[test]
fn push_refuses_names_without_a_registry_host_before_building() {
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &["--image", "api", "--push"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: cannot push `api`: the image name has no registry host"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("ghcr.io/acme/api"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("Compiling"),
        "fails before the compile: {}",
        r.stderr
    );
    assert!(!tarball.exists());
    // Registry flags without --push are a mistake (--tag is not: it tags the local image too).
    let (r, _) = build_hello(dir.path(), &["--insecure-registry", "registry.lan"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--insecure-registry is for pushing"),
        "{}",
        r.stderr
    );
}

#[test]
fn push_of_a_missing_or_foreign_tarball_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let r = push(&dir.path().join("nope.tar"), &["127.0.0.1:1/x"], &home, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: cannot open"), "{}", r.stderr);
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, b"definitely not a tarball").unwrap();
    let r = push(&junk, &["127.0.0.1:1/x"], &home, &[]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("cargo tiny build"), "{}", r.stderr);
}

#[test]
fn large_layers_are_streamed_in_chunks_with_a_progress_line() {
    if !tools(&["docker-registry"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("big");
    copy_tree(&repo().join("examples/hello"), &root);
    // 3 MB that gzip cannot shrink (xorshift): a layer of several 1 MiB chunks.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..3_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(root.join("blob.bin"), &data).unwrap();
    let mut manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    manifest.push_str("\n[package.metadata.tiny]\nfiles = { \"/data/blob\" = \"blob.bin\" }\n");
    std::fs::write(root.join("Cargo.toml"), manifest).unwrap();
    let name = format!("{}/big", reg.host());
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(dir.path().join("big.tar"))
        .args(["--image", &name, "--push"]);
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = message(&r, "image");
    let layer = image["compressed_size"].as_u64().unwrap();
    assert!(layer > 3_000_000, "{image}");
    assert!(
        r.stderr.contains("Uploading blob of 3.0"),
        "a status line for the large layer:\n{}",
        r.stderr
    );
    assert!(image["pushed"]["uploaded_bytes"].as_u64().unwrap() > layer);
    // The registry checked the assembled chunks against the digest; the manifest names that blob.
    let m = reg.get_json(&format!(
        "/v2/big/manifests/{}",
        image["manifest_digest"].as_str().unwrap()
    ));
    let (status, blob) = reg.http(
        "GET",
        &format!(
            "/v2/big/blobs/{}",
            m["layers"][0]["digest"].as_str().unwrap()
        ),
        "application/json",
        b"",
    );
    assert_eq!(status, 200);
    assert_eq!(blob.len() as u64, layer);
}

/// A token server for the registry's `auth.token`: answers `GET /token?scope=…&service=…` with a JWT
/// (RS256, signed with `openssl dgst`, its certificate in the `x5c` header) granting pull and push on
/// the scope's repository, only to `pusher:s3cret` (Basic). Runs until the test process ends.
fn token_server(key: PathBuf, cert_der: Vec<u8>) -> u16 {
    use base64::Engine;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let std64 = base64::engine::general_purpose::STANDARD;
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { continue };
            use std::io::{BufRead, Write};
            let mut reader = std::io::BufReader::new(s.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut authorized = false;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                let expected = format!("basic {}", std64.encode("pusher:s3cret"));
                if h.to_ascii_lowercase().trim()
                    == format!("authorization: {}", expected.to_ascii_lowercase())
                {
                    authorized = true;
                }
            }
            let target = request_line.split(' ').nth(1).unwrap_or("").to_string();
            let repo = target
                .split(['?', '&'])
                .find_map(|kv| kv.strip_prefix("scope=repository"))
                .and_then(|v| {
                    v.trim_start_matches("%3A")
                        .trim_start_matches(':')
                        .split([':', '%'])
                        .next()
                })
                .unwrap_or("")
                .to_string();
            if !authorized {
                let _ = s.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                continue;
            }
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [std64.encode(&cert_der)]});
            let claims = json!({"iss": "cargo-tiny-test-issuer", "sub": "pusher", "aud": "cargo-tiny-test",
                "exp": now + 600, "nbf": now - 10, "iat": now, "jti": format!("{now}-{repo}"),
                "access": [{"type": "repository", "name": repo, "actions": ["pull", "push"]}]});
            let signing_input = format!(
                "{}.{}",
                b64.encode(header.to_string()),
                b64.encode(claims.to_string())
            );
            let mut openssl = Command::new("openssl")
                .args(["dgst", "-sha256", "-sign"])
                .arg(&key)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            openssl
                .stdin
                .take()
                .unwrap()
                .write_all(signing_input.as_bytes())
                .unwrap();
            let sig = openssl.wait_with_output().unwrap().stdout;
            let token = format!("{signing_input}.{}", b64.encode(sig));
            let body =
                json!({"token": token, "access_token": token, "expires_in": 600}).to_string();
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn bearer_token_auth_follows_the_www_authenticate_challenge() {
    if !tools(&["docker-registry"]) || !require_tool("openssl", &["version"]) {
        return;
    }
    let certs = tempfile::tempdir().unwrap();
    let c = certs.path();
    let r = run(Command::new("sh").arg("-ec").arg(
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout token.key -out token.pem -days 2 -subj '/CN=token signer' 2>/dev/null
         openssl x509 -in token.pem -outform DER -out token.der",
    ).current_dir(c));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token_port = token_server(
        c.join("token.key"),
        std::fs::read(c.join("token.der")).unwrap(),
    );
    let reg = Registry::start(|port| {
        format!(
            "http:\n  addr: 127.0.0.1:{port}\nauth:\n  token:\n    realm: http://127.0.0.1:{token_port}/token\n    service: cargo-tiny-test\n    issuer: cargo-tiny-test-issuer\n    rootcertbundle: {}\n",
            c.join("token.pem").display()
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let home = dir.path().join("home");
    let dest = format!("{}/hello:1", reg.host());

    // Anonymous: the token server refuses, and so the push is unauthorized.
    let r = push(&tarball, &[&dest], &home, &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.starts_with("error: unauthorized"), "{}", r.stderr);

    // podman's auth.json ($REGISTRY_AUTH_FILE): Basic credentials for the token realm, then the
    // bearer token for every registry request, the hand-written referrer PUT included.
    let auth = dir.path().join("auth.json");
    std::fs::write(
        &auth,
        json!({"auths": {reg.host(): {"auth": "cHVzaGVyOnMzY3JldA=="}}}).to_string(),
    )
    .unwrap();
    let auth_file = auth.display().to_string();
    let r = push(
        &tarball,
        &[&dest],
        &home,
        &[("REGISTRY_AUTH_FILE", &auth_file)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &message(&r, "pushed")["pushed"];
    assert_eq!(p["referrers"], "fallback-tag");
    assert_eq!(p["uploaded_blobs"], 4);
    let again = push(
        &tarball,
        &[&dest],
        &home,
        &[("REGISTRY_AUTH_FILE", &auth_file)],
    );
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(message(&again, "pushed")["pushed"]["uploaded_blobs"], 0);
}

/// What the test proxy does with one request.
enum Hook {
    Forward,
    /// Send these bytes instead of forwarding.
    Answer(&'static [u8]),
    /// Close the connection without an answer (a connection reset, to the client).
    HangUp,
}

/// A proxy in front of a registry, one request per connection. `hook` sees each request line and
/// decides (a connection that is not HTTP, cargo-tiny's TLS probe, is shown as `TLS probe` and
/// answered as a plain-HTTP server does); a forwarded PUT of a manifest with a `subject` gets an
/// `OCI-Subject` header when `oci_subject` is set (what a registry with the referrers API answers).
fn proxy(upstream: u16, oci_subject: bool, hook: impl Fn(&str) -> Hook + Send + 'static) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut client) = stream else { continue };
            let mut req = Vec::new();
            let mut buf = [0u8; 65536];
            let head_end = loop {
                let n = client.read(&mut buf).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                req.extend_from_slice(&buf[..n]);
                // Not HTTP (cargo-tiny's TLS probe): answer as Go's plain-HTTP server does.
                if !req[0].is_ascii_uppercase() {
                    hook("TLS probe");
                    let _ =
                        client.write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
                    break None;
                }
                if let Some(i) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&req[..head_end]).to_string();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while req.len() < head_end + length {
                let n = client.read(&mut buf).unwrap();
                req.extend_from_slice(&buf[..n]);
            }
            let body = &req[head_end..];
            let mut lines: Vec<&str> = head.trim_end().split("\r\n").collect();
            match hook(lines[0]) {
                Hook::Forward => {}
                Hook::Answer(bytes) => {
                    let _ = client.write_all(bytes);
                    continue;
                }
                Hook::HangUp => continue,
            }
            lines.retain(|l| !l.to_ascii_lowercase().starts_with("connection:"));
            let forwarded = format!("{}\r\nConnection: close\r\n\r\n", lines.join("\r\n"));
            let mut up = std::net::TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            up.write_all(forwarded.as_bytes()).unwrap();
            up.write_all(body).unwrap();
            let mut resp = Vec::new();
            up.read_to_end(&mut resp).unwrap();
            let is_manifest_put = lines[0].starts_with("PUT ") && lines[0].contains("/manifests/");
            let subject = serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|v| v["subject"]["digest"].as_str().map(str::to_owned))
                .filter(|_| oci_subject && is_manifest_put);
            if let Some(digest) = subject.filter(|_| resp.starts_with(b"HTTP/1.1 201")) {
                let eol = resp.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                resp.splice(eol..eol, format!("OCI-Subject: {digest}\r\n").into_bytes());
            }
            let _ = client.write_all(&resp);
        }
    });
    port
}

/// The registry settings are planned with the build: a bad `--registry-ca` or an unparsable
/// credential file fails before anything is compiled (no binary, nothing in the target dir).
#[test]
fn bad_registry_settings_fail_before_compiling() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let garbage = dir.path().join("auth.json");
    std::fs::write(&garbage, "{ not json").unwrap();
    let not_pem = dir.path().join("ca.txt");
    std::fs::write(&not_pem, "hello").unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a Path)], &'a str);
    let cases: [Case; 3] = [
        (
            &["--registry-ca", "/nonexistent/ca.pem"],
            &[],
            "error: cannot read --registry-ca /nonexistent/ca.pem",
        ),
        (
            &["--registry-ca", not_pem.to_str().unwrap()],
            &[],
            "holds no PEM certificate",
        ),
        (
            &[],
            &[("REGISTRY_AUTH_FILE", &garbage)],
            "error: credential file",
        ),
    ];
    for (args, envs, want) in cases {
        let target = dir.path().join("target");
        let r = run(cargo_tiny()
            .args([
                "build",
                "--push",
                "--image",
                "127.0.0.1:5999/hello:1",
                "--manifest-path",
            ])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .args(args)
            .env("HOME", dir.path())
            .env_remove("DOCKER_CONFIG")
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .envs(envs.iter().copied()));
        assert_eq!(r.code, 1, "{want}: {}", r.stderr);
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one error line with its hint: {}", r.stderr);
        assert!(lines[0].contains(want), "{want}: {}", r.stderr);
        assert!(!r.stderr.contains("Binary"), "{}", r.stderr);
        assert!(
            !target.join("x86_64-unknown-linux-musl").exists(),
            "compiled: {want}"
        );
    }
}

/// Every image of a build pushed to one registry host goes through one session: the host is
/// probed (TLS or plain HTTP) once, not once per image.
#[test]
fn the_images_of_a_build_share_one_session_per_registry_host() {
    if !tools(&["docker-registry"]) {
        return;
    }
    use std::sync::{Arc, Mutex};
    let reg = Registry::plain();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let seen = lines.clone();
    let proxy = proxy(reg.port, false, move |line| {
        seen.lock().unwrap().push(line.to_string());
        Hook::Forward
    });
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("workspace");
    copy_tree(&repo().join("examples/workspace"), &root);
    for (manifest, name) in [
        ("crates/greeter-api/Cargo.toml", "greeter-api"),
        ("crates/greeter-cli/Cargo.toml", "greet"),
    ] {
        let path = root.join(manifest);
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "[package.metadata.tiny]\n",
            &format!("[package.metadata.tiny]\nname = \"127.0.0.1:{proxy}/team/{name}\"\n"),
        );
        std::fs::write(&path, text).unwrap();
    }
    let mut cmd = cargo_tiny();
    cmd.args([
        "build",
        "--message-format",
        "json",
        "--push",
        "-v",
        "--manifest-path",
    ])
    .arg(root.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(fixture_target_dir())
    .env("HOME", dir.path())
    .env_remove("DOCKER_CONFIG")
    .env_remove("REGISTRY_AUTH_FILE")
    .env_remove("XDG_RUNTIME_DIR");
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let pushed: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|m| m.get("pushed").cloned())
        .collect();
    assert_eq!(pushed.len(), 2, "{}", r.stdout);
    let lines = lines.lock().unwrap().clone();
    let count = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        count("TLS probe"),
        1,
        "one session for the host: {lines:#?}"
    );
    let mut names: Vec<&str> = Vec::new();
    for p in &pushed {
        let reference = p["reference"].as_str().unwrap();
        let (repo, tag) = reference
            .split_once('/')
            .unwrap()
            .1
            .rsplit_once(':')
            .unwrap();
        assert_eq!(
            count(&format!("PUT /v2/{repo}/manifests/{tag} ")),
            1,
            "{lines:#?}"
        );
        let tags = reg.get_json(&format!("/v2/{repo}/tags/list"));
        assert!(
            tags["tags"].as_array().unwrap().contains(&tag.into()),
            "{tags}"
        );
        names.push(repo);
    }
    names.sort();
    assert_eq!(names, ["team/greet", "team/greeter-api"]);
}

#[test]
fn a_registry_that_answers_oci_subject_gets_no_fallback_tag() {
    if !tools(&["docker-registry"]) {
        return;
    }
    let reg = Registry::plain();
    let proxy = proxy(reg.port, true, |_| Hook::Forward);
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let home = dir.path().join("home");
    let r = push(
        &tarball,
        &[&format!("127.0.0.1:{proxy}/hello:1")],
        &home,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p = &message(&r, "pushed")["pushed"];
    assert_eq!(p["referrers"], "api", "{p}");
    assert!(
        r.stderr.contains("indexed by the registry's referrers API"),
        "{}",
        r.stderr
    );
    // The SBOM manifest is there; no fallback tag was written.
    let sbom = reg.get_json(&format!(
        "/v2/hello/manifests/{}",
        p["sbom_digest"].as_str().unwrap()
    ));
    assert_eq!(sbom["subject"]["digest"], p["digest"]);
    let tag = p["digest"].as_str().unwrap().replace(':', "-");
    let (status, _) = reg.http(
        "GET",
        &format!("/v2/hello/manifests/{tag}"),
        "application/json",
        b"",
    );
    assert_eq!(status, 404);
}

#[test]
fn throttling_server_errors_and_resets_are_retried_and_a_failed_push_keeps_the_tag() {
    if !tools(&["docker-registry"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let home = dir.path().join("home");

    // The first blob HEAD is throttled, the first upload start answered 503, the first manifest PUT
    // reset: each is retried, and the push goes through.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<&'static str>::new()));
    let log = seen.clone();
    let flaky = proxy(reg.port, false, move |line| {
        let mut seen = log.lock().unwrap();
        let kind = if line.starts_with("HEAD ") && line.contains("/blobs/") {
            "head"
        } else if line.starts_with("POST ") {
            "upload"
        } else if line.starts_with("PUT ") && line.contains("/manifests/") {
            "manifest"
        } else {
            return Hook::Forward;
        };
        let first = !seen.contains(&kind);
        seen.push(kind);
        match (kind, first) {
            ("head", true) => Hook::Answer(
                b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            ("upload", true) => Hook::Answer(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            ),
            ("manifest", true) => Hook::HangUp,
            _ => Hook::Forward,
        }
    });
    let dest = format!("127.0.0.1:{flaky}/hello:1");
    let r = push(&tarball, &[&dest], &home, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = message(&r, "pushed")["pushed"]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(seen.lock().unwrap().len() > 6, "the hooks ran");
    let (status, body) = reg.http("GET", "/v2/hello/manifests/1", "application/json", b"");
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), digest.trim_start_matches("sha256:"));

    // Another image, pushed to the same tag through a registry whose uploads always fail: the push
    // fails with one line, and the tag still names the first image.
    let broken = proxy(reg.port, false, |line| {
        if line.starts_with("POST ") {
            Hook::Answer(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        } else {
            Hook::Forward
        }
    });
    let second = dir.path().join("second");
    let (r, other) = build_hello(&second, &["--image", "other:2"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = push(
        &other,
        &[&format!("127.0.0.1:{broken}/hello:1")],
        &home,
        &[],
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("500 to the request to upload blob"),
        "{}",
        r.stderr
    );
    let (status, body) = reg.http("GET", "/v2/hello/manifests/1", "application/json", b"");
    assert_eq!(status, 200);
    assert_eq!(sha256_hex(&body), digest.trim_start_matches("sha256:"));
}

/// `--repository PREFIX` (or `CARGO_TINY_REPOSITORY`, like ko's `KO_DOCKER_REPO`) puts every image
/// name without a registry host under the prefix: the workspace example's two images are pushed
/// under it with no name in any manifest. A prefix with uppercase letters is refused before
/// anything is compiled, with the lowercase spelling (issue 28).
#[test]
fn a_repository_prefix_pushes_every_image_of_a_workspace() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("workspace");
    copy_tree(&repo().join("examples/workspace"), &root);

    let r = run(cargo_tiny()
        .args(["build", "--push", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .env("CARGO_TINY_REPOSITORY", "ghcr.io/Acme-Corp"));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let err = r.stderr.trim();
    assert!(
        err.starts_with("error: CARGO_TINY_REPOSITORY: `ghcr.io/Acme-Corp` has uppercase letters"),
        "{err}"
    );
    assert!(err.contains("use `ghcr.io/acme-corp`"), "{err}");
    assert!(!err.contains("Compiling"), "{err}");

    if !tools(&["docker-registry"]) {
        return;
    }
    let reg = Registry::plain();
    let prefix = format!("127.0.0.1:{}/team", reg.port);
    for (how, envs) in [
        ("flag", vec![]),
        ("env", vec![("CARGO_TINY_REPOSITORY", prefix.as_str())]),
    ] {
        let mut cmd = cargo_tiny();
        cmd.args([
            "build",
            "--push",
            "--message-format",
            "json",
            "--manifest-path",
        ])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .envs(envs);
        if how == "flag" {
            cmd.args(["--repository", &prefix]);
        }
        let r = {
            let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
            run(&mut cmd)
        };
        assert_eq!(r.code, 0, "{how}: {}", r.stderr);
        let mut images: Vec<String> = r
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|m| m["reason"] == "image")
            .map(|m| m["image"].as_str().unwrap().to_string())
            .collect();
        images.sort();
        assert_eq!(
            images,
            [
                format!("{prefix}/greet:0.3.1"),
                format!("{prefix}/greeter-api:0.3.1")
            ],
            "{how}: {}",
            r.stdout
        );
        for repo_name in ["team/greet", "team/greeter-api"] {
            let tags = reg.get_json(&format!("/v2/{repo_name}/tags/list"));
            assert!(
                tags["tags"].as_array().unwrap().contains(&"0.3.1".into()),
                "{how}: {tags}"
            );
        }
    }
}

/// The `Retry` line of a failed push: `cargo tiny push …` as a shell line.
fn retry_line(r: &Run) -> String {
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.trim_start().starts_with("Retry "))
        .collect();
    assert_eq!(lines.len(), 1, "one Retry line: {}", r.stderr);
    lines[0].trim_start()["Retry ".len()..].to_string()
}

/// A push that fails after the build (a registry answering 500; a registry stopped) still says
/// what was built and written (the Image line, the JSON message) and prints the exact `cargo tiny
/// push` that retries it — the tarball shell-quoted, the references, the registry flags as given,
/// no credential — before the one error line. The retry, run by a shell once the registry is back,
/// pushes the digest the build reported.
#[test]
fn a_failed_push_says_what_was_built_and_how_to_retry() {
    if !tools(&["docker-registry"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out dir");
    std::fs::create_dir_all(&out).unwrap();
    let tarball = out.join("it's.tar");
    let build = |name: &str, extra: &[&str]| {
        let root = dir.path().join("hello");
        if !root.exists() {
            copy_tree(&repo().join("examples/hello"), &root);
        }
        let mut cmd = cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(fixture_target_dir())
            .arg("--output")
            .arg(&tarball)
            .args(["--image", name, "--push", "--tag", "edge"])
            .args(extra)
            .env("REGISTRY_AUTH_FILE", dir.path().join("auth.json"));
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    // Credentials in the auth file: never in the retry command.
    std::fs::write(
        dir.path().join("auth.json"),
        r#"{"auths":{"127.0.0.1":{"auth":"dXNlcjpzM2NyZXQtcGFzcw=="}}}"#,
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("auth.json"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let quoted = format!("'{}/out dir/it'\\''s.tar'", dir.path().display());

    // A registry answering 500 to everything.
    let fake = common::fake::Fake::start("127.0.0.1", |_, _| {
        common::fake::ok(
            500,
            &[],
            r#"{"errors":[{"code":"UNKNOWN","message":"disk on fire"}]}"#,
        )
    });
    let name = format!("{}/team/hello", fake.host);
    let r = build(&name, &["--insecure-registry", &fake.host]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let image = message(&r, "image");
    assert!(image["pushed"].is_null(), "{image}");
    assert_eq!(image["path"], tarball.display().to_string());
    assert!(tarball.is_file());
    let retry = retry_line(&r);
    assert_eq!(
        retry,
        format!(
            "cargo tiny push {quoted} {name}:0.1.0 --tag edge --insecure-registry {}",
            fake.host
        ),
        "{}",
        r.stderr
    );
    let at = |what: &str| {
        r.stderr
            .find(what)
            .unwrap_or_else(|| panic!("no `{what}`: {}", r.stderr))
    };
    assert!(at("       Image ") < at("       Retry "), "{}", r.stderr);
    assert!(at("       Retry ") < at("error: "), "{}", r.stderr);
    assert_eq!(
        r.stderr.lines().filter(|l| l.starts_with("error")).count(),
        1,
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("500"), "{}", r.stderr);
    assert!(!r.stderr.contains("s3cret") && !r.stderr.contains("dXNlcjpz"));

    // A registry stopped: refused; the retry line, run by a shell once it is back, pushes.
    let stopped = Registry::plain();
    let port = stopped.port;
    let name = format!("{}/team/hello", stopped.host());
    drop(stopped);
    let r = build(&name, &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let digest = message(&r, "image")["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    let retry = retry_line(&r);
    assert_eq!(
        retry,
        format!("cargo tiny push {quoted} {name}:0.1.0 --tag edge"),
        "{}",
        r.stderr
    );
    let back = Registry::start_on(port, |port| format!("http:\n  addr: 127.0.0.1:{port}\n"));
    let mut sh = Command::new("sh");
    sh.arg("-c")
        .arg(format!(
            "cargo() {{ \"$CARGO_TINY_BIN\" \"$@\"; }}; {retry}"
        ))
        .env("CARGO_TINY_BIN", env!("CARGO_BIN_EXE_cargo-tiny"))
        .env("HOME", dir.path());
    common::isolate(&mut sh);
    let r = run(&mut sh);
    assert_eq!(r.code, 0, "{retry}\n{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("Pushed {name}:0.1.0@{digest}")),
        "{}",
        r.stderr
    );
    let tags = back.get_json("/v2/team/hello/tags/list");
    for t in ["0.1.0", "edge"] {
        assert!(
            tags["tags"].as_array().unwrap().iter().any(|x| x == t),
            "{tags}"
        );
    }
}
