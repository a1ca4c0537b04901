//! The release: `.github/release/build.sh` (what `.github/workflows/release.yml` runs on a tag),
//! Cargo.toml's `[package.metadata.binstall]` resolved against the names that script writes, and
//! `action/install.sh` with `version:` against a local stand-in for the release hosts (a correct
//! download, a wrong digest refused, a missing asset falling back to building from source).
//!
//! The release build itself (two LTO builds of cargo-tiny per triple) is `#[ignore]`: .ci/run runs it
//! in its own stage.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::fake::{Fake, Reply};
use common::*;

fn build_sh() -> PathBuf {
    repo().join(".github/release/build.sh")
}

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// This machine's musl triple (the one install.sh downloads for).
fn host_triple() -> String {
    format!("{}-unknown-linux-musl", std::env::consts::ARCH)
}

/// `build.sh names VERSION [TRIPLE...]`: (triple, asset file name, the binary's path in the asset).
fn release_names(version: &str, triples: &[&str]) -> Vec<(String, String, String)> {
    let r = run(Command::new("bash")
        .arg(build_sh())
        .args(["names", version])
        .args(triples));
    assert_eq!(r.code, 0, "build.sh names:\n{}", r.stderr);
    r.stdout
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 3, "build.sh names line: {l:?}");
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// cargo-binstall's variables for one target (its documented template keys), for a `tgz` package.
fn binstall_values(manifest: &toml::Table, target: &str) -> BTreeMap<&'static str, String> {
    let package = manifest["package"].as_table().unwrap();
    let s = |k: &str| package[k].as_str().unwrap().to_string();
    let mut parts = target.split('-');
    let arch = parts.next().unwrap().to_string();
    BTreeMap::from([
        ("name", s("name")),
        ("version", s("version")),
        ("repo", s("repository")),
        ("target", target.to_string()),
        ("target-arch", arch),
        ("target-vendor", parts.next().unwrap().to_string()),
        ("target-family", "unix".into()),
        ("target-libc", "musl".into()),
        ("archive-format", "tgz".into()),
        ("archive-suffix", ".tar.gz".into()),
        ("format", "tgz".into()),
        ("binary-ext", String::new()),
        ("bin", s("name")),
    ])
}

/// cargo binstall resolves pkg-url and bin-dir to the very asset and path build.sh writes, for
/// both release triples (read from the script: a triple added there is checked here too).
#[test]
fn binstall_metadata_resolves_to_the_release_assets() {
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo().join("Cargo.toml")).unwrap()).unwrap();
    let binstall = manifest["package"]["metadata"]["binstall"]
        .as_table()
        .expect("[package.metadata.binstall] in Cargo.toml");
    assert_eq!(
        binstall["pkg-fmt"].as_str(),
        Some("tgz"),
        "build.sh writes .tar.gz"
    );
    let template = |k: &str| leon::Template::parse(binstall[k].as_str().unwrap()).unwrap();
    let (pkg_url, bin_dir) = (template("pkg-url"), template("bin-dir"));

    let names = release_names(VERSION, &[]);
    let triples: Vec<&str> = names.iter().map(|(t, _, _)| t.as_str()).collect();
    assert_eq!(
        triples,
        ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"]
    );
    let repo_url = manifest["package"]["repository"].as_str().unwrap();
    for (triple, asset, bin_path) in &names {
        let values = binstall_values(&manifest, triple);
        let url = pkg_url.render(&values).unwrap();
        // The release workflow runs on the tag v<version> and attaches the assets to its release.
        assert_eq!(
            url,
            format!("{repo_url}/releases/download/v{VERSION}/{asset}"),
            "pkg-url for {triple}"
        );
        assert_eq!(
            &bin_dir.render(&values).unwrap(),
            bin_path,
            "bin-dir for {triple}"
        );
    }
}

