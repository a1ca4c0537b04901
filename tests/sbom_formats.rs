//! Every SBOM format, rendered through the library API from the model of a real build, read by the
//! formats' own validators (cyclonedx-python-lib, spdx-tools, spdx3-validate) and by trivy; the same
//! bytes from two checkouts; OpenVEX documents checked as the OpenVEX JSON schema checks them.
//!
//! The model is rebuilt from what `cargo tiny build` left (the binary's audit data, `cargo metadata`,
//! Cargo.lock, and which packages the build's SBOM lists as compiled and host-only); rendered as
//! CycloneDX 1.5 without an image it must be the build's own `.cdx.json`, byte for byte, so the other
//! formats are rendered from exactly the build's model.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cargo_tiny::compile::compiled::{reconcile, Compiled};
use cargo_tiny::sbom::{self, cyclonedx, Format, ImageRef, Model, SbomInput};
use common::*;
use packageurl::PackageUrl;
use serde_json::Value;

/// What one `cargo tiny build` left.
struct Built {
    root: PathBuf,
    binary: PathBuf,
    /// The build's first SBOM (CycloneDX 1.6, the default).
    sbom: Vec<u8>,
    /// Every document the build wrote beside the tarball (`--sbom` names them all).
    docs: Vec<(Format, Vec<u8>)>,
    image: String,
    created: String,
}

/// What the build is asked to write: every file name a build can write beside a tarball.
const ALL_FILES: &str = "cyclonedx,spdx,spdx-3.0.1";

