//! doctor's FROM-scratch checks (`pid1-signals`, `missing-program`, `host-files`) on the fixture
//! workspace tests/fixtures/scratch (one Cargo.lock), and the behaviour they predict, in podman.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{cargo_tiny, fixture_target_dir, require_tool, run};
use serde_json::Value;

fn workspace() -> PathBuf {
    common::repo().join("tests/fixtures/scratch")
}

fn doctor(package: &str, extra: &[&str]) -> common::Run {
    run(cargo_tiny()
        .args(["doctor", "--color", "never", "--locked", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .args(["-p", package])
        .args(extra))
}

/// The JSON findings of `package` with `code`.
fn findings(package: &str, code: &str) -> Vec<Value> {
    let r = doctor(package, &["--format", "json"]);
    assert_eq!(r.code, 0, "{package}: {}", r.stderr);
    r.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|f| f["code"] == code)
        .collect()
}

#[test]
fn tokio_server_without_a_handler_warns() {
    let f = findings("server-nosig", "pid1-signals");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["file"], "server-nosig/src/main.rs");
    let m = f[0]["message"].as_str().unwrap();
    assert!(
        m.contains("bin `server-nosig`") && m.contains("SIGTERM"),
        "{m}"
    );
    // --deny warnings turns it into a failing exit code; the human output names the fix.
    let r = doctor("server-nosig", &["--deny", "warnings"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("warning[pid1-signals]"), "{}", r.stderr);
    assert!(r.stderr.contains("SignalKind::terminate()"), "{}", r.stderr);
}

#[test]
fn sigterm_handler_or_ctrl_c_with_sigint_stop_signal_is_no_warning() {
    for p in ["server-sigterm", "server-ctrlc"] {
        assert!(findings(p, "pid1-signals").is_empty(), "{p}");
    }
}

#[test]
fn ctrl_c_alone_warns_that_sigterm_is_not_handled() {
    let f = findings("ctrlc-only", "pid1-signals");
    assert_eq!(f.len(), 1, "{f:?}");
    let m = f[0]["message"].as_str().unwrap();
    assert!(m.contains("only SIGINT"), "{m}");
    assert!(
        f[0]["fix"].as_str().unwrap().contains("stop-signal"),
        "{f:?}"
    );
}

#[test]
fn ping_is_a_missing_program_with_its_source_line() {
    let f = findings("runs-ping", "missing-program");
    // Command::new("ping") in src/probe.rs:4; the one in #[cfg(test)] is not in the binary.
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["file"], "runs-ping/src/probe.rs");
    assert_eq!(f[0]["line"], 4);
    assert!(
        f[0]["message"].as_str().unwrap().contains("`ping`"),
        "{f:?}"
    );
    let r = doctor("runs-ping", &["--format", "github"]);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("::warning file=")
            && l.contains("runs-ping/src/probe.rs,line=4::")
            && l.contains("`ping`")),
        "{}",
        r.stdout
    );
}

#[test]
fn programs_shipped_with_files_are_no_warning() {
    assert!(findings("runs-shipped", "missing-program").is_empty());
}

#[test]
fn a_program_that_runs_and_exits_needs_no_handler() {
    // runs-ping prints a line and exits: nobody stops it, so no pid1-signals (issue 28).
    assert!(findings("runs-ping", "pid1-signals").is_empty());
    assert!(findings("runs-shipped", "pid1-signals").is_empty());
}

#[test]
fn a_listener_only_in_a_library_is_an_info_line_not_a_warning() {
    // client-of-a-server-lib: the bin connects and exits; the listener is in the package's
    // library (mini-redis' shape, whose client was warned before).
    let f = findings("client-of-a-server-lib", "pid1-signals");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["severity"], "info", "{f:?}");
    let m = f[0]["message"].as_str().unwrap();
    assert!(
        m.contains("bin `client`") && m.contains("`std::net::TcpListener`"),
        "{m}"
    );
    // A server with the listener in its own file stays a warning.
    let f = findings("server-nosig", "pid1-signals");
    assert_eq!(f[0]["severity"], "warning", "{f:?}");
}

