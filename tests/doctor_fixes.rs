//! The doctor's fix search, one fixture per kind of fix (issue 12): the finding names the kind and
//! why the earlier kinds did not apply, `--fix --dry-run` prints the minimal diff (pinned), and
//! after `--fix` cargo's re-resolved graph has no OpenSSL left, or only a vendored one.

mod common;

use std::path::PathBuf;

use common::{cargo_tiny, copy_tree, run};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/doctor").join(name)
}

/// The one error tls finding of a fixture, as JSON.
fn tls_finding(name: &str) -> serde_json::Value {
    let r = run(cargo_tiny()
        .args(["doctor", "--locked", "--format", "json", "--manifest-path"])
        .arg(fixture(name).join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", common::fixture_target_dir()));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let tls: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|f| f["code"].as_str().unwrap().starts_with("tls-"))
        .collect();
    assert_eq!(tls.len(), 1, "{tls:?}");
    tls[0].clone()
}

/// `cargo tree -e no-dev,features -i openssl-sys` in `dir`: what is left of OpenSSL.
fn openssl_left(dir: &std::path::Path) -> String {
    common::openssl_sys_tree(dir, TARGET, &["-e", "no-dev,features"])
}

/// `--fix --dry-run` (diff pinned), then `--fix`; returns the fixed copy's directory.
fn fix(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let dry = run(cargo_tiny()
        .args([
            "doctor",
            "--color",
            "never",
            "--fix",
            "--dry-run",
            "--no-check",
            "--manifest-path",
        ])
        .arg(&manifest));
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    insta::assert_snapshot!(format!("{name}-fix-diff"), dry.stdout);
    let before = std::fs::read_to_string(&manifest).unwrap();
    let r = run(cargo_tiny()
        .args([
            "doctor",
            "--color",
            "never",
            "--fix",
            "--no-check",
            "--manifest-path",
        ])
        .arg(&manifest));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(before, std::fs::read_to_string(&manifest).unwrap());
    dir
}

/// a: the knowledge base's entry — with the defaults of the locked version: reqwest 0.12.15 has no
/// `system-proxy` (0.12.16 added it), so the fix keeps `macos-system-configuration` instead.
#[test]
fn kind_a_keeps_the_locked_versions_defaults() {
    let f = tls_finding("reqwest-0-12-15");
    assert_eq!(f["code"], "tls-native");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("fix kind a (knowledge base)"), "{msg}");
    let fix_line = f["fix"].as_str().unwrap();
    assert!(
        fix_line.contains("\"macos-system-configuration\""),
        "{fix_line}"
    );
    assert!(!fix_line.contains("system-proxy"), "{fix_line}");
    let dir = fix("reqwest-0-12-15");
    assert_eq!(openssl_left(dir.path()), "");
    let lock = std::fs::read_to_string(dir.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"reqwest\"\nversion = \"0.12.15\""),
        "still locked at 0.12.15"
    );
}

/// b: a crate the knowledge base does not know (rusoto_sqs): the rustls feature comes from its
/// own feature table, paired with the native default.
#[test]
fn kind_b_derives_rustls_from_the_feature_table() {
    let f = tls_finding("derived-rusoto");
    assert_eq!(f["code"], "tls-native");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("fix kind b"), "{msg}");
    assert!(
        msg.contains("a: no knowledge-base entry for rusoto_sqs 0.48"),
        "{msg}"
    );
    assert_eq!(
        f["fix"],
        "rusoto_sqs = { version = \"0.48\", default-features = false, features = [\"rustls\"] }"
    );
    let dir = fix("derived-rusoto");
    assert_eq!(openssl_left(dir.path()), "");
}

/// c: native-tls has no rustls option, the package has its own switch: `default` is pointed at it.
#[test]
fn kind_c_uses_the_packages_own_switch() {
    let f = tls_finding("own-switch");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("fix kind c"), "{msg}");
    assert!(
        msg.contains("knows no rustls option of native-tls 0.2"),
        "{msg}"
    );
    assert!(msg.contains("b: no rustls feature of native-tls"), "{msg}");
    assert_eq!(f["line"], 13, "the `default` line");
    let dir = fix("own-switch");
    assert_eq!(openssl_left(dir.path()), "");
}

/// d: no rustls anywhere — the crate's own `vendored` feature (hyper-tls), else a direct
/// `openssl-sys` with `vendored` (postgres-openssl): OpenSSL is built and linked statically.
#[test]
fn kind_d_vendors_openssl() {
    let f = tls_finding("vendored-feature");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("fix kind d (the crate's vendored OpenSSL feature)"),
        "{msg}"
    );
    assert_eq!(
        f["fix"],
        "hyper-tls = { version = \"0.6\", features = [\"vendored\"] }"
    );
    let dir = fix("vendored-feature");
    assert!(openssl_left(dir.path()).contains("openssl-sys feature \"vendored\""));

    let f = tls_finding("unknown-openssl");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("fix kind d (direct openssl-sys with `vendored`)"),
        "{msg}"
    );
    assert!(
        msg.contains("d: postgres-openssl has no vendored OpenSSL feature"),
        "{msg}"
    );
    let fix_line = f["fix"].as_str().unwrap();
    assert!(
        fix_line.ends_with("openssl-sys = { version = \"0.9\", features = [\"vendored\"] }"),
        "{fix_line}"
    );
    let dir = fix("unknown-openssl");
    assert!(openssl_left(dir.path()).contains("openssl-sys feature \"vendored\""));
    // A second run reports nothing of what --fix added: no finding about the vendored OpenSSL, nor
    // about the `openssl-sys` line it wrote.
    let r = run(cargo_tiny()
        .args(["doctor", "--format", "json", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml")));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("\"tls-"), "{}", r.stdout);
    assert!(!r.stdout.contains("\"native-"), "{}", r.stdout);
}

