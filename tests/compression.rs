//! `--compression gzip|gzip-max|zstd`, end to end on examples/hello: each tarball carries the layer
//! media type of its compression, is byte-identical across two builds in different checkouts, and
//! loads and runs where it claims to (gzip-max: docker 20.10, podman, skopeo; zstd: podman, skopeo —
//! docker is not claimed for zstd).

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::*;
use serde_json::Value;

const GREETING: &str = "Hello, world! (a static Rust binary, FROM scratch)";

/// One cargo-tiny at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

struct Built {
    _dir: tempfile::TempDir,
    tarball: PathBuf,
    image: Value,
    stderr: String,
}

/// examples/hello copied to a fresh dir and built with `--compression ALGO --image NAME:test`.
fn build(compression: &str, name: &str) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out/hello.tar");
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(&tarball)
        .args(["--compression", compression, "--image"])
        .arg(format!("{name}:test"))
        .env("SOURCE_DATE_EPOCH", "1700000000");
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
    assert_eq!(r.code, 0, "build with {compression} failed:\n{}", r.stderr);
    let image = r
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "image")
        .expect("an image message");
    Built {
        _dir: dir,
        tarball,
        image,
        stderr: r.stderr,
    }
}

fn gzip_max() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| build("gzip-max", "tiny-gzip-max"))
}

fn zstd() -> &'static Built {
    static B: OnceLock<Built> = OnceLock::new();
    B.get_or_init(|| build("zstd", "tiny-zstd"))
}

