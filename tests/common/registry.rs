//! A `docker-registry serve` (distribution 2.8) on a free 127.0.0.1 port, stopped on drop, and a
//! plain-HTTP request helper for reading and writing it by hand.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `docker-registry serve` process, killed on drop.
pub struct Registry {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Registry {
    /// `extra` is appended to the config (TLS and auth).
    pub fn start(extra: impl Fn(u16) -> String) -> Registry {
        Registry::start_on(free_port(), extra)
    }

    /// [`Registry::start`] on a given port (a registry started again where a stopped one was).
    pub fn start_on(port: u16, extra: impl Fn(u16) -> String) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n{}",
                dir.path().join("data").display(),
                extra(port)
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "docker-registry did not start on 127.0.0.1:{port}");
        Registry {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn plain() -> Registry {
        Registry::start(|port| format!("http:\n  addr: 127.0.0.1:{port}\n"))
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// One plain-HTTP request: status and body.
    pub fn http(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nAccept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.host(),
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let split = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&out[..split]).to_string();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        assert!(
            !head
                .to_ascii_lowercase()
                .contains("transfer-encoding: chunked"),
            "{head}"
        );
        (status, out[split + 4..].to_vec())
    }

    pub fn get_json(&self, path: &str) -> Value {
        let (status, body) = self.http("GET", path, "application/json", b"");
        assert_eq!(
            status,
            200,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        serde_json::from_slice(&body).unwrap()
    }
}