/// A stand-in release of `version`, as build.sh packages one, holding the cargo-tiny binary under
/// test for this machine's triple (made once per test binary: gzip of a debug build takes seconds).
fn stand_in_release() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("release-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let v = dir.join(format!("v{VERSION}"));
        std::fs::create_dir_all(&v).unwrap();
        let r = run(Command::new("bash").arg(build_sh()).args([
            "package",
            v.to_str().unwrap(),
            VERSION,
            &host_triple(),
            env!("CARGO_BIN_EXE_cargo-tiny"),
        ]));
        assert_eq!(r.code, 0, "build.sh package:\n{}", r.stderr);
        let r = run(Command::new("bash")
            .arg(build_sh())
            .args(["sums", v.to_str().unwrap()]));
        assert_eq!(r.code, 0, "build.sh sums:\n{}", r.stderr);
        dir
    })
}

/// cargo-auditable's release as cargo-dist lays it out: `v<ver>/cargo-auditable-<triple>.tar.xz`
/// (holding `cargo-auditable-<triple>/cargo-auditable`, here this machine's) and its `.sha256`.
fn stand_in_auditable_release(root: &Path) {
    let triple = host_triple();
    let v = root.join("v0.7.7");
    let inner = root.join("pkg").join(format!("cargo-auditable-{triple}"));
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::create_dir_all(&v).unwrap();
    let machine = which::which("cargo-auditable").expect("cargo-auditable on PATH (.ci/run)");
    std::fs::copy(machine, inner.join("cargo-auditable")).unwrap();
    let asset = format!("cargo-auditable-{triple}.tar.xz");
    let sh = format!(
        "tar -C {pkg} -cJf {v}/{asset} cargo-auditable-{triple} && cd {v} && sha256sum {asset} >{asset}.sha256",
        pkg = root.join("pkg").display(),
        v = v.display()
    );
    let r = run(Command::new("sh").args(["-c", &sh]));
    assert_eq!(r.code, 0, "{}", r.stderr);
}

/// A release host serving `root`'s files by path (404 for anything else).
fn serve(root: &Path) -> Fake {
    let root = root.to_path_buf();
    Fake::start("127.0.0.1", move |req, _| {
        let rel = req.target.trim_start_matches('/');
        let path = root.join(rel);
        match (rel.contains(".."), std::fs::read(&path)) {
            (false, Ok(body)) if path.is_file() => Reply::With(200, vec![], body),
            _ => Reply::With(404, vec![], b"Not Found".to_vec()),
        }
    })
}

/// A place to run install.sh: a cargo home with an empty `bin/`, a PATH of the build tools
/// (without cargo-auditable and without any installed cargo-tiny), and a `cargo` in front that
/// records `cargo install …` and installs the binary under test instead of compiling (the
/// from-source path, kept fast), passing everything else to the real cargo.
struct Install {
    dir: tempfile::TempDir,
    cargo_home: PathBuf,
    path: String,
}

