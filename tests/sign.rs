//! Signing and verification (src/sign/) against independent tools: Sigstore's JavaScript verifier
//! (@sigstore/verify) checks our bundles, the in-toto attestation framework (PyPI
//! in-toto-attestation) checks our provenance, and keyless signing runs end to end against local
//! stand-ins (an OIDC issuer and @sigstore/mock's Fulcio, Rekor and timestamp authority).
//! `.ci/run` installs both (`npm ci --prefix tests/sigstore`, pip); missing, they skip locally
//! and fail in CI.

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use cargo_tiny::image::Blob;
use cargo_tiny::sign::{self, keyless, keys, provenance, statement, verify, Request, Signer};

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const SBOM: &[u8] = br#"{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"serde","version":"1.0.0"}]}"#;
/// The identity the stand-in OIDC issuer vouches for (a URI, as GitHub's workflow identities are).
const IDENTITY: &str = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main";

fn sigstore_js() -> Option<PathBuf> {
    let dir = common::repo().join("tests/sigstore");
    let ready = dir.join("node_modules/@sigstore/verify").is_dir()
        && Command::new("node").arg("--version").output().is_ok();
    if ready {
        return Some(dir);
    }
    let msg = "node with tests/sigstore/node_modules is missing (`npm ci --prefix tests/sigstore`)";
    if common::in_ci() {
        panic!("{msg}; CI must provide it (.ci/run installs it)");
    }
    eprintln!("SKIPPED: {msg} (set CI=true to make this a failure)");
    None
}

/// `node tests/sigstore/verify.js ARGS…`: the predicate type, or the verifier's error.
fn js_verify(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("node")
        .arg(dir.join("verify.js"))
        .args(args)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

fn manifest(seed: &str) -> Blob {
    Blob::new(
        MANIFEST,
        format!(r#"{{"schemaVersion":2,"annotations":{{"seed":"{seed}"}}}}"#).into_bytes(),
    )
}

fn provenance() -> serde_json::Value {
    provenance::Provenance {
        external_parameters: [
            ("profile".to_string(), serde_json::json!("release")),
            ("compression".to_string(), serde_json::json!("gzip")),
        ]
        .into(),
        source: Some(provenance::Source {
            uri: "git+https://github.com/acme/app".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
        }),
        cargo_lock_sha256: Some("ab".repeat(32)),
        // As a build writes them (src/compile/toolchain.rs): digests and annotations too.
        tools: vec![
            provenance::Tool {
                digest: [(
                    "gitCommit",
                    "59807616e1fa2540724bfbac14d7976d7e4a3860".into(),
                )]
                .into(),
                annotations: [
                    ("version", "1.95.0 (59807616e 2026-04-14)".into()),
                    ("host", "x86_64-unknown-linux-gnu".into()),
                ]
                .into(),
                ..provenance::Tool::new("rustc", "pkg:generic/rustc@1.95.0".into())
            },
            provenance::Tool {
                digest: [("sha256", "cd".repeat(32))].into(),
                ..provenance::Tool::new("cargo-auditable", "pkg:cargo/cargo-auditable@0.7.7".into())
            },
        ],
        ..Default::default()
    }
    .predicate()
}

fn request(subject: &Blob) -> Request<'_> {
    Request {
        subject,
        name: "registry.example/acme/app".into(),
        provenance: Some(provenance()),
        documents: vec![(statement::DocumentKind::CycloneDx, SBOM)],
    }
}

/// A fresh key pair: the private key as PKCS#8 PEM, the public one as PEM.
fn key_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let private = dir.join("tiny.key");
    std::fs::write(
        &private,
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let key = keys::SigningKey::from_file(&private).unwrap();
    let public = dir.join("tiny.pub");
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    (private, public)
}

/// The payload of a bundle with one byte changed (`from` → `to` at the first `from`).
fn tampered(bundle: &[u8], from: &[u8], to: u8) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
    let mut payload = b64
        .decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
        .unwrap();
    let at = payload
        .windows(from.len())
        .position(|w| w == from)
        .expect("the byte to change is in the payload");
    payload[at] = to;
    v["dsseEnvelope"]["payload"] = b64.encode(payload).into();
    serde_json::to_vec(&v).unwrap()
}

#[test]
fn key_mode_bundles_verify_with_sigstore_js_and_a_changed_byte_fails() {
    let Some(js) = sigstore_js() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(tmp.path());
    let signer = sign::signer(&sign::Mode::Key(private), |_| None).unwrap();
    let index = Blob::new(
        "application/vnd.oci.image.index.v1+json",
        br#"{"schemaVersion":2,"manifests":[]}"#.to_vec(),
    );
    let platform = manifest("amd64");
    let signed = sign::sign(&signer, &[request(&platform), request(&index)]).unwrap();

    let public_s = public.to_str().unwrap();
    for s in &signed {
        let mut types = Vec::new();
        for (i, r) in s.referrers.iter().enumerate() {
            let path = tmp.path().join(format!("{}-{i}.json", &s.subject[7..19]));
            std::fs::write(&path, &r.bundle.data).unwrap();
            types.push(
                js_verify(&js, &[path.to_str().unwrap(), &s.subject, "key", public_s]).unwrap(),
            );
        }
        assert_eq!(
            types,
            [
                "https://sigstore.dev/cosign/sign/v1",
                "https://slsa.dev/provenance/v1",
                "https://cyclonedx.org/bom"
            ]
        );
    }

    // One changed byte in the provenance statement: both verifiers refuse it.
    let bundle = &signed[0].referrers[1].bundle.data;
    let bad = tampered(bundle, b"release", b'R');
    let path = tmp.path().join("tampered.json");
    std::fs::write(&path, &bad).unwrap();
    let err = js_verify(
        &js,
        &[path.to_str().unwrap(), &signed[0].subject, "key", public_s],
    )
    .unwrap_err();
    assert!(err.contains("signature"), "{err}");
    let policy = verify::Policy::Key(keys::public_key_from_file(&public).unwrap());
    let err = verify::verify(
        "the provenance",
        &bad,
        &signed[0].subject,
        &policy,
        &verify::keys_only_root(),
    )
    .unwrap_err();
    assert!(
        format!("{err:#}").starts_with("the provenance: the signature does not verify"),
        "{err:#}"
    );
    // The platform's bundle presented for the index: @sigstore/verify checks the signature only,
    // verify.js and ours check the subject.
    let path = tmp.path().join("platform.json");
    std::fs::write(&path, bundle).unwrap();
    let err = js_verify(
        &js,
        &[path.to_str().unwrap(), &signed[1].subject, "key", public_s],
    )
    .unwrap_err();
    assert!(err.contains("not about"), "{err}");
}

