//! The image cache is a hint, never the truth: a forged record (digests that disagree with the
//! tarball, or another build's tarball, SBOM and record put in place, as a poisoned CI cache restore
//! would) is detected, discarded with a note and rebuilt; what is reported is what was written and
//! pushed. Two builds at once on one target dir leave a tarball and an SBOM of the same build.

mod common;

use std::path::{Path, PathBuf};

use common::registry::Registry;
use common::*;
use serde_json::Value;

/// examples/hello, greeting `who` and versioned `version`, in `dir/name`.
fn project(dir: &Path, name: &str, who: &str, version: &str) -> PathBuf {
    let root = dir.join(name);
    copy_tree(&repo().join("examples/hello"), &root);
    let main = root.join("src/main.rs");
    let text = std::fs::read_to_string(&main)
        .unwrap()
        .replace("Hello, {who}!", &format!("{who}, {{who}}!"));
    std::fs::write(&main, text).unwrap();
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replacen(
        "version = \"0.1.0\"",
        &format!("version = \"{version}\""),
        1,
    );
    std::fs::write(&manifest, text).unwrap();
    root
}

fn build(root: &Path, target_dir: &Path, tarball: &Path, extra: &[&str]) -> Run {
    run(cargo_tiny()
        .args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir)
        .arg("--output")
        .arg(tarball)
        .args(extra))
}

fn image(r: &Run) -> Value {
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .unwrap_or_else(|| panic!("no image message: {}", r.stdout))
}

/// The cache record of a tarball: the one JSON file under tiny/.cache naming it.
fn record_of(target_dir: &Path, tarball: &Path) -> PathBuf {
    std::fs::read_dir(target_dir.join("tiny/.cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p).is_ok_and(|t| t.contains(&*tarball.display().to_string()))
        })
        .expect("a cache record for the tarball")
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_forged_cache_record_is_detected_and_the_push_matches_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture_target_dir().join("cache-trust");
    let victim = project(dir.path(), "victim", "Hello", "0.1.0");
    let other = project(dir.path(), "other", "Pwned", "0.1.0");
    let tar = dir.path().join("out/hello.tar");
    let other_tar = dir.path().join("evil/hello.tar");

    // Built as the registry's image from the start (the name is part of the cache key), pushed at
    // the end.
    let reg = tools_ok().then(Registry::plain);
    let dest = reg.as_ref().map(|r| format!("{}/hello:1", r.host()));
    let named: Vec<&str> = match &dest {
        Some(d) => vec!["--image", d.as_str()],
        None => vec![],
    };
    let first = image(&build(&victim, &target, &tar, &named));
    assert_eq!(first["reused"], false);
    let genuine = first["manifest_digest"].as_str().unwrap().to_string();
    let again = image(&build(&victim, &target, &tar, &named));
    assert_eq!(again["reused"], true, "a genuine record is reused");

    // 1. The record's digests edited: they disagree with the tarball.
    let record = record_of(&target, &tar);
    let text = std::fs::read_to_string(&record).unwrap();
    let forged = text.replace(&genuine, &format!("sha256:{}", "e".repeat(64)));
    assert_ne!(forged, text);
    std::fs::write(&record, forged).unwrap();
    let r = build(&victim, &target, &tar, &named);
    let m = image(&r);
    assert_eq!(m["reused"], false, "{}", r.stderr);
    assert_eq!(m["manifest_digest"], genuine.as_str());
    assert!(r.stderr.contains("Rebuilding"), "{}", r.stderr);
    assert!(r.stderr.contains("disagrees"), "{}", r.stderr);

    // 2. Another build's tarball, SBOM and record put in place with the victim's key and paths: every
    // digest in the record matches the files, only the content is not this build's.
    let o = image(&build(&other, &target, &other_tar, &named));
    let evil = o["manifest_digest"].as_str().unwrap().to_string();
    assert_ne!(evil, genuine);
    let victim_record: Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let mut planted: Value =
        serde_json::from_str(&std::fs::read_to_string(record_of(&target, &other_tar)).unwrap())
            .unwrap();
    planted["key"] = victim_record["key"].clone();
    let w = &mut planted["cached"]["written"];
    w["path"] = victim_record["cached"]["written"]["path"].clone();
    let beside_victim = victim_record["cached"]["written"]["beside"]
        .as_array()
        .unwrap()
        .clone();
    for (i, b) in w["beside"].as_array_mut().unwrap().iter_mut().enumerate() {
        let from = PathBuf::from(b[0].as_str().unwrap());
        let to = PathBuf::from(beside_victim[i][0].as_str().unwrap());
        std::fs::copy(&from, &to).unwrap();
        b[0] = Value::from(to.display().to_string());
    }
    std::fs::copy(&other_tar, &tar).unwrap();
    std::fs::write(&record, planted.to_string()).unwrap();

    // Pushed with the build: what the registry holds is what the report says, the genuine image.
    let mut extra = named.clone();
    if dest.is_some() {
        extra.push("--push");
    }
    let r = build(&victim, &target, &tar, &extra);
    let m = image(&r);
    assert!(r.stderr.contains("Rebuilding"), "{}", r.stderr);
    assert_eq!(m["reused"], false, "{}", r.stderr);
    let reported = m["manifest_digest"].as_str().unwrap();
    if let Some(reg) = &reg {
        let (status, body) = reg.http(
            "GET",
            "/v2/hello/manifests/1",
            "application/vnd.oci.image.manifest.v1+json",
            b"",
        );
        assert_eq!(status, 200);
        assert_eq!(format!("sha256:{}", sha256_hex(&body)), reported);
    } else {
        assert_eq!(reported, genuine);
    }
    assert_ne!(reported, evil);
    // The tarball on disk is the rebuilt one, holding the reported image.
    let listing = run(std::process::Command::new("tar").arg("-tf").arg(&tar));
    assert!(
        listing.stdout.contains(&format!(
            "blobs/sha256/{}",
            reported.trim_start_matches("sha256:")
        )),
        "{}",
        listing.stdout
    );
}

