//! Hostile and careless inputs to `cargo tiny build` (issue 10): each ends in a one-line refusal
//! naming the key and the manifest, before anything is compiled, with nothing partial left — or in
//! an image that the engines load.
//!
//! Fixtures are tiny zero-dependency packages written into temp dirs by the tests themselves.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::*;
use serde_json::Value;

/// One cargo-tiny build at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

const MAIN: &str =
    "fn main() {\n    println!(\"hi from {}\", std::env::current_dir().unwrap().display());\n}\n";

/// Writes a package `name` (its own workspace) into `dir` with the given `[package.metadata.tiny]`
/// body; returns its manifest path.
fn package(dir: &Path, name: &str, version: &str, tiny: &str) -> PathBuf {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("src/main.rs"), MAIN).unwrap();
    let manifest = dir.join("Cargo.toml");
    std::fs::write(
        &manifest,
        format!(
            "[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n\n\
             [package.metadata.tiny]\n{tiny}\n\n[workspace]\n"
        ),
    )
    .unwrap();
    manifest
}

fn build(manifest: &Path, out: &Path, envs: &[(&str, &str)], extra: &[&str]) -> Run {
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(out)
        .args(extra)
        .envs(envs.iter().copied());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    run(&mut cmd)
}

fn message(r: &Run, reason: &str) -> Value {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == reason)
        .unwrap_or(Value::Null)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file in `dir` (recursively), for "nothing partial left" checks.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.path().display().to_string());
            if e.file_type().unwrap().is_dir() {
                out.extend(listing(&e.path()));
            }
        }
    }
    out.sort();
    out
}

/// The uncompressed layer of an image tarball, by path (with modes).
fn layer_of(tarball: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let manifest: Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let layer = &files[manifest[0]["Layers"][0].as_str().unwrap()];
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(layer.as_slice())
        .read_to_end(&mut raw)
        .unwrap();
    let mut out = BTreeMap::new();
    let mut a = tar::Archive::new(raw.as_slice());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let mode = e.header().mode().unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(path, (mode, data));
    }
    out
}

/// One refusal: non-zero exit (not a panic), one `error:` line naming `expect` and the manifest,
/// a hint, nothing compiled, no tarball, no SBOM, no temp file, the manifest byte-identical.
fn assert_refused(
    what: &str,
    r: &Run,
    expect: &[&str],
    manifest: &Path,
    before: &[u8],
    out: &Path,
) {
    assert!(
        r.code != 0 && r.code != 101,
        "{what}: exit {}: {}",
        r.code,
        r.stderr
    );
    let err = r.stderr.trim();
    assert!(err.starts_with("error: "), "{what}: {err}");
    for e in expect {
        assert!(err.contains(e), "{what}: `{e}` not in: {err}");
    }
    assert!(err.contains("help:"), "{what}: a hint: {err}");
    assert_eq!(err.lines().count(), 1, "{what}: one line: {err}");
    assert!(!err.contains("Compiling"), "{what}: fails before compiling");
    assert_eq!(
        std::fs::read(manifest).unwrap(),
        before,
        "{what}: manifest changed"
    );
    let left = listing(out.parent().unwrap());
    assert!(
        left.iter()
            .all(|p| !p.ends_with(".tar") && !p.ends_with(".cdx.json") && !p.ends_with(".tmp")),
        "{what}: left behind: {left:?}"
    );
}

