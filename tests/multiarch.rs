//! `--platform linux/amd64,linux/arm64`: one image per platform under one index, in one tarball every
//! loader accepts, pushed as one index. The arm64 binaries run under `qemu-aarch64-static`; a graph
//! that compiles C cross-compiles with zig (PyPI's `ziglang`).
//!
//! Engine tests skip locally when a tool is missing and fail in CI (`CI=true`).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use common::registry::Registry;
use common::*;
use serde_json::Value;

const BOTH: &str = "linux/arm64,linux/amd64";
const CYCLONEDX: &str = "application/vnd.cyclonedx+json";

/// One cargo-tiny build at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

fn tiny(args: &[&str], manifest: &Path) -> Run {
    let mut cmd = cargo_tiny();
    cmd.arg("build")
        .args(["--message-format", "json", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .args(args);
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    run(&mut cmd)
}

fn messages(r: &Run, reason: &str) -> Vec<Value> {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == reason)
        .collect()
}

fn json(files: &std::collections::BTreeMap<String, Vec<u8>>, digest: &str) -> Value {
    let path = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&files[&path]).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Checks the layout of a two-platform tarball; returns `(platform, binary)` of each image.
fn check_layout(tarball: &Path, bin: &str) -> Vec<(String, Vec<u8>)> {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let top: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    assert_eq!(top["manifests"].as_array().unwrap().len(), 1, "{top}");
    let index = json(&files, top["manifests"][0]["digest"].as_str().unwrap());
    let list = index["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 4, "two images, two SBOM referrers: {index}");
    let mut out = Vec::new();
    for (k, (arch, variant)) in [("amd64", None), ("arm64", Some("v8"))]
        .into_iter()
        .enumerate()
    {
        let d = &list[k];
        assert_eq!(d["platform"]["architecture"], arch, "{index}");
        assert_eq!(d["platform"]["variant"].as_str(), variant, "{index}");
        let digest = d["digest"].as_str().unwrap();
        let manifest = json(&files, digest);
        let config = json(&files, manifest["config"]["digest"].as_str().unwrap());
        assert_eq!(config["architecture"], arch);
        // The referrer of this platform names this platform's manifest.
        let r = &list[2 + k];
        assert_eq!(r["artifactType"], CYCLONEDX);
        let referrer = json(&files, r["digest"].as_str().unwrap());
        assert_eq!(referrer["subject"]["digest"], digest);
        // The binary, out of the layer.
        let layer = &files[&format!(
            "blobs/sha256/{}",
            manifest["layers"][0]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )];
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(layer.as_slice())
            .read_to_end(&mut tar)
            .unwrap();
        let layer_files = tar_files(&tar);
        out.push((
            format!("linux/{arch}"),
            layer_files[&format!("usr/local/bin/{bin}")].clone(),
        ));
    }
    // docker's manifest.json: the host's platform (amd64 here) under the tag.
    let docker: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(docker.as_array().unwrap().len(), 1);
    let host_manifest = json(&files, list[0]["digest"].as_str().unwrap());
    assert_eq!(
        docker[0]["Config"],
        format!(
            "blobs/sha256/{}",
            host_manifest["config"]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )
    );
    out
}

/// ELF `e_machine` (little-endian ELF64).
fn machine(elf: &[u8]) -> u16 {
    u16::from_le_bytes([elf[18], elf[19]])
}

/// Runs an arm64 binary under qemu-aarch64-static; its stdout.
fn qemu(binary: &[u8], dir: &Path, args: &[&str]) -> Option<String> {
    if !require_tool("qemu-aarch64-static", &["--version"]) {
        return None;
    }
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("arm64-bin");
    std::fs::write(&path, binary).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let r = run(Command::new("qemu-aarch64-static").arg(&path).args(args));
    assert_eq!(r.code, 0, "{}", r.stderr);
    Some(r.stdout)
}

#[test]
fn hello_for_two_platforms_is_one_deterministic_tarball_every_loader_takes() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = "tiny-multiarch-hello:0.1.0";
    let mut tarballs: Vec<PathBuf> = Vec::new();
    for checkout in ["a", "bb/c"] {
        let root = tmp.path().join(checkout).join("hello");
        copy_tree(&repo().join("examples/hello"), &root);
        let tarball = tmp
            .path()
            .join(format!("{}.tar", checkout.replace('/', "-")));
        let out = tarball.display().to_string();
        let r = tiny(
            &["--platform", BOTH, "--image", reference, "-o", &out],
            &root.join("Cargo.toml"),
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let index = &messages(&r, "image-index")[0];
        let platforms: Vec<&str> = index["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["platform"].as_str().unwrap())
            .collect();
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
        assert_eq!(index["docker_platform"], "linux/amd64");
        let bins: Vec<Value> = messages(&r, "binary")
            .iter()
            .map(|b| b["target"].clone())
            .collect();
        assert_eq!(
            bins,
            ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
        );
        // One SBOM per platform beside the tarball.
        assert!(Path::new(index["platforms"][1]["sbom_path"].as_str().unwrap()).is_file());
        tarballs.push(tarball);
    }
    let bytes = std::fs::read(&tarballs[0]).unwrap();
    assert!(
        bytes == std::fs::read(&tarballs[1]).unwrap(),
        "the same tarball from two checkout paths"
    );

    let images = check_layout(&tarballs[0], "hello");
    assert_eq!(machine(&images[0].1), 62, "x86-64");
    assert_eq!(machine(&images[1].1), 183, "AArch64");
    if let Some(out) = qemu(&images[1].1, tmp.path(), &["arm64"]) {
        assert_eq!(
            out.trim(),
            "Hello, arm64! (a static Rust binary, FROM scratch)"
        );
    }

    if require_tool("skopeo", &["--version"]) {
        let dir = tmp.path().join("oci");
        let r = run(Command::new("skopeo").args([
            "copy",
            "--all",
            &format!("oci-archive:{}", tarballs[0].display()),
            &format!("oci:{}:hello", dir.display()),
        ]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let r = run(Command::new("skopeo").args([
            "inspect",
            "--raw",
            &format!("oci:{}:hello", dir.display()),
        ]));
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let archs: Vec<&str> = v["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["platform"]["architecture"].as_str().unwrap())
            .collect();
        assert_eq!(archs, ["amd64", "arm64", "unknown", "unknown"], "{v}");
    }
    engines_load(&tarballs[0], reference);
}

#[test]
fn workspace_for_two_platforms_gives_one_index_per_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("workspace");
    copy_tree(&repo().join("examples/workspace"), &root);
    let r = tiny(&["--platform", BOTH], &root.join("Cargo.toml"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let indexes = messages(&r, "image-index");
    assert_eq!(indexes.len(), 2, "{}", r.stdout);
    for m in &indexes {
        let bin = m["bin"].as_str().unwrap();
        let images = check_layout(Path::new(m["path"].as_str().unwrap()), bin);
        assert_eq!(machine(&images[1].1), 183);
        if bin == "greet" {
            if let Some(out) = qemu(&images[1].1, tmp.path(), &[]) {
                assert!(!out.trim().is_empty());
            }
        }
    }
}

#[test]
fn c_code_cross_compiles_with_zig_and_runs_under_qemu() {
    if !require_tool("python3", &["-m", "ziglang", "version"]) {
        return;
    }
    let r = tiny(
        &["--platform", "linux/arm64", "--no-image", "-v"],
        &repo().join("tests/fixtures/cc/Cargo.toml"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("CC_aarch64_unknown_linux_musl=")
            && r.stderr.contains("tiny/zig/cc-aarch64-unknown-linux-musl"),
        "zig compiles the C code: {}",
        r.stderr
    );
    let b = &messages(&r, "binary")[0];
    assert_eq!(b["target"], "aarch64-unknown-linux-musl");
    assert_eq!(b["static"], true);
    let binary = std::fs::read(b["path"].as_str().unwrap()).unwrap();
    assert_eq!(machine(&binary), 183);
    let tmp = tempfile::tempdir().unwrap();
    if let Some(out) = qemu(&binary, tmp.path(), &[]) {
        assert_eq!(out.trim(), "C says 35");
    }
}

#[test]
fn platforms_come_from_the_metadata_and_bad_ones_are_one_line_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.tiny]\nplatforms = [\"linux/ppc64le\"]\n"),
    )
    .unwrap();
    let r = tiny(&["--no-image"], &manifest);
    assert_eq!(r.code, 1);
    let line = r.stderr.lines().last().unwrap_or_default().to_string();
    assert!(
        line.starts_with("error: `platforms` in [package.metadata.tiny] of ")
            && line.contains("`linux/ppc64le` is not a supported platform; help: supported platforms: linux/amd64, linux/arm64"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"));

    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.tiny]\nplatforms = [\"linux/arm64\"]\n"),
    )
    .unwrap();
    let r = tiny(&["--no-image"], &manifest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let targets: Vec<Value> = messages(&r, "binary")
        .iter()
        .map(|b| b["target"].clone())
        .collect();
    assert_eq!(targets, ["aarch64-unknown-linux-musl"]);
    // The command line wins.
    let r = tiny(&["--no-image", "--platform", "linux/amd64"], &manifest);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        messages(&r, "binary")[0]["target"],
        "x86_64-unknown-linux-musl"
    );
}

/// `--docker-platform` picks the image `docker load` gets (else the host's): `manifest.json` names
/// its config and the plain SBOM name is its; the index is the same bytes either way. A platform the
/// build does not make is refused before compiling.
#[test]
fn docker_platform_picks_what_docker_load_gets() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let manifest = root.join("Cargo.toml");
    let mut index_digests = Vec::new();
    for docker in ["linux/amd64", "linux/arm64"] {
        let tarball = tmp.path().join(format!("{}.tar", docker.replace('/', "-")));
        let r = tiny(
            &[
                "--platform",
                BOTH,
                "--docker-platform",
                docker,
                "-o",
                tarball.to_str().unwrap(),
            ],
            &manifest,
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let index = &messages(&r, "image-index")[0];
        assert_eq!(index["docker_platform"], docker);
        index_digests.push(index["index_digest"].clone());
        let entry = index["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["platform"] == docker)
            .unwrap()
            .clone();
        // Its SBOM keeps the plain name beside the tarball.
        assert_eq!(
            Path::new(entry["sbom_path"].as_str().unwrap()),
            tarball.with_extension("cdx.json")
        );
        // docker's manifest.json names that platform's config.
        let mut files = std::collections::BTreeMap::new();
        let mut ar = tar::Archive::new(std::fs::File::open(&tarball).unwrap());
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            files.insert(name, data);
        }
        let docker_manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        let config = entry["config_digest"].as_str().unwrap().replace(':', "/");
        assert_eq!(
            docker_manifest[0]["Config"],
            format!("blobs/{config}"),
            "{docker_manifest}"
        );
    }
    assert_eq!(
        index_digests[0], index_digests[1],
        "the index does not change"
    );

    // A single-platform build over it leaves no SBOM of the other platform beside the tarball.
    let tarball = tmp.path().join("linux-amd64.tar");
    let arm_sbom = tmp.path().join("linux-amd64.linux-arm64.cdx.json");
    assert!(arm_sbom.is_file());
    let r = tiny(
        &["--platform", "linux/amd64", "-o", tarball.to_str().unwrap()],
        &manifest,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !arm_sbom.exists(),
        "a stale arm64 SBOM is left beside a single-platform tarball"
    );
    assert!(tmp.path().join("linux-amd64.cdx.json").is_file());

    let r = tiny(
        &[
            "--platform",
            "linux/amd64",
            "--docker-platform",
            "linux/arm64",
        ],
        &manifest,
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.lines().last().unwrap_or_default().starts_with(
            "error: --docker-platform linux/arm64 is not a platform of this build (linux/amd64)"
        ),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
}

/// Every platform's SBOM path is checked before anything compiles: a directory at one of them is a
/// one-line error and nothing is written.
#[test]
fn an_unwritable_platform_sbom_path_is_refused_before_compiling() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let out = tmp.path().join("out");
    std::fs::create_dir_all(out.join("hello.linux-arm64.cdx.json")).unwrap();
    let tarball = out.join("hello.tar");
    let r = tiny(
        &["--platform", BOTH, "-o", tarball.to_str().unwrap()],
        &root.join("Cargo.toml"),
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = r.stderr.lines().last().unwrap_or_default();
    assert!(
        line.starts_with("error: --output ")
            && line.contains("hello.linux-arm64.cdx.json is a directory"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert!(!tarball.exists() && !out.join("hello.cdx.json").exists());
}

#[test]
fn push_writes_the_index_under_the_tag_and_each_platform_with_its_sbom() {
    if !["docker-registry", "skopeo"]
        .iter()
        .all(|t| require_tool(t, &["--version"]))
    {
        return;
    }
    let reg = Registry::plain();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let name = format!("{}/hello", reg.host());
    let tarball = tmp.path().join("hello.tar");
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("-o")
        .arg(&tarball)
        .args(["--platform", BOTH, "--image", &name, "--push"])
        .args(["--insecure-registry", &reg.host()]);
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = &messages(&r, "image-index")[0];
    let pushed = &m["pushed"];
    assert_eq!(pushed["digest"], m["index_digest"]);

    let s = run(Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &format!("docker://{name}:0.1.0"),
    ]));
    assert_eq!(s.code, 0, "{}", s.stderr);
    let index: Value = serde_json::from_str(&s.stdout).unwrap();
    assert_eq!(
        index["mediaType"],
        "application/vnd.oci.image.index.v1+json"
    );
    for (k, arch) in ["amd64", "arm64"].into_iter().enumerate() {
        let d = &index["manifests"][k];
        assert_eq!(d["platform"]["architecture"], arch);
        let digest = d["digest"].as_str().unwrap();
        assert_eq!(pushed["manifests"][k], digest);
        let s = run(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{name}@{digest}"),
        ]));
        assert_eq!(s.code, 0, "{}", s.stderr);
        let v: Value = serde_json::from_str(&s.stdout).unwrap();
        assert_eq!(v["Architecture"], arch);
        // Its SBOM, under the fallback tag of its own manifest.
        let fallback = reg.get_json(&format!("/v2/hello/manifests/{}", digest.replace(':', "-")));
        let referrer = fallback["manifests"][0]["digest"].as_str().unwrap();
        assert_eq!(fallback["manifests"][0]["artifactType"], CYCLONEDX);
        assert_eq!(index["manifests"][2 + k]["digest"], referrer);
        let rm = reg.get_json(&format!("/v2/hello/manifests/{referrer}"));
        assert_eq!(rm["subject"]["digest"], digest);
    }

    // `cargo tiny push` of the tarball: the same index under another name.
    let r = run(cargo_tiny()
        .arg("push")
        .arg(&tarball)
        .arg(format!("{}/copy:1", reg.host()))
        .args([
            "--insecure-registry",
            &reg.host(),
            "--message-format",
            "json",
        ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let p: Value = serde_json::from_str(r.stdout.lines().last().unwrap()).unwrap();
    assert_eq!(p["pushed"]["digest"], m["index_digest"]);
    assert_eq!(p["pushed"]["manifests"], pushed["manifests"]);
}

#[test]
fn doctor_reports_a_missing_cross_c_compiler_only_for_a_graph_that_compiles_c() {
    let tmp = tempfile::tempdir().unwrap();
    // No zig, no python3, no aarch64-linux-musl-gcc on this PATH; no zig venv of `cargo tiny setup`
    // in the cargo home (the cause of issue 29), no `[env]` C compiler in its config.
    let path = limited_path(&tmp.path().join("p"), &[]);
    let home = fresh_cargo_home(tmp.path());
    let doctor = |fixture: &Path| {
        let root = tmp.path().join(fixture.file_name().unwrap());
        copy_tree(fixture, &root);
        let manifest = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        std::fs::write(
            &manifest,
            format!(
                "{text}\n[package.metadata.tiny]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n"
            ),
        )
        .unwrap();
        let r = run(cargo_tiny()
            .env("PATH", &path)
            .env("CARGO_HOME", &home)
            .args(["doctor", "--offline", "--format", "json", "--manifest-path"])
            .arg(&manifest));
        let findings: Vec<Value> = r
            .stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        // The doctor ran (the size profile is always a finding for these manifests).
        assert!(
            findings.iter().any(|f| f["code"] == "profile-size"),
            "{}{}",
            r.stdout,
            r.stderr
        );
        findings
            .into_iter()
            .filter(|f| f["code"] == "toolchain-cc")
            .collect::<Vec<_>>()
    };
    let found = doctor(&repo().join("tests/fixtures/cc"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0]["message"]
            .as_str()
            .unwrap()
            .contains("no C compiler for aarch64-unknown-linux-musl, and tiny-cc compile C code"),
        "{found:?}"
    );
    assert!(
        found[0]["fix"]
            .as_str()
            .unwrap()
            .contains("cargo tiny setup --platform linux/arm64"),
        "{found:?}"
    );
    // Pure Rust: nothing to compile C for, no finding.
    assert_eq!(doctor(&repo().join("examples/hello")), Vec::<Value>::new());
}

#[test]
fn setup_for_arm64_installs_zig_into_a_venv_and_prints_each_command() {
    let tmp = tempfile::tempdir().unwrap();
    let path = limited_path(&tmp.path().join("p"), &[]);
    // A python3 to make the venv with, one that does not already provide zig.
    if !python3_without_ziglang(Path::new(&path)) {
        return;
    }
    let home = fresh_cargo_home(tmp.path());
    let r = run(cargo_tiny()
        .env("PATH", &path)
        .env("CARGO_HOME", &home)
        .args(["setup", "--dry-run", "--platform", "linux/arm64"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let venv = home.join("tiny/zig-venv");
    assert!(
        r.stderr
            .contains(&format!("Running `python3 -m venv {}`", venv.display())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "Running `{}/bin/python -m pip install --disable-pip-version-check ziglang~=0.17.0`",
            venv.display()
        )),
        "{}",
        r.stderr
    );
    assert!(!venv.exists(), "--dry-run runs nothing");
    let r = run(cargo_tiny().env("PATH", &path).args([
        "setup",
        "--dry-run",
        "--platform",
        "windows/amd64",
    ]));
    assert_eq!(r.code, 1);
    assert!(r
        .stderr
        .contains("supported platforms: linux/amd64, linux/arm64"));
}

#[test]
fn a_linker_from_cargo_config_is_used_for_arm64() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    // The real rust-lld of the toolchain, behind a wrapper that logs its call. The wrapper is named
    // rust-lld so rustc drives it as lld, like cargo-tiny's own default.
    let sysroot = run(Command::new("rustc").args(["--print", "sysroot"]));
    assert_eq!(sysroot.code, 0, "{}", sysroot.stderr);
    let real = std::fs::read_dir(Path::new(sysroot.stdout.trim()).join("lib/rustlib"))
        .unwrap()
        .map(|e| e.unwrap().path().join("bin/rust-lld"))
        .find(|p| p.is_file())
        .expect("rust-lld in the sysroot");
    let log = tmp.path().join("linker.log");
    let wrap = tmp.path().join("wrap/rust-lld");
    std::fs::create_dir_all(wrap.parent().unwrap()).unwrap();
    std::fs::write(
        &wrap,
        format!(
            "#!/bin/sh\necho linked >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrap, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join(".cargo")).unwrap();
    std::fs::write(
        root.join(".cargo/config.toml"),
        format!(
            "[target.aarch64-unknown-linux-musl]\nlinker = \"{}\"\n",
            wrap.display()
        ),
    )
    .unwrap();
    let mut cmd = cargo_tiny();
    cmd.current_dir(&root)
        .env_remove("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER")
        .args(["build", "--message-format", "json", "--target-dir"])
        .arg(fixture_target_dir())
        .args(["--platform", "linux/arm64", "--no-image", "-v"]);
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("linked")),
        "the configured linker links: {}",
        r.stderr
    );
    assert!(
        r.stderr.contains(&format!(
            "{} for aarch64-unknown-linux-musl (the user's",
            wrap.display()
        )),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr
            .contains("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld"),
        "{}",
        r.stderr
    );
    let b = &messages(&r, "binary")[0];
    assert_eq!(b["static"], true);
    assert_eq!(
        machine(&std::fs::read(b["path"].as_str().unwrap()).unwrap()),
        183
    );
}

#[test]
fn a_crate_compiling_c_only_for_arm64_needs_a_c_compiler_for_arm64() {
    // The graph is resolved for the first platform (amd64); `clib` (a `links` crate, so one that
    // compiles C) is a dependency on aarch64 only, and must still be seen for linux/arm64.
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("app");
    std::fs::create_dir_all(root.join("src")).unwrap();
    // Outside the app's directory, so not a member of its workspace (members are always resolved).
    let clib = tmp.path().join("clib");
    std::fs::create_dir_all(clib.join("src")).unwrap();
    std::fs::write(
        root.join("Cargo.toml"),
        "[package]\nname = \"app\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[target.'cfg(target_arch = \"aarch64\")'.dependencies]\nclib = { path = \"../clib\" }\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
    std::fs::write(
        clib.join("Cargo.toml"),
        "[package]\nname = \"clib\"\nversion = \"0.1.0\"\nedition = \"2021\"\nlinks = \"clib\"\nbuild = \"build.rs\"\n",
    )
    .unwrap();
    std::fs::write(clib.join("build.rs"), "fn main() {}\n").unwrap();
    std::fs::write(clib.join("src/lib.rs"), "").unwrap();
    // No zig (no python3, no venv in a fresh CARGO_HOME), no aarch64-linux-musl-gcc.
    let path = limited_path(&tmp.path().join("p"), &[]);
    let r = run(cargo_tiny()
        .env("PATH", &path)
        .env("CARGO_HOME", fresh_cargo_home(tmp.path()))
        // amd64 first: the workspace's graph is amd64's.
        .args([
            "build",
            "--no-image",
            "--platform",
            "linux/amd64,linux/arm64",
        ])
        .arg("--target-dir")
        .arg(tmp.path().join("target"))
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("aarch64-unknown-linux-musl") && errors[0].contains("clib"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "nothing is built: {}",
        r.stderr
    );
}
