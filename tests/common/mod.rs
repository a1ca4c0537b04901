//! Shared test support: the cargo-tiny command, one target dir for every fixture build, and engine
//! checks that skip locally but fail in CI.
#![allow(dead_code)]

pub mod fake;
pub mod registry;

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One `CARGO_TARGET_DIR` shared by every fixture build of every test binary, so that a fixture is
/// compiled once per run, not once per test.
pub fn fixture_target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fixtures")
}

/// `cargo-tiny` as cargo invokes it (`cargo-tiny tiny …`), isolated from what this machine's user
/// set up (see [`isolate`]).
pub fn cargo_tiny() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-tiny"));
    cmd.arg("tiny");
    isolate(&mut cmd);
    cmd
}

/// The environment variables through which a developer's (or a CI machine's) own set-up reaches
/// cargo-tiny, besides the files under `HOME`: rustflags, the target dir and the source date; registry
/// credentials; a compile cache; C compilers and linkers; cargo-tiny's own knobs.
const MACHINE_VARS: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET_DIR",
    "SOURCE_DATE_EPOCH",
    "DOCKER_CONFIG",
    "REGISTRY_AUTH_FILE",
    "XDG_CONFIG_HOME",
    "RUSTC_WRAPPER",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "TARGET_CC",
    "TARGET_AR",
    "DOCKER_HOST",
    "CONTAINER_HOST",
];

/// Prefixes of more such variables: `CC_<triple>`, `CARGO_TARGET_<TRIPLE>_LINKER`, `SCCACHE_*`,
/// `CARGO_TINY_*`.
const MACHINE_VAR_PREFIXES: &[&str] = &["CC_", "AR_", "CARGO_TARGET_", "SCCACHE_", "CARGO_TINY_"];

/// Keeps a command away from the machine's user state, so that a test gives the same result on a
/// fresh machine and on one where cargo-tiny (or docker, podman, sccache) has been used:
/// - `HOME` is an empty directory of this test binary's own (no `~/.docker/config.json`, no
///   `~/.config/containers/auth.json`, no `~/.gitconfig`), `XDG_RUNTIME_DIR` an empty one (no
///   podman `auth.json`);
/// - `CARGO_HOME` and `RUSTUP_HOME` stay the machine's (its registry cache and toolchains), named
///   explicitly since `HOME` moved: a test that must not see what `cargo tiny setup` installed there
///   (the zig venv) uses [`fresh_cargo_home`];
/// - [`MACHINE_VARS`] and [`MACHINE_VAR_PREFIXES`] are removed.
///
/// A test that wants one of these sets it after this (the last setting of a variable wins).
pub fn isolate(cmd: &mut Command) -> &mut Command {
    let remove: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| MACHINE_VAR_PREFIXES.iter().any(|p| k.starts_with(p)))
        .chain(MACHINE_VARS.iter().map(|v| v.to_string()))
        .collect();
    for var in remove {
        cmd.env_remove(var);
    }
    let home = empty_home();
    cmd.env("HOME", &home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("CARGO_HOME", machine_cargo_home())
        .env("RUSTUP_HOME", rustup_home())
        .env("CARGO_TERM_COLOR", "never")
}

/// This test binary's empty `HOME` (with an empty `run/` for `XDG_RUNTIME_DIR`).
fn empty_home() -> PathBuf {
    static HOME: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("home-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("run")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
        dir
    })
    .clone()
}

/// The machine's cargo home: `$CARGO_HOME`, else `~/.cargo`.
pub fn machine_cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap()).join(".cargo"))
}

/// A cargo home under `dir` as on a machine where nothing was installed or configured through cargo
/// (no `bin/`, no `config.toml`, no `tiny/zig-venv` of `cargo tiny setup`), sharing only the
/// machine's download caches (`registry/`, `git/`) so that `--offline` resolves as before.
pub fn fresh_cargo_home(dir: &Path) -> PathBuf {
    let home = dir.join("fresh-cargo-home");
    std::fs::create_dir_all(&home).unwrap();
    let machine = machine_cargo_home();
    for cache in ["registry", "git"] {
        if machine.join(cache).is_dir() && !home.join(cache).exists() {
            std::os::unix::fs::symlink(machine.join(cache), home.join(cache)).unwrap();
        }
    }
    home
}

/// Copies a directory tree (a fixture or example) into `dest`, skipping `target/`.
pub fn copy_tree(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).unwrap();
    for entry in std::fs::read_dir(src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        let to = dest.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &to);
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
}

/// podman's run recipe of ../shared/ENGINES.md (runc, explicit ulimits, no network):
/// `podman run MODE ARGS…`, with MODE `--rm` (in the foreground) or `-d`.
pub fn podman_run(mode: &str, args: &[&str]) -> Run {
    run(Command::new("podman")
        .args(["--runtime", "/usr/sbin/runc", "run", mode])
        .args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=4096:4096",
        ])
        .args(["--network", "none"])
        .args(args))
}

