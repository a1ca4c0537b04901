//! A large `files` source streams into the layer (issue 10 item 2): a sparse 1 GiB source (no disk
//! used) builds an image while the whole process tree stays far below the file's size in memory.
//! A memory bound, not a timing assertion.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;

use common::*;
use serde_json::Value;

const GIB: u64 = 1 << 30;
/// The bound on the peak resident memory of the image build: a quarter of the source's size.
const BOUND_KIB: i64 = 256 * 1024;

/// Runs `cmd` to its end; its exit status, stdout, stderr and the peak resident set size (KiB) of
/// it and its waited-for descendants (`wait4`'s `ru_maxrss`).
// The child is reaped by `wait4` (std's `wait` would not give its rusage).
#[allow(clippy::zombie_processes)]
fn run_measured(cmd: &mut std::process::Command, dir: &Path) -> (i32, String, String, i64) {
    let out = std::fs::File::create(dir.join("stdout")).unwrap();
    let err = std::fs::File::create(dir.join("stderr")).unwrap();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; the pid is our own child, reaped once here.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32, "wait4");
    let code = std::process::ExitStatus::from_raw(status)
        .code()
        .unwrap_or(-1);
    (
        code,
        std::fs::read_to_string(dir.join("stdout")).unwrap(),
        std::fs::read_to_string(dir.join("stderr")).unwrap(),
        usage.ru_maxrss,
    )
}

#[test]
fn a_one_gib_source_builds_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &pkg);
    let manifest = pkg.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[package.metadata.tiny]\nfiles = { \"/data/big.bin\" = \"big.bin\" }\n");
    std::fs::write(&manifest, toml).unwrap();
    let source = pkg.join("big.bin");
    std::fs::write(&source, b"x").unwrap();
    let out = tmp.path().join("out/hello.tar");
    let build = || {
        let mut cmd = cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(fixture_target_dir().join("large-files"))
            .arg("--output")
            .arg(&out);
        cmd
    };
    // Compile first with a 1-byte source: the measured run below only builds the image.
    let warm = run(&mut build());
    assert_eq!(warm.code, 0, "{}", warm.stderr);

    // Sparse: 'x' then zeros up to 1 GiB, no disk space used.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&source)
        .unwrap()
        .set_len(GIB)
        .unwrap();
    let (code, stdout, stderr, peak_kib) = run_measured(&mut build(), tmp.path());
    assert_eq!(code, 0, "{stderr}");
    eprintln!(
        "peak RSS of the build with a 1 GiB files source: {} MiB",
        peak_kib / 1024
    );
    let image = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .expect("an image message");
    assert_eq!(image["reused"], false);
    let uncompressed = image["uncompressed_size"].as_u64().unwrap();
    assert!(uncompressed > GIB, "the layer holds the source: {image}");
    assert!(
        peak_kib < BOUND_KIB,
        "peak RSS {peak_kib} KiB for a {GIB}-byte source: not streamed"
    );
    let tarball = std::fs::metadata(&out).unwrap().len();
    assert!(tarball < GIB / 16, "zeros compress: {tarball} bytes");
}

/// `len` bytes of xorshift64 output (incompressible) written to `path`, a MiB at a time.
fn incompressible(path: &Path, len: u64) {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        for w in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            w.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
    f.flush().unwrap();
}

/// A reused image (a cache hit) whose layer is 1 GiB of incompressible data is loaded into docker
/// by streaming it from the tarball it was read back from (checked against its digest on the way):
/// the peak memory of the run (wait4's `ru_maxrss`, the process tree) stays far below the layer.
/// (A reused image's tarball is never rewritten by a build: its cache record is kept per tarball
/// path. The layout writer streams a read-back blob the same way; see `Blob::verified_reader`.)
#[test]
fn a_reused_1_gib_incompressible_image_is_loaded_with_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg = tmp.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &pkg);
    let manifest = pkg.join("Cargo.toml");
    let mut toml = std::fs::read_to_string(&manifest).unwrap();
    toml.push_str("\n[package.metadata.tiny]\nfiles = { \"/data/noise.bin\" = \"noise.bin\" }\n");
    std::fs::write(&manifest, toml).unwrap();
    incompressible(&pkg.join("noise.bin"), GIB);
    let reference = format!("cargo-tiny-test/noise:{}", std::process::id());
    let build = |out: &str, extra: &[&str]| {
        let mut cmd = cargo_tiny();
        cmd.args(["build", "--message-format", "json", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(fixture_target_dir().join("large-files"))
            .arg("--output")
            .arg(tmp.path().join(out))
            .args(["--image", &reference])
            .args(extra)
            .env_remove("DOCKER_HOST");
        let (code, stdout, stderr, peak_kib) = run_measured(&mut cmd, tmp.path());
        assert_eq!(code, 0, "{stderr}");
        let image = stdout
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|m| m["reason"] == "image")
            .expect("an image message");
        (image, stderr, peak_kib)
    };
    let (first, _, first_kib) = build("a.tar", &[]);
    assert_eq!(first["reused"], false);
    assert!(first["uncompressed_size"].as_u64().unwrap() > GIB);

    eprintln!(
        "1 GiB incompressible layer built (fresh): peak RSS {} MiB",
        first_kib / 1024
    );

    // Loaded into each engine from the tarball it was read back from: docker through its socket
    // (the archive streamed as the request body), podman through `podman load` (streamed to its
    // stdin) unless its socket answers.
    for engine in ["podman", "docker"] {
        if !require_tool(engine, &["info"]) {
            continue;
        }
        let (loaded, stderr, load_kib) = build("a.tar", &[&format!("--load={engine}")]);
        let removed = std::process::Command::new(engine)
            .args(["rmi", "-f", &reference])
            .output();
        assert_eq!(loaded["reused"], true, "{loaded}");
        assert_eq!(loaded["manifest_digest"], first["manifest_digest"]);
        assert!(stderr.contains(&format!("into {engine}")), "{stderr}");
        eprintln!(
            "the reused 1 GiB image loaded into {engine}: peak RSS {} MiB",
            load_kib / 1024
        );
        assert!(
            load_kib < BOUND_KIB,
            "--load={engine}: peak RSS {load_kib} KiB"
        );
        assert!(removed.is_ok_and(|o| o.status.success()));
    }
}
