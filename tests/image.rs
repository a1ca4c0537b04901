//! `cargo tiny build`'s image stage, end to end: the tarball loads and runs on real engines, is
//! reproducible, carries a valid SBOM that matches the binary, and bad configuration fails cleanly.
//!
//! Fixtures build once per test binary into the shared fixture target dir; engine tests skip locally
//! when the engine is missing and fail in CI (`CI=true`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::*;
use serde_json::Value;

const GREETING: &str = "Hello, world! (a static Rust binary, FROM scratch)";

/// Cargo builds in one shared target dir: one cargo-tiny at a time, so that no build overwrites a
/// binary another is reading.
static BUILD: Mutex<()> = Mutex::new(());

/// A finished build: where it ran, and its JSON messages.
struct Built {
    _dir: tempfile::TempDir,
    root: PathBuf,
    tarball: PathBuf,
    image: Value,
    binary: Value,
}

impl Built {
    fn sbom_path(&self) -> PathBuf {
        PathBuf::from(self.image["sbom_path"].as_str().unwrap())
    }
}

/// Copies `src` into a fresh temp dir and runs `cargo tiny build --output <dir>/out/<name>.tar`.
fn build_copy(src: &Path, name: &str, envs: &[(&str, &str)], extra: &[&str]) -> (Built, Run) {
    build_copy_in(cargo_tiny(), src, name, envs, extra)
}

/// [`build_copy`] with `cmd` as the program that runs `cargo-tiny tiny` (e.g. in a namespace).
fn build_copy_in(
    mut cmd: std::process::Command,
    src: &Path,
    name: &str,
    envs: &[(&str, &str)],
    extra: &[&str],
) -> (Built, Run) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(name);
    copy_tree(src, &root);
    let tarball = dir.path().join("out").join(format!("{name}.tar"));
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(root.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(&tarball)
        .args(extra)
        .envs(envs.iter().copied());
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(&mut cmd)
    };
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
            .unwrap_or(Value::Null)
    };
    let built = Built {
        image: find("image"),
        binary: find("binary"),
        _dir: dir,
        root,
        tarball,
    };
    (built, r)
}

fn build_ok(src: &Path, name: &str, envs: &[(&str, &str)]) -> Built {
    let (b, r) = build_copy(src, name, envs, &[]);
    assert_eq!(r.code, 0, "build of {name} failed:\n{}", r.stderr);
    assert!(b.tarball.is_file(), "no tarball at {}", b.tarball.display());
    b
}

fn hello_src() -> PathBuf {
    repo().join("examples/hello")
}

/// examples/hello, built once.
fn hello() -> &'static Built {
    static HELLO: OnceLock<Built> = OnceLock::new();
    HELLO.get_or_init(|| build_ok(&hello_src(), "hello", &[]))
}

/// tests/fixtures/certs (depends on rustls-native-certs), built once.
fn certs() -> &'static Built {
    static CERTS: OnceLock<Built> = OnceLock::new();
    CERTS.get_or_init(|| build_ok(&repo().join("tests/fixtures/certs"), "certs", &[]))
}

fn sha256(data: &[u8]) -> String {
    cargo_tiny::image::sha256(data)
}

/// The OCI layout inside a tarball, with each blob checked against its name.
struct Layout {
    files: BTreeMap<String, Vec<u8>>,
}