/// Classes 1 and 3 of issue 10: image paths against the image's own tree, and values engines
/// refuse, each refused before compiling with the key and the manifest named.
#[test]
fn values_engines_refuse_and_paths_the_image_holds_are_refused_up_front() {
    let long = "a".repeat(101);
    let cases: Vec<(&str, String, &str, Vec<&str>)> = vec![
        // (what, [package.metadata.tiny] body, package version, expected words)
        ("file under /etc/passwd", "files = { \"/etc/passwd/x\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/etc/passwd/x\"`", "/etc/passwd is a file"]),
        ("file under the binary", "files = { \"/usr/local/bin/app/x\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/usr/local/bin/app/x\"`", "is a file"]),
        ("file on the binary", "files = { \"/usr/local/bin/app\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/usr/local/bin/app\"`", "the binary"]),
        ("file where the image has a directory", "files = { \"/home/nonroot\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/home/nonroot\"`", "is a directory"]),
        ("file where the image has /etc", "files = { \"/etc\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/etc\"`", "is a directory"]),
        ("file over the CA bundle", "files = { \"/etc/ssl/certs/ca-certificates.crt\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["`files.\"/etc/ssl/certs/ca-certificates.crt\"`", "ca-certificates = \"never\""]),
        ("file over the CA bundle, explicit always", "ca-certificates = \"always\"\nfiles = { \"/etc/ssl/certs/ca-certificates.crt\" = \"Cargo.toml\" }".into(), "0.1.0", vec!["CA bundle"]),
        ("path component too long for tar", format!("files = {{ \"/etc/{long}\" = \"Cargo.toml\" }}"), "0.1.0", vec!["`files.", "at most 100"]),
        ("workdir component too long for tar", format!("workdir = \"/{long}\""), "0.1.0", vec!["`workdir`", "at most 100"]),
        ("name with two dots", "name = \"a..b\"".into(), "0.1.0", vec!["`name`"]),
        ("name with ___", "name = \"a___b\"".into(), "0.1.0", vec!["`name`"]),
        ("name with a bad port", "name = \"localhost:99999/app\"".into(), "0.1.0", vec!["`name`"]),
        ("name with a trailing slash", "name = \"team/\"".into(), "0.1.0", vec!["`name`"]),
        ("tag of 129 characters", format!("tag = \"{}\"", "t".repeat(129)), "0.1.0", vec!["`tag`"]),
        ("tag with +", "tag = \"1.0+x\"".into(), "0.1.0", vec!["`tag`"]),
        ("uid past 2^31-1", "user = \"2147483648\"".into(), "0.1.0", vec!["`user`", "2147483647"]),
        ("gid past 2^31-1", "user = \"1000:4294967295\"".into(), "0.1.0", vec!["`user`"]),
        ("NUL in an env value", "env = { A = \"x\\u0000y\" }".into(), "0.1.0", vec!["`env.A`", "NUL"]),
        ("NUL in an env name", "env = { \"A\\u0000B\" = \"x\" }".into(), "0.1.0", vec!["`env`", "NUL"]),
        ("NUL in a label", "labels = { k = \"\\u0000\" }".into(), "0.1.0", vec!["`labels.k`", "NUL"]),
        ("NUL in cmd", "cmd = [\"a\\u0000b\"]".into(), "0.1.0", vec!["`cmd`", "NUL"]),
        ("version too long for a tag", String::new(), "1.0.0-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+b.5", vec!["tag", "set tag"]),
    ];
    for (what, tiny, version, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let manifest = package(&dir.path().join("app"), "app", version, &tiny);
        let before = std::fs::read(&manifest).unwrap();
        let out = dir.path().join("out").join("app.tar");
        let r = build(&manifest, &out, &[], &[]);
        let mut expect = expect.clone();
        let m = manifest.display().to_string();
        expect.push(&m);
        assert_refused(what, &r, &expect, &manifest, &before, &out);
    }

    // A default image name derived from a bin name the grammar refuses (`a___b`).
    let dir = tempfile::tempdir().unwrap();
    let manifest = package(&dir.path().join("app"), "app", "0.1.0", "");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "[package.metadata.tiny]",
        "[[bin]]\nname = \"a___b\"\npath = \"src/main.rs\"\n\n[package.metadata.tiny]",
    );
    std::fs::write(&manifest, &text).unwrap();
    let out = dir.path().join("out").join("app.tar");
    let r = build(&manifest, &out, &[], &[]);
    let m = manifest.display().to_string();
    assert_refused(
        "bin name",
        &r,
        &["bin `a___b`", "set name", &m],
        &manifest,
        text.as_bytes(),
        &out,
    );

    // SOURCE_DATE_EPOCH past 9999-12-31T23:59:59Z.
    let dir = tempfile::tempdir().unwrap();
    let manifest = package(&dir.path().join("app"), "app", "0.1.0", "");
    let before = std::fs::read(&manifest).unwrap();
    let out = dir.path().join("out").join("app.tar");
    let r = build(
        &manifest,
        &out,
        &[("SOURCE_DATE_EPOCH", "253402300800")],
        &[],
    );
    assert_refused(
        "SOURCE_DATE_EPOCH",
        &r,
        &["SOURCE_DATE_EPOCH", "9999-12-31"],
        &manifest,
        &before,
        &out,
    );

    // `files` in [workspace.metadata.tiny]: the root manifest and its section are named.
    let dir = tempfile::tempdir().unwrap();
    let manifest = package(&dir.path().join("app"), "app", "0.1.0", "");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "[workspace]\n",
        "[workspace]\n[workspace.metadata.tiny]\nfiles = { \"/etc/group/x\" = \"Cargo.toml\" }\n",
    );
    std::fs::write(&manifest, &text).unwrap();
    let out = dir.path().join("out").join("app.tar");
    let r = build(&manifest, &out, &[], &[]);
    assert_refused(
        "workspace files",
        &r,
        &[
            "[workspace.metadata.tiny]",
            "`files.\"/etc/group/x\"`",
            "/etc/group is a file",
        ],
        &manifest,
        text.as_bytes(),
        &out,
    );
}