/// docker's run recipe of ../shared/ENGINES.md (containers get no network here):
/// `docker run --rm --network none ARGS…`.
pub fn docker_run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Run {
    run(Command::new("docker")
        .args(["run", "--rm", "--network", "none"])
        .args(args))
}

/// Output of a finished command, for assertions with context.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let out = cmd.output().expect("spawn");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Whether we are in CI, where a missing engine is a failure, not a skip.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Returns true when `program` is usable; otherwise skips (prints why) locally and panics in CI.
pub fn require_tool(program: &str, probe: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    ok || unavailable(&format!(
        "`{program} {}` does not work here",
        probe.join(" ")
    ))
}

/// What a test needs is not here: false (the test returns) with a printed reason locally, a panic
/// in CI.
pub fn unavailable(msg: &str) -> bool {
    if in_ci() {
        panic!("{msg}; CI must provide it (.ci/run installs and starts it)");
    }
    eprintln!("SKIPPED: {msg} (set CI=true to make this a failure)");
    false
}

/// A directory of symlinks to the usual build tools, minus `without`: a PATH where those are missing.
pub fn limited_path(dir: &Path, without: &[&str]) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for tool in [
        "cargo",
        "rustc",
        "rustup",
        "cargo-auditable",
        "cc",
        "gcc",
        "ld",
        "as",
        "ar",
        "musl-gcc",
    ] {
        if without.contains(&tool) {
            continue;
        }
        if let Ok(p) = which::which(tool) {
            std::os::unix::fs::symlink(p, bin.join(tool)).unwrap();
        }
    }
    bin.display().to_string()
}

/// Links into `bin` a `python3` of this machine that does not import PyPI's `ziglang` when run from
/// there (a venv's python linked elsewhere is the base interpreter, without the venv's packages).
/// False, with a printed reason (a failure in CI), when every python3 on PATH provides zig.
pub fn python3_without_ziglang(bin: &Path) -> bool {
    let link = bin.join("python3");
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let py = dir.join("python3");
        if !py.is_file() {
            continue;
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&py, &link).unwrap();
        let imports = Command::new(&link)
            .args(["-c", "import ziglang"])
            .env_remove("PYTHONPATH")
            .output()
            .is_ok_and(|o| o.status.success());
        if !imports {
            return true;
        }
    }
    let _ = std::fs::remove_file(&link);
    unavailable("every python3 on PATH imports ziglang")
}

/// Where rustup keeps toolchains (for a run with a changed HOME or CARGO_HOME).
pub fn rustup_home() -> String {
    std::env::var("RUSTUP_HOME")
        .unwrap_or_else(|_| format!("{}/.rustup", std::env::var("HOME").unwrap()))
}

/// The files of a tarball (or an uncompressed layer), by path.
pub fn tar_files(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut out = std::collections::BTreeMap::new();
    let mut a = tar::Archive::new(bytes);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.insert(path, data);
    }
    out
}

/// `docker load` and `podman load` of `tarball` (each when the engine works here; skipped locally,
/// a failure in CI), asserting that both accept it and list `reference`; the loaded images are
/// removed again.
pub fn engines_load(tarball: &Path, reference: &str) {
    if require_tool("docker", &["info"]) {
        let r = run(Command::new("docker").args(["load", "-i"]).arg(tarball));
        assert_eq!(r.code, 0, "docker load: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(reference), "docker load: {}", r.stdout);
        let _ = run(Command::new("docker").args(["rmi", reference]));
    }
    if require_tool("podman", &["--version"]) {
        let r = run(Command::new("podman").args(["load", "-i"]).arg(tarball));
        assert_eq!(r.code, 0, "podman load: {}{}", r.stdout, r.stderr);
        assert!(r.stdout.contains(reference), "podman load: {}", r.stdout);
        let _ = run(Command::new("podman").args(["rmi", reference]));
    }
}

/// `cargo tree -i openssl-sys --target <target>` in `dir` with `args`: its output, empty when
/// openssl-sys is not in the lockfile at all (cargo refuses the spec then); any other failure of
/// cargo fails the test.
pub fn openssl_sys_tree(dir: &Path, target: &str, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "-i", "openssl-sys", "--target", target])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    if out.status.success() {
        return String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`openssl-sys` did not match any packages"),
        "cargo tree failed ({}): {stderr}",
        out.status
    );
    String::new()
}

/// A TCP proxy on a free loopback port to `127.0.0.1:upstream` that passes what the client sends
/// at about `rate` bytes a second (answers at full speed): a slow uplink. Runs until the test
/// process ends.
pub fn slow_proxy(upstream: u16, rate: u64) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let (mut c_in, mut s_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 << 10];
                while let Ok(n) = c_in.read(&mut buf) {
                    if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_secs_f64(n as f64 / rate as f64));
                }
                let _ = s_out.shutdown(std::net::Shutdown::Write);
            });
            let (mut s_in, mut c_out) = (server, client);
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut s_in, &mut c_out);
                let _ = c_out.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}
