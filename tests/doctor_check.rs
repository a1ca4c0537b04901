//! `doctor --fix` verified by building (issue 24): one fixture per cause, each asserting the
//! finding, the `--fix` diff (pinned), that `cargo check --target x86_64-unknown-linux-musl`
//! passes on the fixed project, and that the next `doctor` run reports nothing `--fix` added.
//!
//! These compile real crates for musl (check mode, build scripts run: libpq, libgit2, libcurl and
//! OpenSSL from source), half an hour on two busy cores when cold: the ones that build much are
//! `#[ignore]`d, and CI runs them (`cargo test --test doctor_check -- --ignored`, in .ci/run's slow
//! stage). Every check shares one target directory (the fixture target dir's
//! `tiny/doctor/target`), so each crate is built once per run.

mod common;

use std::path::{Path, PathBuf};

use common::{cargo_tiny, copy_tree, run, Run};

const TARGET: &str = "x86_64-unknown-linux-musl";

fn fixture(name: &str) -> PathBuf {
    common::repo().join("tests/fixtures/doctor").join(name)
}

/// A copy of a fixture to fix.
fn copy(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&fixture(name), dir.path());
    dir
}

/// `cargo tiny doctor ARGS` on the copy, its workspace copy and checks in the shared target dir.
fn doctor(dir: &Path, args: &[&str]) -> Run {
    run(cargo_tiny()
        .args(["doctor", "--color", "never", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .args(args)
        .env("CARGO_TARGET_DIR", common::fixture_target_dir()))
}

/// The findings of a `--format json` run.
fn findings(r: &Run) -> Vec<serde_json::Value> {
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The one finding with `code`.
fn finding(r: &Run, code: &str) -> serde_json::Value {
    let all = findings(r);
    let f: Vec<&serde_json::Value> = all.iter().filter(|f| f["code"] == code).collect();
    assert_eq!(f.len(), 1, "{code}: {}{}", r.stdout, r.stderr);
    f[0].clone()
}

/// `cargo check --target musl` of the (fixed) project, as a user runs it after `--fix`, with the
/// C compiler `cargo tiny build` uses (the first of `x86_64-linux-musl-gcc`, `musl-gcc` on PATH: a
/// different one would make every build script that compiles C run again) and the shared target
/// dir doctor's checks filled.
fn cargo_check(dir: &Path) -> Run {
    let cc = ["x86_64-linux-musl-gcc", "musl-gcc"]
        .into_iter()
        .find(|c| which::which(c).is_ok())
        .unwrap_or("musl-gcc");
    let mut cmd = std::process::Command::new(env!("CARGO"));
    common::isolate(&mut cmd);
    cmd.args(["check", "--target", TARGET, "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .env(
            "CARGO_TARGET_DIR",
            common::fixture_target_dir().join("tiny/doctor/target"),
        )
        .env("CC_x86_64_unknown_linux_musl", cc);
    run(&mut cmd)
}

/// `--fix --dry-run` (the diff pinned, verified by `cargo check`), then `--fix`; the fixed project
/// passes `cargo check` and a second doctor run has no error. Returns `--fix`'s run.
fn fix_and_check(name: &str, dir: &Path) -> Run {
    let before = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    let dry = doctor(dir, &["--fix", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert!(
        dry.stderr
            .contains("Verified `cargo check --target x86_64-unknown-linux-musl` passes"),
        "{}",
        dry.stderr
    );
    insta::assert_snapshot!(format!("{name}-check-fix-diff"), dry.stdout);
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.toml")).unwrap(),
        before,
        "--dry-run writes nothing"
    );
    let r = doctor(dir, &["--fix"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let check = cargo_check(dir);
    assert_eq!(check.code, 0, "cargo check after --fix: {}", check.stderr);
    let again = doctor(dir, &["--format", "json"]);
    assert!(
        !findings(&again).iter().any(|f| f["severity"] == "error"),
        "{}",
        again.stdout
    );
    r
}

/// pq-sys/mysqlclient-sys-style: the system's libpq, and the locked pq-sys 0.4 has no `bundled`
/// feature. The fix declares pq-sys at a version that has one (narrowed to the version cargo
/// resolved); `bundled` itself would open a path to OpenSSL, `bundled_without_openssl` does not.
#[test]
#[ignore = "slow: builds libpq from source for musl (diesel, pq-src); CI runs it (.ci/run)"]
fn a_system_library_built_from_source_at_a_version_that_can() {
    let dir = copy("native-pq-upgrade");
    let f = finding(
        &doctor(dir.path(), &["--locked", "--format", "json"]),
        "native-static",
    );
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("pq-sys v0.4.8 links libpq"), "{msg}");
    assert!(msg.contains("opens a new path"), "{msg}");
    assert_eq!(
        f["fix"],
        "in [dependencies] of app: pq-sys = { version = \"0.7\", features = [\"bundled_without_openssl\"] } (upgrades pq-sys 0.4.8)"
    );
    fix_and_check("native-pq-upgrade", dir.path());
    let lock = std::fs::read_to_string(dir.path().join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"pq-sys\"\nversion = \"0.7."),
        "Cargo.lock follows the fixed manifest"
    );
}

/// A `-sys` crate that compiles C++ through CMake and declares no `links`: doctor names the tools
/// this machine lacks (a musl C++ compiler; CMake when absent), `--fix` finds nothing that builds
/// and writes nothing, and the exit code says the build cannot work.
#[test]
fn cxx_through_cmake_without_links_is_an_error_with_the_missing_tools() {
    let dir = copy("native-cxx");
    let r = doctor(dir.path(), &["--locked", "--format", "json"]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let cxx = finding(&r, "toolchain-cxx");
    assert!(
        cxx["message"].as_str().unwrap().starts_with(
            "snmalloc-sys compiles C++, and there is no C++ compiler for x86_64-unknown-linux-musl"
        ),
        "{cxx}"
    );
    let has_cmake = which::which("cmake").is_ok();
    assert_eq!(
        findings(&r).iter().any(|f| f["code"] == "toolchain-cmake"),
        !has_cmake
    );
    let before = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    let fix = doctor(dir.path(), &["--fix", "--format", "json"]);
    assert_eq!(fix.code, 1, "{}", fix.stderr);
    assert!(fix.stderr.contains("Fixed nothing"), "{}", fix.stderr);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap(),
        before
    );
    // The build failed in snmalloc-sys's build script, for want of a tool: said, with the fix.
    let tools: Vec<String> = findings(&fix)
        .iter()
        .filter(|f| f["code"].as_str().unwrap().starts_with("toolchain-c"))
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect();
    assert!(
        tools.contains(&"toolchain-cxx".to_string()),
        "{}",
        fix.stdout
    );
    assert_ne!(cargo_check(dir.path()).code, 0, "the musl build does fail");
}

/// A system-only library (ALSA, through rodio's `playback`): rodio without the feature that pulls
/// it in, its other features kept; the decoding program compiles without it.
#[test]
#[ignore = "slow: checks rodio and its decoders for musl; CI runs it (.ci/run)"]
fn a_system_only_library_is_dropped_by_the_feature_that_pulls_it_in() {
    let dir = copy("native-system");
    let f = finding(
        &doctor(dir.path(), &["--locked", "--format", "json"]),
        "native-system",
    );
    assert!(
        f["message"]
            .as_str()
            .unwrap()
            .contains("alsa-sys v0.3.1 links ALSA (libasound), a system library"),
        "{f}"
    );
    assert_eq!(
        f["fix"],
        "rodio = { version = \"0.21\", default-features = false, features = [\"wav\"] } (without the features that pull in alsa-sys)"
    );
    fix_and_check("native-system", dir.path());
}

/// A crate that builds its library from source unless a feature asks the system's (zstd's
/// `pkg-config`, as rebuilderd declares it): doctor names the feature and the declaration that
/// turns it on before anything is built, and the fix drops it from that declaration; zstd-sys then
/// compiles zstd for musl.
#[test]
#[ignore = "slow: builds zstd from source for musl; CI runs it (.ci/run)"]
fn a_feature_that_asks_for_the_system_library_is_dropped() {
    let dir = copy("native-pkg-config");
    let graph = doctor(dir.path(), &["--locked", "--format", "json"]);
    assert_eq!(graph.code, 1, "{}{}", graph.stdout, graph.stderr);
    let f = finding(&graph, "native-static");
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("zstd-sys v2.1.3+zstd.1.5.7 links zstd from the system because its `pkg-config` feature is on"),
        "{msg}"
    );
    assert!(msg.contains("fix kind d (the feature that makes it link the system's library, dropped: it builds its own)"), "{msg}");
    assert_eq!(
        f["path"],
        serde_json::json!([
            "app",
            "zstd [pkg-config]",
            "zstd-safe [pkg-config]",
            "zstd-sys"
        ])
    );
    assert_eq!(
        f["fix"],
        "in app: zstd = { version = \"0.13\", features = [] } (without `pkg-config`, which makes zstd-sys link the system's library; it builds its own)"
    );
    fix_and_check("native-pkg-config", dir.path());
    let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("zstd = { version = \"0.13\", features = [] }"),
        "{manifest}"
    );
}

/// The same fix for a program that plays sound: `cargo check` refutes it (the code needs
/// `rodio::OutputStreamBuilder`), no other fix exists, nothing is written, and doctor says why.
#[test]
#[ignore = "slow: checks rodio and cpal for musl; CI runs it (.ci/run)"]
fn a_turn_off_the_code_needs_is_refuted_by_the_build() {
    let dir = copy("native-system");
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() {\n    let stream = rodio::OutputStreamBuilder::open_default_stream();\n    println!(\"{}\", stream.is_ok());\n}\n",
    )
    .unwrap();
    let before = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    let r = doctor(dir.path(), &["--fix", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let f = finding(&r, "native-system");
    let msg = f["message"].as_str().unwrap();
    assert!(msg.contains("no verified fix"), "{msg}");
    assert!(msg.contains("breaks the code of `app`"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap(),
        before,
        "a refuted fix is not written"
    );
}

/// A rustls switch cargo resolves but the code does not compile with (reqwest's
/// `Identity::from_pkcs12_der` is native-tls only): the build refutes it, and the fix that needs no
/// code change (reqwest's vendored OpenSSL) is written instead.
#[test]
#[ignore = "slow: builds OpenSSL from source for musl; CI runs it (.ci/run)"]
fn a_rustls_switch_the_code_cannot_take_gives_way_to_vendoring() {
    let dir = copy("code-change");
    let graph = finding(
        &doctor(dir.path(), &["--locked", "--format", "json"]),
        "tls-native",
    );
    assert!(
        graph["fix"].as_str().unwrap().contains("rustls-tls"),
        "{graph}"
    );
    let r = fix_and_check("code-change", dir.path());
    assert!(r.stderr.contains("native-tls-vendored"), "{}", r.stderr);
    let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    assert!(manifest.contains("native-tls-vendored"), "{manifest}");
}

/// A rustls switch whose API the code calls (`use_native_tls`, found in the sources): the candidate
/// that needs no code change comes first, and the finding says why the switch was passed over.
#[test]
#[ignore = "slow: checks reqwest for musl; CI runs it (.ci/run)"]
fn a_known_code_change_prefers_the_fix_that_needs_none() {
    let dir = copy("code-change");
    std::fs::write(
        dir.path().join("src/main.rs"),
        "fn main() {\n    let c = reqwest::Client::builder().use_native_tls().build();\n    println!(\"{}\", c.is_ok());\n}\n",
    )
    .unwrap();
    let f = finding(
        &doctor(dir.path(), &["--locked", "--format", "json", "--check"]),
        "tls-native",
    );
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("passed over, code changes needed: src/main.rs:2 calls `use_native_tls`"),
        "{msg}"
    );
    assert!(
        f["fix"].as_str().unwrap().contains("native-tls-vendored"),
        "{f}"
    );
    assert_eq!(
        f["verified"], "graph",
        "--check builds the workspace as it is"
    );
    let r = doctor(dir.path(), &["--fix", "--dry-run", "--format", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "+reqwest = { version = \"0.12\", features = [\"json\", \"native-tls-vendored\"] }"
        ),
        "{}",
        r.stdout
    );
}

/// Two fixes that fight: the package's own `vendored-openssl` would undo curl's rustls switch. The
/// set chosen together is one edit (git2 vendors OpenSSL for both), built once.
#[test]
#[ignore = "slow: builds libcurl, libgit2 and OpenSSL from source for musl; CI runs it (.ci/run)"]
fn fixes_that_would_fight_are_chosen_together() {
    let dir = copy("conflicting-fixes");
    let f = finding(
        &doctor(dir.path(), &["--locked", "--format", "json"]),
        "tls-native",
    );
    let msg = f["message"].as_str().unwrap();
    assert!(
        msg.contains("re-enables what another fix removes (`app>curl`)"),
        "{msg}"
    );
    assert!(
        msg.contains("the same fix also clears the paths through `curl`"),
        "{msg}"
    );
    fix_and_check("conflicting-fixes", dir.path());
}

/// A family (librespot-core and librespot-metadata each turn on the other's native TLS): both are
/// switched to rustls together, nothing vendored.
#[test]
#[ignore = "slow: checks librespot-core and its ~250 crates for musl; CI runs it (.ci/run)"]
fn a_family_of_crates_is_switched_together() {
    let dir = copy("crate-family");
    let r = doctor(dir.path(), &["--locked", "--format", "json"]);
    let all = findings(&r);
    let tls: Vec<&serde_json::Value> = all.iter().filter(|f| f["code"] == "tls-native").collect();
    assert_eq!(tls.len(), 2, "{}", r.stdout);
    for f in tls {
        assert!(
            f["message"]
                .as_str()
                .unwrap()
                .contains("one family, switched together (librespot-core, librespot-metadata)"),
            "{f}"
        );
        assert!(
            f["fix"]
                .as_str()
                .unwrap()
                .contains("rustls-tls-webpki-roots"),
            "{f}"
        );
    }
    fix_and_check("crate-family", dir.path());
    let lock = std::fs::read_to_string(dir.path().join("Cargo.lock")).unwrap();
    assert!(!lock.contains("name = \"openssl-sys\""), "nothing vendored");
}

/// The user's files: `doctor` and `--fix --dry-run` leave a stale Cargo.lock as it is (cargo
/// resolves on the copy); `--fix` writes it with the manifests, and a manifest without a final
/// newline keeps it missing.
#[test]
fn the_users_lockfile_and_final_newline() {
    let dir = copy("conflicting-fixes");
    let manifest = dir.path().join("Cargo.toml");
    let lockfile = dir.path().join("Cargo.lock");
    // A stale lockfile (a dependency added since it was written) and no final newline.
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("git2 = \"0.20\"\n", "git2 = \"0.20\"\nitoa = \"1\"\n");
    std::fs::write(&manifest, text.trim_end()).unwrap();
    let lock = std::fs::read(&lockfile).unwrap();
    for args in [
        &["--format", "json"][..],
        &["--fix", "--dry-run", "--no-check"][..],
    ] {
        let r = doctor(dir.path(), args);
        assert_eq!(r.code.min(1), r.code, "{args:?}: {}", r.stderr);
        assert_eq!(
            std::fs::read(&lockfile).unwrap(),
            lock,
            "{args:?} wrote Cargo.lock"
        );
    }
    let r = doctor(dir.path(), &["--fix", "--no-check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let fixed = std::fs::read_to_string(&manifest).unwrap();
    assert!(!fixed.ends_with('\n'), "{fixed:?}");
    assert!(fixed.contains("vendored-openssl"), "{fixed}");
    let new_lock = std::fs::read_to_string(&lockfile).unwrap();
    assert!(
        new_lock.contains("name = \"itoa\""),
        "the lockfile follows the manifests"
    );
    assert!(new_lock.contains("name = \"openssl-src\""), "{new_lock}");
}

/// On a project with no error, `--fix` changes nothing, and says so.
#[test]
fn fix_changes_nothing_without_an_error() {
    let dir = copy("clean-rustls");
    let manifest = std::fs::read(dir.path().join("Cargo.toml")).unwrap();
    let lock = std::fs::read(dir.path().join("Cargo.lock")).unwrap();
    let r = doctor(dir.path(), &["--fix", "--no-check"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Fixed nothing"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(dir.path().join("Cargo.toml")).unwrap(),
        manifest
    );
    assert_eq!(std::fs::read(dir.path().join("Cargo.lock")).unwrap(), lock);
}

/// Code that does not compile whatever the fix (a `compile_error!`, as sqlx's query macros without
/// DATABASE_URL): the rustls switch is blamed first, the failure stays with it taken back, so the
/// blame comes off it — the fix is the rustls switch, verified by the graph, and the build failure
/// is its own error.
#[test]
#[ignore = "slow: checks reqwest and builds OpenSSL for musl; CI runs it (.ci/run)"]
fn a_failure_that_is_no_fixs_stays_its_own_error() {
    let dir = copy("code-change");
    std::fs::write(
        dir.path().join("src/main.rs"),
        "compile_error!(\"set DATABASE_URL\");\nfn main() {}\n",
    )
    .unwrap();
    let r = doctor(dir.path(), &["--fix", "--format", "json"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let b = finding(&r, "build-check");
    let msg = b["message"].as_str().unwrap();
    assert!(msg.contains("set DATABASE_URL"), "{msg}");
    assert!(msg.contains("taken back"), "{msg}");
    let manifest = std::fs::read_to_string(dir.path().join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("rustls-tls"),
        "the rustls switch is written: {manifest}"
    );
    assert!(
        !findings(&r).iter().any(|f| f["code"] == "tls-native"),
        "{}",
        r.stdout
    );
}