#[test]
fn stop_signal_sigkill_says_no_graceful_stop_is_needed() {
    // server-nosig serves and handles no signal (tokio_server_without_a_handler_warns); with
    // stop-signal = "SIGKILL" its image says it needs no graceful stop.
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(&workspace(), dir.path());
    let manifest = dir.path().join("server-nosig/Cargo.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!("{text}\n[package.metadata.tiny]\nstop-signal = \"SIGKILL\"\n"),
    )
    .unwrap();
    let r = run(cargo_tiny()
        .args(["doctor", "--format", "json", "--locked", "--manifest-path"])
        .arg(dir.path().join("Cargo.toml"))
        .args(["-p", "server-nosig"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains("pid1-signals"), "{}", r.stdout);
}

#[test]
fn host_time_zone_database_warns() {
    let f = findings("local-time", "host-files");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["path"], serde_json::json!(["local-time", "chrono"]));
    assert!(
        f[0]["message"]
            .as_str()
            .unwrap()
            .contains("/usr/share/zoneinfo"),
        "{f:?}"
    );
    assert!(findings("server-nosig", "host-files").is_empty());
}

/// Builds the image tarball of workspace member `package` into `dir`.
fn image_tarball(package: &str, dir: &std::path::Path) -> PathBuf {
    let tarball = dir.join(format!("{package}.tar"));
    let r = run(cargo_tiny()
        .args(["build", "--locked", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .args(["-p", package, "--target-dir"])
        .arg(fixture_target_dir())
        .arg("--output")
        .arg(&tarball));
    assert_eq!(r.code, 0, "build of {package}: {}", r.stderr);
    tarball
}

/// Loads `tarball` into `engine` (podman or docker); returns the image name it got.
fn load(engine: &str, tarball: &std::path::Path, package: &str) -> String {
    let r = run(Command::new(engine).args(["load", "-i"]).arg(tarball));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    match engine {
        "podman" => format!("localhost/{package}:0.1.0"),
        _ => format!("{package}:0.1.0"),
    }
}

/// Runs `image` detached in `engine` (ENGINES.md's recipes), waits until it says it listens,
/// `ENGINE stop -t 2`, and returns the exit code the engine recorded.
fn stop_exit_code(engine: &str, image: &str, extra: &[&str]) -> i64 {
    let name = format!(
        "tiny-pid1-{}-{}{}",
        std::process::id(),
        image.replace(['/', ':'], "-"),
        extra.join("")
    );
    let mut cmd = Command::new(engine);
    if engine == "podman" {
        cmd.args(["--runtime", "/usr/sbin/runc", "run", "-d"])
            .args([
                "--ulimit",
                "nofile=20000:20000",
                "--ulimit",
                "nproc=4096:4096",
            ]);
    } else {
        cmd.args(["run", "-d"]);
    }
    let r = run(cmd
        .args(["--name", &name, "--network", "none"])
        .args(extra)
        .arg(image));
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Readiness, not timing: the servers print "listening" once their handler is installed.
    let mut ready = false;
    for _ in 0..600 {
        let logs = run(Command::new(engine).args(["logs", &name]));
        if logs.stderr.contains("listening") || logs.stdout.contains("listening") {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let stop = run(Command::new(engine).args(["stop", "-t", "2", &name]));
    let code =
        run(Command::new(engine).args(["inspect", "--format", "{{.State.ExitCode}}", &name]));
    let logs = run(Command::new(engine).args(["logs", &name]));
    run(Command::new(engine).args(["rm", "-f", &name]));
    assert!(ready, "{image} never said it listens: {}", logs.stderr);
    assert_eq!(stop.code, 0, "{}", stop.stderr);
    code.stdout
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{engine} inspect: {}{}", code.stdout, code.stderr))
}

/// The handler-less server is killed after the grace period; with an init, or with its SIGTERM or
/// (with StopSignal SIGINT) Ctrl-C handler, it ends by itself.
fn stop_outcomes(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let image = |package: &str| load(engine, &image_tarball(package, dir.path()), package);
    let nosig = image("server-nosig");
    let sigterm = image("server-sigterm");
    let ctrlc = image("server-ctrlc");
    // PID 1 without a handler ignores SIGTERM: the engine waits 2 s, then SIGKILLs (128 + 9).
    assert_eq!(stop_exit_code(engine, &nosig, &[]), 137);
    // The other fix: an init as PID 1 (podman's catatonit, docker's tini) forwards SIGTERM to the
    // server, which, no longer PID 1, gets the default action and ends by it (128 + 15).
    assert_eq!(stop_exit_code(engine, &nosig, &["--init"]), 143);
    // With a SIGTERM handler it ends by itself, and so does the Ctrl-C one, whose image has
    // StopSignal SIGINT (stop-signal in its [package.metadata.tiny]).
    assert_eq!(stop_exit_code(engine, &sigterm, &[]), 0);
    assert_eq!(stop_exit_code(engine, &ctrlc, &[]), 0);
}

#[test]
fn podman_stop_kills_the_handlerless_server_and_the_fixed_ones_exit_cleanly() {
    if require_tool("podman", &["--version"]) {
        stop_outcomes("podman");
    }
}

#[test]
fn docker_stop_kills_the_handlerless_server_and_the_fixed_ones_exit_cleanly() {
    if require_tool("docker", &["info"]) {
        stop_outcomes("docker");
    }
}

/// `cargo tiny build -p panics` (extra flags), the build's run.
fn build_panics(extra: &[&str]) -> common::Run {
    let r = run(cargo_tiny()
        .args(["build", "--locked", "--manifest-path"])
        .arg(workspace().join("Cargo.toml"))
        .args(["-p", "panics", "--target-dir"])
        .arg(fixture_target_dir())
        .args(extra));
    assert_eq!(r.code, 0, "{}", r.stderr);
    r
}

#[test]
fn panic_abort_says_once_what_a_panic_looks_like_as_pid1() {
    let note = "a panic as PID 1";
    let r = build_panics(&["--panic-abort", "--no-image"]);
    assert_eq!(r.stderr.matches(note).count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("exits with 139"), "{}", r.stderr);
    // init says it too (here with --dry-run, on a copy), and only with --panic-abort.
    let dir = tempfile::tempdir().unwrap();
    common::copy_tree(&workspace(), dir.path());
    let init = |extra: &[&str]| {
        run(cargo_tiny()
            .args(["init", "--dry-run", "--manifest-path"])
            .arg(dir.path().join("Cargo.toml"))
            .args(extra))
    };
    let r = init(&["--panic-abort"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches(note).count(), 1, "{}", r.stderr);
    let r = init(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr.matches(note).count(), 0, "{}", r.stderr);
}

#[test]
fn podman_shows_a_panic_as_pid1_exits_139_with_panic_abort() {
    if !require_tool("podman", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = |extra: &[&str], name: &str| {
        let tarball = dir.path().join(format!("{name}.tar"));
        let mut args = extra.to_vec();
        let out = tarball.display().to_string();
        let reference = format!("{name}:0.1.0");
        args.extend(["--output", &out, "--image", &reference]);
        build_panics(&args);
        let r = run(Command::new("podman").args(["load", "-i"]).arg(&tarball));
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        format!("localhost/{reference}")
    };
    let podman_run = |image: &str| common::podman_run("--rm", &[image]);
    let abort = image(&["--panic-abort"], "tiny-panics-abort");
    let r = podman_run(&abort);
    // The message, then SIGSEGV (128 + 11): PID 1 ignores the SIGABRT of abort().
    assert!(r.stderr.contains("boom"), "{}", r.stderr);
    assert_eq!(r.code, 139, "{}", r.stderr);
    let unwind = image(&[], "tiny-panics-unwind");
    let r = podman_run(&unwind);
    assert!(r.stderr.contains("boom"), "{}", r.stderr);
    assert_eq!(r.code, 101, "{}", r.stderr);
}

/// `--message-format json` is doctor's spelling too, as for build and push; `--format` is kept.
#[test]
fn doctor_takes_message_format_like_build() {
    for flag in ["--message-format", "--format"] {
        let r = doctor("runs-ping", &[flag, "json"]);
        assert_eq!(r.code, 0, "{flag}: {}", r.stderr);
        for l in r.stdout.lines() {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{flag}: {l}: {e}"));
            assert!(v["code"].is_string(), "{l}");
        }
        assert!(
            !r.stdout.is_empty(),
            "{flag}: missing-program finding expected"
        );
    }
}
