//! `cargo tiny doctor` on fixture workspaces (cargo metadata / cargo tree only, nothing is compiled).

mod common;

use std::path::{Path, PathBuf};

use common::{cargo_tiny, copy_tree, run};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/doctor").join(name)
}

fn doctor(name: &str, extra: &[&str]) -> common::Run {
    let manifest = fixture(name).join("Cargo.toml");
    // The workspace copy goes to the shared fixture target dir, not into the repository's fixture.
    run(cargo_tiny()
        .args(["doctor", "--color", "never", "--locked", "--manifest-path"])
        .arg(&manifest)
        .args(extra)
        .env("CARGO_TARGET_DIR", common::fixture_target_dir()))
}

/// `cargo tree -i openssl-sys -e features,no-dev --target musl`: the crates on the paths.
fn cargo_tree_crates(name: &str) -> Vec<String> {
    let out = common::openssl_sys_tree(
        &fixture(name),
        TARGET,
        &[
            "-e",
            "features,no-dev",
            "--locked",
            "--prefix",
            "none",
            "-f",
            "{p}",
        ],
    );
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| !l.contains(" feature \""))
        .filter_map(|l| l.split(' ').next().map(str::to_string))
        .collect();
    v.sort();
    v.dedup();
    v
}

/// Every crate doctor names on a path is one `cargo tree -i openssl-sys` shows, and both are empty together.
fn assert_agrees(name: &str) -> serde_json::Value {
    let r = doctor(name, &["--format", "json"]);
    let findings: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let tree = cargo_tree_crates(name);
    let tls: Vec<&serde_json::Value> = findings
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("tls-"))
        .collect();
    assert_eq!(
        tls.is_empty(),
        tree.is_empty(),
        "{name}: doctor {tls:?} vs cargo tree {tree:?}"
    );
    for f in &findings {
        assert_eq!(f["version"], 1);
    }
    for f in &tls {
        for hop in f["path"].as_array().unwrap() {
            let krate = hop.as_str().unwrap().split(' ').next().unwrap();
            assert!(
                tree.iter().any(|t| t == krate),
                "{name}: {krate} not in cargo tree {tree:?}"
            );
        }
    }
    let errors = findings.iter().any(|f| f["severity"] == "error");
    assert_eq!(r.code, i32::from(errors), "{name}: {}", r.stderr);
    serde_json::Value::Array(findings)
}

fn snapshots(name: &str) {
    let json = assert_agrees(name);
    insta::assert_snapshot!(format!("{name}-human"), doctor(name, &[]).stderr);
    insta::assert_snapshot!(
        format!("{name}-json"),
        serde_json::to_string_pretty(&json).unwrap()
    );
}

#[test]
fn reqwest_default_features() {
    snapshots("reqwest-default");
}

#[test]
fn native_tls_through_a_lib_member_feature() {
    snapshots("lib-feature");
}

#[test]
fn sqlx_native_tls_runtime() {
    snapshots("sqlx-native");
}

#[test]
fn unknown_crate_depending_on_openssl() {
    snapshots("unknown-openssl");
}

#[test]
fn dev_dependency_alone_is_no_error() {
    snapshots("devdep-native");
}

#[test]
fn clean_rustls_project() {
    snapshots("clean-rustls");
}

#[test]
fn github_lines_name_the_dependency_line() {
    // Files are named relative to GITHUB_WORKSPACE (the checkout), else to the current directory.
    let github = |name: &str, workspace: Option<&Path>| {
        let mut cmd = cargo_tiny();
        cmd.args([
            "doctor",
            "--locked",
            "--format",
            "github",
            "--manifest-path",
        ])
        .arg(fixture(name).join("Cargo.toml"))
        .current_dir(common::repo())
        .env("CARGO_TARGET_DIR", common::fixture_target_dir())
        .env_remove("GITHUB_WORKSPACE");
        if let Some(w) = workspace {
            cmd.env("GITHUB_WORKSPACE", w);
        }
        run(&mut cmd)
    };
    let r = github("reqwest-default", None);
    assert_eq!(r.code, 1);
    assert!(
        r.stdout
            .starts_with("::error file=tests/fixtures/doctor/reqwest-default/Cargo.toml,line=7::"),
        "{}",
        r.stdout
    );
    let text = std::fs::read_to_string(fixture("reqwest-default/Cargo.toml")).unwrap();
    assert!(text.lines().nth(6).unwrap().starts_with("reqwest ="));
    let r = github("lib-feature", Some(&fixture("lib-feature")));
    assert!(
        r.stdout.starts_with("::error file=net/Cargo.toml,line=7::"),
        "{}",
        r.stdout
    );
    let text = std::fs::read_to_string(fixture("lib-feature/net/Cargo.toml")).unwrap();
    assert!(text.lines().nth(6).unwrap().starts_with("native ="));
}