impl Layout {
    fn open(path: &Path) -> Layout {
        let files = tar_files(&std::fs::read(path).unwrap());
        for (name, data) in &files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
                assert_eq!(
                    sha256(data),
                    format!("sha256:{hex}"),
                    "blob {name} is corrupt"
                );
            }
        }
        Layout { files }
    }

    fn blob(&self, digest: &str) -> &[u8] {
        let name = format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
        self.files
            .get(&name)
            .unwrap_or_else(|| panic!("{name} missing"))
    }

    fn json(&self, digest: &str) -> Value {
        serde_json::from_slice(self.blob(digest)).unwrap()
    }

    fn index_json(&self) -> Value {
        serde_json::from_slice(&self.files["index.json"]).unwrap()
    }

    /// The nested index's entries: (image manifest descriptor, SBOM referrer descriptor).
    fn entries(&self) -> (Value, Value) {
        let index = self.index_json();
        let entries = index["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 1, "index.json must have exactly one entry");
        let nested = self.json(entries[0]["digest"].as_str().unwrap());
        let m = nested["manifests"].as_array().unwrap();
        let image = m
            .iter()
            .find(|d| d["platform"]["os"] == "linux")
            .cloned()
            .unwrap();
        let referrer = m
            .iter()
            .find(|d| d["artifactType"] == "application/vnd.cyclonedx+json")
            .cloned()
            .unwrap();
        assert_eq!(referrer["platform"]["os"], "unknown");
        (image, referrer)
    }

    fn manifest(&self) -> Value {
        let (image, _) = self.entries();
        self.json(image["digest"].as_str().unwrap())
    }

    /// Paths in the image's single layer.
    fn layer_paths(&self) -> BTreeSet<String> {
        let m = self.manifest();
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(
            layers[0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let gz = self.blob(layers[0]["digest"].as_str().unwrap());
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        let config = self.json(m["config"]["digest"].as_str().unwrap());
        assert_eq!(
            config["rootfs"]["diff_ids"][0].as_str().unwrap(),
            sha256(&raw)
        );
        tar_files(&raw).into_keys().collect()
    }

    /// One file's bytes from the image's single gzip layer.
    fn layer_file(&self, path: &str) -> Vec<u8> {
        let m = self.manifest();
        let gz = self.blob(m["layers"][0]["digest"].as_str().unwrap());
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz)
            .read_to_end(&mut raw)
            .unwrap();
        let mut files = tar_files(&raw);
        files
            .remove(path)
            .unwrap_or_else(|| panic!("no {path} in the layer"))
    }
}

#[test]
fn json_message_describes_the_image() {
    let b = hello();
    let m = &b.image;
    assert_eq!(m["image"], "hello:0.1.0", "{m}");
    assert_eq!(m["path"].as_str().unwrap(), b.tarball.to_str().unwrap());
    assert!(m["manifest_digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(
        m["tarball_size"].as_u64().unwrap(),
        std::fs::metadata(&b.tarball).unwrap().len()
    );
    assert!(m["compressed_size"].as_u64().unwrap() < m["uncompressed_size"].as_u64().unwrap());
    assert_eq!(m["sbom_components"], 1);
    assert_eq!(m["ca_certificates"], false);
    assert_eq!(m["user"], "65532:65532");
    assert!(m["load"]["docker"]
        .as_str()
        .unwrap()
        .starts_with("docker load -i "));
    assert_eq!(m["run"]["podman"], "podman run --rm hello:0.1.0");
    assert_eq!(
        b.sbom_path(),
        b.tarball.with_file_name("hello.cdx.json"),
        "the SBOM lies beside the tarball"
    );
}

#[test]
fn tarball_is_an_oci_layout_and_a_docker_archive() {
    let b = hello();
    let l = Layout::open(&b.tarball);
    assert_eq!(l.files["oci-layout"], br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index = l.index_json();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "hello:0.1.0"
    );
    let (image, _) = l.entries();
    assert_eq!(image["digest"], b.image["manifest_digest"]);
    assert_eq!(image["platform"]["architecture"], "amd64");

    let docker: Value = serde_json::from_slice(&l.files["manifest.json"]).unwrap();
    let manifest = l.manifest();
    assert_eq!(docker[0]["RepoTags"][0], "hello:0.1.0");
    assert_eq!(
        docker[0]["Config"].as_str().unwrap(),
        format!(
            "blobs/sha256/{}",
            manifest["config"]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )
    );

    let config = l.json(manifest["config"]["digest"].as_str().unwrap());
    assert_eq!(config["config"]["User"], "65532:65532");
    assert_eq!(config["config"]["Entrypoint"][0], "/usr/local/bin/hello");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["history"].as_array().unwrap().len(), 1);
    let ann = &manifest["annotations"];
    assert_eq!(ann["org.opencontainers.image.version"], "0.1.0");
    assert_eq!(
        ann["org.opencontainers.image.licenses"],
        "MIT OR Apache-2.0"
    );
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "1970-01-01T00:00:00Z"
    );
    assert!(
        ann.get("org.opencontainers.image.revision").is_none(),
        "not a git checkout"
    );
    assert_eq!(
        config["config"]["Labels"], *ann,
        "docker load keeps only the config: the labels carry the annotations"
    );

    let paths = l.layer_paths();
    for p in [
        "etc/passwd",
        "etc/group",
        "tmp/",
        "usr/local/bin/hello",
        "home/nonroot/",
    ] {
        assert!(paths.contains(p), "{p} missing from {paths:?}");
    }
    assert!(!paths.contains("etc/ssl/certs/ca-certificates.crt"));
}

