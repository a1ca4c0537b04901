//! `cargo tiny verify REF` on an image in a registry: pushed signed to the local distribution
//! registry (2.8, no referrers API: the fallback tag), verified by tag and by digest with the same
//! summary as its tarball; an unsigned image and another key refused; and through a fake registry in
//! front of it that serves the referrers API, or lies (a changed layer, a changed manifest, the
//! referrers of another image): each lie one line naming it. docker-registry missing: skipped
//! locally, a failure in CI.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use cargo_tiny::sign::keys;
use common::fake::{Fake, Reply};
use common::registry::Registry;
use serde_json::Value;

fn key_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let der = ring::signature::EcdsaKeyPair::generate_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &ring::rand::SystemRandom::new(),
    )
    .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let private = dir.join(format!("{name}.key"));
    std::fs::write(
        &private,
        format!("-----BEGIN PRIVATE KEY-----\n{b64}\n-----END PRIVATE KEY-----\n"),
    )
    .unwrap();
    let key = keys::SigningKey::from_file(&private).unwrap();
    let public = dir.join(format!("{name}.pub"));
    std::fs::write(&public, key.public_key().to_pem()).unwrap();
    (private, public)
}

/// examples/hello built as `image` into `dir/out/<file>.tar`, pushed, with `extra`; its manifest
/// digest.
fn build_push(dir: &Path, image: &str, file: &str, extra: &[&str]) -> (PathBuf, String) {
    let root = dir.join("hello");
    if !root.exists() {
        common::copy_tree(&common::repo().join("examples/hello"), &root);
    }
    let tarball = dir.join(format!("out/{file}.tar"));
    let r = common::run(
        common::cargo_tiny()
            .args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir())
            .arg("--output")
            .arg(&tarball)
            .args(["--image", image, "--push"])
            .args(extra)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let digest = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .unwrap()["manifest_digest"]
        .as_str()
        .unwrap()
        .to_string();
    (tarball, digest)
}

fn verify(target: &str, key: &Path) -> common::Run {
    common::run(
        common::cargo_tiny()
            .arg("verify")
            .arg(target)
            .arg("--key")
            .arg(key)
            .args(["--message-format", "json"]),
    )
}

/// The `verified` lines of a run, without `image` (which names where it was read), the
/// predicates sorted.
fn verified(r: &common::Run) -> Vec<Value> {
    r.stdout
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap();
            v.as_object_mut().unwrap().remove("image");
            // The order found: a tarball lists the index's own referrers by digest, a registry
            // in the order pushed.
            v["predicates"]
                .as_array_mut()
                .unwrap()
                .sort_by_key(|a| a.to_string());
            v
        })
        .collect()
}

/// The first line of stderr, which must be the only error line.
fn error_line(r: &common::Run) -> &str {
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stdout.is_empty(), "nothing verified: {}", r.stdout);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    errors[0]
}

#[test]
fn a_pushed_signed_image_verifies_by_tag_and_digest_as_its_tarball_does() {
    if !common::require_tool("docker-registry", &["--version"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path(), "tiny");
    let image = format!("{}/hello:0.1.0", reg.host());
    let (tarball, digest) = build_push(
        dir.path(),
        &image,
        "hello",
        &[
            "--sbom",
            "cyclonedx,spdx",
            "--sign-key",
            private.to_str().unwrap(),
        ],
    );
    let offline = verify(tarball.to_str().unwrap(), &public);
    assert_eq!(offline.code, 0, "{}", offline.stderr);

    // By tag: the same summary as the tarball's (but for where it was read).
    let r = verify(&image, &public);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verified(&r), verified(&offline));
    let v: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["image"], image);
    assert_eq!(v["manifest_digest"], digest);
    assert_eq!(v["predicates"].as_array().unwrap().len(), 4, "{v}");
    assert!(
        r.stderr.contains(&format!(
            "Verified {image} linux/amd64 {digest}: signed by key "
        )),
        "{}",
        r.stderr
    );
    // By digest.
    let by_digest = format!("{}/hello@{digest}", reg.host());
    let r = verify(&by_digest, &public);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(verified(&r), verified(&offline));

    // A second signer's bundles beside the first's (the same image signed again with another key
    // and pushed: the fallback tag keeps both): each key finds its own.
    let (second_private, second) = key_pair(dir.path(), "second");
    let (_, again) = build_push(
        dir.path(),
        &image,
        "again",
        &[
            "--sbom",
            "cyclonedx,spdx",
            "--sign-key",
            second_private.to_str().unwrap(),
        ],
    );
    assert_eq!(again, digest, "signing changes no image byte");
    let listed = reg.get_json(&format!("/v2/hello/manifests/{}", digest.replace(':', "-")));
    assert_eq!(
        listed["manifests"].as_array().unwrap().len(),
        2 * 4 + 2,
        "{listed}"
    );
    for key in [&public, &second] {
        let r = verify(&image, key);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }

    // Another key: refused, naming the bundle.
    let (_, other) = key_pair(dir.path(), "other");
    let line = error_line(&verify(&image, &other)).to_string();
    assert!(
        line.contains(": the bundle sha256:") && line.contains("does not verify"),
        "{line}"
    );

    // Pushed without signatures: no signature.
    let unsigned = format!("{}/plain:0.1.0", reg.host());
    build_push(dir.path(), &unsigned, "plain", &[]);
    let line = error_line(&verify(&unsigned, &public)).to_string();
    assert!(
        line.starts_with(&format!("error: {unsigned} (linux/amd64, sha256:"))
            && line.contains("): no signature; help: sign it with"),
        "{line}"
    );

    // Neither a file nor a reference; a reference with nothing behind it.
    let line = error_line(&verify("target/tiny/missing.tar", &public)).to_string();
    assert!(
        line.contains("target/tiny/missing.tar: no such file, and not a registry reference"),
        "{line}"
    );
    let line = error_line(&verify(&format!("{}/nothing:1", reg.host()), &public)).to_string();
    assert!(line.contains("/nothing:1: not found on "), "{line}");
}

