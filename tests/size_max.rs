//! `cargo tiny build --size max`: the nightly recipe (build-std, std's optimize_for_size,
//! immediate-abort panics). examples/hello builds a static binary that keeps its audit data and runs
//! in the image; a missing nightly is a one-line error naming `cargo tiny setup --size max`.
//!
//! The nightly tests need `rustup run nightly` with rust-src and the musl target (skipped locally
//! without them, a failure in CI, where .ci/run installs them). examples/http-service (after
//! `doctor --fix`) compiles a large graph with std: it is `#[ignore]`d — run it with
//! `cargo test --test size_max -- --ignored`.

mod common;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::*;
use serde_json::Value;

const GREETING: &str = "Hello, world! (a static Rust binary, FROM scratch)";

static BUILD: Mutex<()> = Mutex::new(());

/// A target dir of its own: nightly-built std and fixtures, kept apart from the stable fixtures.
fn nightly_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("size-max")
}

/// Whether the nightly toolchain with rust-src and the musl target is there (skip locally, fail in CI).
fn require_nightly() -> bool {
    if !require_tool("rustup", &["run", "nightly", "rustc", "--version"]) {
        return false;
    }
    let out = std::process::Command::new("rustup")
        .args(["run", "nightly", "rustc", "--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let ok = sysroot
        .join("lib/rustlib/src/rust/library/std/Cargo.toml")
        .is_file()
        && sysroot
            .join("lib/rustlib/x86_64-unknown-linux-musl/lib")
            .is_dir();
    if !ok {
        let msg = "the nightly toolchain lacks rust-src or the musl target";
        assert!(
            !in_ci(),
            "{msg}; CI must provide them (.ci/run installs them)"
        );
        eprintln!("SKIPPED: {msg} (run `cargo tiny setup --size max`)");
    }
    ok
}

struct Built {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tarball: PathBuf,
    binary: Value,
    image: Value,
    stderr: String,
}

/// Copies `src`, optionally runs `doctor --fix`, and builds it with `--size max` and `extra`.
fn build_max(src: &Path, name: &str, fix: bool, extra: &[&str]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    copy_tree(src, &root);
    if fix {
        let r = run(cargo_tiny()
            .args(["doctor", "--fix", "--manifest-path"])
            .arg(root.join("Cargo.toml")));
        assert!(r.code == 0 || r.code == 1, "doctor --fix: {}", r.stderr);
    }
    let tarball = dir.path().join("out").join(format!("{name}.tar"));
    let mut cmd = cargo_tiny();
    cmd.args([
        "build",
        "--size",
        "max",
        "--message-format",
        "json",
        "--manifest-path",
    ])
    .arg(root.join("Cargo.toml"))
    .arg("--target-dir")
    .arg(nightly_target_dir())
    .arg("--output")
    .arg(&tarball)
    .args(extra);
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(
        r.code, 0,
        "--size max build of {name} failed:\n{}",
        r.stderr
    );
    let messages: Vec<Value> = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let find = |reason: &str| {
        messages
            .iter()
            .find(|m| m["reason"] == reason)
            .cloned()
            .unwrap()
    };
    Built {
        binary: find("binary"),
        image: find("image"),
        _dir: dir,
        root,
        tarball,
        stderr: r.stderr,
    }
}

fn hello_max() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| {
        build_max(
            &repo().join("examples/hello"),
            "hello",
            false,
            &["--image", "tiny-hello-max:test"],
        )
    })
}

/// The binary is static (an ELF without an interpreter) and its audit data reads back.
fn check_static_and_audited(b: &Built, package: &str) {
    let path = PathBuf::from(b.binary["path"].as_str().unwrap());
    assert_eq!(b.binary["static"], true);
    let data = std::fs::read(&path).unwrap();
    let elf = object::read::elf::ElfFile64::<object::Endianness>::parse(data.as_slice()).unwrap();
    use object::read::elf::ProgramHeader;
    let endian = elf.endian();
    assert!(
        !elf.elf_program_headers()
            .iter()
            .any(|p| p.p_type(endian) == object::elf::PT_INTERP),
        "static: no program interpreter"
    );
    let info = auditable_info::audit_info_from_file(&path, Default::default())
        .expect("audit data readable by auditable-info");
    assert!(
        info.packages.iter().any(|p| p.name == package),
        "{package} in the audit data"
    );
    // No path of this machine: the workspace, cargo home and std's sources are remapped.
    let text = String::from_utf8_lossy(&data);
    for p in [b.root.display().to_string(), rustup_home()] {
        assert!(!text.contains(&p), "the binary contains {p}");
    }
}

