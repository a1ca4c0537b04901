//! The SBOM formats and the VEX document of a build (`--sbom`, `sbom = [...]`, `--vex`, `vex = "…"`):
//! each written beside the tarball, attached as its own OCI 1.1 referrer of the image manifest in the
//! tarball and on push (Debian's `docker-registry`, no referrers API: the `sha256-<hex>` fallback
//! index lists them), each pushed document validated by its own tool (cyclonedx-python-lib,
//! pyspdxtools, spdx3-validate). A VEX document naming a package that is not in the image, or an
//! unknown format, fails with one line and writes nothing.
//!
//! Engine and validator checks skip locally when a tool is missing and fail in CI (`CI=true`).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::registry::Registry;
use common::*;
use serde_json::{json, Value};

/// One cargo-tiny build at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

const CDX: &str = "application/vnd.cyclonedx+json";
const SPDX: &str = "application/spdx+json";
const SPDX3: &str = "application/spdx3+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";
const OPENVEX: &str = "https://openvex.dev/ns/v0.2.0";

/// examples/hello copied into `dir` and built with `extra`; the tarball goes to dir/out/hello.tar.
fn build_hello(dir: &Path, extra: &[&str]) -> (Run, PathBuf) {
    let root = dir.join("hello");
    if !root.exists() {
        copy_tree(&repo().join("examples/hello"), &root);
    }
    let tarball = dir.join("out/hello.tar");
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(&tarball)
        .args(extra)
        .env("SOURCE_DATE_EPOCH", "1700000000");
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    (run(&mut cmd), tarball)
}

fn message(r: &Run, reason: &str) -> Value {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == reason)
        .unwrap_or_else(|| panic!("no {reason} message in:\n{}\n{}", r.stdout, r.stderr))
}

fn vex(product: &str) -> String {
    json!({
        "@context": OPENVEX,
        "@id": "https://example.com/vex/hello-1",
        "author": "Example Security <security@example.com>",
        "timestamp": "2024-05-01T12:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": "CVE-2024-0001"},
            "products": [{"@id": "pkg:oci/hello", "subcomponents": [{"@id": product}]}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_present"
        }]
    })
    .to_string()
}

/// The referrers of `subject` in a tarball's layout: artifact type → (manifest, document bytes).
fn layout_referrers(tarball: &Path, subject: &str) -> BTreeMap<String, (Value, Vec<u8>)> {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let blob =
        |d: &str| files[&format!("blobs/sha256/{}", d.trim_start_matches("sha256:"))].clone();
    let mut out = BTreeMap::new();
    for (path, data) in &files {
        if !path.starts_with("blobs/sha256/") {
            continue;
        }
        let Ok(v) = serde_json::from_slice::<Value>(data) else {
            continue;
        };
        if v["subject"]["digest"] == subject {
            let doc = blob(v["layers"][0]["digest"].as_str().unwrap());
            out.insert(v["artifactType"].as_str().unwrap().to_string(), (v, doc));
        }
    }
    out
}

/// Runs one format's own validator on `path`.
fn validate(media_type: &str, path: &Path) {
    let (program, args): (&str, Vec<String>) = match media_type {
        CDX => (
            "python3",
            vec![
                repo().join("tests/validate_sbom.py").display().to_string(),
                path.display().to_string(),
                "1.6".into(),
            ],
        ),
        SPDX => ("pyspdxtools", vec!["-i".into(), path.display().to_string()]),
        SPDX3 => (
            "python3",
            vec![
                repo().join("tests/validate_spdx3.py").display().to_string(),
                path.display().to_string(),
            ],
        ),
        other => panic!("no validator for {other}"),
    };
    let v = run(std::process::Command::new(program).args(&args));
    assert_eq!(
        v.code,
        0,
        "{media_type} {}: {}{}",
        path.display(),
        v.stdout,
        v.stderr
    );
    assert!(
        !v.stdout.contains("invalid") && !v.stderr.contains("The document is invalid"),
        "{media_type}: {}{}",
        v.stdout,
        v.stderr
    );
}