/// A cache record that is a symlink to `/dev/zero`, or a FIFO: no record (the image is rebuilt), no
/// hang, no growth.
#[test]
fn a_cache_record_that_is_a_device_or_a_fifo_is_no_record() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture_target_dir().join("cache-trust-devices");
    let root = project(dir.path(), "p", "Hello", "0.1.0");
    let tar = dir.path().join("out/hello.tar");
    image(&build(&root, &target, &tar, &[]));
    let record = record_of(&target, &tar);
    for (name, make) in [
        (
            "/dev/zero",
            (|p: &Path| std::os::unix::fs::symlink("/dev/zero", p).unwrap()) as fn(&Path),
        ),
        ("a FIFO", |p: &Path| {
            assert!(std::process::Command::new("mkfifo")
                .arg(p)
                .status()
                .unwrap()
                .success())
        }),
    ] {
        let _ = std::fs::remove_file(&record);
        make(&record);
        let started = std::time::Instant::now();
        let r = build(&root, &target, &tar, &[]);
        let m = image(&r);
        assert_eq!(m["reused"], false, "{name}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "{name}"
        );
    }
}

fn tools_ok() -> bool {
    require_tool("docker-registry", &["--version"])
}

/// Two builds of different versions at once into one target dir and one output path: whichever
/// finishes last, the tarball's SBOM referrer is the SBOM file beside it (one build's pair), and the
/// second build says it waits for the lock.
#[test]
fn two_builds_at_once_leave_a_tarball_and_sbom_of_the_same_build() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture_target_dir().join("cache-trust-concurrent");
    let a = project(dir.path(), "a", "Hello", "1.0.0");
    let b = project(dir.path(), "b", "Howdy", "2.0.0");
    let tar = dir.path().join("out/hello.tar");
    let mut waited = false;
    for round in 0..3 {
        let spawn = |root: &Path| {
            let mut cmd = cargo_tiny();
            cmd.args(["build", "--manifest-path"])
                .arg(root.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(&target)
                .arg("--output")
                .arg(&tar)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped());
            cmd.spawn().unwrap()
        };
        let (ca, cb) = (spawn(&a), spawn(&b));
        let (oa, ob) = (
            ca.wait_with_output().unwrap(),
            cb.wait_with_output().unwrap(),
        );
        for o in [&oa, &ob] {
            assert!(
                o.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            waited |= String::from_utf8_lossy(&o.stderr).contains("waiting for the lock");
        }
        // The SBOM beside the tarball and the one the tarball holds: the same bytes.
        let sbom_file = std::fs::read_dir(tar.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.to_string_lossy().ends_with(".json"))
            .expect("an SBOM beside the tarball");
        let beside = std::fs::read(&sbom_file).unwrap();
        let digest = sha256_hex(&beside);
        let listing = run(std::process::Command::new("tar").arg("-tf").arg(&tar));
        assert!(
            listing.stdout.contains(&format!("blobs/sha256/{digest}")),
            "round {round}: the SBOM beside the tarball is not the tarball's"
        );
        let index = run(std::process::Command::new("tar")
            .arg("-xOf")
            .arg(&tar)
            .arg("index.json"))
        .stdout;
        let version = ["1.0.0", "2.0.0"]
            .into_iter()
            .find(|v| index.contains(&format!("hello:{v}")))
            .expect("the tarball names one of the builds");
        assert!(
            String::from_utf8_lossy(&beside).contains(&format!("\"{version}\"")),
            "round {round}: the tarball is {version}'s, the SBOM is not"
        );
    }
    assert!(waited, "no build waited for the other's lock");
}