#[test]
fn hello_builds_static_and_audited_with_std_rebuilt_for_size() {
    if !require_nightly() {
        return;
    }
    let b = hello_max();
    check_static_and_audited(b, "hello");
    let warnings: Vec<&str> = b
        .stderr
        .lines()
        .filter(|l| l.starts_with("warning") && l.contains("--size max"))
        .collect();
    assert_eq!(warnings.len(), 1, "warned once:\n{}", b.stderr);
    assert!(
        warnings[0].contains("without a message") && warnings[0].contains("unwinding"),
        "{}",
        warnings[0]
    );
    let nightly = b
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Nightly"))
        .unwrap_or_else(|| panic!("no Nightly line:\n{}", b.stderr));
    assert!(
        nightly.contains("-Zbuild-std=std,panic_abort") && nightly.contains("optimize_for_size"),
        "{nightly}"
    );
    assert!(
        nightly.contains("immediate-abort") || nightly.contains("panic_immediate_abort"),
        "says which immediate-abort spelling: {nightly}"
    );
}

#[test]
fn hello_max_is_smaller_than_the_size_profile() {
    if !require_nightly() {
        return;
    }
    let max = hello_max().binary["size"].as_u64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(cargo_tiny()
            .args(["build", "--no-image", "--message-format", "json"])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(fixture_target_dir()))
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    let profile = m["size"].as_u64().unwrap();
    assert!(max < profile, "--size max {max} < size profile {profile}");
}

