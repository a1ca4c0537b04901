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
        tools: [
            ("rustc".to_string(), "1.95.0".to_string()),
            ("cargo-auditable".to_string(), "0.7.2".to_string()),
        ]
        .into(),
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