/// The image manifest and the layer blob of a tarball, each checked against its digest.
fn manifest_and_layer(tarball: &Path) -> (Value, Vec<u8>) {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let blob = |digest: &str| {
        let data = files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))].clone();
        assert_eq!(cargo_tiny::image::sha256(&data), digest);
        data
    };
    let index: Value = serde_json::from_slice(&files["index.json"]).unwrap();
    let nested: Value =
        serde_json::from_slice(&blob(index["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let manifest: Value =
        serde_json::from_slice(&blob(nested["manifests"][0]["digest"].as_str().unwrap())).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    (manifest, layer)
}

fn image_config(tarball: &Path, manifest: &Value) -> Value {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let hex = manifest["config"]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:");
    serde_json::from_slice(&files[&format!("blobs/sha256/{hex}")]).unwrap()
}

#[test]
fn each_compression_writes_its_media_type_and_decompresses_to_the_diff_id() {
    for (b, media_type, magic) in [
        (
            gzip_max(),
            "application/vnd.oci.image.layer.v1.tar+gzip",
            &[0x1f, 0x8b][..],
        ),
        (
            zstd(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
            &[0x28, 0xb5, 0x2f, 0xfd][..],
        ),
    ] {
        let (manifest, layer) = manifest_and_layer(&b.tarball);
        assert_eq!(manifest["layers"][0]["mediaType"], media_type);
        assert_eq!(b.image["layer_media_type"], media_type);
        assert!(layer.starts_with(magic), "{media_type}: stream magic");
        let mut tar = Vec::new();
        if media_type.ends_with("gzip") {
            flate2::read::GzDecoder::new(layer.as_slice())
                .read_to_end(&mut tar)
                .unwrap();
        } else {
            zstd::stream::Decoder::new(layer.as_slice())
                .unwrap()
                .read_to_end(&mut tar)
                .unwrap();
        }
        let config = image_config(&b.tarball, &manifest);
        assert_eq!(
            config["rootfs"]["diff_ids"][0],
            cargo_tiny::image::sha256(&tar)
        );
        assert!(tar_files(&tar).contains_key("usr/local/bin/hello"));
    }
}

#[test]
fn gzip_max_is_smaller_than_gzip_and_says_what_it_cost() {
    let b = gzip_max();
    assert_eq!(b.image["compression"], "gzip-max");
    let line = b
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Compressed"))
        .unwrap_or_else(|| panic!("no Compressed line:\n{}", b.stderr));
    assert!(
        line.contains("zopfli") && line.contains(" s against gzip"),
        "{line}"
    );
    let gzip = build("gzip", "tiny-gzip");
    assert_eq!(gzip.image["compression"], "gzip");
    assert!(
        !gzip.stderr.contains("Compressed"),
        "the default says nothing extra"
    );
    let (small, big) = (
        b.image["compressed_size"].as_u64().unwrap(),
        gzip.image["compressed_size"].as_u64().unwrap(),
    );
    assert!(small < big, "gzip-max {small} < gzip {big}");
    assert_eq!(
        b.image["uncompressed_size"], gzip.image["uncompressed_size"],
        "same tar"
    );
}

#[test]
fn every_compression_is_byte_identical_across_two_checkouts() {
    for (first, algo, name) in [
        (gzip_max(), "gzip-max", "tiny-gzip-max"),
        (zstd(), "zstd", "tiny-zstd"),
    ] {
        let second = build(algo, name);
        assert_eq!(
            std::fs::read(&first.tarball).unwrap(),
            std::fs::read(&second.tarball).unwrap(),
            "{algo}: the two tarballs differ"
        );
    }
}

#[test]
fn zstd_does_not_claim_docker() {
    let b = zstd();
    assert!(b.image["load"].get("docker").is_none(), "{}", b.image);
    assert!(b.image["load"]["podman"]
        .as_str()
        .unwrap()
        .starts_with("podman load -i "));
    let run_line = b
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Run"))
        .unwrap();
    assert!(
        run_line.contains("podman load") && run_line.contains("not docker 20.10"),
        "{run_line}"
    );
    assert!(!run_line.contains("docker load"), "{run_line}");
}

/// podman's run recipe of ../shared/ENGINES.md.
fn podman_load_and_run(tarball: &Path, name: &str) {
    let r = run(std::process::Command::new("podman")
        .args(["load", "-i"])
        .arg(tarball));
    assert_eq!(r.code, 0, "podman load: {}{}", r.stdout, r.stderr);
    let image = format!("localhost/{name}:test");
    let r = common::podman_run("--rm", &[&image]);
    assert_eq!(r.code, 0, "podman run: {}", r.stderr);
    assert_eq!(r.stdout.trim(), GREETING);
    let _ = run(std::process::Command::new("podman").args(["rmi", "-f", &image]));
}

/// `skopeo inspect` reads the layer's media type, and `skopeo copy` to an OCI layout keeps it.
fn skopeo_inspects_and_copies(tarball: &Path, media_type: &str) {
    let archive = format!("oci-archive:{}", tarball.display());
    let r = run(std::process::Command::new("skopeo").args(["inspect", "--raw", &archive]));
    assert_eq!(r.code, 0, "skopeo inspect: {}", r.stderr);
    let dir = tempfile::tempdir().unwrap();
    let dest = format!("oci:{}:copy", dir.path().join("layout").display());
    let r = run(std::process::Command::new("skopeo").args(["copy", "--quiet", &archive, &dest]));
    assert_eq!(r.code, 0, "skopeo copy: {}", r.stderr);
    let r = run(std::process::Command::new("skopeo").args(["inspect", "--raw", &dest]));
    assert_eq!(r.code, 0, "skopeo inspect copy: {}", r.stderr);
    let m: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(m["layers"][0]["mediaType"], media_type, "{m}");
}

#[test]
fn gzip_max_loads_and_runs_in_podman() {
    if require_tool("podman", &["--version"]) {
        podman_load_and_run(&gzip_max().tarball, "tiny-gzip-max");
    }
}

#[test]
fn zstd_loads_and_runs_in_podman() {
    if require_tool("podman", &["--version"]) {
        podman_load_and_run(&zstd().tarball, "tiny-zstd");
    }
}

#[test]
fn gzip_max_and_zstd_pass_through_skopeo() {
    if !require_tool("skopeo", &["--version"]) {
        return;
    }
    skopeo_inspects_and_copies(
        &gzip_max().tarball,
        "application/vnd.oci.image.layer.v1.tar+gzip",
    );
    skopeo_inspects_and_copies(
        &zstd().tarball,
        "application/vnd.oci.image.layer.v1.tar+zstd",
    );
}

#[test]
fn gzip_max_loads_and_runs_in_docker() {
    if !require_tool("docker", &["info"]) {
        return;
    }
    let b = gzip_max();
    let r = run(std::process::Command::new("docker")
        .args(["load", "-i"])
        .arg(&b.tarball));
    assert_eq!(r.code, 0, "docker load: {}{}", r.stdout, r.stderr);
    let r = common::docker_run(&["tiny-gzip-max:test"]);
    assert_eq!(r.code, 0, "docker run: {}", r.stderr);
    assert_eq!(r.stdout.trim(), GREETING);
    let _ = run(std::process::Command::new("docker").args(["rmi", "-f", "tiny-gzip-max:test"]));
}

#[test]
fn bad_compression_values_are_one_line_errors_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.path().join("out.tar");
    let r = run(cargo_tiny()
        .args(["build", "--compression", "xz", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--output")
        .arg(&tarball));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("'xz'") && r.stderr.contains("--compression"),
        "{}",
        r.stderr
    );

    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(
            "[workspace]",
            "[package.metadata.tiny]\ncompression = \"brotli\"\n\n[workspace]",
        ),
    )
    .unwrap();
    let r = run(cargo_tiny()
        .args(["build", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(dir.path().join("target"))
        .arg("--output")
        .arg(&tarball));
    assert_ne!(r.code, 0);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].contains("`compression`") && errors[0].contains("brotli"),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains("Compiling"),
        "fails before compiling: {}",
        r.stderr
    );
    assert!(!tarball.exists());
}