#[test]
fn sbom_is_attached_as_a_referrer_of_the_image_manifest() {
    let b = certs();
    let l = Layout::open(&b.tarball);
    let (image, referrer_desc) = l.entries();
    let referrer = l.json(referrer_desc["digest"].as_str().unwrap());
    assert_eq!(referrer["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(referrer["subject"]["digest"], image["digest"]);
    assert_eq!(referrer["subject"]["digest"], b.image["manifest_digest"]);
    assert_eq!(
        referrer["config"]["digest"],
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    );
    let sbom_blob = l.blob(referrer["layers"][0]["digest"].as_str().unwrap());
    let beside = std::fs::read(b.sbom_path()).unwrap();
    assert_eq!(
        sbom_blob,
        beside.as_slice(),
        "the referrer's blob is the file beside the tarball"
    );
    let manifest = l.manifest();
    assert_eq!(
        manifest["annotations"]["io.github.cargo-tiny.sbom.digest"]
            .as_str()
            .unwrap(),
        sha256(&beside)
    );
}

#[test]
fn sbom_lists_exactly_the_packages_in_the_binary() {
    let b = certs();
    let bin = PathBuf::from(b.binary["path"].as_str().unwrap());
    let audit = auditable_info::audit_info_from_file(&bin, Default::default()).expect("audit data");
    let from_binary: BTreeSet<(String, String)> = audit
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect();
    let sbom: Value = serde_json::from_slice(&std::fs::read(b.sbom_path()).unwrap()).unwrap();
    let mut listed: BTreeSet<(String, String)> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let root = &sbom["metadata"]["component"];
    listed.insert((
        root["name"].as_str().unwrap().into(),
        root["version"].as_str().unwrap().into(),
    ));
    assert_eq!(listed, from_binary);
    assert!(listed.iter().any(|(n, _)| n == "rustls-native-certs"));
    assert_eq!(b.image["sbom_components"], from_binary.len());

    let dep = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rustls-native-certs")
        .unwrap();
    assert!(dep["purl"]
        .as_str()
        .unwrap()
        .starts_with("pkg:cargo/rustls-native-certs@0.8."));
    assert_eq!(
        dep["hashes"][0]["alg"], "SHA-256",
        "checksum from Cargo.lock"
    );
    assert!(dep["licenses"][0]["expression"].as_str().is_some());
    let root_ref = root["bom-ref"].as_str().unwrap();
    let root_deps = sbom["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ref"] == root_ref)
        .unwrap();
    assert!(root_deps["dependsOn"][0]
        .as_str()
        .unwrap()
        .contains("rustls-native-certs"));
}

#[test]
fn sbom_validates_against_the_cyclonedx_schema() {
    if !require_tool("python3", &["-c", "import cyclonedx.validation.json"]) {
        return;
    }
    for b in [hello(), certs()] {
        let r = run(std::process::Command::new("python3")
            .arg(repo().join("tests/validate_sbom.py"))
            .arg(b.sbom_path()));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
}

#[test]
fn ca_bundle_follows_the_trust_store_crates() {
    let b = certs();
    assert_eq!(b.image["ca_certificates"], true, "{}", b.image);
    assert!(b.image["ca_certificates_reason"]
        .as_str()
        .unwrap()
        .contains("rustls-native-certs"));
    assert!(Layout::open(&b.tarball)
        .layer_paths()
        .contains("etc/ssl/certs/ca-certificates.crt"));
    // hello: checked in tarball_is_an_oci_layout_and_a_docker_archive.
    assert_eq!(hello().image["ca_certificates"], false);
}

/// The CA bundle is Mozilla's set as the pinned webpki-root-certs ships it: another bundle on the
/// build host (here a mount namespace with a different /etc/ssl/certs) changes no byte of the
/// image; the host's file is used only when CARGO_TINY_CA_BUNDLE names it, and then said (issue 28).
#[test]
fn the_image_does_not_depend_on_the_hosts_ca_bundle() {
    let first = certs();
    let layer = Layout::open(&first.tarball).layer_file("etc/ssl/certs/ca-certificates.crt");
    assert!(layer.starts_with(b"-----BEGIN CERTIFICATE-----\n"));
    assert!(
        first.image["ca_certificates_source"]
            .as_str()
            .unwrap()
            .contains("webpki-root-certs"),
        "{}",
        first.image
    );
    if !require_tool("unshare", &["--mount", "true"]) {
        return;
    }
    let fake = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
    let mut other_host = std::process::Command::new("unshare");
    other_host
        .args(["--mount", "sh", "-c"])
        .arg(
            "mount -t tmpfs tiny-test /etc/ssl/certs && printf %s \"$FAKE_BUNDLE\" \
             >/etc/ssl/certs/ca-certificates.crt && exec \"$0\" \"$@\"",
        )
        .arg(env!("CARGO_BIN_EXE_cargo-tiny"))
        .arg("tiny")
        .env("FAKE_BUNDLE", fake);
    common::isolate(&mut other_host);
    let (second, r) = build_copy_in(
        other_host,
        &repo().join("tests/fixtures/certs"),
        "certs",
        &[],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        second.image["manifest_digest"],
        first.image["manifest_digest"]
    );
    assert_eq!(
        std::fs::read(&first.tarball).unwrap(),
        std::fs::read(&second.tarball).unwrap()
    );

    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), fake).unwrap();
    let host = file.path().to_str().unwrap();
    let (third, r) = build_copy(
        &repo().join("tests/fixtures/certs"),
        "certs",
        &[("CARGO_TINY_CA_BUNDLE", host)],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_ne!(
        third.image["manifest_digest"],
        first.image["manifest_digest"]
    );
    assert_eq!(
        Layout::open(&third.tarball).layer_file("etc/ssl/certs/ca-certificates.crt"),
        fake.as_bytes()
    );
    assert!(
        r.stderr
            .contains(&format!("the host file {host} (CARGO_TINY_CA_BUNDLE)")),
        "{}",
        r.stderr
    );
}

#[test]
fn missing_host_bundle_is_an_error_and_leaves_no_tarball() {
    hello();
    let (b, r) = build_copy(
        &hello_src(),
        "hello",
        &[("CARGO_TINY_CA_BUNDLE", "/nonexistent/ca.crt")],
        &["--ca-certificates", "always"],
    );
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("/nonexistent/ca.crt"), "{}", r.stderr);
    assert!(r.stderr.contains("ca-certificates"), "{}", r.stderr);
    assert!(!b.tarball.exists() && !b.sbom_path_guess().exists());
}