/// Class 6: `-o` naming a directory (or a file that is not a tarball) is refused before compiling,
/// and the SBOM that was beside it survives.
#[test]
fn unusable_output_paths_are_refused_and_nothing_beside_them_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = package(&dir.path().join("app"), "app", "0.1.0", "");
    let before = std::fs::read(&manifest).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let beside = dir.path().join("out.cdx.json");
    std::fs::write(&beside, "an SBOM of someone else").unwrap();
    let r = build(&manifest, &out, &[], &[]);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(
        r.stderr.contains("is a directory") && r.stderr.contains("--output"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&beside).unwrap(),
        "an SBOM of someone else"
    );
    assert!(out.is_dir() && listing(&out).is_empty());

    // `-o Cargo.toml`: the manifest is not replaced by a tarball.
    let r = build(&manifest, &manifest, &[], &[]);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(r.stderr.contains("not an image tarball"), "{}", r.stderr);
    assert_eq!(std::fs::read(&manifest).unwrap(), before);

    // A path ending in `/` (a directory that does not exist yet).
    let mut slash = dir.path().join("newdir").into_os_string();
    slash.push("/");
    let r = build(&manifest, Path::new(&slash), &[], &[]);
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(r.stderr.contains("names a directory"), "{}", r.stderr);
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    assert!(!dir.path().join("newdir").exists());

    // The tarball's directory is a file.
    let r = build(
        &manifest,
        &dir.path().join("out.cdx.json/app.tar"),
        &[],
        &[],
    );
    assert!(r.code != 0 && r.code != 101, "{}", r.stderr);
    assert!(r.stderr.contains("is not a directory"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&beside).unwrap(),
        "an SBOM of someone else"
    );
}

