//! `cargo tiny init` from the command line: the file on disk, the refusals, and the end-to-end
//! promise that the committed profile gives the same binary as the on-the-fly one.

mod common;

use std::path::{Path, PathBuf};

use common::{cargo_tiny, copy_tree, fixture_target_dir, repo, run};

fn hello_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("examples/hello"), dir.path());
    dir
}

fn init(manifest: &Path, extra: &[&str]) -> common::Run {
    run(cargo_tiny()
        .arg("init")
        .arg("--manifest-path")
        .arg(manifest)
        .args(extra))
}

#[test]
fn dry_run_prints_a_diff_and_writes_nothing() {
    let dir = hello_copy();
    let manifest = dir.path().join("Cargo.toml");
    let before = std::fs::read(&manifest).unwrap();
    let r = init(&manifest, &["--dry-run"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("+[profile.release]\n+opt-level = \"z\"\n"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("Dry-run"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&manifest).unwrap(),
        before,
        "--dry-run wrote the file"
    );
}

#[test]
fn second_run_says_nothing_to_change_and_keeps_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = hello_copy();
    let manifest = dir.path().join("Cargo.toml");
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o640)).unwrap();
    let r = init(&manifest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("Patched"), "{}", r.stderr);
    let once = std::fs::read(&manifest).unwrap();
    let r = init(&manifest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("nothing to change"), "{}", r.stderr);
    assert_eq!(std::fs::read(&manifest).unwrap(), once);
    let mode = std::fs::metadata(&manifest).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn kept_value_is_reported_and_force_replaces_it() {
    let dir = hello_copy();
    let manifest = dir.path().join("Cargo.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[profile.release]\nlto = \"thin\"\n");
    std::fs::write(&manifest, &text).unwrap();
    let r = init(&manifest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("profile.release.lto = \"thin\" kept") && r.stderr.contains("--force"),
        "{}",
        r.stderr
    );
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("lto = \"thin\"\n"));
    let r = init(&manifest, &["--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("lto = true\n"));
}

#[test]
fn refuses_read_only_and_non_manifests() {
    use std::os::unix::fs::PermissionsExt;
    let dir = hello_copy();
    let manifest = dir.path().join("Cargo.toml");
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&manifest).unwrap();
    let r = init(&manifest, &[]);
    // root can write read-only files, but we refuse by the mode bits anyway
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
    let r = init(&manifest, &["--dry-run"]);
    assert_eq!(
        r.code, 0,
        "--dry-run works on a read-only file: {}",
        r.stderr
    );

    let other = tempfile::tempdir().unwrap();
    let not_manifest = other.path().join("Cargo.toml");
    std::fs::write(&not_manifest, "[tool]\nx = 1\n").unwrap();
    let r = init(&not_manifest, &[]);
    assert_ne!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&not_manifest).unwrap(),
        "[tool]\nx = 1\n"
    );
}

#[test]
fn in_a_member_patches_the_root_and_warns_about_member_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"a\", \"b\"]\nresolver = \"2\"\n\n[workspace.package]\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    for (m, extra) in [("a", ""), ("b", "\n[profile.release]\nopt-level = 3\n")] {
        std::fs::create_dir_all(root.join(m).join("src")).unwrap();
        std::fs::write(root.join(m).join("src/lib.rs"), "").unwrap();
        std::fs::write(
            root.join(m).join("Cargo.toml"),
            format!("[package]\nname = \"{m}\"\nversion.workspace = true\nedition.workspace = true\n{extra}"),
        )
        .unwrap();
    }
    let member_b = std::fs::read(root.join("b/Cargo.toml")).unwrap();
    let r = init(&root.join("a/Cargo.toml"), &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("workspace member"), "{}", r.stderr);
    assert!(r.stderr.contains("cargo ignores profiles"), "{}", r.stderr);
    let root_text = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(
        root_text.ends_with(
            "\n[profile.release]\nopt-level = \"z\"\nlto = true\ncodegen-units = 1\nstrip = true\n"
        ),
        "{root_text}"
    );
    assert_eq!(std::fs::read(root.join("b/Cargo.toml")).unwrap(), member_b);
    assert!(!std::fs::read_to_string(root.join("a/Cargo.toml"))
        .unwrap()
        .contains("profile"));
}

#[test]
fn run_from_inside_a_member_directory_says_it_patches_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("Cargo.toml"),
        "[workspace]\nmembers = [\"api\"]\nresolver = \"2\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("api/src")).unwrap();
    std::fs::write(root.join("api/src/lib.rs"), "").unwrap();
    std::fs::write(
        root.join("api/Cargo.toml"),
        "[package]\nname = \"api\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    let r = run(cargo_tiny().arg("init").current_dir(root.join("api")));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("`api` is a workspace member: patching the workspace root"),
        "{}",
        r.stderr
    );
    assert!(std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .contains("[profile.release]"));
    assert!(!std::fs::read_to_string(root.join("api/Cargo.toml"))
        .unwrap()
        .contains("profile"));
}

fn build_hello(manifest: &Path, target_dir: &Path, extra: &[&str]) -> Vec<u8> {
    let r = run(cargo_tiny()
        .args(["build", "--no-image", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(extra));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bin: PathBuf = target_dir.join("x86_64-unknown-linux-musl/release/hello");
    std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}\n{}", bin.display(), r.stderr))
}

/// The committed profile and the on-the-fly one come from one definition: same binary, byte for byte.
#[test]
fn committed_profile_builds_the_same_binary_as_the_on_the_fly_one() {
    let dir = hello_copy();
    let manifest = dir.path().join("Cargo.toml");
    // Separate target dirs: with one, cargo would see the same fingerprint and not rebuild at all.
    let target = |n: &str| fixture_target_dir().join(format!("init-e2e-{n}"));
    let on_the_fly = build_hello(&manifest, &target("on-the-fly"), &[]);
    let plain = build_hello(&manifest, &target("plain"), &["--no-size-profile"]);
    assert_ne!(
        on_the_fly, plain,
        "the size profile must change the binary, or this test proves nothing"
    );
    let r = init(&manifest, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let committed = build_hello(&manifest, &target("committed"), &["--no-size-profile"]);
    assert!(
        on_the_fly == committed,
        "binaries differ: {} vs {} bytes",
        on_the_fly.len(),
        committed.len()
    );
}