#[test]
fn provenance_statement_is_valid_for_the_in_toto_attestation_framework() {
    let tmp = tempfile::tempdir().unwrap();
    let m = manifest("p");
    let s = statement::Statement::new(
        vec![statement::Subject::new("registry.example/acme/app", &m.digest).unwrap()],
        provenance::PREDICATE_TYPE,
        provenance(),
    );
    let path = tmp.path().join("provenance.json");
    std::fs::write(&path, s.to_bytes()).unwrap();
    let validator = common::repo().join("tests/validate_provenance.py");
    let out = Command::new("python3")
        .arg(&validator)
        .arg(&path)
        .output()
        .unwrap();
    if out.status.code() == Some(3) {
        let msg = "in-toto-attestation is not installed (pip install in-toto-attestation)";
        assert!(!common::in_ci(), "{msg}; .ci/run installs it");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The validator is strict: a misspelt field fails.
    let bad = String::from_utf8(s.to_bytes())
        .unwrap()
        .replace("\"buildType\"", "\"buildtype\"");
    std::fs::write(&path, bad).unwrap();
    let out = Command::new("python3")
        .arg(&validator)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

/// The stand-ins: their base URL, the trust root file, and the token request's bearer.
struct Standins {
    child: std::process::Child,
    url: String,
    trusted_root: PathBuf,
    request_token: String,
}

impl Drop for Standins {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_standins(js: &Path, dir: &Path) -> Standins {
    let mut child = Command::new("node")
        .arg(js.join("standins.js"))
        .arg(dir)
        .arg(IDENTITY)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("standins said {line:?}: {e}"));
    Standins {
        child,
        url: v["url"].as_str().unwrap().into(),
        trusted_root: v["trustedRoot"].as_str().unwrap().into(),
        request_token: v["requestToken"].as_str().unwrap().into(),
    }
}

#[test]
fn keyless_end_to_end_against_stand_ins() {
    let Some(js) = sigstore_js() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let st = start_standins(&js, tmp.path());
    let services = keyless::Services {
        fulcio: st.url.clone(),
        rekor: st.url.clone(),
        tsa: Some(format!("{}/api/v1/timestamp", st.url)),
        timeout: std::time::Duration::from_secs(20),
        ca_pem: Vec::new(),
    };
    // GitHub Actions' token request, as the runner hands it to a job with `id-token: write`.
    let token_url = format!("{}/token?api-version=2.0", st.url);
    let env = |name: &str| match name {
        "ACTIONS_ID_TOKEN_REQUEST_URL" => Some(token_url.clone()),
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN" => Some(st.request_token.clone()),
        _ => None,
    };
    let signer = sign::signer(&sign::Mode::Keyless(services.clone()), env).unwrap();
    assert!(matches!(signer, Signer::Keyless(_)));
    let m = manifest("keyless");
    let signed = sign::sign(&signer, &[request(&m)]).unwrap();
    let root = verify::root_from_file(&st.trusted_root).unwrap();

    let exact = verify::Policy::Identity {
        identity: verify::Matcher::Exact(IDENTITY.into()),
        issuer: verify::Matcher::Exact(st.url.clone()),
    };
    for r in &signed[0].referrers {
        let v = verify::verify("bundle", &r.bundle.data, &m.digest, &exact, &root).unwrap();
        assert_eq!(
            v.signer, IDENTITY,
            "the certificate's identity is the token's subject"
        );
        assert_eq!(v.issuer.as_deref(), Some(st.url.as_str()));
        assert!(v.signed_at.is_some());
        let bundle: serde_json::Value = serde_json::from_slice(&r.bundle.data).unwrap();
        assert!(bundle["verificationMaterial"]["certificate"].is_object());
        assert_eq!(
            bundle["verificationMaterial"]["tlogEntries"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
    let bundle = &signed[0].referrers[0].bundle.data;
    let regexp = verify::Policy::Identity {
        identity: verify::Matcher::regex(r"https://github\.com/acme/.*").unwrap(),
        issuer: verify::Matcher::regex(r"http://127\.0\.0\.1:\d+").unwrap(),
    };
    verify::verify("the signature", bundle, &m.digest, &regexp, &root).unwrap();

    // The wrong identity, exact or regexp, and the wrong issuer fail, naming who signed.
    for (identity, issuer, says) in [
        (
            verify::Matcher::Exact(
                "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main".into(),
            ),
            verify::Matcher::Exact(st.url.clone()),
            "",
        ),
        (
            verify::Matcher::regex(r"https://github\.com/evil/.*").unwrap(),
            verify::Matcher::Exact(st.url.clone()),
            "the signature: signed by `https://github.com/acme/app/",
        ),
        (
            verify::Matcher::Exact(IDENTITY.into()),
            verify::Matcher::regex("https://token.actions.githubusercontent.com").unwrap(),
            "the signature: the signer's OIDC issuer is",
        ),
    ] {
        let policy = verify::Policy::Identity { identity, issuer };
        let err = format!(
            "{:#}",
            verify::verify("the signature", bundle, &m.digest, &policy, &root).unwrap_err()
        );
        assert!(
            err.starts_with("the signature: ") && err.contains(says),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
    // A key-mode policy refuses a keyless bundle.
    let (_, public) = key_pair(tmp.path());
    let err = verify::verify(
        "the signature",
        bundle,
        &m.digest,
        &verify::Policy::Key(keys::public_key_from_file(&public).unwrap()),
        &verify::keys_only_root(),
    )
    .unwrap_err();
    assert!(format!("{err:#}").contains("signed keylessly"), "{err:#}");

    // Sigstore's JavaScript verifier agrees: chain, SCT, Rekor entry, timestamp, identity.
    let path = tmp.path().join("keyless.json");
    std::fs::write(&path, bundle).unwrap();
    let root_s = st.trusted_root.to_str().unwrap();
    let p = path.to_str().unwrap();
    assert_eq!(
        js_verify(&js, &[p, &m.digest, "identity", root_s, IDENTITY, &st.url]).unwrap(),
        statement::SIGN_V1
    );
    let err = js_verify(
        &js,
        &[
            p,
            &m.digest,
            "identity",
            root_s,
            "https://github.com/evil/x",
            &st.url,
        ],
    )
    .unwrap_err();
    assert!(err.contains("identity") || err.contains("subject"), "{err}");
    // One changed byte in the statement.
    std::fs::write(&path, tampered(bundle, b"sign/v1", b'S')).unwrap();
    assert!(js_verify(&js, &[p, &m.digest, "identity", root_s, IDENTITY, &st.url]).is_err());
}

#[test]
fn keyless_without_a_token_says_how_to_get_one() {
    let err = sign::signer(
        &sign::Mode::Keyless(keyless::Services {
            fulcio: "http://127.0.0.1:9".into(),
            rekor: "http://127.0.0.1:9".into(),
            tsa: None,
            timeout: std::time::Duration::from_secs(2),
            ca_pem: Vec::new(),
        }),
        |_| None,
    )
    .unwrap_err();
    let (code, message, hint) = cargo_tiny::error::report(&err);
    assert_eq!(code, 1);
    assert!(message.contains("needs an OIDC token"), "{message}");
    assert!(hint.unwrap().contains("id-token: write"));
}

/// The referrers of `subject` in a tarball's layout: (artifact type, manifest, layer bytes).
fn layout_referrers(tarball: &Path, subject: &str) -> Vec<(String, serde_json::Value, Vec<u8>)> {
    let files = common::tar_files(&std::fs::read(tarball).unwrap());
    let blob =
        |d: &str| files[&format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))].clone();
    let mut out = Vec::new();
    for (path, data) in &files {
        if !path.starts_with("blobs/sha256/") {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
            continue;
        };
        if v["subject"]["digest"] == subject {
            let doc = blob(v["layers"][0]["digest"].as_str().unwrap());
            out.push((v["artifactType"].as_str().unwrap().to_string(), v, doc));
        }
    }
    out
}

/// examples/hello built into `dir/out/hello.tar` with `extra`.
fn build_hello(dir: &Path, extra: &[&str]) -> (common::Run, PathBuf) {
    let root = dir.join("hello");
    if !root.exists() {
        common::copy_tree(&common::repo().join("examples/hello"), &root);
    }
    let tarball = dir.join("out/hello.tar");
    let r = common::run(
        common::cargo_tiny()
            .args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir())
            .arg("--output")
            .arg(&tarball)
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    (r, tarball)
}

#[test]
fn build_with_a_sign_key_attaches_bundles_both_verifiers_accept_and_changes_no_image_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let (r, tarball) = build_hello(dir.path(), &["--sbom", "cyclonedx,spdx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let unsigned = std::fs::read(&tarball).unwrap();
    let image = |r: &common::Run| -> serde_json::Value {
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|m| m["reason"] == "image")
            .unwrap()
    };
    let digest = image(&r)["manifest_digest"].as_str().unwrap().to_string();

    let (r, _) = build_hello(
        dir.path(),
        &[
            "--sbom",
            "cyclonedx,spdx",
            "--sign-key",
            private.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        image(&r)["manifest_digest"],
        digest.as_str(),
        "signing changes no image byte"
    );
    assert!(
        r.stderr
            .contains("Signed hello:0.1.0 (4 Sigstore bundles with key "),
        "{}",
        r.stderr
    );
    let signed = std::fs::read(&tarball).unwrap();
    assert_ne!(signed, unsigned);
    // Every blob of the unsigned tarball is in the signed one, unchanged, but the layout's nested
    // index (it lists the referrers too).
    let (a, b) = (common::tar_files(&unsigned), common::tar_files(&signed));
    let is_index = |d: &[u8]| {
        serde_json::from_slice::<serde_json::Value>(d)
            .is_ok_and(|v| v["mediaType"] == "application/vnd.oci.image.index.v1+json")
    };
    for (path, data) in &a {
        if path.starts_with("blobs/sha256/") && !is_index(data) {
            assert_eq!(b.get(path), Some(data), "{path}");
        }
    }

    let bundles: Vec<(String, Vec<u8>)> = layout_referrers(&tarball, &digest)
        .into_iter()
        .filter(|(t, _, _)| t == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .map(|(_, m, layer)| {
            (
                m["annotations"]["dev.sigstore.bundle.predicateType"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                layer,
            )
        })
        .collect();
    let mut types: Vec<&str> = bundles.iter().map(|(t, _)| t.as_str()).collect();
    types.sort();
    assert_eq!(
        types,
        [
            "https://cyclonedx.org/bom",
            "https://sigstore.dev/cosign/sign/v1",
            "https://slsa.dev/provenance/v1",
            "https://spdx.dev/Document",
        ]
    );
    let key = keys::public_key_from_file(&public).unwrap();
    let policy = verify::Policy::Key(key);
    let root = verify::keys_only_root();
    let js = sigstore_js();
    for (predicate_type, bundle) in &bundles {
        let v = verify::verify("bundle", bundle, &digest, &policy, &root).unwrap();
        assert_eq!(&v.predicate_type, predicate_type);
        if let Some(js) = &js {
            let path = dir.path().join("bundle.json");
            std::fs::write(&path, bundle).unwrap();
            let got = js_verify(
                js,
                &[
                    path.to_str().unwrap(),
                    &digest,
                    "key",
                    public.to_str().unwrap(),
                ],
            );
            assert_eq!(
                got.as_deref(),
                Ok(predicate_type.as_str()),
                "@sigstore/verify"
            );
        }
    }
    // The SBOM attestations carry the very documents beside the tarball.
    let b64 = base64::engine::general_purpose::STANDARD;
    for (predicate_type, file) in [
        ("https://cyclonedx.org/bom", "hello.cdx.json"),
        ("https://spdx.dev/Document", "hello.spdx.json"),
    ] {
        let (_, bundle) = bundles.iter().find(|(t, _)| t == predicate_type).unwrap();
        let v: serde_json::Value = serde_json::from_slice(bundle).unwrap();
        let st: serde_json::Value = serde_json::from_slice(
            &b64.decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("out").join(file)).unwrap())
                .unwrap();
        assert_eq!(st["predicate"], doc, "{file}");
    }

    // A key that is not one: one line before compiling, nothing written.
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key").unwrap();
    let (r, _) = build_hello(dir.path(), &["--sign-key", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        first.starts_with("error: --sign-key: ") && first.contains("bad.key"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&tarball).unwrap(),
        signed,
        "nothing rewritten"
    );
}

#[test]
fn build_push_with_a_sign_key_lists_every_bundle_under_the_fallback_tag() {
    if !common::require_tool("docker-registry", &["--version"]) {
        return;
    }
    let reg = common::registry::Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let name = format!("{}/hello", reg.host());
    let (r, _) = build_hello(
        dir.path(),
        &[
            "--image",
            &name,
            "--push",
            "--sign-key",
            private.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image: serde_json::Value = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .unwrap();
    let digest = image["manifest_digest"].as_str().unwrap();
    let index = reg.get_json(&format!("/v2/hello/manifests/{}", digest.replace(':', "-")));
    let mut listed: Vec<(String, String)> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["artifactType"].as_str().unwrap().to_string(),
                e["annotations"]["dev.sigstore.bundle.predicateType"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    listed.sort();
    let bundle = "application/vnd.dev.sigstore.bundle.v0.3+json";
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        listed,
        [
            pair("application/vnd.cyclonedx+json", ""),
            pair(bundle, "https://cyclonedx.org/bom"),
            pair(bundle, "https://sigstore.dev/cosign/sign/v1"),
            pair(bundle, "https://slsa.dev/provenance/v1"),
        ],
        "{index}"
    );
    // Each pushed bundle verifies against the key and names the pushed manifest.
    let key = keys::public_key_from_file(&public).unwrap();
    let policy = verify::Policy::Key(key);
    let root = verify::keys_only_root();
    for e in index["manifests"].as_array().unwrap() {
        if e["artifactType"] != bundle {
            continue;
        }
        let m = reg.get_json(&format!(
            "/v2/hello/manifests/{}",
            e["digest"].as_str().unwrap()
        ));
        let (status, blob) = reg.http(
            "GET",
            &format!(
                "/v2/hello/blobs/{}",
                m["layers"][0]["digest"].as_str().unwrap()
            ),
            "application/json",
            b"",
        );
        assert_eq!(status, 200);
        let v = verify::verify("pushed bundle", &blob, digest, &policy, &root).unwrap();
        assert_eq!(
            v.predicate_type,
            e["annotations"]["dev.sigstore.bundle.predicateType"]
        );
    }
}

#[test]
fn verify_accepts_a_signed_tarball_and_names_what_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let verify_cmd = |tarball: &Path, key: &Path| {
        common::run(
            common::cargo_tiny()
                .arg("verify")
                .arg(tarball)
                .arg("--key")
                .arg(key)
                .args(["--message-format", "json"]),
        )
    };
    // Unsigned: no signature.
    let (r, tarball) = build_hello(dir.path(), &["--sbom", "cyclonedx,spdx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify_cmd(&tarball, &public);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: hello:0.1.0 (linux/amd64, sha256:")
            && r.stderr
                .lines()
                .next()
                .unwrap()
                .contains("): no signature; help: sign it with"),
        "{}",
        r.stderr
    );

    let (r, tarball) = build_hello(
        dir.path(),
        &[
            "--sbom",
            "cyclonedx,spdx",
            "--sign-key",
            private.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify_cmd(&tarball, &public);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["reason"], "verified");
    assert_eq!(v["image"], "hello:0.1.0");
    assert_eq!(v["predicates"].as_array().unwrap().len(), 4, "{v}");
    assert_eq!(
        v["sboms"],
        serde_json::json!(["CycloneDX SBOM 1.6", "SPDX SBOM SPDX-2.3"])
    );
    assert!(v["signer"].as_str().unwrap().starts_with("key "), "{v}");
    assert!(
        r.stderr
            .contains("Verified hello:0.1.0 linux/amd64 sha256:"),
        "{}",
        r.stderr
    );

    // The provenance names the toolchain that compiled, as this machine's tools print it.
    let digest = v["manifest_digest"].as_str().unwrap();
    let expected = this_toolchain();
    let prov = provenance_in(&tarball, digest);
    let deps = prov["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .unwrap();
    let dep = |name: &str| {
        deps.iter()
            .find(|d| d["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {prov}"))
    };
    for tool in ["rustc", "cargo"] {
        let (line, commit, host) = &expected[tool];
        let d = dep(tool);
        assert_eq!(
            format!("{tool} {}", d["annotations"]["version"].as_str().unwrap()),
            *line,
            "{d}"
        );
        assert_eq!(d["digest"]["gitCommit"], commit.as_str(), "{d}");
        assert_eq!(d["annotations"]["host"], host.as_str(), "{d}");
    }
    let (auditable_version, auditable_sha256, _) = &expected["cargo-auditable"];
    let d = dep("cargo-auditable");
    assert_eq!(
        d["uri"],
        format!("pkg:cargo/cargo-auditable@{auditable_version}"),
        "{d}"
    );
    assert_eq!(d["digest"]["sha256"], auditable_sha256.as_str(), "{d}");
    assert_eq!(
        dep("cargo-tiny")["annotations"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    // verify shows them.
    let rustc = expected["rustc"].0.trim_start_matches("rustc ");
    assert_eq!(v["toolchain"]["rustc"], rustc, "{v}");
    assert_eq!(
        v["toolchain"]["cargo-auditable"],
        auditable_version.as_str(),
        "{v}"
    );
    assert!(
        r.stderr.contains(&format!(
            " with rustc {rustc}, cargo-auditable {auditable_version}; "
        )),
        "{}",
        r.stderr
    );

    // Another key: the first bundle does not verify.
    let other = tempfile::tempdir().unwrap();
    let (_, other_public) = key_pair(other.path());
    let r = verify_cmd(&tarball, &other_public);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.contains(": the bundle sha256:") && first.contains("does not verify"),
        "{}",
        r.stderr
    );

    // One changed byte in the SPDX document inside the tarball: named.
    let spdx = std::fs::read(dir.path().join("out/hello.spdx.json")).unwrap();
    let mut bytes = std::fs::read(&tarball).unwrap();
    let at = bytes
        .windows(spdx.len())
        .position(|w| w == spdx.as_slice())
        .expect("the SPDX blob is stored whole");
    let name_at = at
        + spdx
            .windows(8)
            .position(|w| w == b"\"hello\"," || w == b"\"name\": ")
            .unwrap();
    bytes[name_at + 1] ^= 0x20;
    let changed = dir.path().join("changed.tar");
    std::fs::write(&changed, &bytes).unwrap();
    let r = verify_cmd(&changed, &public);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let spdx_hex = cargo_tiny::image::sha256(&spdx);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: ")
            && first.contains(&format!("blobs/sha256/{}", &spdx_hex[7..]))
            && first.contains("does not match its digest"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing verified: {}", r.stdout);
}

/// What this machine's tools say of themselves, as a build run from the tests runs them:
/// `rustc`/`cargo` → (the first line of `-vV`, its commit-hash, its host); `cargo-auditable` →
/// (the version `cargo install --list` names, the binary's sha256, "").
fn this_toolchain() -> std::collections::BTreeMap<&'static str, (String, String, String)> {
    let capture = |program: &str, args: &[&str]| {
        let out = Command::new(program).args(args).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let verbose = |program: &str| {
        let text = capture(program, &["-vV"]);
        let field = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap()
                .to_string()
        };
        (
            text.lines().next().unwrap().to_string(),
            field("commit-hash"),
            field("host"),
        )
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // `cargo auditable --version` prints cargo's own version: cargo's list of what it installed
    // names cargo-auditable's.
    let listed = capture(&cargo, &["install", "--list"]);
    let version = listed
        .lines()
        .find_map(|l| l.strip_prefix("cargo-auditable v"))
        .and_then(|l| l.strip_suffix(':'))
        .expect("cargo-auditable installed by cargo install")
        .to_string();
    let path = capture("sh", &["-c", "command -v cargo-auditable"]);
    let sha = cargo_tiny::image::sha256(&std::fs::read(path.trim()).unwrap());
    std::collections::BTreeMap::from([
        ("rustc", verbose("rustc")),
        ("cargo", verbose(&cargo)),
        (
            "cargo-auditable",
            (
                version,
                sha.trim_start_matches("sha256:").to_string(),
                String::new(),
            ),
        ),
    ])
}

/// The SLSA provenance statement's predicate attached to `digest` in a tarball.
fn provenance_in(tarball: &Path, digest: &str) -> serde_json::Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    let (_, _, bundle) = layout_referrers(tarball, digest)
        .into_iter()
        .find(|(_, m, _)| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                == "https://slsa.dev/provenance/v1"
        })
        .expect("a provenance bundle");
    let v: serde_json::Value = serde_json::from_slice(&bundle).unwrap();
    let st: serde_json::Value = serde_json::from_slice(
        &b64.decode(v["dsseEnvelope"]["payload"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    st["predicate"].clone()
}

/// `cargo tiny verify TARBALL ARGS… --message-format json`.
fn verify_run(tarball: &Path, args: &[&str]) -> common::Run {
    common::run(
        common::cargo_tiny()
            .arg("verify")
            .arg(tarball)
            .args(args)
            .args(["--message-format", "json"]),
    )
}

#[test]
fn build_sign_keyless_signs_every_platform_and_the_index_and_verify_checks_the_identity() {
    let Some(js) = sigstore_js() else { return };
    let dir = tempfile::tempdir().unwrap();
    let st = start_standins(&js, dir.path());
    let root = dir.path().join("hello");
    common::copy_tree(&common::repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out/hello.tar");
    let build = |extra: &[&str], env: &[(&str, String)]| {
        let mut cmd = common::cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir())
            .arg("--output")
            .arg(&tarball)
            .args(["--platform", "linux/amd64,linux/arm64"])
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env_remove("SIGSTORE_ID_TOKEN")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_URL")
            .env_remove("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        common::run(&mut cmd)
    };
    let index_digest = |r: &common::Run| -> String {
        r.stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .find(|m| m["reason"] == "image-index")
            .unwrap_or_else(|| panic!("no index message: {}", r.stdout))["index_digest"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // No token and no key: one line saying how to get one, before compiling.
    let r = build(&["--sign"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: keyless signing needs an OIDC token")
            && first.contains("id-token: write"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling") && !tarball.exists());

    // Unsigned, then keyless against the stand-ins (GitHub Actions' token request).
    let r = build(&[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let unsigned = index_digest(&r);
    let unsigned_images: Vec<String> = images_of(&r);
    let env = [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token?api-version=2.0", st.url),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", st.request_token.clone()),
        ("CARGO_TINY_FULCIO_URL", st.url.clone()),
        ("CARGO_TINY_REKOR_URL", st.url.clone()),
        ("CARGO_TINY_TSA_URL", format!("{}/api/v1/timestamp", st.url)),
    ];
    let r = build(&["--sign"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        images_of(&r),
        unsigned_images,
        "signing changes no image byte"
    );
    let signed_index = index_digest(&r);
    assert_ne!(
        signed_index, unsigned,
        "the index lists the platforms' bundles"
    );
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("Signed hello:0.1.0"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    assert!(
        line.contains("(8 Sigstore bundles keyless as ") && line.contains(IDENTITY),
        "{line}"
    );
    // The index's own signature and provenance, about its digest.
    let of_index = layout_referrers(&tarball, &signed_index);
    let mut types: Vec<String> = of_index
        .iter()
        .map(|(_, m, _)| {
            m["annotations"]["dev.sigstore.bundle.predicateType"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    types.sort();
    assert_eq!(types, [statement::SIGN_V1, provenance::PREDICATE_TYPE]);

    // Verified by identity and issuer under the stand-ins' trust root: each platform and the index.
    let trusted = st.trusted_root.to_str().unwrap();
    let r = verify_run(
        &tarball,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            &st.url,
            "--trusted-root",
            trusted,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let platforms: Vec<&str> = lines
        .iter()
        .map(|v| v["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "index"]);
    for v in &lines {
        assert_eq!(v["signer"], IDENTITY, "{v}");
        assert_eq!(v["issuer"], st.url.as_str(), "{v}");
        assert!(v["signed_at"].is_string(), "{v}");
    }
    assert_eq!(lines[2]["manifest_digest"], signed_index.as_str());
    // Pushed as it is (`cargo tiny push`), then verified in the registry: the same lines but
    // for `image`, the reference given.
    if common::require_tool("docker-registry", &["--version"]) {
        let reg = common::registry::Registry::plain();
        let image = format!("{}/hello:0.1.0", reg.host());
        let r = common::run(common::cargo_tiny().arg("push").arg(&tarball).arg(&image));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = verify_run(
            Path::new(&image),
            &[
                "--certificate-identity",
                IDENTITY,
                "--certificate-oidc-issuer",
                &st.url,
                "--trusted-root",
                trusted,
            ],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let pulled: Vec<serde_json::Value> = r
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let without_image = |v: &[serde_json::Value]| -> Vec<serde_json::Value> {
            v.iter()
                .cloned()
                .map(|mut v| {
                    v.as_object_mut().unwrap().remove("image");
                    v
                })
                .collect()
        };
        assert_eq!(without_image(&pulled), without_image(&lines));
        assert!(pulled.iter().all(|v| v["image"] == image.as_str()));
    }
    // Regexp variants.
    let r = verify_run(
        &tarball,
        &[
            "--certificate-identity-regexp",
            r"https://github\.com/acme/.*",
            "--certificate-oidc-issuer-regexp",
            r"http://127\.0\.0\.1:\d+",
            "--trusted-root",
            trusted,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The wrong identity fails naming who signed; a missing issuer and the public-good root too.
    let r = verify_run(
        &tarball,
        &[
            "--certificate-identity-regexp",
            r"https://github\.com/evil/.*",
            "--certificate-oidc-issuer",
            &st.url,
            "--trusted-root",
            trusted,
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: hello:0.1.0 (linux/amd64, sha256:")
            && first.contains(&format!(
                "signed by `{IDENTITY}`, not /https://github\\.com/evil/.*/"
            )),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
    let r = verify_run(
        &tarball,
        &[
            "--certificate-identity",
            "https://github.com/evil/app/.github/workflows/x.yml@refs/heads/main",
            "--certificate-oidc-issuer",
            &st.url,
            "--trusted-root",
            trusted,
        ],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: hello:0.1.0 (linux/amd64, sha256:"),
        "{}",
        r.stderr
    );
    let r = verify_run(&tarball, &["--certificate-identity", IDENTITY]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("one of them is missing"), "{}", r.stderr);
    let r = verify_run(
        &tarball,
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            &st.url,
        ],
    );
    assert_eq!(
        r.code, 1,
        "not under Sigstore's public-good root: {}",
        r.stderr
    );

    // Sigstore's JavaScript verifier accepts the index's signature under the same trust root.
    let (_, _, sig) = of_index
        .iter()
        .find(|(_, m, _)| {
            m["annotations"]["dev.sigstore.bundle.predicateType"] == statement::SIGN_V1
        })
        .unwrap();
    let path = dir.path().join("index-signature.json");
    std::fs::write(&path, sig).unwrap();
    assert_eq!(
        js_verify(
            &js,
            &[
                path.to_str().unwrap(),
                &signed_index,
                "identity",
                trusted,
                IDENTITY,
                &st.url
            ]
        )
        .unwrap(),
        statement::SIGN_V1
    );

    // `sign = true` in the manifest: keyless without the flag; without a token, one line first.
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.tiny]\nsign = true\n"),
    )
    .unwrap();
    let r = build(&[], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: keyless signing needs an OIDC token"),
        "{}",
        r.stderr
    );
    // --no-sign: a local build without a token, unsigned, said by the absence of a Signed line.
    let r = build(&["--no-sign"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("Sigstore bundles"), "{}", r.stderr);
    let r = build(&[], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("(8 Sigstore bundles keyless as "),
        "{}",
        r.stderr
    );
}

/// Each platform's manifest digest, from the `image-index` JSON message.
fn images_of(r: &common::Run) -> Vec<String> {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "image-index")
        .flat_map(|m| m["platforms"].as_array().unwrap().clone())
        .map(|p| p["manifest_digest"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn verify_refuses_a_signed_sbom_that_does_not_list_the_binarys_audit_data() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The SBOM made to list one more package, then signed as it is: its attestation verifies, but
    // it does not describe the binary.
    let mut built = cargo_tiny::publish::layout::read(&tarball).unwrap().built;
    let image = built.images[0].manifest.clone();
    let at = built
        .referrers
        .iter()
        .position(|r| r.artifact_type == "application/vnd.cyclonedx+json")
        .unwrap();
    let old = built.referrers.remove(at);
    let mut doc: serde_json::Value = serde_json::from_slice(&old.document.data).unwrap();
    doc["components"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"type": "library", "name": "evil", "version": "6.6.6", "purl": "pkg:cargo/evil@6.6.6", "bom-ref": "pkg:cargo/evil@6.6.6"}));
    let forged = serde_json::to_vec(&doc).unwrap();
    let document = cargo_tiny::image::Document {
        artifact_type: old.artifact_type.clone(),
        media_type: old.document.media_type.clone(),
        data: forged.clone(),
        title: None,
        annotations: Default::default(),
    };
    built
        .attach(
            cargo_tiny::image::Referrer::new(&document, &image, "2023-11-14T22:13:20Z").unwrap(),
        )
        .unwrap();
    let signer = Signer::Key(keys::SigningKey::from_file(&private).unwrap());
    let signed = sign::sign(
        &signer,
        &[Request {
            subject: &image,
            name: "hello".into(),
            provenance: Some(provenance()),
            documents: vec![(statement::DocumentKind::CycloneDx, forged.as_slice())],
        }],
    )
    .unwrap();
    for r in signed.into_iter().flat_map(|s| s.referrers) {
        built
            .attach(cargo_tiny::image::Referrer {
                artifact_type: r.artifact_type.to_string(),
                subject: r.subject,
                manifest: r.manifest,
                config: r.empty,
                document: r.bundle,
            })
            .unwrap();
    }
    let forged_tar = dir.path().join("forged.tar");
    std::fs::write(
        &forged_tar,
        cargo_tiny::publish::tarball::tarball(&built, 0).unwrap(),
    )
    .unwrap();
    let r = verify_run(&forged_tar, &["--key", public.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with("error: hello:0.1.0 (linux/amd64, sha256:")
            && first.contains("lists evil@6.6.6 the binary's audit data does not"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());

    // The same tarball signed by the build: the SBOM equals the audit data.
    let (r, tarball) = build_hello(dir.path(), &["--sign-key", private.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = verify_run(&tarball, &["--key", public.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["packages"], 1, "{v}");
    assert!(
        r.stderr.contains("= the binary's 1 audited package)"),
        "{}",
        r.stderr
    );
}

/// Over the size budget, nothing is signed (a keyless signature would be a public Rekor entry for
/// an image that goes nowhere): no Signed line, no bundle in the tarball written for inspection.
/// Within, the same build is signed and its tarball holds the bundles.
#[test]
fn over_the_size_budget_nothing_is_signed() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let key = private.to_str().unwrap();
    let bundles = |tarball: &Path| {
        let built = cargo_tiny::publish::layout::read(tarball).unwrap().built;
        built
            .referrers
            .iter()
            .filter(|r| r.artifact_type == "application/vnd.dev.sigstore.bundle.v0.3+json")
            .count()
    };
    let (r, tarball) = build_hello(
        dir.path(),
        &["--sign-key", key, "--size-budget", "binary=1KiB"],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("over the size budget"), "{}", r.stderr);
    assert!(!r.stderr.contains("Signed"), "{}", r.stderr);
    assert!(tarball.is_file(), "{}", r.stderr);
    assert_eq!(bundles(&tarball), 0);

    let (r, tarball) = build_hello(
        dir.path(),
        &["--sign-key", key, "--size-budget", "binary=100MiB"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let signed = r.stderr.find("Signed").expect("a Signed line");
    assert!(signed < r.stderr.find("Budget").unwrap(), "{}", r.stderr);
    assert!(bundles(&tarball) > 0);
    // The tarball reported is the one with the bundles.
    let image = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .unwrap();
    assert_eq!(
        image["tarball_size"].as_u64().unwrap(),
        std::fs::metadata(&tarball).unwrap().len(),
        "{image}"
    );
    assert!(!image["bundles"].as_array().unwrap().is_empty(), "{image}");
    let r = verify_run(&tarball, &["--key", public.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// An image whose compressed layer is over the 4 MiB a tarball's blobs are read into memory up to
/// (a larger one stays in the tarball, read as it is needed): verified all the same, its binary's
/// audit data read from the layer on disk.
#[test]
fn verify_reads_a_layer_over_4_mib_from_the_tarball() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let root = dir.path().join("hello");
    common::copy_tree(&common::repo().join("examples/hello"), &root);
    let manifest = root.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[package.metadata.tiny]\nfiles = { \"/data/noise.bin\" = \"noise.bin\" }\n");
    std::fs::write(&manifest, toml).unwrap();
    // 6 MiB no compressor shrinks (xorshift64*): the layer stays over 4 MiB compressed.
    let mut x: u64 = 7;
    let mut noise = Vec::with_capacity(6 << 20);
    while noise.len() < 6 << 20 {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        noise.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    std::fs::write(root.join("noise.bin"), noise).unwrap();

    let (r, tarball) = build_hello(dir.path(), &["--sign-key", private.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .unwrap();
    assert!(
        image["compressed_size"].as_u64().unwrap() > 4 << 20,
        "{image}"
    );
    let r = verify_run(&tarball, &["--key", public.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["packages"], 1, "{v}");
    assert!(
        r.stderr.contains("= the binary's 1 audited package)"),
        "{}",
        r.stderr
    );
}

/// The action's build step (action/build.sh) with `sign: true`, run as the runner runs it (a
/// `cargo` shim sends `cargo tiny` to the binary under test), with the stand-ins' token endpoint
/// in the place of GitHub's.
#[test]
fn action_build_step_with_sign_signs_keylessly_and_outputs_the_bundle_digests() {
    let Some(js) = sigstore_js() else { return };
    let dir = tempfile::tempdir().unwrap();
    let st = start_standins(&js, dir.path());
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let shim = bin.join("cargo");
    std::fs::write(
        &shim,
        format!(
            "#!/bin/sh\nif [ \"$1\" = tiny ]; then exec '{}' \"$@\"; fi\nexec '{}' \"$@\"\n",
            env!("CARGO_BIN_EXE_cargo-tiny"),
            env!("CARGO")
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = dir.path().join("output");
    std::fs::write(&output, "").unwrap();
    let hello = dir.path().join("hello");
    common::copy_tree(&common::repo().join("examples/hello"), &hello);
    let tarball = dir.path().join("out/hello.tar");
    let mut cmd = Command::new("bash");
    common::isolate(&mut cmd);
    cmd.arg(common::repo().join("action/build.sh"))
        .current_dir(common::repo())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_STEP_SUMMARY", dir.path().join("summary"))
        .env("CARGO_TARGET_DIR", common::fixture_target_dir())
        .env("INPUT_MANIFEST_PATH", hello.join("Cargo.toml"))
        .env("INPUT_ARGS", format!("--output {}", tarball.display()))
        .env("INPUT_SIGN", "true")
        .env(
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token?api-version=2.0", st.url),
        )
        .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", &st.request_token)
        .env("CARGO_TINY_FULCIO_URL", &st.url)
        .env("CARGO_TINY_REKOR_URL", &st.url)
        .env_remove("SIGSTORE_ID_TOKEN")
        .env_remove("INPUT_PLATFORMS")
        .env_remove("INPUT_PUSH");
    let r = common::run(&mut cmd);
    assert_eq!(r.code, 0, "build.sh:\n{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(" --sign"), "{}", r.stdout);
    let out: std::collections::BTreeMap<String, String> = std::fs::read_to_string(&output)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let files = common::tar_files(&std::fs::read(&tarball).unwrap());
    for (key, predicate) in [
        ("signature-digest", statement::SIGN_V1),
        ("provenance-digest", provenance::PREDICATE_TYPE),
    ] {
        let digest = &out[key];
        assert!(digest.starts_with("sha256:"), "{key}: {out:?}");
        let m: serde_json::Value =
            serde_json::from_slice(&files[&format!("blobs/sha256/{}", &digest[7..])]).unwrap();
        assert_eq!(
            m["annotations"]["dev.sigstore.bundle.predicateType"],
            predicate
        );
        assert_eq!(m["subject"]["digest"], out["digest"].as_str());
    }
    // Without a token (a job without `id-token: write`), one line saying how to get one.
    cmd.env_remove("ACTIONS_ID_TOKEN_REQUEST_URL");
    let r = common::run(&mut cmd);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("id-token: write"), "{}", r.stderr);
}

/// tests/fixtures/phantom: the binary's audit data lists `opt`, which cargo never compiles (reached
/// only through mid's weak feature `opt?/fancy` of an optional dependency that is off — the class of
/// hexyl's `errno 0.3.9`, which rustix's `std` feature names as `libc_errno?/std`). The SBOM leaves
/// it out; the signed provenance says so (`internalParameters.auditDataNotCompiled`), and verify
/// exempts exactly that, from the signed provenance only: the same image with a provenance that
/// does not say so, signed by the same key, fails.
#[test]
fn verify_exempts_only_what_the_signed_provenance_names_as_never_compiled() {
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path());
    let root = dir.path().join("phantom");
    common::copy_tree(&common::repo().join("tests/fixtures/phantom"), &root);
    let tarball = dir.path().join("out/phantom.tar");
    let r = common::run(
        common::cargo_tiny()
            .args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir().join("phantom"))
            .arg("--output")
            .arg(&tarball)
            .args(["--sbom", "cyclonedx,spdx", "--sign-key"])
            .arg(&private),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = ["--key", public.to_str().unwrap()];

    // As built: verified, `opt` exempted because the signed provenance names it.
    let r = verify_run(&tarball, &key);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["not_compiled"], 1, "{v}");
    assert_eq!(v["packages"], 3, "phantom-app, mid, gen: {v}");
    // Not a git checkout: no commit (rustc's own gitCommit is not the source's).
    assert_eq!(v["commit"], serde_json::Value::Null, "{v}");
    assert!(
        r.stderr
            .contains("= the binary's 3 audited packages, 1 more never compiled)"),
        "{}",
        r.stderr
    );
    let digest = v["manifest_digest"].as_str().unwrap().to_string();
    let predicate = provenance_in(&tarball, &digest);
    assert_eq!(
        predicate["buildDefinition"]["internalParameters"]["auditDataNotCompiled"],
        serde_json::json!({"linux/amd64": ["opt@0.1.0"]})
    );

    // The same image and SBOMs, its provenance replaced by one without the exemption, signed by
    // the same key: every signature verifies, and the SBOM no longer equals the audit data.
    let mut built = cargo_tiny::publish::layout::read(&tarball).unwrap().built;
    let is_provenance = |r: &cargo_tiny::image::Referrer| {
        serde_json::from_slice::<serde_json::Value>(&r.manifest.data).unwrap()["annotations"]
            ["dev.sigstore.bundle.predicateType"]
            == provenance::PREDICATE_TYPE
    };
    let before = built.referrers.len();
    built.referrers.retain(|r| !is_provenance(r));
    assert_eq!(built.referrers.len(), before - 1);
    let mut without = predicate.clone();
    without["buildDefinition"]["internalParameters"] = serde_json::json!({});
    let image = built.images[0].manifest.clone();
    let signer = Signer::Key(keys::SigningKey::from_file(&private).unwrap());
    let signed = sign::sign(
        &signer,
        &[Request {
            subject: &image,
            name: String::new(),
            provenance: Some(without),
            documents: Vec::new(),
        }],
    )
    .unwrap();
    for r in signed.into_iter().flat_map(|s| s.referrers) {
        built
            .attach(cargo_tiny::image::Referrer {
                artifact_type: r.artifact_type.to_string(),
                subject: r.subject,
                manifest: r.manifest,
                config: r.empty,
                document: r.bundle,
            })
            .unwrap();
    }
    let resigned = dir.path().join("resigned.tar");
    std::fs::write(
        &resigned,
        cargo_tiny::publish::tarball::tarball(&built, 0).unwrap(),
    )
    .unwrap();
    let r = verify_run(&resigned, &key);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().next().unwrap();
    assert!(
        first.starts_with(&format!(
            "error: phantom-app:0.1.0 (linux/amd64, {digest}): the "
        )) && first.contains("misses opt@0.1.0 of the binary's audit data"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty(), "{}", r.stdout);
}

/// `--fulcio-url`, `--rekor-url` and `--timestamp-server-url` win over CARGO_TINY_FULCIO_URL /
/// _REKOR_URL / _TSA_URL: with the variables pointing at a closed port and the flags at the
/// stand-ins the build signs (and verify accepts it); the other way round it fails naming the
/// flag's URL. A flag is refused without keyless signing, and a plain-http URL to another host.
#[test]
fn sigstore_endpoint_flags_win_over_the_environment() {
    let Some(js) = sigstore_js() else { return };
    let dir = tempfile::tempdir().unwrap();
    let st = start_standins(&js, dir.path());
    // Nothing listens on port 1.
    let closed = "http://127.0.0.1:1";
    let token = [
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{}/token?api-version=2.0", st.url),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", st.request_token.clone()),
    ];
    let build = |extra: &[&str], env: &[(&str, String)]| {
        let root = dir.path().join("hello");
        if !root.exists() {
            common::copy_tree(&common::repo().join("examples/hello"), &root);
        }
        let mut cmd = common::cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir())
            .arg("--output")
            .arg(dir.path().join("out/hello.tar"))
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .env_remove("SIGSTORE_ID_TOKEN");
        for (k, v) in token.iter().chain(env) {
            cmd.env(k, v);
        }
        common::run(&mut cmd)
    };
    let tsa = format!("{}/api/v1/timestamp", st.url);
    let env_closed = [
        ("CARGO_TINY_FULCIO_URL", closed.to_string()),
        ("CARGO_TINY_REKOR_URL", closed.to_string()),
        ("CARGO_TINY_TSA_URL", format!("{closed}/api/v1/timestamp")),
    ];
    let r = build(
        &[
            "--sign",
            "--fulcio-url",
            &st.url,
            "--rekor-url",
            &st.url,
            "--timestamp-server-url",
            &tsa,
        ],
        &env_closed,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("(3 Sigstore bundles keyless as "),
        "{}",
        r.stderr
    );
    let trusted = st.trusted_root.to_str().unwrap();
    let r = verify_run(
        &dir.path().join("out/hello.tar"),
        &[
            "--certificate-identity",
            IDENTITY,
            "--certificate-oidc-issuer",
            &st.url,
            "--trusted-root",
            trusted,
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert!(v["signed_at"].is_string(), "timestamped: {v}");

    // The variables at the stand-ins, the Fulcio flag at the closed port: the flag is used.
    let env_good = [
        ("CARGO_TINY_FULCIO_URL", st.url.clone()),
        ("CARGO_TINY_REKOR_URL", st.url.clone()),
    ];
    let r = build(&["--sign", "--fulcio-url", closed], &env_good);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let error = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        error.starts_with("error: Fulcio at http://127.0.0.1:1: could not connect"),
        "{}",
        r.stderr
    );

    // Named as the flag when wrong; refused without keyless signing; both before compiling.
    let r = build(&["--sign", "--rekor-url", "http://rekor.internal"], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .starts_with("error: --rekor-url: `http://rekor.internal` is plain http"),
        "{}",
        r.stderr
    );
    let r = build(&["--fulcio-url", &st.url], &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: --fulcio-url is for keyless signing, and this build does not sign keylessly"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
}
