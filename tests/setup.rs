//! `cargo tiny setup`: says what it runs; `--dry-run` runs nothing.

mod common;

use common::{cargo_tiny, run};

#[test]
fn dry_run_prints_the_commands_for_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    // cargo, rustc and rustup, but no cargo-auditable anywhere.
    for tool in ["cargo", "rustc", "rustup"] {
        std::os::unix::fs::symlink(which::which(tool).unwrap(), bin.join(tool)).unwrap();
    }
    // A rustc whose sysroot has no target installed.
    let sysroot = tmp.path().join("empty-sysroot");
    std::fs::create_dir_all(&sysroot).unwrap();
    let fake_rustc = tmp.path().join("fake-rustc");
    std::fs::write(
        &fake_rustc,
        format!("#!/bin/sh\necho '{}'\n", sysroot.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake_rustc, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = cargo_tiny();
    cmd.env("PATH", &bin)
        .env("CARGO_HOME", tmp.path().join("cargo-home"))
        .env("RUSTC", &fake_rustc)
        .args([
            "setup",
            "--dry-run",
            "--target",
            "aarch64-unknown-linux-musl",
        ]);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("Running `rustup target add aarch64-unknown-linux-musl`"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("Running `cargo install cargo-auditable --locked`"),
        "{}",
        r.stderr
    );
    assert!(
        !tmp.path().join("cargo-home/bin/cargo-auditable").exists(),
        "dry run installed nothing"
    );
}

#[test]
fn setup_refuses_a_non_musl_target() {
    let r = run(cargo_tiny().args(["setup", "--dry-run", "--target", "x86_64-pc-windows-msvc"]));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: target `x86_64-pc-windows-msvc` is not a musl Linux target"),
        "{}",
        r.stderr
    );
}

#[test]
fn setup_refuses_a_musl_target_build_refuses_too() {
    // A musl target, but not one `build` supports: setup must not install it as if it were.
    let r = run(cargo_tiny().args([
        "setup",
        "--dry-run",
        "--target",
        "armv7-unknown-linux-musleabihf",
    ]));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.starts_with(
            "error: target `armv7-unknown-linux-musleabihf` is not supported; supported targets: x86_64-unknown-linux-musl, aarch64-unknown-linux-musl"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(
        r.stderr.lines().filter(|l| l.starts_with("error:")).count(),
        1
    );
    assert!(!r.stderr.contains("Running"), "{}", r.stderr);
}