/// Class 2: a build script that replaces a `files` source by a symlink, and another by a hard link,
/// to a file outside the package cannot put that file in the image; permission bits are kept;
/// `workdir = "/"` is accepted; docker and podman load (and docker runs) the image.
#[test]
fn build_script_swaps_cannot_smuggle_an_outside_file_into_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let marker = format!("OUTSIDE-MARKER-{}", std::process::id());
    std::fs::write(dir.path().join("secret.txt"), &marker).unwrap();
    let root = dir.path().join("swap");
    let manifest = package(
        &root,
        "swap",
        "0.1.0",
        "workdir = \"/\"\nfiles = { \"/etc/swap/data.txt\" = \"conf/data.txt\", \"/etc/swap/run.sh\" = \"conf/run.sh\" }",
    );
    std::fs::create_dir_all(root.join("conf")).unwrap();
    std::fs::write(root.join("conf/data.txt"), "inside data\n").unwrap();
    std::fs::write(root.join("conf/run.sh"), "#!/bin/sh\necho inside\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("conf/run.sh"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::fs::write(
        root.join("build.rs"),
        r#"fn main() {
    let dir = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let secret = dir.join("../secret.txt");
    let data = dir.join("conf/data.txt");
    std::fs::remove_file(&data).unwrap();
    std::os::unix::fs::symlink(&secret, &data).unwrap();
    let run = dir.join("conf/run.sh");
    std::fs::remove_file(&run).unwrap();
    std::fs::hard_link(&secret, &run).unwrap();
}
"#,
    )
    .unwrap();
    let out = dir.path().join("out").join("swap.tar");
    let r = build(&manifest, &out, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The build script did run: the sources are now a symlink and a hard link to the secret.
    assert!(std::fs::symlink_metadata(root.join("conf/data.txt"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(root.join("conf/run.sh")).unwrap(),
        marker
    );

    let tar = std::fs::read(&out).unwrap();
    assert!(!contains(&tar, marker.as_bytes()), "marker in the tarball");
    let layer = layer_of(&out);
    for (path, (_, data)) in &layer {
        assert!(
            !contains(data, marker.as_bytes()),
            "marker in the layer at {path}"
        );
    }
    assert_eq!(layer["etc/swap/data.txt"].1, b"inside data\n");
    assert_eq!(layer["etc/swap/run.sh"].1, b"#!/bin/sh\necho inside\n");
    assert_eq!(
        layer["etc/swap/run.sh"].0 & 0o777,
        0o750,
        "permission bits kept"
    );
    let data_mode = layer["etc/swap/data.txt"].0 & 0o777;
    assert_eq!(data_mode & 0o600, 0o600);
    assert!(listing(&dir.path().join("out"))
        .iter()
        .all(|p| !p.ends_with(".tmp")));

    let image = message(&r, "image");
    let reference = image["image"].as_str().unwrap().to_string();
    assert_eq!(reference, "swap:0.1.0");
    if require_tool("docker", &["info"]) {
        let r = run(std::process::Command::new("docker")
            .args(["load", "-i"])
            .arg(&out));
        assert_eq!(r.code, 0, "docker load: {}{}", r.stdout, r.stderr);
        let r = common::docker_run(&[&reference]);
        assert_eq!(r.code, 0, "docker run: {}", r.stderr);
        assert_eq!(r.stdout.trim(), "hi from /");
        let _ = run(std::process::Command::new("docker").args(["rmi", &reference]));
    }
    engines_load(&out, &reference);
}

/// Class 5: a path dependency outside the workspace leaves no host path in the binary (what
/// `strings` shows) and gets a relative purl.
#[test]
fn path_dependency_outside_the_workspace_leaves_no_host_path() {
    let dir = tempfile::tempdir().unwrap();
    let outer = dir.path().join("outer");
    std::fs::create_dir_all(outer.join("src")).unwrap();
    std::fs::write(
        outer.join("Cargo.toml"),
        "[package]\nname = \"outer\"\nversion = \"0.3.0\"\nedition = \"2021\"\n",
    )
    .unwrap();
    std::fs::write(
        outer.join("src/lib.rs"),
        "pub fn here() -> &'static str {\n    file!()\n}\n",
    )
    .unwrap();
    let root = dir.path().join("ws");
    let manifest = package(&root, "pathdep", "0.1.0", "");
    let text = std::fs::read_to_string(&manifest).unwrap().replace(
        "[package.metadata.tiny]",
        "[dependencies]\nouter = { path = \"../outer\" }\n\n[package.metadata.tiny]",
    );
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(
        root.join("src/main.rs"),
        "fn main() {\n    println!(\"{}\", outer::here());\n}\n",
    )
    .unwrap();
    let out = dir.path().join("out").join("pathdep.tar");
    let r = build(&manifest, &out, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let binary = PathBuf::from(message(&r, "binary")["path"].as_str().unwrap());
    let bytes = std::fs::read(&binary).unwrap();
    let host = dir.path().display().to_string();
    assert!(!contains(&bytes, host.as_bytes()), "{host} in the binary");
    assert!(
        contains(&bytes, b"/path/outer-0.3.0/src/lib.rs"),
        "the remapped path is what file!() gives"
    );
    if require_tool("strings", &["--version"]) {
        let s = run(std::process::Command::new("strings").arg(&binary));
        assert!(!s.stdout.contains(&host), "strings shows {host}");
    }
    let sbom: Value = serde_json::from_slice(
        &std::fs::read(message(&r, "image")["sbom_path"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let purls: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["purl"].as_str())
        .collect();
    assert!(
        purls.contains(&"pkg:cargo/outer@0.3.0?download_url=file:..%2Fouter"),
        "{purls:?}"
    );
    assert!(purls.iter().all(|p| !p.contains(&host)), "{purls:?}");
}

/// A bug (a panic, triggered here by the debug-only `CARGO_TINY_TEST_PANIC` point once the
/// tarball is fully staged, SBOM staged beside it) ends as one `error: internal error` line with a
/// hint to report it and exit 70: no stack trace, not Rust's exit 101; nothing is left in the output
/// directory (no tarball, no SBOM, no temp file) and the output lock is released (the next build
/// does not wait). `RUST_BACKTRACE=1` adds Rust's own message.
#[test]
fn a_panic_is_one_internal_error_line_leaving_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = package(&dir.path().join("pkg"), "boom", "0.1.0", "");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let tar = out.join("boom.tar");
    let r = build(
        &manifest,
        &tar,
        &[
            ("CARGO_TINY_TEST_PANIC", "tarball-staged"),
            ("RUST_BACKTRACE", "0"),
        ],
        &[],
    );
    assert_eq!(r.code, 70, "{}", r.stderr);
    let errors: Vec<&str> = r.stderr.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(
        errors[0].starts_with("error: internal error: CARGO_TINY_TEST_PANIC at tarball-staged at src/publish/tarball.rs:"),
        "{}",
        r.stderr
    );
    assert!(
        errors[0].contains("please report it at https://"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("RUST_BACKTRACE=1` environment"),
        "{}",
        r.stderr
    );
    assert_eq!(listing(&out), Vec::<String>::new());

    // With RUST_BACKTRACE, Rust's message too (for the report); still exit 70.
    let r = build(
        &manifest,
        &tar,
        &[
            ("CARGO_TINY_TEST_PANIC", "tarball-staged"),
            ("RUST_BACKTRACE", "1"),
        ],
        &[],
    );
    assert_eq!(r.code, 70, "{}", r.stderr);
    assert!(r.stderr.contains("panicked at src/"), "{}", r.stderr);
    assert_eq!(listing(&out), Vec::<String>::new());

    // The lock was released: the next build neither waits nor fails.
    let r = build(&manifest, &tar, &[], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        !r.stderr.contains("waiting for the lock on"),
        "{}",
        r.stderr
    );
    assert!(tar.is_file());
}
