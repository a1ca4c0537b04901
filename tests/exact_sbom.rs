//! The SBOM lists only what cargo compiled: a package that cargo-auditable's audit data lists but the
//! build never compiled (reached only through a weak feature of an off optional dependency) is left
//! out of the SBOM and named on stderr and in the JSON message.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn phantom_of_the_audit_data_is_named_and_left_out_of_the_sbom() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("phantom");
    copy_tree(&repo().join("tests/fixtures/phantom"), &root);
    let tarball = dir.path().join("out/phantom.tar");
    let r = run(cargo_tiny()
        .args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir().join("phantom"))
        .arg("--output")
        .arg(&tarball));
    assert_eq!(r.code, 0, "{}", r.stderr);

    // The audit data embedded in the binary lists the phantom `opt`…
    let messages: Vec<Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let binary = messages.iter().find(|m| m["reason"] == "binary").unwrap();
    let image = messages.iter().find(|m| m["reason"] == "image").unwrap();
    let exe = binary["path"].as_str().unwrap();
    let audit = auditable_info::audit_info_from_file(exe.as_ref(), Default::default()).unwrap();
    let audited: Vec<&str> = audit.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(audited.contains(&"opt"), "audit data: {audited:?}");
    assert!(!audited.contains(&"winonly"), "audit data: {audited:?}");

    // …the output names it…
    assert_eq!(
        binary["uncompiled_packages"],
        serde_json::json!([{"name": "opt", "version": "0.1.0", "source": "local"}])
    );
    assert!(
        r.stderr.contains(
            "1 package in the binary's audit data was never compiled: opt 0.1.0 (left out of the SBOM)"
        ),
        "{}",
        r.stderr
    );

    // …and the SBOM lists only what was compiled, the build script's dependency as `excluded`.
    let sbom_path = image["sbom_path"].as_str().unwrap();
    let sbom: Value = serde_json::from_slice(&std::fs::read(sbom_path).unwrap()).unwrap();
    // The image is the described element; the binary and the root package come first.
    let components = sbom["components"].as_array().unwrap();
    let app: Vec<(&str, Option<&str>)> = components[..2]
        .iter()
        .map(|c| (c["name"].as_str().unwrap(), c["purl"].as_str()))
        .collect();
    assert_eq!(
        app,
        [
            ("phantom-app", None),
            (
                "phantom-app",
                Some("pkg:cargo/phantom-app@0.1.0?download_url=file:app")
            )
        ],
        "the binary (no purl), then the root package"
    );
    let scopes: Vec<(String, String)> = components[2..]
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["scope"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        scopes,
        [
            ("gen".to_string(), "excluded".to_string()),
            ("mid".to_string(), "required".to_string())
        ]
    );
    assert_eq!(image["sbom_components"], 3, "app, gen, mid");
    let refs = sbom.to_string();
    assert!(!refs.contains("pkg:cargo/opt@"), "{refs}");

    // The independent validator accepts it.
    if require_tool("python3", &["-c", "import cyclonedx.validation.json"]) {
        let v = run(std::process::Command::new("python3")
            .arg(repo().join("tests/validate_sbom.py"))
            .arg(sbom_path));
        assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    }
}

/// On a nightly toolchain cargo writes SBOM precursor files (`-Zsbom`), which cargo-auditable reads
/// instead of `cargo metadata`: the embedded audit data is exact too, and there is nothing to report.
#[test]
fn on_nightly_the_audit_data_itself_is_exact() {
    let musl_std = std::process::Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "target-libdir"])
        .args(["--target", "x86_64-unknown-linux-musl"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !musl_std {
        // Not an engine: CI runs stable only. Say so rather than pass silently.
        eprintln!("SKIPPED: no nightly toolchain with the x86_64-unknown-linux-musl target");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("phantom");
    copy_tree(&repo().join("tests/fixtures/phantom"), &root);
    let r = run(cargo_tiny()
        .args(["build", "--no-image", "-v", "--message-format", "json"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir().join("phantom-nightly"))
        // As `cargo +nightly tiny build` runs us: rustup's toolchain, cargo's own path.
        .env("RUSTUP_TOOLCHAIN", "nightly")
        .env("CARGO", nightly_cargo()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("-Zsbom --config build.sbom=true"),
        "{}",
        r.stderr
    );
    let binary: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(binary["uncompiled_packages"], serde_json::json!([]));
    let exe = binary["path"].as_str().unwrap();
    let audit = auditable_info::audit_info_from_file(exe.as_ref(), Default::default()).unwrap();
    let audited: Vec<&str> = audit.packages.iter().map(|p| p.name.as_str()).collect();
    assert!(!audited.contains(&"opt"), "audit data: {audited:?}");
    assert!(audited.contains(&"mid"), "audit data: {audited:?}");
}

fn nightly_cargo() -> String {
    let o = std::process::Command::new("rustup")
        .args(["which", "cargo", "--toolchain", "nightly"])
        .output()
        .unwrap();
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}