/// What the fake registry in front of the real one changes.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Serves the referrers API (from the real registry's fallback tag) and no fallback tag.
    ReferrersApi,
    /// One byte of this blob changed.
    ChangedBlob(&'static str),
    /// The image manifest's bytes changed (a space after them).
    ChangedManifest,
    /// The fallback tag of the first image answers the one of the second image.
    OthersReferrers,
    /// The referrers API, without the SPDX document's entries (the attestation still listed).
    HiddenSbom,
}

#[test]
fn the_referrers_api_is_read_and_each_lie_of_a_registry_is_named() {
    if !common::require_tool("docker-registry", &["--version"]) {
        return;
    }
    let reg = Arc::new(Registry::plain());
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path(), "tiny");
    let key = ["--sign-key", private.to_str().unwrap()];
    let (tarball, digest) = build_push(
        dir.path(),
        &format!("{}/hello:0.1.0", reg.host()),
        "hello",
        &[&["--sbom", "cyclonedx,spdx"][..], &key].concat(),
    );
    // A tarball is read offline: the registry options are refused, not ignored.
    let r = common::run(common::cargo_tiny().arg("verify").arg(&tarball).args([
        "--key",
        public.to_str().unwrap(),
        "--insecure-registry",
        "127.0.0.1",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        error_line(&r).contains("is a file (a tarball), read offline: no registry is reached; help: --registry-ca and --insecure-registry are for a registry reference"),
        "{}",
        r.stderr
    );
    // Another signed image of the same repository (other SBOMs: another manifest).
    let (_, second) = build_push(
        dir.path(),
        &format!("{}/hello:second", reg.host()),
        "second",
        &[&["--sbom", "cyclonedx"][..], &key].concat(),
    );
    assert_ne!(digest, second);
    let manifest = reg.get_json(&format!("/v2/hello/manifests/{digest}"));
    let layer: &'static str = manifest["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
        .leak();

    // The CycloneDX document's blob and the provenance bundle's, from the fallback tag.
    let listed = reg.get_json(&format!("/v2/hello/manifests/{}", digest.replace(':', "-")));
    let document_of = |pick: &dyn Fn(&Value) -> bool| -> &'static str {
        let entry = listed["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| pick(e))
            .unwrap();
        let m = reg.get_json(&format!(
            "/v2/hello/manifests/{}",
            entry["digest"].as_str().unwrap()
        ));
        m["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string()
            .leak()
    };
    let cyclonedx = document_of(&|e| e["artifactType"] == "application/vnd.cyclonedx+json");
    let provenance = document_of(&|e| {
        e["annotations"]["dev.sigstore.bundle.predicateType"] == "https://slsa.dev/provenance/v1"
    });

    let mode = Arc::new(Mutex::new(Mode::ReferrersApi));
    let (m, upstream) = (mode.clone(), reg.clone());
    let (first_tag, second_tag) = (digest.replace(':', "-"), second.replace(':', "-"));
    let (first_digest, first_tag_c) = (digest.clone(), first_tag.clone());
    let fake = Fake::start("127.0.0.1", move |req, _| {
        let mode = *m.lock().unwrap();
        if req.method != "GET" {
            return Reply::With(405, vec![], vec![]);
        }
        let mut target = req.target.clone();
        if target == "/v2/" {
            return Reply::With(200, vec![], b"{}".to_vec());
        }
        if let Some(subject) = target.strip_prefix("/v2/hello/referrers/") {
            if !matches!(mode, Mode::ReferrersApi | Mode::HiddenSbom) {
                return Reply::With(404, vec![], vec![]);
            }
            target = format!("/v2/hello/manifests/{}", subject.replace(':', "-"));
        } else if matches!(mode, Mode::ReferrersApi | Mode::HiddenSbom)
            && target.contains("/manifests/sha256-")
        {
            return Reply::With(404, vec![], vec![]);
        }
        if mode == Mode::OthersReferrers && target.ends_with(&first_tag_c) {
            target = target.replace(&first_tag_c, &second_tag);
        }
        let (status, mut body) = upstream.http("GET", &target, "application/json", b"");
        match mode {
            Mode::ChangedBlob(d) if target.ends_with(d) => {
                let last = body.len() - 1;
                body[last] ^= 1;
            }
            Mode::ChangedManifest if target.ends_with(&first_digest) => body.push(b' '),
            Mode::HiddenSbom if target.contains("/manifests/sha256-") => {
                let mut listing: Value = serde_json::from_slice(&body).unwrap();
                listing["manifests"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|e| e["artifactType"] != "application/spdx+json");
                body = serde_json::to_vec(&listing).unwrap();
            }
            _ => {}
        }
        let media_type = serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
            .unwrap_or_else(|| "application/octet-stream".into());
        Reply::With(status, vec![format!("Content-Type: {media_type}")], body)
    });
    let image = format!("{}/hello:0.1.0", fake.host);

    // The referrers API (no fallback tag): verified, and the API was what listed them.
    let r = verify(&image, &public);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        fake.requests()
            .iter()
            .any(|q| q.target == format!("/v2/hello/referrers/{digest}")),
        "the referrers API was not asked"
    );

    // A changed layer (read after the signatures verified), SBOM document or provenance bundle:
    // named.
    for blob in [layer, cyclonedx, provenance] {
        *mode.lock().unwrap() = Mode::ChangedBlob(blob);
        let line = error_line(&verify(&image, &public)).to_string();
        assert!(
            line.starts_with(&format!(
                "error: {image}: the registry's blob {blob} is not it"
            )),
            "{line}"
        );
    }

    // A changed manifest, asked for by digest: named.
    *mode.lock().unwrap() = Mode::ChangedManifest;
    let by_digest = format!("{}/hello@{digest}", fake.host);
    let line = error_line(&verify(&by_digest, &public)).to_string();
    assert!(
        line.starts_with(&format!(
            "error: {by_digest}: the registry's manifest for {digest} hashes to sha256:"
        )),
        "{line}"
    );

    // A registry that hides an SBOM the build attached (its attestation still there): the signed
    // provenance names it, so verify fails, and prints no `verified` line.
    *mode.lock().unwrap() = Mode::HiddenSbom;
    let hidden = verify(&image, &public);
    assert_eq!(hidden.code, 1, "{}", hidden.stderr);
    assert!(hidden.stdout.is_empty(), "{}", hidden.stdout);
    assert!(
        error_line(&hidden).contains(
            "the signed provenance names the SPDX SBOM (SPDX 2.3), and none with an attestation by this signer is attached"
        ),
        "{}",
        hidden.stderr
    );

    // The fallback tag of one image answering another's referrers: named.
    *mode.lock().unwrap() = Mode::OthersReferrers;
    let line = error_line(&verify(&image, &public)).to_string();
    assert!(
        line.contains(&format!(" listed for {digest} is about {second}")),
        "{line}"
    );
    let _ = first_tag;
}

#[test]
fn a_pushed_signed_index_verifies_each_platform_and_the_index() {
    if !common::require_tool("docker-registry", &["--version"]) {
        return;
    }
    let reg = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = key_pair(dir.path(), "tiny");
    let root = dir.path().join("hello");
    common::copy_tree(&common::repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out/hello.tar");
    let image = format!("{}/multi:0.1.0", reg.host());
    let r = common::run(
        common::cargo_tiny()
            .args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(common::fixture_target_dir())
            .arg("--output")
            .arg(&tarball)
            .args(["--platform", "linux/amd64,linux/arm64"])
            .args(["--image", &image, "--push", "--sign-key"])
            .arg(&private)
            .env("SOURCE_DATE_EPOCH", "1700000000"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let offline = verify(tarball.to_str().unwrap(), &public);
    assert_eq!(offline.code, 0, "{}", offline.stderr);
    let r = verify(&image, &public);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines = verified(&r);
    let platforms: Vec<&str> = lines
        .iter()
        .map(|v| v["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "index"]);
    assert_eq!(lines, verified(&offline));
}

/// The credentials of the registry's host (docker's config.json): a pull-scoped token from the
/// realm; the token goes to the registry, not along a redirect to another host; the password is in
/// no output. A realm on another host over plain HTTP gets nothing.
#[test]
fn credentials_are_push_rules_with_a_pull_scope() {
    use std::os::unix::fs::PermissionsExt;
    const PASSWORD: &str = "pw-SECRET-5e1d";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    let other = Fake::start("127.0.0.2", |_, _| Reply::With(404, vec![], vec![]));
    let elsewhere = other.host.clone();
    let want = format!("Basic {basic}");
    let reg = Fake::start("127.0.0.1", move |req, me| {
        let t = req.target.as_str();
        if t == "/v2/" {
            let h = format!("WWW-Authenticate: Bearer realm=\"http://{me}/token\",service=\"reg\"");
            return Reply::With(401, vec![h], vec![]);
        }
        if t.starts_with("/token") {
            return if req.header("authorization") == Some(want.as_str()) {
                Reply::With(200, vec![], br#"{"token":"tok-42"}"#.to_vec())
            } else {
                Reply::With(401, vec![], vec![])
            };
        }
        if req.header("authorization") != Some("Bearer tok-42") {
            return Reply::With(401, vec![], vec![]);
        }
        Reply::With(
            307,
            vec![format!("Location: http://{elsewhere}{t}")],
            vec![],
        )
    });
    let home = tempfile::tempdir().unwrap();
    let docker = home.path().join(".docker");
    std::fs::create_dir_all(&docker).unwrap();
    let write_config = |host: &str| {
        let cfg = docker.join("config.json");
        std::fs::write(
            &cfg,
            serde_json::json!({"auths": {host: {"auth": basic}}}).to_string(),
        )
        .unwrap();
        std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    write_config(&reg.host);
    let dir = tempfile::tempdir().unwrap();
    let (_, public) = key_pair(dir.path(), "tiny");
    let run = |image: &str| {
        common::run(
            common::cargo_tiny()
                .args(["verify", image, "--key"])
                .arg(&public)
                .env("HOME", home.path()),
        )
    };
    let image = format!("{}/hello:1", reg.host);
    let r = run(&image);
    let line = error_line(&r).to_string();
    assert!(line.contains("/hello:1: not found on "), "{line}");
    let token = reg
        .requests()
        .into_iter()
        .find(|q| q.target.starts_with("/token"))
        .expect("a token was asked for");
    assert!(
        token.target.contains("scope=repository%3Ahello%3Apull&")
            || token.target.ends_with("scope=repository%3Ahello%3Apull"),
        "{}",
        token.target
    );
    assert!(
        reg.requests()
            .iter()
            .any(|q| q.header("authorization") == Some("Bearer tok-42")),
        "the registry got the token (else this test proves nothing)"
    );
    assert!(!other.requests().is_empty(), "the redirect was followed");
    for q in other.requests() {
        assert!(q.header("authorization").is_none(), "{q:?}");
    }
    assert!(!r.stderr.contains(PASSWORD) && !r.stdout.contains(PASSWORD));

    // A token realm on another host over plain HTTP: nothing sent there.
    let thief = Fake::start("127.0.0.2", |_, _| {
        Reply::With(200, vec![], br#"{"token":"t"}"#.to_vec())
    });
    let realm = format!("http://{}/token", thief.host);
    let reg = Fake::start("127.0.0.1", move |_, _| {
        let h = format!("WWW-Authenticate: Bearer realm=\"{realm}\",service=\"x\"");
        Reply::With(401, vec![h], vec![])
    });
    write_config(&reg.host);
    let r = run(&format!("{}/hello:1", reg.host));
    let line = error_line(&r).to_string();
    assert!(line.contains("not https"), "{line}");
    assert!(thief.requests().is_empty(), "the other host was asked");
    assert!(!r.stderr.contains(PASSWORD));
}
