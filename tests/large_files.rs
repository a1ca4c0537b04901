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
