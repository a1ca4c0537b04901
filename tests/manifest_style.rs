//! Manifests stay the user's (issue 10, class 4): `cargo tiny init` and `cargo tiny doctor --fix`
//! keep a UTF-8 BOM, CRLF line endings and inline comments, write the file a symlinked Cargo.toml
//! points to (the link stays), refuse a read-only manifest leaving it byte-identical, and write only
//! what cargo accepts (`init --profile dev` gets no `inherits`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cargo_tiny, copy_tree, repo, run, Run};

const BOM: &[u8] = b"\xef\xbb\xbf";

fn hello_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("examples/hello"), dir.path());
    dir
}

/// The reqwest fixture with `reqwest` declared in `[dependencies.reqwest]` table form, an inline
/// comment after `features`.
fn reqwest_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(
        &repo().join("tests/fixtures/doctor/reqwest-default"),
        dir.path(),
    );
    let m = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&m).unwrap().replace(
        "[dependencies]\nreqwest = { version = \"0.12\", features = [\"json\"] }\n",
        "[dependencies.reqwest]\nversion = \"0.12\" # pinned minor\nfeatures = [\"json\"] # note: json only\n",
    );
    assert!(text.contains("# note"), "fixture changed: {text}");
    std::fs::write(&m, text).unwrap();
    dir
}

fn init(manifest: &Path, extra: &[&str]) -> Run {
    run(cargo_tiny()
        .args(["init", "--manifest-path"])
        .arg(manifest)
        .args(extra))
}

fn fix(manifest: &Path) -> Run {
    run(cargo_tiny()
        .args([
            "doctor",
            "--color",
            "never",
            "--fix",
            "--no-check",
            "--manifest-path",
        ])
        .arg(manifest))
}

/// Rewrites `path` with a BOM and CRLF line endings.
fn to_bom_crlf(path: &Path) -> Vec<u8> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut bytes = BOM.to_vec();
    bytes.extend(text.replace('\n', "\r\n").into_bytes());
    std::fs::write(path, &bytes).unwrap();
    bytes
}

fn assert_bom_crlf(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    assert!(bytes.starts_with(BOM), "BOM lost");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "a bare LF was written:\n{text:?}"
    );
    text.replace("\r\n", "\n")
}

/// The manifest moved to `real/Cargo.toml`, with `Cargo.toml` a symlink to it.
fn symlinked(dir: &Path) -> PathBuf {
    let real_dir = dir.join("real");
    std::fs::create_dir(&real_dir).unwrap();
    let real = real_dir.join("Cargo.toml");
    std::fs::rename(dir.join("Cargo.toml"), &real).unwrap();
    std::os::unix::fs::symlink(&real, dir.join("Cargo.toml")).unwrap();
    real
}

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p)
        .unwrap()
        .file_type()
        .is_symlink()
}

#[test]
fn init_keeps_bom_and_crlf() {
    let dir = hello_copy();
    let m = dir.path().join("Cargo.toml");
    to_bom_crlf(&m);
    let r = init(&m, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = assert_bom_crlf(&m);
    assert!(
        text.contains("[profile.release]\nopt-level = \"z\""),
        "{text}"
    );
    assert!(text.starts_with("[package]\nname = \"hello\""), "{text}");
}

#[test]
fn init_through_a_symlink_writes_its_target_and_keeps_the_link() {
    let dir = hello_copy();
    let real = symlinked(dir.path());
    let link = dir.path().join("Cargo.toml");
    let r = init(&link, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_link(&link), "the symlink was replaced by a file");
    assert!(std::fs::read_to_string(&real)
        .unwrap()
        .contains("[profile.release]"));
}

#[test]
fn init_refuses_a_read_only_manifest_through_a_symlink_too() {
    use std::os::unix::fs::PermissionsExt;
    let dir = hello_copy();
    let real = symlinked(dir.path());
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&real).unwrap();
    let r = init(&dir.path().join("Cargo.toml"), &[]);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(r.stderr.contains("read-only"), "{}", r.stderr);
    assert!(r.stderr.contains("real/Cargo.toml"), "{}", r.stderr);
    assert_eq!(std::fs::read(&real).unwrap(), before);
    assert!(is_link(&dir.path().join("Cargo.toml")));
}