/// `--fix --dry-run` prints the minimal diff (pinned); `--fix` writes it and `cargo tree -i openssl-sys` is then empty.
fn fix_removes_openssl(name: &str) {
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
    assert!(!r.stderr.contains("error["), "{}", r.stderr);
    let left = common::openssl_sys_tree(dir.path(), TARGET, &["-e", "no-dev"]);
    assert!(left.is_empty(), "{left}");
}

#[test]
fn fix_reqwest_default() {
    fix_removes_openssl("reqwest-default");
}

#[test]
fn fix_lib_feature() {
    fix_removes_openssl("lib-feature");
}

#[test]
fn fix_sqlx_native() {
    fix_removes_openssl("sqlx-native");
}

#[test]
fn malformed_manifest_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("Cargo.toml"), "[package\nname = ").unwrap();
    let r = run(cargo_tiny()
        .args(["doctor", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml")));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("error"), "{}", r.stderr);
}

#[test]
fn offline_without_lockfile_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("reqwest-default"), dir.path());
    std::fs::remove_file(dir.path().join("Cargo.lock")).unwrap();
    let r = run(cargo_tiny()
        .args(["doctor", "--locked", "--offline", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml")));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn unresolvable_workspace_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/main.rs"), "fn main() {}").unwrap();
    std::fs::write(
        dir.path().join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \"0.1.0\"\nedition = \"2021\"\n[dependencies]\nmissing = { path = \"../nope\" }\n",
    )
    .unwrap();
    let r = run(cargo_tiny()
        .args(["doctor", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml")));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn deny_warnings_fails_on_warnings() {
    // A member manifest with a [profile] section cargo ignores: a warning, exit 0, or 1 with --deny warnings.
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("lib-feature"), dir.path());
    let net = dir.path().join("net/Cargo.toml");
    let text = std::fs::read_to_string(&net)
        .unwrap()
        .replace("native = [\"reqwest/native-tls\"]", "native = []");
    std::fs::write(&net, text + "\n[profile.release]\nopt-level = 3\n").unwrap();
    let manifest = dir.path().join("Cargo.toml");
    let r = run(cargo_tiny()
        .args(["doctor", "--manifest-path"])
        .arg(&manifest));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("profile-ignored"), "{}", r.stderr);
    let r = run(cargo_tiny()
        .args(["doctor", "--deny", "warnings", "--manifest-path"])
        .arg(&manifest));
    assert_eq!(r.code, 1, "{}", r.stderr);
}

/// After `--fix`, the reqwest fixture builds with `cargo tiny build`: ~100 crates (ring included) for
/// musl, about 40 s on two cores, in the shared fixture target dir.
#[test]
fn fixed_reqwest_fixture_builds() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture("reqwest-default"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let r = run(cargo_tiny()
        .args(["doctor", "--fix", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", common::fixture_target_dir()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Verified"), "{}", r.stderr);
    let r = run(cargo_tiny()
        .args(["build", "--no-image", "--manifest-path"])
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", common::fixture_target_dir()));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// What `cargo tiny build` needs on the machine is a finding too: no cargo-auditable, no musl C
/// compiler while the graph compiles C — errors with the command that fixes them.
#[test]
fn missing_tools_are_error_findings() {
    let tmp = tempfile::tempdir().unwrap();
    // Nothing installed through cargo (`$CARGO_HOME/bin`, the zig venv), no `[env]` C compiler.
    let home = common::fresh_cargo_home(tmp.path());
    let r = run(cargo_tiny()
        .env(
            "PATH",
            common::limited_path(&tmp.path().join("a"), &["cargo-auditable"]),
        )
        .env("CARGO_HOME", &home)
        .args(["doctor", "--offline", "--format", "json", "--manifest-path"])
        .arg(common::repo().join("examples/hello/Cargo.toml")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let findings: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let f = findings
        .iter()
        .find(|f| f["code"] == "toolchain-auditable")
        .unwrap_or_else(|| panic!("{}", r.stdout));
    assert_eq!(f["severity"], "error");
    assert!(
        f["fix"]
            .as_str()
            .unwrap()
            .contains("cargo install cargo-auditable --locked"),
        "{f}"
    );
    assert!(!findings.iter().any(|f| f["code"] == "toolchain-target"));

    // tests/fixtures/cc compiles C through the cc crate; no musl-gcc on PATH.
    let r = run(cargo_tiny()
        .env(
            "PATH",
            common::limited_path(&tmp.path().join("b"), &["musl-gcc"]),
        )
        .env("CARGO_HOME", &home)
        .args(["doctor", "--format", "github", "--manifest-path"])
        .arg(common::repo().join("tests/fixtures/cc/Cargo.toml")));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("::error::")
            && l.contains(
                "no C compiler for x86_64-unknown-linux-musl, and tiny-cc compile C code"
            )
            && l.contains("musl-tools")),
        "{}",
        r.stdout
    );
}

/// Features a member turns on through its own `[features]` (`default = ["tls"]`, `tls =
/// ["net/tls"]`) are edges a forward `cargo tree` does not print: doctor must still see them — the
/// path names the feature that really enables openssl-sys.
#[test]
fn features_enabled_by_a_members_own_features_count() {
    let findings = assert_agrees("own-features");
    let findings = findings.as_array().unwrap();
    let tls = findings
        .iter()
        .find(|f| f["code"].as_str().unwrap().starts_with("tls-"))
        .expect("openssl-sys through net/tls");
    assert_eq!(
        tls["path"],
        serde_json::json!(["own-features", "net [tls]", "openssl-sys"])
    );
}

/// An inherited dependency (`reqwest = { workspace = true, … }`) is fixed in the root's
/// `[workspace.dependencies]`, and the member line stays as it is.
#[test]
fn fix_workspace_dependency() {
    let r = doctor("workspace-deps", &["--format", "json"]);
    let f: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(f["code"], "tls-native");
    assert_eq!(f["file"], "Cargo.toml", "the root manifest");
    assert_eq!(f["line"], 10);
    assert_agrees("workspace-deps");
    fix_removes_openssl("workspace-deps");
}

/// A dependency in `[target.'cfg(…)'.dependencies]` is found, located and fixed in that table.
#[test]
fn fix_target_specific_dependency() {
    let r = doctor("target-table", &["--format", "json"]);
    let f: serde_json::Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(f["code"], "tls-native");
    assert_eq!(f["line"], 10);
    assert_agrees("target-table");
    fix_removes_openssl("target-table");
}

/// `-p` narrows the graph: a member that does not reach OpenSSL is clean even though the lockfile
/// (and another member) has it, and the selected member that does is still reported.
#[test]
fn package_selection_narrows_the_graph() {
    let r = doctor("lib-feature", &["-p", "net", "--format", "json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("\"tls-"), "{}", r.stdout);
    let r = doctor("lib-feature", &["-p", "app", "--format", "json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\"tls-native\""), "{}", r.stdout);
}

/// Vendored OpenSSL (openssl-sys's `vendored` feature) links statically: nothing is reported about
/// it, not even a warning, so following the "vendor OpenSSL" advice (or `--fix` doing it) turns
/// doctor green.
#[test]
fn vendored_openssl_is_not_reported() {
    let r = doctor("openssl-vendored", &["--format", "json"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(!r.stdout.contains("\"tls-"), "{}", r.stdout);
    assert!(!r.stdout.contains("\"native-"), "{}", r.stdout);
}