#[test]
fn hello_max_runs_in_podman_and_docker() {
    if !require_nightly() {
        return;
    }
    let b = hello_max();
    if require_tool("podman", &["--version"]) {
        let r = run(std::process::Command::new("podman")
            .args(["load", "-i"])
            .arg(&b.tarball));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = common::podman_run("--rm", &["localhost/tiny-hello-max:test"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout.trim(), GREETING);
        let _ = run(std::process::Command::new("podman").args([
            "rmi",
            "-f",
            "localhost/tiny-hello-max:test",
        ]));
    }
    if require_tool("docker", &["info"]) {
        let r = run(std::process::Command::new("docker")
            .args(["load", "-i"])
            .arg(&b.tarball));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = common::docker_run(&["tiny-hello-max:test"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout.trim(), GREETING);
        let _ =
            run(std::process::Command::new("docker").args(["rmi", "-f", "tiny-hello-max:test"]));
    }
    assert!(b.image["compressed_size"].as_u64().unwrap() > 0);
}

#[test]
fn a_missing_nightly_is_one_line_naming_setup() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out.tar");
    let r = run(cargo_tiny()
        .args(["build", "--size", "max", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dir.path().join("target"))
        .arg("--output")
        .arg(&tarball)
        .env("CARGO_TINY_NIGHTLY", "nightly-1999-01-01"));
    assert_ne!(r.code, 0);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains("nightly-1999-01-01"), "{}", r.stderr);
    assert!(
        r.stderr.contains("cargo tiny setup --size max"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert!(!tarball.exists());
}

#[test]
fn setup_size_max_installs_nightly_with_rust_src_and_the_target() {
    if !require_tool("rustup", &["--version"]) {
        return;
    }
    let r = run(cargo_tiny()
        .args([
            "setup",
            "--size",
            "max",
            "--dry-run",
            "--target",
            "x86_64-unknown-linux-musl",
        ])
        .env("CARGO_TINY_NIGHTLY", "nightly-1999-01-01"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "`rustup toolchain install nightly-1999-01-01 --profile minimal --component rust-src --target x86_64-unknown-linux-musl`"
        ),
        "{}",
        r.stderr
    );
}

#[test]
#[ignore = "slow: compiles reqwest + rustls and std with a nightly; run with --ignored"]
fn http_service_after_doctor_fix_builds_static_audited_and_runs() {
    if !require_nightly() {
        return;
    }
    let b = build_max(
        &repo().join("examples/http-service"),
        "http-service",
        true,
        &["--image", "tiny-http-max:test"],
    );
    check_static_and_audited(&b, "reqwest");
    if !require_tool("podman", &["--version"]) {
        return;
    }
    let r = run(std::process::Command::new("podman")
        .args(["load", "-i"])
        .arg(&b.tarball));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A server: start it, wait for its first line, stop it.
    let name = format!("tiny-http-max-{}", std::process::id());
    let r = common::podman_run("-d", &["--name", &name, "localhost/tiny-http-max:test"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut logs = String::new();
    for _ in 0..100 {
        logs = run(std::process::Command::new("podman").args(["logs", &name])).stderr;
        if logs.contains("listening on :8080") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let state = run(std::process::Command::new("podman").args([
        "inspect",
        "--format",
        "{{.State.Running}}",
        &name,
    ]));
    let _ = run(std::process::Command::new("podman").args(["rm", "-f", &name]));
    let _ = run(std::process::Command::new("podman").args([
        "rmi",
        "-f",
        "localhost/tiny-http-max:test",
    ]));
    assert!(logs.contains("listening on :8080"), "logs: {logs}");
    assert_eq!(state.stdout.trim(), "true", "still serving");
}

/// A nightly without rust-src: a copy of the installed nightly (hard links, in a RUSTUP_HOME of its
/// own) with `lib/rustlib/src` removed. The build stops before compiling, with one line naming setup.
#[test]
fn a_nightly_without_rust_src_is_one_line_naming_setup() {
    if !require_nightly() {
        return;
    }
    let which = |tool: &str, toolchain: &str| {
        let out = std::process::Command::new("rustup")
            .args(["which", "--toolchain", toolchain, tool])
            .output()
            .unwrap();
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    };
    let nightly_rustc = which("rustc", "nightly");
    let sysroot = nightly_rustc.parent().unwrap().parent().unwrap();
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let home = tmp.path().join("rustup");
    std::fs::create_dir_all(home.join("toolchains")).unwrap();
    let copy = home.join("toolchains/nightly-without-src");
    let linked = std::process::Command::new("cp")
        .arg("-al")
        .arg(sysroot)
        .arg(&copy)
        .status()
        .is_ok_and(|s| s.success());
    if !linked {
        eprintln!("SKIPPED: cannot hard-link the nightly toolchain into the target dir");
        return;
    }
    std::fs::remove_dir_all(copy.join("lib/rustlib/src")).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out.tar");
    let r = run(cargo_tiny()
        .args(["build", "--size", "max", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(dir.path().join("target"))
        .arg("--output")
        .arg(&tarball)
        // The stable tools by absolute path: this RUSTUP_HOME has no default toolchain.
        .env("CARGO", which("cargo", "stable"))
        .env("RUSTC", which("rustc", "stable"))
        .env("RUSTUP_HOME", &home)
        .env("CARGO_TINY_NIGHTLY", "nightly-without-src"));
    assert_ne!(r.code, 0, "{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("no rust-src component")
            && errors[0].contains("cargo tiny setup --size max"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert!(!tarball.exists());
}

/// What the warning says a panic does: the process dies at once, by a trap, printing nothing.
#[test]
fn a_panic_under_size_max_kills_the_process_without_a_message() {
    if !require_nightly() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("panicker");
    std::fs::create_dir_all(root.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"panicker\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "fn main() {\n    println!(\"before\");\n    let v: Vec<u8> = Vec::new();\n    let i = std::env::args().count();\n    println!(\"{}\", v[i]);\n}\n",
    )
    .unwrap();
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(cargo_tiny()
            .args([
                "build",
                "--size",
                "max",
                "--no-image",
                "--message-format",
                "json",
            ])
            .arg("--manifest-path")
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(nightly_target_dir()))
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: Value = serde_json::from_str(r.stdout.lines().next().unwrap()).unwrap();
    let out = std::process::Command::new(m["path"].as_str().unwrap())
        .output()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(String::from_utf8_lossy(&out.stdout), "before\n");
    assert!(out.stderr.is_empty(), "no panic message: {:?}", out.stderr);
    assert_eq!(
        out.status.signal(),
        Some(4),
        "killed by SIGILL: {:?}",
        out.status
    );
}