impl Built {
    fn sbom_path_guess(&self) -> PathBuf {
        self.tarball.with_file_name(format!(
            "{}.cdx.json",
            self.tarball.file_stem().unwrap().to_string_lossy()
        ))
    }
}

#[test]
fn builds_are_reproducible_across_checkouts_and_follow_source_date_epoch() {
    let a = hello();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = build_ok(&hello_src(), "hello", &[]);
    assert_ne!(a.root, b.root);
    assert_eq!(a.image["manifest_digest"], b.image["manifest_digest"]);
    assert!(
        std::fs::read(&a.tarball).unwrap() == std::fs::read(&b.tarball).unwrap(),
        "tarballs differ"
    );
    assert_eq!(
        std::fs::read(a.sbom_path()).unwrap(),
        std::fs::read(b.sbom_path()).unwrap()
    );

    // Outside git and without SOURCE_DATE_EPOCH the image says 1970: the build says why, once
    // (not only with -v); a dated build prints no such line.
    let (undated, r) = build_copy(&hello_src(), "hello", &[], &[]);
    // The Image line shows the digest short, as `docker images` does; JSON has it whole.
    let full = undated.image["manifest_digest"].as_str().unwrap();
    let image_line = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Image "))
        .unwrap();
    assert!(
        image_line.ends_with(&format!("{}…", &full[..19])),
        "{image_line} / {full}"
    );
    assert!(!r.stderr.contains(full), "{}", r.stderr);
    let why = "Timestamp 1970-01-01T00:00:00Z (no SOURCE_DATE_EPOCH and no git HEAD: set SOURCE_DATE_EPOCH";
    assert_eq!(r.stderr.matches(why).count(), 1, "{}", r.stderr);
    let (c, r) = build_copy(
        &hello_src(),
        "hello",
        &[("SOURCE_DATE_EPOCH", "1700000000")],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("Timestamp"), "{}", r.stderr);
    assert_ne!(c.image["manifest_digest"], a.image["manifest_digest"]);
    assert_eq!(c.image["created"], "2023-11-14T22:13:20Z");
    let l = Layout::open(&c.tarball);
    let m = l.manifest();
    assert_eq!(
        m["annotations"]["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    let config = l.json(m["config"]["digest"].as_str().unwrap());
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn skopeo_shows_the_annotations_and_the_nonroot_user() {
    if !require_tool("skopeo", &["--version"]) {
        return;
    }
    let b = hello();
    let archive = format!("oci-archive:{}", b.tarball.display());
    let r = run(std::process::Command::new("skopeo").args(["inspect", &archive]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let labels = &v["Labels"];
    assert_eq!(labels["org.opencontainers.image.title"], "hello");
    assert_eq!(labels["org.opencontainers.image.version"], "0.1.0");
    assert_eq!(
        labels["org.opencontainers.image.description"],
        "The smallest cargo-tiny example: a static binary that greets"
    );
    assert!(labels["io.github.cargo-tiny.sbom.digest"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));
    assert_eq!(v["Architecture"], "amd64");

    let r = run(std::process::Command::new("skopeo").args(["inspect", "--config", &archive]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let config: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(config["config"]["User"], "65532:65532");

    let r = run(std::process::Command::new("skopeo").args(["inspect", "--raw", &archive]));
    let raw: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(raw["manifests"][0]["digest"], b.image["manifest_digest"]);
}

#[test]
fn podman_loads_and_runs_the_image() {
    if !require_tool("podman", &["--version"]) {
        return;
    }
    let b = hello();
    let r = run(std::process::Command::new("podman")
        .args(["load", "-i"])
        .arg(&b.tarball));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("hello:0.1.0"), "{}", r.stdout);
    // The recipe of ../shared/ENGINES.md: runc, explicit ulimits, no network.
    let podman_run = |args: &[&str]| common::podman_run("--rm", args);
    let r = podman_run(&["localhost/hello:0.1.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), GREETING);
    let r = podman_run(&[
        "--entrypoint",
        "/usr/local/bin/hello",
        "localhost/hello:0.1.0",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
}

#[test]
fn docker_loads_and_runs_the_image() {
    if !require_tool("docker", &["info"]) {
        return;
    }
    let b = hello();
    let r = run(std::process::Command::new("docker")
        .args(["load", "-i"])
        .arg(&b.tarball));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("hello:0.1.0"), "{}", r.stdout);
    let r = common::docker_run(&["hello:0.1.0"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.trim(), GREETING);
    let r = run(std::process::Command::new("docker").args([
        "inspect",
        "--format",
        "{{.Config.User}} {{index .Config.Labels \"org.opencontainers.image.version\"}}",
        "hello:0.1.0",
    ]));
    assert_eq!(r.stdout.trim(), "65532:65532 0.1.0");
}

/// Each bad value fails before anything is compiled, names the key and the manifest, and leaves no
/// tarball.
#[test]
fn bad_configuration_is_reported_with_its_key_and_manifest() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "x").unwrap();
    let outside_rel = format!(
        "../../../{}/secret.txt",
        outside.path().file_name().unwrap().to_string_lossy()
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("port out of range", "ports = [70000]".into(), "`ports`"),
        ("unknown key", "colour = \"red\"".into(), "`colour`"),
        (
            "image path with ..",
            "files = { \"/etc/../x\" = \"Cargo.toml\" }".into(),
            "`files.\"/etc/../x\"`",
        ),
        (
            "relative image path",
            "files = { \"etc/app.toml\" = \"Cargo.toml\" }".into(),
            "`files.\"etc/app.toml\"`",
        ),
        (
            "source outside the package",
            format!("files = {{ \"/etc/secret\" = \"{outside_rel}\" }}"),
            "outside the package",
        ),
        (
            "missing source file",
            "files = { \"/etc/app.toml\" = \"app.toml\" }".into(),
            "does not exist",
        ),
        (
            "workdir with ..",
            "workdir = \"/a/../b\"".into(),
            "`workdir`",
        ),
        ("bad user", "user = \"bob\"".into(), "`user`"),
        (
            "bad ca-certificates",
            "ca-certificates = \"sometimes\"".into(),
            "`ca-certificates`",
        ),
        (
            "bad stop-signal",
            "stop-signal = \"TERM\"".into(),
            "`stop-signal`",
        ),
        ("bad name", "name = \"Hello World\"".into(), "`name`"),
        ("bad tag", "tag = \"-x\"".into(), "`tag`"),
        ("env not a table", "env = [\"A=1\"]".into(), "`env`"),
        // Help matched to the real mistake (issue 28).
        (
            "a bool for an enum key",
            "ca-certificates = true".into(),
            "help: use one of \"auto\", \"always\", \"never\"",
        ),
        (
            "a string for an array",
            "tags = \"latest\"".into(),
            "write it as an array: tags = [\"latest\"]",
        ),
        (
            "a directory as a file path",
            "files = { \"/etc/app/\" = \"Cargo.toml\" }".into(),
            "ends with `/`: it must be a file path, not a directory",
        ),
        (
            "a key spelt with _",
            "ca_certificates = \"always\"".into(),
            "did you mean `ca-certificates`?",
        ),
        (
            "a typo in a key",
            "comression = \"zstd\"".into(),
            "did you mean `compression`?",
        ),
    ];
    for (what, line, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        // Two levels down, so that `../../<outside>` leaves the package.
        let root = dir.path().join("a").join("hello");
        copy_tree(&hello_src(), &root);
        let manifest = root.join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = text.replace(
            "# Not part of",
            &format!("[package.metadata.tiny]\n{line}\n\n# Not part of"),
        );
        let line_no = text.lines().position(|l| l == line).unwrap() + 1;
        std::fs::write(&manifest, text).unwrap();
        let out = dir.path().join("out").join("hello.tar");
        let r = run(cargo_tiny()
            .args(["build", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(fixture_target_dir())
            .arg("--output")
            .arg(&out));
        assert_ne!(r.code, 0, "{what}: should fail");
        let err = r.stderr.trim();
        assert!(err.contains(expect), "{what}: {err}");
        assert!(err.contains("[package.metadata.tiny]"), "{what}: {err}");
        assert!(
            err.contains(&format!("{}:{line_no}: ", manifest.display())),
            "{what}: names the line {line_no}: {err}"
        );
        assert!(err.contains("help:"), "{what}: a hint: {err}");
        assert!(!err.contains("quote the value"), "{what}: {err}");
        assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
        assert!(!err.contains("Compiling"), "{what}: fails before compiling");
        assert!(!out.exists(), "{what}: tarball left behind");
        assert!(!out.with_file_name("hello.cdx.json").exists());
    }
}

#[test]
fn bad_source_date_epoch_fails_before_compiling() {
    let (b, r) = build_copy(
        &hello_src(),
        "hello",
        &[("SOURCE_DATE_EPOCH", "yesterday")],
        &[],
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("SOURCE_DATE_EPOCH=yesterday"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert!(!b.tarball.exists());
}

#[test]
fn workspace_defaults_are_checked_against_the_root_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&hello_src(), &root);
    let manifest = root.join("Cargo.toml");
    let text =
        std::fs::read_to_string(&manifest).unwrap() + "\n[workspace.metadata.tiny]\nports = [0]\n";
    std::fs::write(&manifest, text).unwrap();
    let r = run(cargo_tiny()
        .args(["build", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir()));
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("`ports` in [workspace.metadata.tiny]"),
        "{}",
        r.stderr
    );
}

/// Every `[package.metadata.tiny]` key lands in the image; `[workspace.metadata.tiny]` gives defaults
/// and the command line wins over both.
#[test]
fn configuration_goes_into_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("hello");
    copy_tree(&hello_src(), &root);
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::write(root.join("conf/greeting.txt"), "hi\n").unwrap();
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "# Not part of",
        r#"[package.metadata.tiny]
name = "greeter"
tag = "v1"
cmd = ["tiny"]
env = { RUST_LOG = "info" }
ports = [8080, "53/udp"]
labels = { team = "core" }
user = "root"
workdir = "/data"
stop-signal = "SIGINT"
files = { "/etc/hello/greeting.txt" = "conf/greeting.txt" }

# Not part of"#,
    ) + "\n[workspace.metadata.tiny]\nca-certificates = \"always\"\nlabels = { team = \"overridden\" }\n";
    std::fs::write(&manifest, text).unwrap();
    let out = dir.path().join("greeter.tar");
    let r = {
        let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
        run(cargo_tiny()
            .args(["build", "--message-format", "json", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(fixture_target_dir())
            .arg("--output")
            .arg(&out)
            .args([
                "--image",
                "localhost:5000/team/greeter:v2",
                "--user",
                "1000",
            ]))
    };
    assert_eq!(r.code, 0, "{}", r.stderr);
    let msg: serde_json::Value = serde_json::from_str(
        r.stdout
            .lines()
            .find(|l| l.contains(r#""reason":"image""#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        msg["run"]["docker"],
        "docker run --rm -p 53:53/udp -p 8080:8080 localhost:5000/team/greeter:v2",
        "exposed ports are published in the run one-liner"
    );
    let l = Layout::open(&out);
    let index = l.index_json();
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "localhost:5000/team/greeter:v2"
    );
    let m = l.manifest();
    let config = l.json(m["config"]["digest"].as_str().unwrap());
    let c = &config["config"];
    assert_eq!(c["User"], "1000:1000", "--user wins");
    assert_eq!(c["Cmd"], serde_json::json!(["tiny"]));
    assert_eq!(
        c["Env"],
        serde_json::json!(["PATH=/usr/local/bin", "RUST_LOG=info"])
    );
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(c["Labels"]["team"], "core", "package wins over workspace");
    assert_eq!(c["WorkingDir"], "/data");
    assert_eq!(c["StopSignal"], "SIGINT");
    let paths = l.layer_paths();
    assert!(paths.contains("etc/hello/greeting.txt"), "{paths:?}");
    assert!(
        paths.contains("etc/ssl/certs/ca-certificates.crt"),
        "always, from the workspace"
    );
    assert!(out.with_file_name("greeter.cdx.json").is_file());
    // An image with `files`: the engines load it.
    engines_load(&out, "localhost:5000/team/greeter:v2");
}

/// Two clones of the same commit, in different directories: `created` is the commit time, the
/// revision is the commit id, and the tarballs are byte-identical.
#[test]
fn git_checkouts_of_one_commit_give_one_digest() {
    if !require_tool("git", &["--version"]) {
        return;
    }
    let build_commit = || {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("checkout");
        copy_tree(&hello_src(), &root);
        let git = |args: &[&str]| {
            let r = run(std::process::Command::new("git")
                .arg("-C")
                .arg(&root)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .env("GIT_AUTHOR_DATE", "1600000000 +0000")
                .env("GIT_COMMITTER_DATE", "1600000000 +0000"));
            assert_eq!(r.code, 0, "git {args:?}: {}", r.stderr);
            r.stdout.trim().to_string()
        };
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-qm", "hello"]);
        let head = git(&["rev-parse", "HEAD"]);
        let out = dir.path().join("hello.tar");
        let r = {
            let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
            run(cargo_tiny()
                .args(["build", "-q", "--manifest-path"])
                .arg(root.join("Cargo.toml"))
                .arg("--target-dir")
                .arg(fixture_target_dir())
                .arg("--output")
                .arg(&out))
        };
        assert_eq!(r.code, 0, "{}", r.stderr);
        (
            head,
            std::fs::read(&out).unwrap(),
            Layout::open(&out).manifest(),
        )
    };
    let (head_a, bytes_a, manifest_a) = build_commit();
    let (head_b, bytes_b, _) = build_commit();
    assert_eq!(head_a, head_b, "same tree, same dates: same commit");
    assert!(bytes_a == bytes_b, "tarballs of one commit differ");
    let ann = &manifest_a["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "2020-09-13T12:26:40Z"
    );
    assert_eq!(ann["org.opencontainers.image.revision"], head_a.as_str());
}

/// README's push recipe: `skopeo copy --all oci-archive:… docker://registry/…` against a real
/// registry (distribution, on loopback) keeps the image manifest and the SBOM manifest together, and
/// the pulled image has the same manifest digest as the tarball.
#[test]
fn skopeo_pushes_the_image_and_its_sbom_to_a_registry() {
    if !require_tool("skopeo", &["--version"]) || !require_tool("docker-registry", &["--version"]) {
        return;
    }
    let b = hello();
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    struct Registry(std::process::Child);
    impl Drop for Registry {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _registry = Registry(
        std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let up = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "docker-registry did not start on 127.0.0.1:{port}");

    let dest = format!("docker://127.0.0.1:{port}/hello:0.1.0");
    let r = run(std::process::Command::new("skopeo").args([
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci-archive:{}", b.tarball.display()),
        &dest,
    ]));
    assert_eq!(r.code, 0, "skopeo copy: {}", r.stderr);
    let r = run(std::process::Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &dest,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let index: Value = serde_json::from_str(&r.stdout).unwrap();
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2, "{index}");
    assert_eq!(manifests[0]["digest"], b.image["manifest_digest"]);
    assert_eq!(manifests[1]["platform"]["os"], "unknown");
    // The SBOM manifest is in the registry, with the image manifest as its subject.
    let sbom_ref = format!(
        "docker://127.0.0.1:{port}/hello@{}",
        manifests[1]["digest"].as_str().unwrap()
    );
    let r = run(std::process::Command::new("skopeo").args([
        "inspect",
        "--tls-verify=false",
        "--raw",
        &sbom_ref,
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let sbom: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(sbom["artifactType"], "application/vnd.cyclonedx+json");
    assert_eq!(sbom["subject"]["digest"], b.image["manifest_digest"]);
}

/// `-t/--tag` without `--push` tags the local image too (issue 28): `RepoTags` holds every tag,
/// `docker load` gets them all; changing the tags rewrites the tarball (they are in its bytes).
#[test]
fn tags_without_push_tag_the_local_image() {
    hello();
    let repo_tags = |b: &Built| -> Vec<String> {
        let raw = std::fs::read(&b.tarball).unwrap();
        let files = tar_files(&raw);
        let m: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
        serde_json::from_value(m[0]["RepoTags"].clone()).unwrap()
    };
    let (b, r) = build_copy(
        &hello_src(),
        "hello",
        &[],
        &["-t", "edge", "--tag", "v2", "-t", "edge"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(repo_tags(&b), ["hello:0.1.0", "hello:edge", "hello:v2"]);
    if require_tool("docker", &["info"]) {
        let l = run(std::process::Command::new("docker")
            .args(["load", "-i"])
            .arg(&b.tarball));
        assert_eq!(l.code, 0, "{}", l.stderr);
        for t in ["hello:edge", "hello:v2"] {
            assert!(
                l.stdout.contains(&format!("Loaded image: {t}")),
                "{}",
                l.stdout
            );
        }
    }
    let (b2, r) = build_copy(&hello_src(), "hello", &[], &["-t", "edge"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(repo_tags(&b2), ["hello:0.1.0", "hello:edge"]);
    // The image itself (its manifest) does not change with its tags.
    assert_eq!(b.image["manifest_digest"], b2.image["manifest_digest"]);

    let (_, r) = build_copy(&hello_src(), "hello", &[], &["--tag=-bad"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: --tag: "), "{}", r.stderr);
    let r = run(cargo_tiny()
        .args(["build", "--no-image", "-t", "edge", "--manifest-path"])
        .arg(hello_src().join("Cargo.toml")));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("--no-image writes none"), "{}", r.stderr);
}
