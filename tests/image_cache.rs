//! A no-op `cargo tiny build` reuses the image it wrote: same tarball bytes, file not rewritten. Any
//! changed input (binary, configuration value, `files` source, SOURCE_DATE_EPOCH) gives a new image.
//! A multi-platform build is reused the same way: every platform's image, and the index.

mod common;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use common::*;
use serde_json::Value;

struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tarball: PathBuf,
}

/// examples/hello with one extra file in the image.
fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(
            "# Not part of",
            "[package.metadata.tiny]\nlabels = { team = \"a\" }\nfiles = { \"/etc/hello.txt\" = \"hello.txt\" }\n\n# Not part of",
        );
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(root.join("hello.txt"), "one\n").unwrap();
    let tarball = dir.path().join("out/hello.tar");
    Project {
        _dir: dir,
        root,
        tarball,
    }
}

/// One build at a time: the tests share a target dir, where one build would overwrite the binary
/// another is reading.
static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Builds; returns the image message.
fn build(p: &Project, epoch: &str) -> Value {
    build_with(p, epoch, &[], "image")
}

/// Builds with `args`; returns the message of `reason`.
fn build_with(p: &Project, epoch: &str, args: &[&str], reason: &str) -> Value {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let r = run(cargo_tiny()
        .args(["build", "--message-format", "json", "--manifest-path"])
        .arg(p.root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir().join("image-cache"))
        .arg("--output")
        .arg(&p.tarball)
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|m| m["reason"] == reason)
        .unwrap()
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

#[test]
fn unchanged_inputs_reuse_the_tarball_and_any_change_rebuilds_it() {
    let p = project();
    let first = build(&p, "1700000000");
    assert_eq!(first["reused"], false);
    let bytes = std::fs::read(&p.tarball).unwrap();
    let (tar_mtime, sbom_mtime) = (mtime(&p.tarball), mtime(&p.sbom()));

    // Nothing changed: the same image, reported as before, and neither file rewritten.
    let again = build(&p, "1700000000");
    assert_eq!(again["reused"], true, "{again}");
    assert_eq!(again["manifest_digest"], first["manifest_digest"]);
    assert_eq!(again["tarball_size"], first["tarball_size"]);
    assert_eq!(again["sbom_components"], first["sbom_components"]);
    assert_eq!(std::fs::read(&p.tarball).unwrap(), bytes);
    assert_eq!(mtime(&p.tarball), tar_mtime, "tarball rewritten");
    assert_eq!(mtime(&p.sbom()), sbom_mtime, "SBOM rewritten");

    let mut previous = bytes.clone();
    let mut seen = vec![first["manifest_digest"].clone()];
    let mut rebuilt = |what: &str, epoch: &str| {
        let m = build(&p, epoch);
        assert_eq!(m["reused"], false, "{what}: {m}");
        assert!(
            !seen.contains(&m["manifest_digest"]),
            "{what} gave an image seen before: {m}"
        );
        let now = std::fs::read(&p.tarball).unwrap();
        assert_ne!(now, previous, "{what}: tarball bytes unchanged");
        previous = now;
        seen.push(m["manifest_digest"].clone());
    };
    // A configuration value.
    edit(&p.root.join("Cargo.toml"), "team = \"a\"", "team = \"b\"");
    rebuilt("a changed label", "1700000000");
    // The contents of a `files` source.
    std::fs::write(p.root.join("hello.txt"), "two\n").unwrap();
    rebuilt("a changed files source", "1700000000");
    // The source date.
    rebuilt("another SOURCE_DATE_EPOCH", "1700000001");
    // The binary.
    edit(&p.root.join("src/main.rs"), "Hello,", "Hi,");
    rebuilt("a changed binary", "1700000001");
    // And back to a state built before: still correct (the old image, rebuilt or not).
    let last = build(&p, "1700000001");
    assert_eq!(last["reused"], true);
    assert_eq!(&last["manifest_digest"], seen.last().unwrap());
}

#[test]
fn an_edited_tarball_is_rebuilt_not_trusted() {
    let p = project();
    let first = build(&p, "1700000000");
    let good = std::fs::read(&p.tarball).unwrap();
    // Still a tarball (an `--output` that is not one is refused), but not the bytes recorded.
    let mut edited = good.clone();
    let middle = edited.len() / 2;
    edited[middle] ^= 0xff;
    std::fs::write(&p.tarball, &edited).unwrap();
    let again = build(&p, "1700000000");
    assert_eq!(again["reused"], false);
    assert_eq!(again["manifest_digest"], first["manifest_digest"]);
    assert_eq!(std::fs::read(&p.tarball).unwrap(), good);
}

/// A two-platform build is one result: a no-op rebuild reuses both images and the index (nothing
/// rewritten), and a change on one platform rebuilds the result.
#[test]
fn a_no_op_two_platform_build_reuses_both_images() {
    let p = project();
    let both = ["--platform", "linux/amd64,linux/arm64"];
    let first = build_with(&p, "1700000000", &both, "image-index");
    assert_eq!(first["reused"], false, "{first}");
    let arm_sbom = p.tarball.with_file_name("hello.linux-arm64.cdx.json");
    let mtimes = (mtime(&p.tarball), mtime(&p.sbom()), mtime(&arm_sbom));

    let again = build_with(&p, "1700000000", &both, "image-index");
    assert_eq!(again["reused"], true, "{again}");
    let platforms = again["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 2);
    for (k, platform) in platforms.iter().enumerate() {
        assert_eq!(platform["reused"], true, "{platform}");
        assert_eq!(
            platform["manifest_digest"],
            first["platforms"][k]["manifest_digest"]
        );
        assert_eq!(
            platform["binary_size"],
            first["platforms"][k]["binary_size"]
        );
        assert_eq!(
            platform["sbom_components"],
            first["platforms"][k]["sbom_components"]
        );
    }
    assert_eq!(again["index_digest"], first["index_digest"]);
    assert_eq!(again["tarball_size"], first["tarball_size"]);
    assert_eq!(
        (mtime(&p.tarball), mtime(&p.sbom()), mtime(&arm_sbom)),
        mtimes,
        "a file was rewritten"
    );

    // Another docker platform is another tarball (its manifest.json): rebuilt.
    let other = build_with(
        &p,
        "1700000000",
        &[both[0], both[1], "--docker-platform", "linux/arm64"],
        "image-index",
    );
    assert_eq!(other["reused"], false, "{other}");
    assert_eq!(other["index_digest"], first["index_digest"], "same index");
    // One platform over it: a single image, not the index reused.
    let single = build(&p, "1700000000");
    assert_eq!(single["reused"], false, "{single}");
}

impl Project {
    fn sbom(&self) -> PathBuf {
        self.tarball.with_file_name("hello.cdx.json")
    }
}