/// The pairing the output lock exists for, made deterministic: build A pauses 3 s between renaming
/// its tarball and its SBOM into place (the debug-only `CARGO_TINY_TEST_PAUSE`), build B of another
/// version starts meanwhile on the same target dir and output path. Without the lock B's tarball
/// and SBOM land inside A's pause and A's SBOM then replaces B's: a tarball of one build beside the
/// SBOM of the other. With it, B waits; the tarball on disk, the SBOM beside it and the JSON report
/// of the build that wrote them are one build's.
#[test]
fn the_output_lock_keeps_a_slow_builds_tarball_sbom_and_report_together() {
    let dir = tempfile::tempdir().unwrap();
    let target = fixture_target_dir().join("cache-trust-pairing");
    let a = project(dir.path(), "a", "Hello", "1.0.0");
    let b = project(dir.path(), "b", "Howdy", "2.0.0");
    let tar = dir.path().join("out/hello.tar");
    // Compiled once each first: the timed runs below only build images.
    for root in [&a, &b] {
        image(&build(
            root,
            &target,
            &dir.path().join("warm/hello.tar"),
            &[],
        ));
    }
    let spawn = |root: &Path, pause: bool| {
        let mut cmd = cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .arg("--output")
            .arg(&tar)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if pause {
            cmd.env("CARGO_TINY_TEST_PAUSE", "between-renames:3000");
        }
        cmd.spawn().unwrap()
    };
    let ca = spawn(&a, true);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let cb = spawn(&b, false);
    let reports: Vec<Value> = [ca, cb]
        .into_iter()
        .map(|c| {
            let o = c.wait_with_output().unwrap();
            image(&Run {
                code: o.status.code().unwrap_or(-1),
                stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
            })
        })
        .collect();
    let index = run(std::process::Command::new("tar")
        .arg("-xOf")
        .arg(&tar)
        .arg("index.json"))
    .stdout;
    let version = ["1.0.0", "2.0.0"]
        .into_iter()
        .find(|v| index.contains(&format!("hello:{v}")))
        .expect("the tarball names one of the builds");
    let report = &reports[usize::from(version == "2.0.0")];
    let sbom = PathBuf::from(report["sbom_path"].as_str().unwrap());
    let beside = std::fs::read(&sbom).unwrap();
    eprintln!(
        "tarball of {version}; SBOM beside it of {}",
        ["1.0.0", "2.0.0"]
            .into_iter()
            .find(|v| String::from_utf8_lossy(&beside).contains(&format!("\"{v}\"")))
            .unwrap_or("neither")
    );
    assert!(
        String::from_utf8_lossy(&beside).contains(&format!("\"{version}\"")),
        "the tarball is {version}'s, the SBOM beside it is the other build's"
    );
    assert_eq!(
        format!("sha256:{}", sha256_hex(&beside)),
        report["sbom_digest"].as_str().unwrap(),
        "the SBOM beside the tarball is not the one {version}'s report names"
    );
    let listing = run(std::process::Command::new("tar").arg("-tf").arg(&tar));
    assert!(listing
        .stdout
        .contains(&format!("blobs/sha256/{}", sha256_hex(&beside))));
}
