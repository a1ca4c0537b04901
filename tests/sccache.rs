//! `cargo tiny build` under a shared compile cache: `RUSTC_WRAPPER=sccache` alongside cargo-auditable's
//! `RUSTC_WORKSPACE_WRAPPER`. Two clean builds of a fixture with registry dependencies: the second gets
//! its dependencies from the cache, and the binaries are byte-identical. Once against a local disk
//! cache, once against a Redis server on loopback (started and stopped here).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;
use serde_json::Value;

/// A free loopback port (bound, then released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An sccache server of our own (own port, own backend), stopped on drop.
struct Sccache {
    env: Vec<(String, String)>,
}

impl Sccache {
    fn start(backend: &[(&str, &str)]) -> Sccache {
        let mut env = vec![
            ("SCCACHE_SERVER_PORT".to_string(), free_port().to_string()),
            ("SCCACHE_IDLE_TIMEOUT".to_string(), "0".to_string()),
            ("RUSTC_WRAPPER".to_string(), "sccache".to_string()),
        ];
        env.extend(backend.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let s = Sccache { env };
        let r = run(s.cmd().arg("--start-server"));
        assert_eq!(r.code, 0, "sccache --start-server: {}", r.stderr);
        s
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("sccache");
        // Not the machine's sccache settings (`SCCACHE_*`, `~/.config/sccache`): only ours.
        isolate(&mut c);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    /// `(cache hits, cache misses)` of Rust compilations since the last zeroing.
    fn stats(&self) -> (u64, u64) {
        let r = run(self.cmd().args(["--show-stats", "--stats-format", "json"]));
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        let count = |k: &str| v["stats"][k]["counts"]["Rust"].as_u64().unwrap_or(0);
        (count("cache_hits"), count("cache_misses"))
    }
}

impl Drop for Sccache {
    fn drop(&mut self) {
        let _ = self
            .cmd()
            .arg("--stop-server")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A clean `cargo tiny build --no-image` of tests/fixtures/certs in `root`; the binary's bytes.
fn clean_build(root: &Path, cache: &Sccache) -> Vec<u8> {
    let target = root.join("target");
    let _ = std::fs::remove_dir_all(&target);
    let r = run(cargo_tiny()
        .args(["build", "--no-image", "--message-format", "json"])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"))
        .envs(cache.env.iter().map(|(k, v)| (k, v))));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: Value = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|m| m["reason"] == "binary")
        .unwrap();
    std::fs::read(m["path"].as_str().unwrap()).unwrap()
}

fn twice(cache: &Sccache) {
    let dir = tempfile::tempdir().unwrap();
    let root: PathBuf = dir.path().join("certs");
    copy_tree(&repo().join("tests/fixtures/certs"), &root);
    let first = clean_build(&root, cache);
    let (_, misses) = cache.stats();
    assert!(
        misses > 0,
        "the first build compiled nothing through sccache"
    );
    let r = run(cache.cmd().arg("--zero-stats"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    let second = clean_build(&root, cache);
    let (hits, misses_again) = cache.stats();
    assert_eq!(
        (hits, misses_again),
        (misses, 0),
        "the second clean build should get every cached compilation from the cache"
    );
    assert!(first == second, "binaries differ between the two builds");
}

#[test]
fn sccache_with_a_local_disk_cache_serves_the_second_clean_build() {
    if !require_tool("sccache", &["--version"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let cache = Sccache::start(&[("SCCACHE_DIR", dir.path().to_str().unwrap())]);
    twice(&cache);
}

/// A redis-server on a free loopback port, no persistence, killed on drop.
struct Redis(Child);

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sccache_with_a_redis_cache_serves_the_second_clean_build() {
    if !require_tool("sccache", &["--version"]) || !require_tool("redis-server", &["--version"]) {
        return;
    }
    let port = free_port();
    let redis = Redis(
        Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("start redis-server"),
    );
    // Ready when it accepts a connection.
    let addr = format!("127.0.0.1:{port}");
    let ready = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        std::net::TcpStream::connect(&addr).is_ok()
    });
    assert!(ready, "redis-server did not start on {addr}");
    let endpoint = format!("redis://{addr}");
    let cache = Sccache::start(&[("SCCACHE_REDIS_ENDPOINT", &endpoint)]);
    twice(&cache);
    drop(cache);
    drop(redis);
}