impl Install {
    fn new() -> Install {
        let dir = tempfile::tempdir().unwrap();
        let cargo_home = fresh_cargo_home(dir.path());
        let tools = limited_path(dir.path(), &["cargo-auditable", "cargo"]);
        let fake = dir.path().join("fake-cargo");
        std::fs::create_dir(&fake).unwrap();
        let real_cargo = which::which("cargo").unwrap();
        std::fs::write(
            fake.join("cargo"),
            format!(
                "#!/bin/sh\nif [ \"$1\" = install ]; then\n  echo \"$*\" >>'{log}'\n  mkdir -p \"$CARGO_HOME/bin\"\n  case \"$2\" in\n    cargo-tiny) cp '{tiny}' \"$CARGO_HOME/bin/cargo-tiny\" ;;\n    cargo-auditable) cp '{aud}' \"$CARGO_HOME/bin/cargo-auditable\" ;;\n  esac\n  exit 0\nfi\nexec '{real}' \"$@\"\n",
                log = dir.path().join("cargo-install.log").display(),
                tiny = env!("CARGO_BIN_EXE_cargo-tiny"),
                aud = which::which("cargo-auditable").unwrap().display(),
                real = real_cargo.display(),
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(fake.join("cargo"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let path = format!(
            "{}:{}:{tools}:/usr/local/bin:/usr/bin:/bin",
            cargo_home.join("bin").display(),
            fake.display()
        );
        Install {
            dir,
            cargo_home,
            path,
        }
    }

    /// install.sh with `version:` set, the release hosts pointed at `tiny` and `auditable`.
    fn run(&self, tiny: &Fake, auditable: &Fake, extra: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new("bash");
        isolate(&mut cmd);
        cmd.arg(repo().join("action/install.sh"))
            .current_dir(self.dir.path())
            .env("PATH", &self.path)
            .env("CARGO_HOME", &self.cargo_home)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_ACTION_PATH", repo())
            .env("INPUT_TARGET", host_triple())
            .env("INPUT_VERSION", format!("v{VERSION}"))
            .env("CARGO_TINY_RELEASE_URL", format!("http://{}", tiny.host))
            .env(
                "CARGO_AUDITABLE_RELEASE_URL",
                format!("http://{}", auditable.host),
            )
            .env_remove("INPUT_PLATFORMS")
            .env_remove("CARGO_TINY_RELEASE_KEY")
            .envs(extra.iter().copied());
        run(&mut cmd)
    }

    fn installed(&self, bin: &str) -> Option<Vec<u8>> {
        std::fs::read(self.cargo_home.join("bin").join(bin)).ok()
    }

    fn cargo_installs(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cargo-install.log")).unwrap_or_default()
    }
}

fn gets(server: &Fake) -> Vec<String> {
    server.requests().into_iter().map(|r| r.target).collect()
}

fn tools_present() -> bool {
    require_tool("cargo-auditable", &["auditable", "--help"])
        && require_tool("curl", &["--version"])
        && require_tool("xz", &["--version"])
        && require_tool("openssl", &["version"])
}

/// The release binaries are downloaded, checked and installed; nothing is compiled.
#[test]
fn install_downloads_the_release_binaries_and_checks_them() {
    if !tools_present() {
        return;
    }
    let aud_root = tempfile::tempdir().unwrap();
    stand_in_auditable_release(aud_root.path());
    let (tiny, auditable) = (serve(stand_in_release()), serve(aud_root.path()));
    let i = Install::new();
    let r = i.run(&tiny, &auditable, &[]);
    assert_eq!(r.code, 0, "install.sh:\n{}\n{}", r.stdout, r.stderr);
    assert_eq!(i.cargo_installs(), "", "nothing built from source");
    assert_eq!(
        i.installed("cargo-tiny").as_deref(),
        Some(&std::fs::read(env!("CARGO_BIN_EXE_cargo-tiny")).unwrap()[..]),
        "the release's binary is installed:\n{}",
        r.stdout
    );
    assert!(i.installed("cargo-auditable").is_some(), "{}", r.stdout);
    let asset = &release_names(VERSION, &[&host_triple()])[0].1;
    assert_eq!(
        gets(&tiny),
        [
            format!("/v{VERSION}/SHA256SUMS"),
            format!("/v{VERSION}/{asset}")
        ]
    );
    assert!(
        r.stdout.contains(&format!("cargo-tiny {VERSION}\n")),
        "install.sh runs the installed cargo tiny --version:\n{}",
        r.stdout
    );
}

/// A SHA256SUMS that does not match the asset: refused, non-zero, nothing installed, no fallback.
#[test]
fn install_refuses_a_binary_whose_digest_is_wrong() {
    if !tools_present() {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    copy_tree(stand_in_release(), root.path());
    let sums = root.path().join(format!("v{VERSION}/SHA256SUMS"));
    let text = std::fs::read_to_string(&sums).unwrap();
    let wrong = format!("{}{}", "0".repeat(64), &text[64..]);
    std::fs::write(&sums, wrong).unwrap();
    let aud_root = tempfile::tempdir().unwrap();
    stand_in_auditable_release(aud_root.path());
    let (tiny, auditable) = (serve(root.path()), serve(aud_root.path()));
    let i = Install::new();
    let r = i.run(&tiny, &auditable, &[]);
    assert_ne!(
        r.code, 0,
        "install.sh accepted a wrong digest:\n{}",
        r.stdout
    );
    let error = r
        .stdout
        .lines()
        .find(|l| l.starts_with("::error::"))
        .unwrap();
    assert!(
        error.contains(&format!("lists {}", "0".repeat(64))) && error.contains("not installed"),
        "{error}"
    );
    assert_eq!(i.installed("cargo-tiny"), None);
    assert_eq!(
        i.cargo_installs(),
        "",
        "a wrong digest is no reason to build"
    );
}

/// With CARGO_TINY_RELEASE_KEY, SHA256SUMS.sig must verify against it: a release signed by that
/// key installs, one signed by another key does not.
#[test]
fn install_checks_the_signature_of_the_sums_when_a_key_is_given() {
    if !tools_present() {
        return;
    }
    let keys = tempfile::tempdir().unwrap();
    let key = |name: &str| {
        let private = keys.path().join(format!("{name}.key"));
        let public = keys.path().join(format!("{name}.pub"));
        let sh = format!(
            "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out {k} && openssl pkey -in {k} -pubout -out {p}",
            k = private.display(),
            p = public.display()
        );
        let r = run(Command::new("sh").args(["-c", &sh]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        (private, public)
    };
    let (release_key, release_pub) = key("release");
    let (_, other_pub) = key("other");
    let root = tempfile::tempdir().unwrap();
    copy_tree(stand_in_release(), root.path());
    let v = root.path().join(format!("v{VERSION}"));
    let r = run(Command::new("bash").arg(build_sh()).args([
        "sums",
        v.to_str().unwrap(),
        release_key.to_str().unwrap(),
    ]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let aud_root = tempfile::tempdir().unwrap();
    stand_in_auditable_release(aud_root.path());
    let (tiny, auditable) = (serve(root.path()), serve(aud_root.path()));

    let i = Install::new();
    let r = i.run(
        &tiny,
        &auditable,
        &[("CARGO_TINY_RELEASE_KEY", release_pub.to_str().unwrap())],
    );
    assert_eq!(r.code, 0, "install.sh:\n{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("SHA256SUMS: signature verified"),
        "{}",
        r.stdout
    );
    assert!(i.installed("cargo-tiny").is_some());

    let i = Install::new();
    let r = i.run(
        &tiny,
        &auditable,
        &[("CARGO_TINY_RELEASE_KEY", other_pub.to_str().unwrap())],
    );
    assert_ne!(r.code, 0, "another key's signature accepted:\n{}", r.stdout);
    assert!(
        r.stdout
            .contains("is not signed by CARGO_TINY_RELEASE_KEY: not installed"),
        "{}",
        r.stdout
    );
    assert_eq!(i.installed("cargo-tiny"), None);
}

/// No release asset (404 for everything): both tools are built from source (`cargo install`, faked
/// here: the compile itself is what benchmarks/install.sh times).
#[test]
fn install_falls_back_to_source_when_the_release_has_no_asset() {
    if !tools_present() {
        return;
    }
    let empty = tempfile::tempdir().unwrap();
    let (tiny, auditable) = (serve(empty.path()), serve(empty.path()));
    let i = Install::new();
    let r = i.run(&tiny, &auditable, &[]);
    assert_eq!(r.code, 0, "install.sh:\n{}\n{}", r.stdout, r.stderr);
    assert_eq!(
        i.cargo_installs(),
        format!(
            "install cargo-auditable --locked --version 0.7.7\ninstall cargo-tiny --version {VERSION} --locked\n"
        )
    );
    let asset = &release_names(VERSION, &[&host_triple()])[0].1;
    assert!(
        r.stdout.contains(&format!(
            "::notice::no {asset} in cargo-tiny's v{VERSION} release: building it from source"
        )),
        "{}",
        r.stdout
    );
    assert!(i.installed("cargo-tiny").is_some());
}

/// The release build, as the workflow runs it, twice from clean target dirs: static binaries built by
/// cargo-tiny that run (`--version`; arm64 under qemu), SHA256SUMS that matches, and the same bytes
/// both times. x86_64 twice; aarch64 once by default (RELEASE_TEST_AARCH64_TWICE=1: twice), for
/// CI's 90 minutes (figures in docs/src/release.md).
#[test]
#[ignore = "slow: LTO builds of cargo-tiny; .ci/run's release stage runs it"]
fn release_build_is_static_runs_and_is_reproducible() {
    let work = tempfile::tempdir().unwrap();
    let twice_arm = std::env::var("RELEASE_TEST_AARCH64_TWICE").is_ok_and(|v| v == "1");
    let build = |name: &str, triples: &[&str]| -> PathBuf {
        let out = work.path().join(name);
        let target = work.path().join(format!("{name}-target"));
        let mut cmd = Command::new("bash");
        isolate(&mut cmd);
        cmd.arg(build_sh())
            .arg(&out)
            .args(triples)
            .env("CARGO_TINY", env!("CARGO_BIN_EXE_cargo-tiny"))
            .env("TARGET_DIR", &target)
            .env("PATH", std::env::var("PATH").unwrap());
        let started = std::time::Instant::now();
        let r = run(&mut cmd);
        eprintln!(
            "build {name} {triples:?}: {:.0}s",
            started.elapsed().as_secs_f64()
        );
        assert_eq!(r.code, 0, "build.sh:\n{}\n{}", r.stdout, r.stderr);
        std::fs::remove_dir_all(&target).unwrap();
        out
    };
    let x86 = "x86_64-unknown-linux-musl";
    let arm = "aarch64-unknown-linux-musl";
    let a = build("a", &[x86, arm]);
    let b_triples = if twice_arm { vec![x86, arm] } else { vec![x86] };
    let b = build("b", &b_triples);

    // SHA256SUMS matches what is there.
    for out in [&a, &b] {
        let r = run(Command::new("sha256sum")
            .args(["--check", "--strict", "SHA256SUMS"])
            .current_dir(out));
        assert_eq!(r.code, 0, "sha256sum --check:\n{}{}", r.stdout, r.stderr);
    }
    let names = release_names(VERSION, &[x86, arm]);
    for (triple, asset, bin_path) in &names {
        let files = tar_files(&gunzip(&a.join(asset)));
        let bin = &files[bin_path];
        for doc in ["cargo-tiny.cdx.json", "cargo-tiny.spdx.json"] {
            let dir = bin_path.rsplit_once('/').unwrap().0;
            assert!(
                files.contains_key(&format!("{dir}/{doc}")),
                "{asset}: {doc}"
            );
        }
        let path = work.path().join(format!("cargo-tiny-{triple}"));
        std::fs::write(&path, bin).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Static (a static-pie has a dynamic section, but no interpreter and nothing it needs), for
        // the triple's machine: binutils' readelf, not cargo-tiny's own ELF check.
        let elf = run(Command::new("readelf").arg("-lhdW").arg(&path));
        assert_eq!(elf.code, 0, "readelf: {}", elf.stderr);
        assert!(
            !elf.stdout.contains("INTERP"),
            "{triple}: PT_INTERP\n{}",
            elf.stdout
        );
        assert!(
            !elf.stdout.contains("(NEEDED)"),
            "{triple}: DT_NEEDED\n{}",
            elf.stdout
        );
        let machine = if triple == x86 {
            "Advanced Micro Devices X86-64"
        } else {
            "AArch64"
        };
        assert!(elf.stdout.contains(machine), "{triple}: not {machine}");
        let r = if triple == x86 {
            run(Command::new(&path).args(["tiny", "--version"]))
        } else {
            if !require_tool("qemu-aarch64-static", &["--version"]) {
                continue;
            }
            run(Command::new("qemu-aarch64-static")
                .arg(&path)
                .args(["tiny", "--version"]))
        };
        assert_eq!(r.code, 0, "{triple} --version: {}", r.stderr);
        assert_eq!(r.stdout.trim(), format!("cargo-tiny {VERSION}"));
    }
    // Byte-identical across the two builds: the binary tarballs (binary, SBOMs) and the images.
    let sums = |out: &Path| -> BTreeMap<String, String> {
        std::fs::read_to_string(out.join("SHA256SUMS"))
            .unwrap()
            .lines()
            .map(|l| {
                let (d, f) = l.split_once("  ").unwrap();
                (f.to_string(), d.to_string())
            })
            .collect()
    };
    let (sa, sb) = (sums(&a), sums(&b));
    assert!(!sb.is_empty());
    for (file, digest) in &sb {
        assert_eq!(
            sa.get(file),
            Some(digest),
            "{file} differs between the two builds"
        );
    }
    eprintln!(
        "SHA256SUMS:\n{}",
        std::fs::read_to_string(a.join("SHA256SUMS")).unwrap()
    );
}

fn gunzip(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    use std::io::Read;
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut out)
        .unwrap();
    out
}
