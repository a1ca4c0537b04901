//! `cargo tiny build`, compile stage: real builds of tiny fixtures for the musl target.
//!
//! Every build shares one target dir (`common::fixture_target_dir`), so each fixture compiles once per
//! test run; later builds are no-ops.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    cargo_tiny, copy_tree, fixture_target_dir, fresh_cargo_home, limited_path, machine_cargo_home,
    repo, run, Run,
};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures").join(name).join("Cargo.toml")
}

fn hello() -> PathBuf {
    repo().join("examples/hello/Cargo.toml")
}

/// `cargo tiny build --no-image --message-format json` on a manifest, with extra args.
fn build(manifest: &Path, extra: &[&str]) -> Run {
    let mut cmd = cargo_tiny();
    cmd.args([
        "build",
        "--no-image",
        "--message-format",
        "json",
        "--manifest-path",
    ])
    .arg(manifest)
    .arg("--target-dir")
    .arg(fixture_target_dir())
    .args(extra);
    run(&mut cmd)
}

/// The JSON objects printed on stdout.
fn messages(r: &Run) -> Vec<Value> {
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

fn bins(r: &Run) -> Vec<String> {
    let mut v: Vec<String> = messages(r)
        .iter()
        .filter(|m| m["reason"] == "binary")
        .map(|m| m["bin"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn assert_ok(r: &Run) {
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
}

#[test]
fn hello_builds_static_audited_and_runs() {
    let r = build(&hello(), &[]);
    assert_ok(&r);
    let msgs = messages(&r);
    assert_eq!(msgs.len(), 1, "{}", r.stdout);
    let m = &msgs[0];
    assert_eq!(m["reason"], "binary");
    assert_eq!(m["package"], "hello");
    assert_eq!(m["bin"], "hello");
    assert_eq!(m["target"], "x86_64-unknown-linux-musl");
    assert_eq!(m["static"], true);
    assert_eq!(m["audited_packages"], 1);
    let path = PathBuf::from(m["path"].as_str().unwrap());
    assert_eq!(
        m["size"].as_u64().unwrap(),
        std::fs::metadata(&path).unwrap().len()
    );

    // It runs, on its own, and prints.
    let out = Command::new(&path).arg("tests").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Hello, tests! (a static Rust binary, FROM scratch)\n"
    );

    // The ELF has no interpreter and needs no shared library.
    let facts = cargo_tiny::compile::verify::elf_facts(&std::fs::read(&path).unwrap()).unwrap();
    assert!(facts.is_static(), "{facts:?}");
    assert!(facts.has_audit_section);

    // An independent reader (auditable-info) lists the package from the embedded audit data.
    let info = auditable_info::audit_info_from_file(&path, Default::default()).unwrap();
    let names: Vec<String> = info.packages.iter().map(|p| p.name.clone()).collect();
    assert_eq!(names, ["hello"]);
    assert!(info.packages[0].root);

    // Human status lines on stderr: the profile once, and the summary.
    assert_eq!(
        r.stderr
            .matches("Profile release [opt-level=z lto=true codegen-units=1 strip=true]")
            .count(),
        1
    );
    assert!(
        r.stderr.contains("static, 1 audited package"),
        "{}",
        r.stderr
    );

    // No machine path in the binary: the workspace root and CARGO_HOME are remapped.
    let bytes = std::fs::read(&path).unwrap();
    let root = repo().join("examples/hello");
    assert!(
        !contains(&bytes, root.to_str().unwrap().as_bytes()),
        "binary contains {}",
        root.display()
    );
    let home = machine_cargo_home();
    assert!(
        !contains(&bytes, home.to_str().unwrap().as_bytes()),
        "binary contains CARGO_HOME ({})",
        home.display()
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn workspace_default_builds_every_bin_and_selection_narrows() {
    let ws = fixture("workspace");
    let all = build(&ws, &[]);
    assert_ok(&all);
    assert_eq!(bins(&all), ["alpha", "beta"]);
    // Two packages each: the bin's package and the lib it uses.
    for m in messages(&all) {
        assert_eq!(m["audited_packages"], 2, "{m}");
    }

    let p = build(&ws, &["-p", "beta"]);
    assert_ok(&p);
    assert_eq!(bins(&p), ["beta"]);

    let b = build(&ws, &["--bin", "alpha"]);
    assert_ok(&b);
    assert_eq!(bins(&b), ["alpha"]);

    let both = build(&ws, &["--bin", "alpha", "--bin", "beta"]);
    assert_ok(&both);
    assert_eq!(bins(&both), ["alpha", "beta"]);
}

#[test]
fn workspace_unknown_names_list_the_real_ones() {
    let ws = fixture("workspace");
    let r = build(&ws, &["--bin", "gamma"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        error_line(&r),
        "error: no bin target named `gamma`; available bins: alpha, beta; help: pass one of the available names to --bin"
    );
    assert!(r.stdout.is_empty());

    let r = build(&ws, &["-p", "gamma"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        error_line(&r),
        "error: package `gamma` is not a member of the workspace; members: alpha, beta, common; help: pass one of the members to -p/--package"
    );

    let r = build(&ws, &["-p", "common"]);
    assert_eq!(r.code, 1);
    assert!(
        error_line(&r).starts_with("error: no binary target to build in package `common`; help:"),
        "{}",
        r.stderr
    );
}

/// The single `error:` line cargo-tiny printed last.
fn error_line(r: &Run) -> String {
    r.stderr
        .lines()
        .rfind(|l| l.starts_with("error: "))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn c_code_from_a_build_script_links_static() {
    let r = build(&fixture("cc"), &[]);
    assert_ok(&r);
    let m = &messages(&r)[0];
    assert_eq!(m["static"], true);
    let out = Command::new(m["path"].as_str().unwrap()).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "C says 35\n");
}

#[test]
fn users_rustflags_survive_next_to_crt_static() {
    let manifest = fixture("rustflags");
    // From RUSTFLAGS…
    let mut cmd = cargo_tiny();
    cmd.env("RUSTFLAGS", "--cfg tiny_user_flag");
    cmd.args([
        "build",
        "--no-image",
        "--message-format",
        "json",
        "--manifest-path",
    ])
    .arg(&manifest)
    .arg("--target-dir")
    .arg(fixture_target_dir());
    let r = run(&mut cmd);
    assert_ok(&r);
    let out = Command::new(messages(&r)[0]["path"].as_str().unwrap())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "user flag and crt-static both present\n"
    );

    // …from a cargo config file in the current directory…
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".cargo")).unwrap();
    std::fs::write(
        dir.path().join(".cargo/config.toml"),
        "[target.x86_64-unknown-linux-musl]\nrustflags = [\"--cfg\", \"tiny_user_flag\"]\n",
    )
    .unwrap();
    let mut cmd = cargo_tiny();
    cmd.current_dir(dir.path())
        .args(["build", "--no-image", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir());
    assert_ok(&run(&mut cmd));

    // …and without them the fixture really fails: cargo's diagnostic once, cargo's exit status kept.
    let r = build(&manifest, &[]);
    assert_eq!(r.code, 101, "{}", r.stderr);
    assert_eq!(
        r.stderr.matches("error: tiny_user_flag is not set").count(),
        1,
        "{}",
        r.stderr
    );
    assert_eq!(
        error_line(&r),
        "error: cargo auditable build failed (exit status 101); help: fix the errors cargo printed above"
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn binaries_are_byte_identical_from_two_checkout_dirs() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let mut built = Vec::new();
    for dir in [
        a.path().join("one/hello"),
        b.path().join("elsewhere/deeper/hello"),
    ] {
        copy_tree(&repo().join("examples/hello"), &dir);
        // Each checkout with its own in-tree target dir, as a user would have.
        let mut cmd = cargo_tiny();
        cmd.args([
            "build",
            "--no-image",
            "--message-format",
            "json",
            "--manifest-path",
        ])
        .arg(dir.join("Cargo.toml"));
        let r = run(&mut cmd);
        assert_ok(&r);
        built.push(std::fs::read(messages(&r)[0]["path"].as_str().unwrap()).unwrap());
    }
    assert!(
        built[0] == built[1],
        "binaries differ between checkout directories"
    );
}

#[test]
fn bad_inputs_end_in_one_line_errors() {
    let empty = tempfile::tempdir().unwrap();

    // Not a Cargo project.
    let mut cmd = cargo_tiny();
    cmd.current_dir(empty.path()).args(["build", "--no-image"]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 1);
    let line = error_line(&r);
    assert!(
        line.starts_with("error: cargo metadata failed: could not find `Cargo.toml`"),
        "{line}"
    );
    assert!(
        line.ends_with(
            "help: run this inside a Cargo project, or pass --manifest-path path/to/Cargo.toml"
        ),
        "{line}"
    );

    // A manifest path that does not exist.
    let r = build(&empty.path().join("Cargo.toml"), &[]);
    assert_eq!(r.code, 1);
    assert!(error_line(&r).contains("does not exist"), "{}", r.stderr);

    // A malformed Cargo.toml.
    let bad = empty.path().join("bad");
    std::fs::create_dir(&bad).unwrap();
    std::fs::write(
        bad.join("Cargo.toml"),
        "[package]\nname = \"x\"\nversion = \n",
    )
    .unwrap();
    let r = build(&bad.join("Cargo.toml"), &[]);
    assert_eq!(r.code, 1);
    let line = error_line(&r);
    assert!(line.starts_with("error: cargo metadata failed: "), "{line}");
    assert!(
        line.contains("bad/Cargo.toml:3"),
        "names the file and line: {line}"
    );
    assert!(line.contains("help: fix the manifest"), "{line}");

    // Conflicting flags: clap's message whole (as cargo shows it), exit 2.
    let r = build(&hello(), &["--workspace", "-p", "hello"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.starts_with(
            "error: the argument '--workspace' cannot be used with '--package <SPEC>'"
        ),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Usage: cargo tiny build"), "{}", r.stderr);

    // A target that is not musl.
    let r = build(&hello(), &["--target", "x86_64-unknown-linux-gnu"]);
    assert_eq!(r.code, 1);
    assert!(error_line(&r)
        .starts_with("error: target `x86_64-unknown-linux-gnu` is not a musl Linux target; help:"));

    // A custom profile nobody defined.
    let r = build(&hello(), &["--profile", "tiny"]);
    assert_eq!(r.code, 1);
    let line = error_line(&r);
    assert!(
        line.starts_with("error: profile `tiny` is not defined in "),
        "{line}"
    );
    assert!(
        line.ends_with(
            "help: run `cargo tiny init --profile tiny` to add it, or build with --profile release"
        ),
        "{line}"
    );

    // A musl target cargo-tiny does not build for: the supported ones are listed.
    let r = build(&hello(), &["--target", "riscv64gc-unknown-linux-musl"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        error_line(&r),
        "error: target `riscv64gc-unknown-linux-musl` is not supported; supported targets: x86_64-unknown-linux-musl, aarch64-unknown-linux-musl; help: cargo tiny builds static musl binaries: pass one of the supported targets to --target (or --platform linux/amd64,linux/arm64)"
    );
    let r = build(&hello(), &["--platform", "linux/amd64,linux/s390x"]);
    assert_eq!(r.code, 1);
    assert!(
        error_line(&r).starts_with("error: platform `linux/s390x` is not supported; supported platforms: linux/amd64, linux/arm64; help:"),
        "{}",
        error_line(&r)
    );
}

/// A PATH holding only the tools a build needs, minus the ones a test takes away.
#[test]
fn missing_tools_are_diagnosed_before_building() {
    let tmp = tempfile::tempdir().unwrap();

    // No cargo-auditable.
    let path = limited_path(&tmp.path().join("a"), &["cargo-auditable"]);
    // No cargo-auditable in the cargo home either (`$CARGO_HOME/bin` is looked in too).
    let home = fresh_cargo_home(tmp.path());
    let mut cmd = cargo_tiny();
    cmd.env("PATH", &path)
        .env("CARGO_HOME", &home)
        .args(["build", "--no-image", "--offline", "--manifest-path"])
        .arg(hello());
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        error_line(&r),
        "error: cargo-auditable is not installed; help: run `cargo install cargo-auditable --locked` (or `cargo tiny setup`)"
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "nothing is built: {}",
        r.stderr
    );

    // No musl C compiler, and the graph compiles C.
    let path = limited_path(&tmp.path().join("b"), &["musl-gcc"]);
    // cargo-tiny's isolation removed CC_<triple> and TARGET_CC; a fresh cargo home has no `[env]`.
    let mut cmd = cargo_tiny();
    cmd.env("PATH", &path)
        .env("CARGO_HOME", &home)
        .args(["build", "--no-image", "--manifest-path"])
        .arg(fixture("cc"))
        .arg("--target-dir")
        .arg(fixture_target_dir());
    let r = run(&mut cmd);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(
        error_line(&r),
        "error: no C compiler for x86_64-unknown-linux-musl, and tiny-cc compile C code; help: install one with `apt-get install musl-tools` (or set CC_x86_64_unknown_linux_musl)"
    );
}

#[test]
fn runs_as_a_cargo_subcommand() {
    let exe = PathBuf::from(env!("CARGO_BIN_EXE_cargo-tiny"));
    let path = format!(
        "{}:{}",
        exe.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new("cargo")
        .env("PATH", path)
        .args(["tiny", "--version"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("cargo-tiny {}\n", env!("CARGO_PKG_VERSION"))
    );

    for sub in ["build", "doctor", "init", "setup"] {
        let out = cargo_tiny().args([sub, "--help"]).output().unwrap();
        assert!(out.status.success(), "{sub} --help");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Examples:"),
            "{sub} --help has examples"
        );
    }
}

#[test]
fn a_build_failing_with_openssl_in_the_graph_points_at_doctor() {
    let r = build(&fixture("openssl-fail"), &[]);
    assert_ne!(r.code, 0, "stderr:\n{}", r.stderr);
    assert!(
        r.stderr.contains("Could not find directory of OpenSSL"),
        "cargo's own diagnostics must stay visible:\n{}",
        r.stderr
    );
    let line = error_line(&r);
    assert!(line.contains("cargo auditable build failed"), "{line}");
    assert!(line.contains("cargo tiny doctor"), "{line}");
    assert!(r.stdout.is_empty(), "no binary message: {}", r.stdout);
}

/// clap's usage errors keep their content, as cargo's do: the missing argument's name, the valid
/// values and the "similar argument" tip (issue 28). Exit code 2, nothing on stdout.
#[test]
fn usage_errors_keep_the_argument_names_values_and_tips() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["push"],
            &["required arguments were not provided", "<TARBALL>"],
        ),
        (
            &["build", "--compression", "xz"],
            &["'xz'", "--compression", "possible values", "gzip", "zstd"],
        ),
        (
            &["build", "--compresion", "zstd"],
            &["--compresion", "similar argument", "--compression"],
        ),
    ];
    for (args, wanted) in cases {
        let r = run(cargo_tiny().args(*args));
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}: {}", r.stdout);
        for w in *wanted {
            assert!(r.stderr.contains(w), "{args:?}: no {w:?} in\n{}", r.stderr);
        }
    }
}

/// cargo's habits (issue 28): `--release` (the default profile), `-j`, `--timings`, `--config` and
/// `--exclude` with `--workspace` work; `--release` with another profile and the `--config` keys
/// cargo-tiny resolves itself are refused before compiling.
#[test]
fn cargo_habits_are_accepted() {
    let ws = fixture("workspace");
    let all = build(
        &ws,
        &["--workspace", "--exclude", "beta", "--release", "-j", "1"],
    );
    assert_ok(&all);
    assert_eq!(bins(&all), ["alpha"]);
    let r = build(&ws, &["--workspace", "--exclude", "gamma"]);
    assert_eq!(r.code, 1);
    assert!(
        error_line(&r).starts_with(
            "error: --exclude gamma: not a member of the workspace; members: alpha, beta, common"
        ),
        "{}",
        r.stderr
    );
    let r = build(&ws, &["--exclude", "beta"]);
    assert_eq!(r.code, 2, "--exclude needs --workspace: {}", r.stderr);

    // --timings and --config reach cargo: the report is written, an unknown --config key is cargo's.
    let timings = fixture_target_dir().join("cargo-timings/cargo-timing.html");
    let _ = std::fs::remove_file(&timings);
    let r = build(
        &hello(),
        &[
            "--timings",
            "--config",
            "net.retry=3",
            "--config",
            "profile.dev.opt-level=1",
        ],
    );
    assert_ok(&r);
    assert!(timings.is_file(), "{}", r.stderr);

    let r = build(&hello(), &["--release", "--profile", "dev"]);
    assert_eq!(r.code, 1);
    assert_eq!(
        error_line(&r),
        "error: --release asks for the release profile, --profile for `dev`; help: drop --release to build with --profile dev"
    );
    for (arg, key) in [
        ("profile.release.lto=false", "profile.release.lto"),
        ("build.rustflags=['-Ctarget-cpu=native']", "build.rustflags"),
        ("build.target-dir='elsewhere'", "build.target-dir"),
    ] {
        let r = build(&hello(), &["--config", arg]);
        assert_eq!(r.code, 1, "{arg}: {}", r.stderr);
        let line = error_line(&r);
        assert!(
            line.starts_with(&format!("error: --config {arg}: `{key}` ")),
            "{line}"
        );
        assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    }
}

/// `build --help` groups its options under cargo's headings plus the image's own.
#[test]
fn build_help_is_grouped_under_cargos_headings() {
    let r = run(cargo_tiny().args(["build", "--help"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let headings: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.ends_with(':') && !l.starts_with(' '))
        .collect();
    assert_eq!(
        headings,
        [
            "Options:",
            "Manifest Options:",
            "Package Selection:",
            "Target Selection:",
            "Feature Selection:",
            "Compilation Options:",
            "Output:",
            "Image:",
            "Registry:",
            "Examples:"
        ],
        "{}",
        r.stdout
    );
}