/// `dev` is a root profile: cargo refuses `inherits` in it (`cargo metadata` does not notice,
/// `cargo check` does). init writes the size settings without it, and the result checks.
#[test]
fn init_profile_dev_writes_no_inherits_and_cargo_check_accepts_it() {
    let dir = hello_copy();
    let m = dir.path().join("Cargo.toml");
    let r = init(&m, &["--profile", "dev"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(&m).unwrap();
    assert!(text.contains("[profile.dev]"), "{text}");
    assert!(!text.contains("inherits"), "{text}");
    let out = Command::new(env!("CARGO"))
        .args(["check", "--offline", "--quiet", "--manifest-path"])
        .arg(&m)
        .env("CARGO_TARGET_DIR", dir.path().join("target"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A custom profile still inherits from release.
    let r = init(&m, &["--profile", "tiny"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(&m)
        .unwrap()
        .contains("[profile.tiny]\ninherits = \"release\""));
}

/// A failure of cargo's check that --force cannot cure (a key of the user's that init does not
/// write) does not suggest --force; one that --force replaces does.
#[test]
fn force_is_suggested_only_where_it_helps() {
    let dir = hello_copy();
    let m = dir.path().join("Cargo.toml");
    let text = std::fs::read_to_string(&m).unwrap();
    std::fs::write(
        &m,
        format!("{text}\n[profile.release]\ninherits = \"dev\"\n"),
    )
    .unwrap();
    let before = std::fs::read(&m).unwrap();
    let r = init(&m, &[]);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(r.stderr.contains("cargo rejects"), "{}", r.stderr);
    assert!(!r.stderr.contains("--force"), "{}", r.stderr);
    assert_eq!(std::fs::read(&m).unwrap(), before);

    // `inherits = "nope"` is a value init would replace: --force helps, and does.
    std::fs::write(&m, format!("{text}\n[profile.tiny]\ninherits = \"nope\"\n")).unwrap();
    let r = init(&m, &["--profile", "tiny"]);
    assert!(r.code != 0 && r.stderr.contains("--force"), "{}", r.stderr);
    let r = init(&m, &["--profile", "tiny", "--force"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn doctor_fix_keeps_bom_crlf_and_the_inline_comment() {
    let dir = reqwest_copy();
    let m = dir.path().join("Cargo.toml");
    to_bom_crlf(&m);
    let r = fix(&m);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = assert_bom_crlf(&m);
    assert!(
        text.contains("version = \"0.12\" # pinned minor\n"),
        "{text}"
    );
    assert!(text.contains("default-features = false\n"), "{text}");
    assert!(
        text.contains("\"] # note: json only\n") && text.contains("features = [\"rustls-tls\""),
        "{text}"
    );
}

#[test]
fn doctor_fix_through_a_symlink_writes_its_target_and_keeps_the_link() {
    let dir = reqwest_copy();
    let real = symlinked(dir.path());
    let link = dir.path().join("Cargo.toml");
    let r = fix(&link);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(is_link(&link), "the symlink was replaced by a file");
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(text.contains("default-features = false"), "{text}");
}

#[test]
fn doctor_fix_refuses_a_read_only_manifest() {
    use std::os::unix::fs::PermissionsExt;
    let dir = reqwest_copy();
    let m = dir.path().join("Cargo.toml");
    std::fs::set_permissions(&m, std::fs::Permissions::from_mode(0o444)).unwrap();
    let before = std::fs::read(&m).unwrap();
    let r = fix(&m);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    let err = r
        .stderr
        .lines()
        .find(|l| l.starts_with("error"))
        .unwrap_or("");
    assert!(
        err.contains("read-only") && err.contains("Cargo.toml"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read(&m).unwrap(), before);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