#[test]
fn every_format_and_the_vex_are_beside_the_tarball_attached_pushed_and_valid() {
    let registry = require_tool("docker-registry", &["--version"]);
    let reg = registry.then(Registry::plain);
    let dir = tempfile::tempdir().unwrap();
    let vex_path = dir.path().join("hello.openvex.json");
    std::fs::write(&vex_path, vex("pkg:cargo/hello@0.1.0")).unwrap();
    let name = match &reg {
        Some(r) => format!("{}/hello", r.host()),
        None => "hello".into(),
    };
    let mut args = vec![
        "--image".to_string(),
        name.clone(),
        "--sbom".into(),
        "cyclonedx,spdx,spdx-3.0.1".into(),
        "--vex".into(),
        vex_path.display().to_string(),
    ];
    if reg.is_some() {
        args.push("--push".into());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (r, tarball) = build_hello(dir.path(), &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = message(&r, "image");
    let digest = image["manifest_digest"].as_str().unwrap().to_string();

    // Beside the tarball, one file per format, in the order asked; the first is `sbom_path`.
    let out = dir.path().join("out");
    let docs = image["sboms"].as_array().unwrap();
    let got: Vec<(&str, &str, PathBuf)> = docs
        .iter()
        .map(|d| {
            (
                d["format"].as_str().unwrap(),
                d["media_type"].as_str().unwrap(),
                PathBuf::from(d["path"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("CycloneDX 1.6", CDX, out.join("hello.cdx.json")),
            ("SPDX 2.3", SPDX, out.join("hello.spdx.json")),
            ("SPDX 3.0.1", SPDX3, out.join("hello.spdx3.json")),
        ]
    );
    assert_eq!(image["sbom_path"], docs[0]["path"]);
    assert_eq!(image["vex_path"], vex_path.display().to_string());
    assert!(
        r.stderr
            .contains("(CycloneDX 1.6, SPDX 2.3 and SPDX 3.0.1, ")
            && r.stderr.contains("VEX")
            && r.stderr.contains("1 statement, attached"),
        "{}",
        r.stderr
    );

    // In the tarball: each document its own referrer of the image manifest, its blob the file
    // beside; the VEX as an in-toto statement about the manifest, its predicate type annotated.
    let refs = layout_referrers(&tarball, &digest);
    let types: Vec<&str> = refs.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        [SPDX, SPDX3, CDX, IN_TOTO],
        "sorted by artifact type"
    );
    for (i, (_, media_type, path)) in got.iter().enumerate() {
        let file = std::fs::read(path).unwrap();
        assert_eq!(refs[*media_type].1, file, "{media_type}");
        assert_eq!(docs[i]["digest"], cargo_tiny::image::sha256(&file));
    }
    let (vex_manifest, statement) = &refs[IN_TOTO];
    assert_eq!(
        vex_manifest["annotations"]["in-toto.io/predicate-type"],
        OPENVEX
    );
    let st: Value = serde_json::from_slice(statement).unwrap();
    assert_eq!(st["predicateType"], OPENVEX);
    assert_eq!(
        format!(
            "sha256:{}",
            st["subject"][0]["digest"]["sha256"].as_str().unwrap()
        ),
        digest
    );
    let given: Value = serde_json::from_str(&std::fs::read_to_string(&vex_path).unwrap()).unwrap();
    assert_eq!(st["predicate"], given);
    // The manifest names each SBOM blob.
    let files = tar_files(&std::fs::read(&tarball).unwrap());
    let manifest: Value =
        serde_json::from_slice(&files[&format!("blobs/sha256/{}", &digest[7..])]).unwrap();
    let ann = &manifest["annotations"];
    assert_eq!(ann["io.github.cargo-tiny.sbom.digest"], docs[0]["digest"]);
    assert_eq!(
        ann["io.github.cargo-tiny.sbom.cdx.digest"],
        docs[0]["digest"]
    );
    assert_eq!(
        ann["io.github.cargo-tiny.sbom.spdx.digest"],
        docs[1]["digest"]
    );
    assert_eq!(
        ann["io.github.cargo-tiny.sbom.spdx3.digest"],
        docs[2]["digest"]
    );

    // Each document valid by its own tool (the pushed bytes below are the same bytes).
    let validators = require_tool(
        "python3",
        &["-c", "import cyclonedx.validation.json, spdx3_validate"],
    ) && require_tool("pyspdxtools", &["--help"]);
    if validators {
        for (_, media_type, path) in &got {
            validate(media_type, path);
        }
    }

    // Pushed: the fallback index lists every referrer with its artifact type (and the VEX's
    // predicate-type annotation); each blob in the registry is the file beside the tarball.
    let Some(reg) = reg else { return };
    let pushed = &image["pushed"];
    assert_eq!(pushed["digest"], digest.as_str());
    assert_eq!(pushed["referrers"], "fallback-tag");
    let index = reg.get_json(&format!("/v2/hello/manifests/{}", digest.replace(':', "-")));
    let entries = index["manifests"].as_array().unwrap();
    let mut listed: Vec<&str> = entries
        .iter()
        .map(|e| e["artifactType"].as_str().unwrap())
        .collect();
    listed.sort();
    assert_eq!(listed, [SPDX, SPDX3, CDX, IN_TOTO], "{index}");
    for e in entries {
        let m = reg.get_json(&format!(
            "/v2/hello/manifests/{}",
            e["digest"].as_str().unwrap()
        ));
        assert_eq!(m["subject"]["digest"], digest.as_str());
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
        let t = e["artifactType"].as_str().unwrap();
        assert_eq!(blob, refs[t].1, "{t}");
        if t == IN_TOTO {
            assert_eq!(
                e["annotations"]["in-toto.io/predicate-type"], OPENVEX,
                "{e}"
            );
        } else if validators {
            let suffix = match t {
                CDX => "cdx.json",
                SPDX => "spdx.json",
                _ => "spdx3.json",
            };
            let pulled = dir.path().join(format!("pulled.{suffix}"));
            std::fs::write(&pulled, &blob).unwrap();
            validate(t, &pulled);
        }
    }
    // The pushed SBOM named in the JSON is the first format's referrer manifest.
    let cdx_entry = entries.iter().find(|e| e["artifactType"] == CDX).unwrap();
    assert_eq!(pushed["sbom_digest"], cdx_entry["digest"]);
}

#[test]
fn sbom_in_the_manifest_selects_the_files_and_removes_the_ones_no_longer_written() {
    let dir = tempfile::tempdir().unwrap();
    let (r, _) = build_hello(dir.path(), &["--sbom", "cyclonedx,spdx"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let out = dir.path().join("out");
    assert!(out.join("hello.cdx.json").is_file() && out.join("hello.spdx.json").is_file());

    // `sbom = ["spdx"]` in [package.metadata.tiny]: only SPDX, the CycloneDX file of the earlier
    // build removed (every file beside the tarball describes it).
    let manifest = dir.path().join("hello/Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text = text.replace(
        "# Not part of cargo-tiny's own workspace.",
        "[package.metadata.tiny]\nsbom = [\"spdx\"]\n\n# Not part of cargo-tiny's own workspace.",
    );
    std::fs::write(&manifest, text).unwrap();
    let (r, tarball) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let image = message(&r, "image");
    assert_eq!(
        image["sbom_path"],
        out.join("hello.spdx.json").display().to_string()
    );
    assert!(
        !out.join("hello.cdx.json").exists(),
        "stale CycloneDX removed"
    );
    let digest = image["manifest_digest"].as_str().unwrap();
    let types: Vec<String> = layout_referrers(&tarball, digest).into_keys().collect();
    assert_eq!(types, [SPDX]);

    // An unknown format in the manifest: one line naming the key and the manifest, nothing built.
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("sbom = [\"spdx\"]", "sbom = [\"swid\"]");
    std::fs::write(&manifest, text).unwrap();
    let before = std::fs::read(&tarball).unwrap();
    let (r, _) = build_hello(dir.path(), &[]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        first.contains("`sbom` in [package.metadata.tiny] of")
            && first.contains("unknown SBOM format `swid`"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "failed before compiling: {}",
        r.stderr
    );
    assert_eq!(std::fs::read(&tarball).unwrap(), before);
}

#[test]
fn a_vex_document_that_is_invalid_or_names_no_package_of_the_image_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"@context": "https://openvex.dev/ns/v0.1.0"}"#).unwrap();
    let (r, tarball) = build_hello(dir.path(), &["--vex", bad.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        first.starts_with("error: --vex: VEX document ")
            && first.contains("not an OpenVEX v0.2.0 document"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "checked before compiling: {}",
        r.stderr
    );

    let foreign = dir.path().join("foreign.json");
    std::fs::write(&foreign, vex("pkg:cargo/openssl@0.10.0")).unwrap();
    let (r, _) = build_hello(dir.path(), &["--vex", foreign.to_str().unwrap()]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let first = r.stderr.lines().find(|l| l.starts_with("error:")).unwrap();
    assert!(
        first.contains("VEX document")
            && first.contains("pkg:cargo/openssl@0.10.0 is no package of this image"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(!tarball.exists(), "no tarball written");
    assert!(!dir.path().join("out/hello.cdx.json").exists());
}

/// trivy's findings for `target` (an SBOM file or, with `image`, an image tarball) with a given
/// `--vex` file: the advisory ids it reports.
fn trivy_findings(cache: &Path, target: &Path, image: bool, vex: Option<&Path>) -> Vec<String> {
    let mut cmd = std::process::Command::new("trivy");
    if image {
        cmd.args(["image", "--input"]);
    } else {
        cmd.arg("sbom");
    }
    cmd.arg(target)
        .args(["--skip-db-update", "--offline-scan", "--quiet"])
        .args(["--format", "json", "--cache-dir"])
        .arg(cache);
    if let Some(vex) = vex {
        cmd.arg("--vex").arg(vex);
    }
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "trivy over {}: {}", target.display(), r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).unwrap();
    let mut ids = Vec::new();
    for result in report["Results"].as_array().into_iter().flatten() {
        for v in result["Vulnerabilities"].as_array().into_iter().flatten() {
            ids.push(format!(
                "{} {}",
                v["PkgName"].as_str().unwrap(),
                v["VulnerabilityID"].as_str().unwrap()
            ));
        }
    }
    ids
}

/// The scanner's view of the VEX: a vulnerability database with an advisory for `hello` (written
/// offline by tests/trivy/vuln_db.py: trivy-db's layout in a bbolt file) makes trivy report it over
/// the image's SBOM and over the image tarball; the statement the build attached — taken back out
/// of the tarball's in-toto referrer, not the file given — marks it `not_affected`, and trivy's
/// `--vex` then drops it; the same document saying `affected` does not.
#[test]
fn trivy_honours_the_attached_vex_statement() {
    if !require_tool("trivy", &["--version"]) || !require_tool("python3", &["-c", "import boltdb"])
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("trivy-cache");
    let db = run(std::process::Command::new("python3")
        .arg(repo().join("tests/trivy/vuln_db.py"))
        .arg(&cache)
        .arg("hello:< 99.0.0:GHSA-test-0001"));
    assert_eq!(db.code, 0, "{}{}", db.stdout, db.stderr);

    let statement = |status: &str| {
        let mut st = json!({
            "vulnerability": {"name": "GHSA-test-0001"},
            "products": [{"@id": "pkg:cargo/hello@0.1.0"}],
            "status": status,
        });
        if status == "not_affected" {
            st["justification"] = json!("vulnerable_code_not_present");
        } else {
            st["action_statement"] = json!("upgrade hello");
        }
        json!({
            "@context": OPENVEX,
            "@id": "https://example.com/vex/hello-2",
            "author": "Example Security <security@example.com>",
            "timestamp": "2024-05-01T12:00:00Z",
            "version": 1,
            "statements": [st]
        })
        .to_string()
    };
    let found = ["hello GHSA-test-0001".to_string()];
    for (status, honoured) in [("not_affected", true), ("affected", false)] {
        let given = dir.path().join(format!("{status}.openvex.json"));
        std::fs::write(&given, statement(status)).unwrap();
        let (r, tarball) = build_hello(dir.path(), &["--vex", given.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let image = message(&r, "image");
        let digest = image["manifest_digest"].as_str().unwrap();
        let sbom = PathBuf::from(image["sbom_path"].as_str().unwrap());

        // The attached document, as a scanner pulling the referrer gets it.
        let refs = layout_referrers(&tarball, digest);
        let st: Value = serde_json::from_slice(&refs[IN_TOTO].1).unwrap();
        let attached = dir.path().join("attached.openvex.json");
        std::fs::write(&attached, st["predicate"].to_string()).unwrap();

        for image_scan in [false, true] {
            let target = if image_scan { &tarball } else { &sbom };
            assert_eq!(
                trivy_findings(&cache, target, image_scan, None),
                found,
                "without VEX, over {}",
                target.display()
            );
            let with_vex = trivy_findings(&cache, target, image_scan, Some(&attached));
            if honoured {
                assert!(with_vex.is_empty(), "{status}: {with_vex:?}");
            } else {
                assert_eq!(with_vex, found, "{status}");
            }
        }
    }
}
