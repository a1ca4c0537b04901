//! `cargo tiny build --load`: the image straight into the local engine — docker through its Engine
//! API on its socket, podman through its socket (`podman system service`) or `podman load` when no
//! socket answers — for one platform and for two (the `--docker-platform` one is loaded); an engine
//! that does not answer is one line naming it, before anything is compiled.
//!
//! Engine tests skip locally when an engine is missing and fail in CI (`CI=true`).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Mutex;

use common::*;
use serde_json::Value;

/// One build at a time in the shared fixture target dir.
static BUILD: Mutex<()> = Mutex::new(());

/// A copy of examples/hello in `dir`.
fn hello(dir: &Path) -> PathBuf {
    let root = dir.join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    root.join("Cargo.toml")
}

/// `cargo tiny build --message-format json ARGS` with `envs`, its output in `dir`.
fn build(manifest: &Path, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = cargo_tiny();
    cmd.args(["build", "--message-format", "json", "--manifest-path"])
        .arg(manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir())
        .arg("-o")
        .arg(dir.join("out/hello.tar"))
        .args(args)
        .env_remove("DOCKER_HOST")
        .env_remove("CONTAINER_HOST")
        .envs(envs.iter().copied());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    run(&mut cmd)
}

/// The image message (one platform or several).
fn message(r: &Run) -> Value {
    r.stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| m["reason"] == "image" || m["reason"] == "image-index")
        .unwrap_or_else(|| panic!("no image message:\n{}\n{}", r.stdout, r.stderr))
}