/// A rustls switch for a crate whose OpenSSL / native-tls API the code calls (reqwest's
/// `use_native_tls`) needs code changes: a candidate that needs none (vendoring) is preferred, and
/// the finding says why the rustls switch was passed over, with the place; plain code gets the
/// rustls switch.
#[test]
fn rustls_switch_flags_code_calling_the_native_api() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("reqwest-0-12-15"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let doctor = || {
        let r = run(cargo_tiny()
            .args(["doctor", "--locked", "--format", "json", "--manifest-path"])
            .arg(&manifest));
        let line = r.stdout.lines().find(|l| l.contains("\"tls-")).unwrap();
        serde_json::from_str::<serde_json::Value>(line).unwrap()
    };
    let f = doctor();
    assert!(f["fix"].as_str().unwrap().contains("rustls-tls"), "{f}");
    assert!(!f.to_string().contains("code changes needed"), "{f}");
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() {\n    let _c = reqwest::Client::builder().use_native_tls().build();\n}\n",
    )
    .unwrap();
    let f = doctor();
    assert!(
        f["fix"].as_str().unwrap().contains("native-tls-vendored"),
        "{f}"
    );
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("fix kind d"), "{msg}");
    assert!(
        msg.contains("passed over, code changes needed: src/main.rs:2 calls `use_native_tls`"),
        "{msg}"
    );
}

/// Two routes with one root cause (vendoring OpenSSL for hyper-tls vendors it for native-tls as
/// well): one finding, which says so, and one edit.
#[test]
fn one_finding_per_root_cause() {
    let f = tls_finding("shared-cause");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("the same fix also clears the paths through `native-tls`"),
        "{msg}"
    );
    let dir = fix("shared-cause");
    assert!(openssl_left(dir.path()).contains("openssl-sys feature \"vendored\""));
}

/// One small fixture per cause met in the corpus of real projects (tests/data/doctor-corpus.md):
/// the finding's kind of fix, and after `--fix` no non-vendored OpenSSL in the re-resolved graph.
#[test]
fn corpus_causes() {
    // (fixture, kind of fix, what is left of OpenSSL after --fix: "" or a vendored one)
    let cases = [
        (
            "corpus-git2-https",
            "fix kind d (the crate's vendored OpenSSL feature)",
            true,
        ),
        ("corpus-sqlx-0-5", "fix kind a (knowledge base)", false),
        ("corpus-rspotify-0-10", "fix kind b", false),
        ("corpus-own-vendored", "fix kind c", true),
        ("corpus-curl-ssl", "fix kind a (knowledge base)", false),
    ];
    for (name, kind, vendored) in cases {
        let f = tls_finding(name);
        assert_eq!(f["code"], "tls-native", "{name}");
        let msg = f["message"].as_str().unwrap();
        assert!(msg.contains(kind), "{name}: {msg}");
        assert!(!f["fix"].as_str().unwrap().contains("\"*\""), "{name}: {f}");
        let dir = fix(name);
        let left = openssl_left(dir.path());
        if vendored {
            assert!(
                left.contains("openssl-sys feature \"vendored\""),
                "{name}: {left}"
            );
        } else {
            assert_eq!(left, "", "{name}");
        }
    }
}

/// A path dependency outside the workspace root is the user's own package: the fix lands in its
/// manifest, the printed line has the locked major.minor for the user's `*`, and `--fix` clears it.
/// A path dependency outside the workspace root, which itself reaches the directory around the
/// workspace with `path = "../"` (sea-orm-cli's layout): copied and fixed like any other.
#[test]
fn path_dependency_outside_the_workspace() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("outside-path"), dir.path());
    let manifest = dir.path().join("ws/Cargo.toml");
    let r = run(cargo_tiny()
        .args(["doctor", "--locked", "--format", "json", "--manifest-path"])
        .arg(&manifest));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let f: serde_json::Value =
        serde_json::from_str(r.stdout.lines().find(|l| l.contains("\"tls-")).unwrap()).unwrap();
    assert_eq!(f["code"], "tls-native");
    assert!(
        f["file"].as_str().unwrap().ends_with("shared/Cargo.toml"),
        "{f}"
    );
    assert_eq!(
        f["fix"],
        "reqwest = { version = \"0.11\", default-features = false, features = [\"rustls-tls\"] }"
    );
    let r = run(cargo_tiny()
        .args(["doctor", "--fix", "--no-check", "--manifest-path"])
        .arg(&manifest));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("shared/Cargo.toml")).unwrap(),
        "[package]\nname = \"shared\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nreqwest = { version = \"*\", default-features = false, features = [\"rustls-tls\"] }\nouter = { path = \"../\" }\n"
    );
    assert_eq!(openssl_left(&dir.path().join("ws")), "");
}