fn build(src: &Path, into: &Path, fix: bool, target_dir: &Path) -> Built {
    copy_tree(src, into);
    let manifest = into.join("Cargo.toml");
    if fix {
        let r = run(cargo_tiny()
            .args(["doctor", "--fix", "--manifest-path"])
            .arg(&manifest));
        assert!(r.code == 0 || r.code == 1, "doctor --fix: {}", r.stderr);
    }
    let r = run(cargo_tiny()
        .args(["build", "--message-format", "json", "--sbom", ALL_FILES])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--output")
        .arg(into.join("out/image.tar"))
        .env("SOURCE_DATE_EPOCH", "1700000000"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let messages: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let binary = messages.iter().find(|m| m["reason"] == "binary").unwrap();
    let image = messages.iter().find(|m| m["reason"] == "image").unwrap();
    Built {
        root: into.to_path_buf(),
        binary: PathBuf::from(binary["path"].as_str().unwrap()),
        sbom: std::fs::read(image["sbom_path"].as_str().unwrap()).unwrap(),
        docs: image["sboms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let format = Format::FILES
                    .into_iter()
                    .find(|f| f.to_string() == d["format"])
                    .unwrap();
                let bytes = std::fs::read(d["path"].as_str().unwrap()).unwrap();
                assert_eq!(d["digest"], cargo_tiny::image::sha256(&bytes));
                (format, bytes)
            })
            .collect(),
        image: image["image"].as_str().unwrap().to_string(),
        created: image["created"].as_str().unwrap().to_string(),
    }
}

/// The build's model, rebuilt through the library API.
fn model(b: &Built, image: Option<ImageRef>) -> Model {
    let metadata = cargo_metadata::MetadataCommand::new()
        .manifest_path(b.root.join("Cargo.toml"))
        .exec()
        .unwrap();
    let audit = auditable_info::audit_info_from_file(&b.binary, Default::default()).unwrap();
    // Which packages the build compiled, for the target or the host only: its SBOM says.
    let sbom: Value = serde_json::from_slice(&b.sbom).unwrap();
    let mut listed: BTreeMap<String, bool> = BTreeMap::new();
    // Every package has a purl (the image, the described element, and the binary have none).
    for c in sbom["components"].as_array().unwrap() {
        if let Some(purl) = c["purl"].as_str() {
            listed.insert(purl.into(), c["scope"] == "excluded");
        }
    }
    let root = &metadata.workspace_root;
    let mut compiled = Compiled::default();
    for p in &audit.packages {
        let m = metadata.packages.iter().find(|m| sbom::same_package(m, p));
        let purl = sbom::purl(p, m, root).unwrap();
        let (Some(host_only), Some(m)) = (listed.get(&purl), m) else {
            continue;
        };
        if *host_only {
            compiled.host.insert(m.id.clone());
        } else {
            compiled.target.insert(m.id.clone());
        }
    }
    let exact = reconcile(&audit, &metadata.packages, &compiled);
    let lockfile = std::fs::read_to_string(root.join("Cargo.lock")).ok();
    let digest = format!("sha256:{}", sha256_hex(&std::fs::read(&b.binary).unwrap()));
    let bin = b.binary.file_name().unwrap().to_str().unwrap();
    let input = SbomInput {
        audit: &exact.info,
        packages: &metadata.packages,
        root,
        lockfile: lockfile.as_deref(),
        bin,
        binary_digest: &digest,
        created: &b.created,
    };
    let m = Model::new(&input, image).unwrap();
    // Exact: the same model the build used, rendered the way the build renders each document.
    if m.image.is_some() {
        assert_eq!(b.docs.len(), 3);
        assert_eq!(b.docs[0].1, b.sbom);
        for (format, bytes) in &b.docs {
            assert!(
                sbom::render(&m, *format).unwrap().bytes == *bytes,
                "the rebuilt model renders the build's own {format}"
            );
        }
    }
    m
}

fn sha256_hex(bytes: &[u8]) -> String {
    cargo_tiny::image::sha256(bytes)
        .trim_start_matches("sha256:")
        .to_string()
}

fn image_ref(b: &Built) -> ImageRef {
    let (name, tag) = b.image.rsplit_once(':').unwrap();
    ImageRef {
        name: name.into(),
        tag: tag.into(),
    }
}

/// Each format's document, written as `image.<label>.json` under the fixture target dir's
/// `sbom-formats/<name>/` (kept after the run, to be read).
fn write_all(m: &Model, name: &str) -> Vec<(Format, PathBuf, Vec<u8>)> {
    let dir = fixture_target_dir().join("sbom-formats").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Format::ALL
        .iter()
        .map(|f| {
            let doc = sbom::render(m, *f).unwrap();
            let label = f.to_string().replace(' ', "-").to_lowercase();
            let path = dir.join(format!("image.{label}.json"));
            std::fs::write(&path, &doc.bytes).unwrap();
            (*f, path, doc.bytes)
        })
        .collect()
}

/// A purl as comparable parts (trivy re-encodes `:` in qualifier values).
type PurlKey = (
    String,
    Option<String>,
    String,
    Option<String>,
    BTreeMap<String, String>,
);

fn key(purl: &str) -> PurlKey {
    let p = PackageUrl::from_str(purl).unwrap_or_else(|e| panic!("{purl}: {e}"));
    (
        p.ty().to_string(),
        p.namespace().map(str::to_owned),
        p.name().to_string(),
        p.version().map(str::to_owned),
        p.qualifiers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn model_purls(m: &Model) -> BTreeSet<PurlKey> {
    m.packages.iter().map(|p| key(&p.purl)).collect()
}

/// The purls each document lists, read back by format, and the ones it marks host-only.
fn listed(format: Format, bytes: &[u8]) -> (BTreeSet<PurlKey>, BTreeSet<PurlKey>) {
    let v: Value = serde_json::from_slice(bytes).unwrap();
    let mut all = BTreeSet::new();
    let mut host = BTreeSet::new();
    match format {
        Format::CycloneDx(_) => {
            for c in v["components"].as_array().unwrap() {
                if let Some(p) = c["purl"].as_str() {
                    all.insert(key(p));
                    if c["scope"] == "excluded" {
                        host.insert(key(p));
                    }
                }
            }
        }
        Format::Spdx2 => {
            let mut purl_of = BTreeMap::new();
            for p in v["packages"].as_array().unwrap() {
                for r in p["externalRefs"].as_array().into_iter().flatten() {
                    let purl = r["referenceLocator"].as_str().unwrap();
                    purl_of.insert(p["SPDXID"].as_str().unwrap(), purl);
                    all.insert(key(purl));
                }
            }
            for r in v["relationships"].as_array().unwrap() {
                if r["relationshipType"] == "BUILD_DEPENDENCY_OF" {
                    host.insert(key(purl_of[r["spdxElementId"].as_str().unwrap()]));
                }
            }
        }
        Format::Spdx3 => {
            let mut purl_of = BTreeMap::new();
            let graph = v["@graph"].as_array().unwrap();
            for e in graph {
                if let Some(p) = e["software_packageUrl"].as_str() {
                    purl_of.insert(e["spdxId"].as_str().unwrap(), p);
                    all.insert(key(p));
                }
            }
            for e in graph {
                if e["type"] == "LifecycleScopedRelationship" && e["scope"] == "build" {
                    for to in e["to"].as_array().unwrap() {
                        host.insert(key(purl_of[to.as_str().unwrap()]));
                    }
                }
            }
        }
    }
    (all, host)
}

/// Runs each format's own validator on its document. spdx3-validate's SHACL check takes minutes on
/// a hundred packages (4m40s for http-service on a loaded 2-core machine): `spdx3` false leaves
/// SPDX 3 to the smaller documents.
fn validate(docs: &[(Format, PathBuf, Vec<u8>)], spdx3: bool) {
    for (format, path, _) in docs {
        if *format == Format::Spdx3 && !spdx3 {
            continue;
        }
        let (program, args): (&str, Vec<String>) = match format {
            Format::CycloneDx(v) => (
                "python3",
                vec![
                    repo().join("tests/validate_sbom.py").display().to_string(),
                    path.display().to_string(),
                    v.as_str().to_string(),
                ],
            ),
            Format::Spdx2 => ("pyspdxtools", vec!["-i".into(), path.display().to_string()]),
            Format::Spdx3 => (
                "python3",
                vec![
                    repo().join("tests/validate_spdx3.py").display().to_string(),
                    path.display().to_string(),
                ],
            ),
        };
        let v = run(std::process::Command::new(program).args(&args));
        assert_eq!(
            v.code,
            0,
            "{format} {}: {}{}",
            path.display(),
            v.stdout,
            v.stderr
        );
        // pyspdxtools exits 0 on some findings it only prints.
        assert!(
            !v.stdout.contains("invalid") && !v.stderr.contains("The document is invalid"),
            "{format}: {}{}",
            v.stdout,
            v.stderr
        );
    }
}

fn validators_present() -> bool {
    require_tool(
        "python3",
        &[
            "-c",
            "import cyclonedx.validation.json, spdx3_validate, rdflib, jsonschema",
        ],
    ) && require_tool("pyspdxtools", &["--help"])
}

/// trivy's reading of an SBOM file (`trivy sbom FILE`) or of an image tarball (`trivy image --input
/// FILE`): the purls of the packages it lists (its own CycloneDX output, offline: license scanning
/// needs no vulnerability database).
fn trivy_purls_of(command: &str, file: &Path, cache: &Path) -> BTreeSet<PurlKey> {
    let mut cmd = std::process::Command::new("trivy");
    cmd.arg(command)
        .args(["--quiet", "--offline-scan", "--scanners", "license"])
        .args(["--format", "cyclonedx", "--cache-dir"])
        .arg(cache);
    if command == "image" {
        cmd.arg("--input");
    }
    let r = run(cmd.arg(file));
    assert_eq!(
        r.code,
        0,
        "trivy {command} {}: {}",
        file.display(),
        r.stderr
    );
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    v["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .map(key)
        .collect()
}

fn trivy_purls(file: &Path, cache: &Path) -> BTreeSet<PurlKey> {
    trivy_purls_of("sbom", file, cache)
}

#[test]
fn http_service_in_every_format_valid_and_read_by_trivy() {
    every_format_valid_and_read_by_trivy(&repo().join("examples/http-service"), true, false);
}

/// Trying a real project by hand (not in CI): `SBOM_TRIAL=/path/to/checkout cargo test --test
/// sbom_formats -- --ignored real_project`; `SBOM_TRIAL_SPDX3=1` validates SPDX 3 too (slow).
#[test]
#[ignore]
fn real_project() {
    let src = PathBuf::from(std::env::var("SBOM_TRIAL").expect("SBOM_TRIAL=/path/to/checkout"));
    let spdx3 = std::env::var("SBOM_TRIAL_SPDX3").is_ok_and(|v| v == "1");
    every_format_valid_and_read_by_trivy(&src, false, spdx3);
}

/// Builds `src` (after `doctor --fix` when `fix`), renders every format from its model and checks
/// that each lists the same compiled packages and host-only marks, that the validators accept them
/// (SPDX 3 only when `spdx3`) and that trivy lists exactly those packages from each it reads, and
/// the runtime ones from the image tarball.
fn every_format_valid_and_read_by_trivy(src: &Path, fix: bool, spdx3: bool) {
    let name = src.file_name().unwrap().to_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let b = build(
        src,
        &dir.path().join(&name),
        fix,
        &fixture_target_dir().join(format!("{name}-formats")),
    );
    let m = model(&b, Some(image_ref(&b)));
    let docs = write_all(&m, &name);

    // Same content in each: every compiled package, the host-only ones marked.
    let want = model_purls(&m);
    let want_host: BTreeSet<PurlKey> = m
        .packages
        .iter()
        .filter(|p| p.host_only)
        .map(|p| key(&p.purl))
        .collect();
    assert!(!want_host.is_empty());
    for (format, _, bytes) in &docs {
        let (all, host) = listed(*format, bytes);
        assert_eq!(all, want, "{format}: packages");
        assert_eq!(host, want_host, "{format}: host-only packages");
    }

    if validators_present() {
        validate(&docs, spdx3);
    }

    // trivy reads CycloneDX 1.5, 1.6 and SPDX 2.3 (not 1.7: trivy #10185) and lists exactly the
    // compiled packages, the same set from each.
    if require_tool("trivy", &["--version"]) {
        let cache = dir.path().join("trivy-cache");
        for (format, path, _) in &docs {
            if matches!(format, Format::CycloneDx(v) if *v == cyclonedx::Version::V1_7)
                || *format == Format::Spdx3
            {
                continue;
            }
            assert_eq!(trivy_purls(path, &cache), want, "trivy over {format}");
        }
        // And from the image itself: trivy reads the binary's embedded audit data. It lists every
        // runtime package of the SBOM (the compiled ones that are not host-only), and more: the
        // audit data comes from cargo's resolve, so it also names proc macros and packages the
        // resolve enables but the build never compiled (on http-service: the quinn family and
        // rand) — the SBOM is the exact list, the audit data a superset.
        let runtime: BTreeSet<(String, Option<String>)> = want
            .iter()
            .filter(|k| !want_host.contains(*k))
            .map(|k| (k.2.clone(), k.3.clone()))
            .collect();
        let from_image: BTreeSet<(String, Option<String>)> =
            trivy_purls_of("image", &b.root.join("out/image.tar"), &cache)
                .into_iter()
                .map(|k| (k.2, k.3))
                .collect();
        let missing: Vec<_> = runtime.difference(&from_image).collect();
        assert!(
            missing.is_empty(),
            "trivy over the image tarball misses {missing:?}"
        );
        let extra: Vec<_> = from_image.difference(&runtime).collect();
        eprintln!(
            "trivy over the image tarball: the {} runtime packages of the SBOM, and {} more from \
             the audit data (host-only or never compiled): {extra:?}",
            runtime.len(),
            extra.len()
        );
    }
}

#[test]
fn two_checkouts_give_the_same_bytes_for_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let src = repo().join("tests/fixtures/phantom");
    let a = build(
        &src,
        &dir.path().join("a"),
        false,
        &fixture_target_dir().join("phantom-formats-a"),
    );
    let b = build(
        &src,
        &dir.path().join("a-second-checkout/deeper/phantom"),
        false,
        &fixture_target_dir().join("phantom-formats-b"),
    );
    assert_eq!(a.sbom, b.sbom, "the build's own SBOM");
    for ((f, x), (_, y)) in a.docs.iter().zip(&b.docs) {
        assert!(x == y, "the build's own {f}: the two checkouts differ");
    }
    let ma = model(&a, Some(image_ref(&a)));
    let mb = model(&b, Some(image_ref(&b)));
    let da = write_all(&ma, "phantom-a");
    let db = write_all(&mb, "phantom-b");
    for ((f, _, x), (_, _, y)) in da.iter().zip(&db) {
        assert!(x == y, "{f}: the two checkouts differ");
        let text = String::from_utf8_lossy(x);
        assert!(
            !text.contains(dir.path().to_str().unwrap()),
            "{f}: a path of this machine"
        );
        // The phantom `opt` is not in it; `gen` (app's build script's dependency) is host-only.
        let (all, host) = listed(*f, x);
        assert!(!all.iter().any(|k| k.2 == "opt"), "{f}");
        let host: Vec<&str> = host.iter().map(|k| k.2.as_str()).collect();
        assert_eq!(host, ["gen"], "{f}");
    }
    if validators_present() {
        validate(&da, true);
        // Licences that are no SPDX expression, and one with an exception, in every format.
        let mut odd = ma.clone();
        odd.packages[0].license = Some(sbom::model::License::new("MIT/Apache-2.0"));
        odd.packages[1].license = Some(sbom::model::License::new("Free for non-commercial use"));
        odd.packages[2].license = Some(sbom::model::License::new("Apache-2.0 WITH LLVM-exception"));
        assert!(!odd.packages[1].license.as_ref().unwrap().is_expression);
        validate(&write_all(&odd, "phantom-odd-licences"), true);
    }
}

/// OpenVEX documents: what `sbom::vex::parse` accepts, the OpenVEX JSON schema accepts, and what the
/// schema refuses, `parse` refuses too.
#[test]
fn openvex_check_agrees_with_the_json_schema() {
    let good = r#"{
      "@context": "https://openvex.dev/ns/v0.2.0",
      "@id": "https://example.com/vex/1",
      "author": "Example Security",
      "timestamp": "2024-05-01T12:00:00+02:00",
      "version": 2,
      "statements": [
        {"vulnerability": {"name": "RUSTSEC-2024-0001", "aliases": ["CVE-2024-1"]},
         "products": [{"@id": "pkg:oci/app", "subcomponents": [{"identifiers": {"purl": "pkg:cargo/mid@0.1.0"}}]}],
         "status": "not_affected", "justification": "vulnerable_code_not_present"},
        {"vulnerability": {"name": "CVE-2024-2"}, "products": [{"@id": "pkg:cargo/gen@0.1.0", "hashes": {"sha-256": "ab"}}],
         "status": "affected", "action_statement": "update gen"},
        {"vulnerability": {"name": "CVE-2024-3"}, "products": [{"@id": "pkg:cargo/mid@0.1.0"}], "status": "under_investigation"}
      ]
    }"#;
    let base: Value = serde_json::from_str(good).unwrap();
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v = base.clone();
        f(&mut v);
        v
    };
    let refused = [
        edit(&|v| {
            v.as_object_mut().unwrap().remove("@id");
        }),
        edit(&|v| v["version"] = "2".into()),
        edit(&|v| v["version"] = 0.into()),
        edit(&|v| v["extra"] = true.into()),
        edit(&|v| v["statements"] = serde_json::json!([])),
        edit(&|v| v["statements"][0]["status"] = "safe".into()),
        edit(&|v| v["statements"][0]["justification"] = "because".into()),
        edit(&|v| {
            v["statements"][0]
                .as_object_mut()
                .unwrap()
                .remove("justification");
        }),
        edit(&|v| {
            v["statements"][1]
                .as_object_mut()
                .unwrap()
                .remove("action_statement");
        }),
        edit(&|v| v["statements"][2]["products"][0] = serde_json::json!({"hashes": {}})),
        edit(&|v| v["statements"][2]["products"][0] = serde_json::json!({"identifiers": {}})),
        edit(&|v| v["statements"][2]["vulnerability"] = serde_json::json!({"@id": "x"})),
        edit(&|v| {
            v["statements"][2]["products"][0]["hashes"] = serde_json::json!({"sha256": "ab"})
        }),
        edit(&|v| {
            let s = v["statements"][2].clone();
            v["statements"].as_array_mut().unwrap().push(s);
        }),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut files = vec![(dir.path().join("good.json"), base.clone(), true)];
    for (i, doc) in refused.iter().enumerate() {
        files.push((dir.path().join(format!("bad-{i}.json")), doc.clone(), false));
    }
    let purls = vec![
        "pkg:cargo/app@0.1.0?download_url=file:app".to_string(),
        "pkg:cargo/mid@0.1.0?download_url=file:mid".to_string(),
        "pkg:cargo/gen@0.1.0?download_url=file:gen".to_string(),
    ];
    for (path, doc, ok) in &files {
        let bytes = serde_json::to_vec_pretty(doc).unwrap();
        std::fs::write(path, &bytes).unwrap();
        let ours = sbom::vex::parse(&bytes);
        assert_eq!(ours.is_ok(), *ok, "{}: {ours:?}", path.display());
        if let Ok(vex) = ours {
            vex.check_products(&purls, "app").unwrap();
        }
    }
    if require_tool("python3", &["-c", "import jsonschema"]) {
        for (path, _, ok) in &files {
            let v = run(std::process::Command::new("python3")
                .arg(repo().join("tests/validate_openvex.py"))
                .arg(path));
            assert_eq!(
                v.code == 0,
                *ok,
                "the schema on {}: {}",
                path.display(),
                v.stdout
            );
        }
    }
}