/// The config digest of the image `docker load` gets, from the image message.
fn docker_config(m: &Value) -> String {
    if m["reason"] == "image" {
        return m["config_digest"].as_str().unwrap().to_string();
    }
    let platform = &m["docker_platform"];
    m["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["platform"] == *platform)
        .unwrap()["config_digest"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A reference no other test uses.
fn reference(what: &str) -> String {
    format!("cargo-tiny-load/{what}-{}:t", std::process::id())
}

/// `ENGINE image inspect --format {{.Id}} REF`, trimmed of `sha256:`.
fn engine_id(engine: &str, reference: &str) -> String {
    let r = run(Command::new(engine).args(["image", "inspect", "--format", "{{.Id}}", reference]));
    assert_eq!(
        r.code, 0,
        "{engine} image inspect {reference}: {}",
        r.stderr
    );
    r.stdout.trim().trim_start_matches("sha256:").to_string()
}

/// Checks what `--load` reported against the engine's own inspect, and runs the image.
fn check_loaded(m: &Value, engine: &str, endpoint: &str, platform: &str) {
    let loaded = &m["loaded"];
    assert!(
        loaded["engine"].as_str().unwrap().starts_with(engine),
        "{loaded}"
    );
    assert_eq!(loaded["endpoint"], endpoint, "{loaded}");
    assert_eq!(loaded["platform"], platform, "{loaded}");
    let config = docker_config(m);
    assert_eq!(loaded["image_id"], config.as_str(), "{loaded}");
    let name = loaded["reference"].as_str().unwrap();
    assert_eq!(
        engine_id(engine, name),
        config.trim_start_matches("sha256:")
    );
    if platform == "linux/amd64" {
        let r = match engine {
            "docker" => docker_run(&[name]),
            _ => podman_run(
                "--rm",
                &[
                    "--ulimit",
                    "nofile=1024:1024",
                    "--ulimit",
                    "nproc=1024:1024",
                    name,
                ],
            ),
        };
        assert_eq!(r.code, 0, "{engine} run {name}: {}", r.stderr);
        assert!(r.stdout.contains("Hello"), "{}", r.stdout);
    }
    let _ = run(Command::new(engine).args(["rmi", name]));
}

#[test]
fn load_into_docker_through_its_socket_one_and_two_platforms() {
    if !require_tool("docker", &["info"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = hello(dir.path());
    let one = reference("docker-one");
    let r = build(&manifest, dir.path(), &["--load", "--image", &one], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("Loaded {one} (linux/amd64) into docker")),
        "{}",
        r.stderr
    );
    check_loaded(
        &message(&r),
        "docker",
        "unix:///var/run/docker.sock",
        "linux/amd64",
    );

    // Two platforms: the --docker-platform one, through DOCKER_HOST.
    let two = reference("docker-two");
    let r = build(
        &manifest,
        dir.path(),
        &[
            "--load=docker",
            "--image",
            &two,
            "--platform",
            "linux/amd64,linux/arm64",
            "--docker-platform",
            "linux/arm64",
        ],
        &[("DOCKER_HOST", "unix:///var/run/docker.sock")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = message(&r);
    assert_eq!(m["reason"], "image-index");
    check_loaded(&m, "docker", "unix:///var/run/docker.sock", "linux/arm64");
}

/// `podman system service` on a socket of our own; stopped on drop.
struct PodmanService(Child, PathBuf);

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_file(&self.1);
    }
}

fn podman_service(dir: &Path) -> PodmanService {
    let socket = dir.join("podman.sock");
    let child = Command::new("podman")
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", socket.display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if socket.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(socket.exists(), "podman system service made no socket");
    PodmanService(child, socket)
}

#[test]
fn load_into_podman_through_its_socket_and_through_podman_load() {
    if !require_tool("podman", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = hello(dir.path());
    let service = podman_service(dir.path());
    let socket = format!("unix://{}", service.1.display());

    let one = reference("podman-socket-one");
    let r = build(
        &manifest,
        dir.path(),
        &["--load=podman", "--image", &one],
        &[("CONTAINER_HOST", &socket)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_loaded(&message(&r), "podman", &socket, "linux/amd64");
    let two = reference("podman-socket-two");
    let r = build(
        &manifest,
        dir.path(),
        &[
            "--load=podman",
            "--image",
            &two,
            "--platform",
            "linux/amd64,linux/arm64",
        ],
        &[("CONTAINER_HOST", &socket)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    check_loaded(&message(&r), "podman", &socket, "linux/amd64");
    drop(service);

    // No socket answers: `podman load`, and a zstd layer too.
    let none = format!("unix://{}/none.sock", dir.path().display());
    let rootful = Path::new("/run/podman/podman.sock").exists();
    let fallback = if rootful {
        "unix:///run/podman/podman.sock"
    } else {
        "podman load"
    };
    for (what, extra) in [
        ("podman-load-one", &[][..]),
        (
            "podman-load-two",
            &[
                "--platform",
                "linux/amd64,linux/arm64",
                "--compression",
                "zstd",
            ][..],
        ),
    ] {
        let name = reference(what);
        let mut args = vec!["--load=podman", "--image", &name];
        args.extend(extra);
        let mut cmd_env = vec![("CONTAINER_HOST", none.as_str())];
        cmd_env.push(("XDG_RUNTIME_DIR", dir.path().to_str().unwrap()));
        let r = build(&manifest, dir.path(), &args, &cmd_env);
        assert_eq!(r.code, 0, "{}", r.stderr);
        check_loaded(&message(&r), "podman", fallback, "linux/amd64");
    }
}

/// An engine that does not answer: one line naming it, before anything is compiled or written.
#[test]
fn an_engine_that_is_not_running_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = hello(dir.path());
    let socket = format!("unix://{}/docker.sock", dir.path().display());
    for args in [&["--load"][..], &["--load=docker"][..]] {
        let r = build(&manifest, dir.path(), args, &[("DOCKER_HOST", &socket)]);
        assert_eq!(r.code, 1, "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
        assert!(
            r.stderr.starts_with(&format!(
                "error: docker is not running: nothing answers on {socket} (DOCKER_HOST={socket})"
            )),
            "{}",
            r.stderr
        );
        assert!(r.stdout.is_empty(), "{}", r.stdout);
        assert!(!dir.path().join("out").exists(), "nothing is written");
    }
    let r = build(
        &manifest,
        dir.path(),
        &["--load"],
        &[("DOCKER_HOST", "tcp://127.0.0.1:2375")],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.starts_with("error: DOCKER_HOST=tcp://127.0.0.1:2375: --load talks to a local engine over its unix socket"), "{}", r.stderr);
    let r = build(&manifest, dir.path(), &["--load", "--no-image"], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}

/// docker 20.10 reads no zstd layer: refused before compiling, with the way out.
#[test]
fn docker_20_is_not_asked_to_load_zstd() {
    if !require_tool("docker", &["info"]) {
        return;
    }
    let v = run(Command::new("docker").args(["version", "--format", "{{.Server.APIVersion}}"]));
    let api: Vec<u32> = v
        .stdout
        .trim()
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    if api >= vec![1, 42] {
        eprintln!("SKIPPED: this docker (API {}) loads zstd", v.stdout.trim());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let manifest = hello(dir.path());
    let r = build(
        &manifest,
        dir.path(),
        &["--load=docker", "--compression", "zstd"],
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("cannot load zstd layers"), "{}", r.stderr);
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
}
