//! The daemon publisher (`--load`): the image straight into the local engine, as `ko build --local`
//! does — docker through its Engine API on its unix socket (`DOCKER_HOST` honoured; `POST
//! /images/load`), podman through the same API on its socket (`CONTAINER_HOST`, or the rootless or
//! rootful socket of `podman system service`), or `podman load` when no socket answers.
//!
//! The engine is found when the build is planned, so an engine that is not running fails before
//! anything is compiled. What is loaded is a `docker save` archive of one platform's image (the one
//! `docker load` gets from the tarball: `--docker-platform`, else the host's); the engine's own
//! inspect of the reference is checked against the image's config digest before it is reported.
//!
//! HTTP over the unix socket is reqwest's own (`ClientBuilder::unix_socket`, already a dependency of
//! the registry publisher), on a current-thread tokio runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use super::{Published, Publisher};
use crate::error::Failure;
use crate::image::Built;

/// Which engine `--load` asks for.
pub use crate::settings::LoadInto as Want;

/// Where the engines' sockets are looked for (the process environment, or a test's).
#[derive(Debug, Clone, Default)]
pub struct Env {
    pub docker_host: Option<String>,
    pub container_host: Option<String>,
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Env {
    pub fn from_process() -> Env {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Env {
            docker_host: var("DOCKER_HOST"),
            container_host: var("CONTAINER_HOST"),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
        }
    }
}

/// The engine an image is loaded into, found when planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Engine {
    /// An Engine API on a unix socket.
    Socket {
        socket: PathBuf,
        /// `docker 20.10.24`, `podman 4.3.1`.
        name: String,
        /// docker ≥ 23 (API 1.42) or podman: reads zstd layers.
        zstd: bool,
    },
    /// `podman load` on stdin.
    PodmanLoad { version: String },
}

impl Engine {
    /// `unix:///var/run/docker.sock`, or `podman load`.
    pub fn endpoint(&self) -> String {
        match self {
            Engine::Socket { socket, .. } => format!("unix://{}", socket.display()),
            Engine::PodmanLoad { .. } => "podman load".into(),
        }
    }

    pub fn name(&self) -> String {
        match self {
            Engine::Socket { name, .. } => name.clone(),
            Engine::PodmanLoad { version } => format!("podman {version}"),
        }
    }

    /// Whether it loads a layer of `compression`.
    pub fn loads(&self, compression: crate::settings::Compression) -> bool {
        compression.docker_loads()
            || matches!(
                self,
                Engine::Socket { zstd: true, .. } | Engine::PodmanLoad { .. }
            )
    }
}

const SOCKET_HINT: &str = "start the engine (`systemctl start docker`, or `podman system service --time=0 &` for podman's socket), or pick another with --load=docker|podman";

/// The socket a `*_HOST` variable names: only `unix://` is local.
fn socket_of(var: &str, value: &str) -> Result<PathBuf> {
    match value.strip_prefix("unix://") {
        Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
        _ => Err(Failure::new(format!(
            "{var}={value}: --load talks to a local engine over its unix socket"
        ))
        .hint(format!("point {var} at unix:///PATH, or unset it"))
        .into()),
    }
}

/// Finds the engine `want` names; a named one that does not answer is an error naming it.
pub fn find(want: Want, env: &Env) -> Result<Engine> {
    let rt = runtime()?;
    let mut tried = Vec::new();
    let mut ask = |socket: PathBuf| -> Option<Engine> {
        let answer = rt.block_on(probe(&socket));
        if answer.is_none() {
            tried.push(format!("unix://{}", socket.display()));
        }
        answer
    };
    let docker = match &env.docker_host {
        Some(h) => socket_of("DOCKER_HOST", h)?,
        None => PathBuf::from("/var/run/docker.sock"),
    };
    if want != Want::Podman {
        if let Some(e) = ask(docker.clone()) {
            return Ok(e);
        }
        if want == Want::Docker || env.docker_host.is_some() {
            let what = env
                .docker_host
                .as_ref()
                .map_or(String::new(), |h| format!(" (DOCKER_HOST={h})"));
            return Err(Failure::new(format!(
                "docker is not running: nothing answers on unix://{}{what}",
                docker.display()
            ))
            .hint(SOCKET_HINT)
            .into());
        }
    }
    let mut podman_sockets = Vec::new();
    if let Some(h) = &env.container_host {
        podman_sockets.push(socket_of("CONTAINER_HOST", h)?);
    }
    if let Some(d) = &env.xdg_runtime_dir {
        podman_sockets.push(d.join("podman/podman.sock"));
    }
    podman_sockets.push(PathBuf::from("/run/podman/podman.sock"));
    for s in podman_sockets {
        if let Some(e) = ask(s) {
            return Ok(e);
        }
    }
    if let Some(v) =
        crate::process::probe(podman().args(["version", "--format", "{{.Client.Version}}"]))
    {
        return Ok(Engine::PodmanLoad { version: v });
    }
    Err(Failure::new(format!(
        "no container engine to load into: nothing answers on {}, and `podman version` does not run here",
        tried.join(", ")
    ))
    .hint(SOCKET_HINT)
    .into())
}

/// The local podman: without `CONTAINER_HOST`, which would make it a client of the socket that did
/// not answer.
fn podman() -> std::process::Command {
    let mut c = std::process::Command::new("podman");
    c.env_remove("CONTAINER_HOST");
    c
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn client(socket: &Path, timeout: Duration) -> Result<reqwest::Client> {
    // reqwest is built without a provider (see the registry session): ring, once per process; the
    // socket speaks plain HTTP, but reqwest wants one to build any client.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Ok(reqwest::Client::builder()
        .unix_socket(socket)
        .connect_timeout(Duration::from_secs(5))
        .timeout(timeout)
        .user_agent(concat!("cargo-tiny/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// At most this much of an engine's answer is read.
const ANSWER_MAX: usize = 1 << 20;

async fn read_bounded(mut res: reqwest::Response) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = res.chunk().await? {
        out.extend_from_slice(&chunk[..chunk.len().min(ANSWER_MAX - out.len())]);
        if out.len() >= ANSWER_MAX {
            break;
        }
    }
    Ok(out)
}

/// An engine's text, safe for the terminal: printable, one line, short.
fn clean(s: &str) -> String {
    let one: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let one = one.split_whitespace().collect::<Vec<_>>().join(" ");
    one.chars().take(300).collect()
}

/// What answers on `socket` (`GET /_ping`, then `/version`).
async fn probe(socket: &Path) -> Option<Engine> {
    if !socket.exists() {
        return None;
    }
    let c = client(socket, Duration::from_secs(10)).ok()?;
    let ping = c.get("http://localhost/_ping").send().await.ok()?;
    if !ping.status().is_success() {
        return None;
    }
    let v: Value = serde_json::from_slice(
        &read_bounded(c.get("http://localhost/version").send().await.ok()?)
            .await
            .ok()?,
    )
    .ok()?;
    let podman = v["Components"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["Name"].as_str().is_some_and(|n| n.contains("Podman")))
    });
    let version = clean(v["Version"].as_str().unwrap_or("unknown"));
    let api: Vec<u32> = v["ApiVersion"]
        .as_str()
        .unwrap_or("0")
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect();
    let (product, zstd) = if podman {
        ("podman", true)
    } else {
        ("docker", api >= vec![1, 42])
    };
    Some(Engine::Socket {
        socket: socket.to_path_buf(),
        name: format!("{product} {version}"),
        zstd,
    })
}

/// The daemon publisher.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub engine: Engine,
    /// Every mtime in the archive.
    pub mtime: u64,
}

/// What was loaded, where (the `loaded` object of `--message-format json`).
#[derive(Debug, Clone, Serialize)]
pub struct Loaded {
    /// `docker 20.10.24`.
    pub engine: String,
    /// `unix:///var/run/docker.sock`, or `podman load`.
    pub endpoint: String,
    /// The reference the engine named it by (podman adds `localhost/`).
    pub reference: String,
    /// The engine's image id: the config's digest.
    pub image_id: String,
    pub platform: String,
}

/// Writes a `docker save` archive of the image `docker load` gets into `w`: `manifest.json`, its
/// config and layers, each layer read as it is written (from memory, or from the tarball a reused
/// image was read back from, checked against its digest on the way), never held whole.
fn write_archive<W: Write>(built: &Built, mtime: u64, w: W) -> Result<W> {
    use super::tarball::{append, Entry};
    let manifest = super::tarball::docker_manifest(built)?;
    let image = built.docker_image();
    let mut entries: std::collections::BTreeMap<String, Entry> = std::iter::once(&image.config)
        .chain(&image.layers)
        .map(|b| (format!("blobs/sha256/{}", b.hex()), Entry::Blob(b)))
        .collect();
    entries.insert("blobs/".into(), Entry::Dir);
    entries.insert("blobs/sha256/".into(), Entry::Dir);
    entries.insert("manifest.json".into(), Entry::Bytes(&manifest));
    let mut t = tar::Builder::new(w);
    // The directories first, then the files sorted by path (as before: the same bytes).
    for (path, entry) in entries.iter().filter(|(_, e)| matches!(e, Entry::Dir)) {
        append(&mut t, path, entry, mtime)?;
    }
    for (path, entry) in entries.iter().filter(|(_, e)| !matches!(e, Entry::Dir)) {
        append(&mut t, path, entry, mtime)?;
    }
    Ok(t.into_inner()?)
}

#[cfg(test)]
fn archive(built: &Built, mtime: u64) -> Result<Vec<u8>> {
    write_archive(built, mtime, Vec::new())
}

/// Chunks of the archive on their way to the engine: the writer thread blocks when this many wait.
const QUEUED: usize = 4;
const CHUNK: usize = 1 << 20;

/// The writing end of the archive's chunk queue; a closed reading end (the engine stopped reading)
/// is a broken pipe.
struct Queue(std::sync::mpsc::SyncSender<std::io::Result<bytes::Bytes>>);

impl Write for Queue {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .send(Ok(bytes::Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::ErrorKind::BrokenPipe)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The reading end, as the stream a request body is made of.
struct Received(std::sync::Mutex<std::sync::mpsc::Receiver<std::io::Result<bytes::Bytes>>>);

impl Iterator for Received {
    type Item = std::io::Result<bytes::Bytes>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .recv()
            .ok()
    }
}

/// Runs `load` with the archive of `built` streamed to it by a writer thread (bounded memory: a few
/// chunks in flight). An error of the writer (a blob that changed on disk) comes before the
/// engine's, which only saw a cut archive; a writer stopped because the engine stopped reading
/// gives the engine's error.
fn streamed<T>(built: &Built, mtime: u64, load: impl FnOnce(Received) -> Result<T>) -> Result<T> {
    let (tx, rx) = std::sync::mpsc::sync_channel(QUEUED);
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            let queue = std::io::BufWriter::with_capacity(CHUNK, Queue(tx.clone()));
            let written = write_archive(built, mtime, queue).and_then(|mut q| Ok(q.flush()?));
            if let Err(e) = &written {
                let _ = tx.send(Err(std::io::Error::other(e.to_string())));
            }
            written
        });
        let loaded = load(Received(std::sync::Mutex::new(rx)));
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the archive writer stopped")));
        match written {
            Err(e) if !broken_pipe(&e) => Err(e),
            _ => loaded,
        }
    })
}

/// The engine stopped reading: its own answer says why.
fn broken_pipe(e: &anyhow::Error) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

impl Publisher for &LoadPlan {
    fn publish(&self, built: &Built) -> Result<Published> {
        let image = built.docker_image();
        let (reference, id) = match &self.engine {
            Engine::Socket { socket, .. } => streamed(built, self.mtime, |chunks| {
                let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
                runtime()?.block_on(load_over(socket, body, built))
            })?,
            Engine::PodmanLoad { .. } => load_with_podman(built, self.mtime)?,
        };
        let want = image.config.digest.trim_start_matches("sha256:");
        if id.trim_start_matches("sha256:") != want {
            crate::fail!(
                hint = "load the tarball by hand (`docker load -i …`) to see what the engine does with it",
                "{} has image {} under {reference}, not the one loaded ({})",
                self.engine.name(),
                clean(&id),
                image.config.digest
            );
        }
        Ok(Published::Daemon(Loaded {
            engine: self.engine.name(),
            endpoint: self.engine.endpoint(),
            reference,
            image_id: image.config.digest.clone(),
            platform: image.platform.platform(),
        }))
    }
}

fn load_failed(engine: &str, what: impl std::fmt::Display) -> anyhow::Error {
    Failure::new(format!("{engine} did not load the image: {what}"))
        .hint("check that the engine is running and has room, then build again")
        .into()
}

/// `POST /images/load`, then `GET /images/REF/json`: the loaded reference and the engine's id.
async fn load_over(socket: &Path, data: reqwest::Body, built: &Built) -> Result<(String, String)> {
    let endpoint = format!("unix://{}", socket.display());
    let c = client(socket, Duration::from_secs(600))?;
    let res = c
        .post("http://localhost/images/load?quiet=1")
        .header("Content-Type", "application/x-tar")
        .body(data)
        .send()
        .await
        .map_err(|e| load_failed(&endpoint, clean(&e.to_string())))?;
    let status = res.status();
    let body = String::from_utf8_lossy(&read_bounded(res).await?).into_owned();
    // The answer is a stream of JSON messages; an error may come with 200.
    let mut named = None;
    for line in body.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).unwrap_or(Value::Null);
        if let Some(e) = v["error"]
            .as_str()
            .or(v["message"].as_str().filter(|_| !status.is_success()))
        {
            return Err(load_failed(&endpoint, clean(e)));
        }
        if let Some(s) = v["stream"].as_str() {
            named = named.or_else(|| loaded_name(s));
        }
    }
    if !status.is_success() {
        return Err(load_failed(
            &endpoint,
            format!("{status}: {}", clean(&body)),
        ));
    }
    let reference = named.unwrap_or_else(|| built.reference());
    let res = c
        .get(format!("http://localhost/images/{reference}/json"))
        .send()
        .await
        .map_err(|e| load_failed(&endpoint, clean(&e.to_string())))?;
    let v: Value = serde_json::from_slice(&read_bounded(res).await?).unwrap_or(Value::Null);
    let id = v["Id"].as_str().unwrap_or_default().to_string();
    Ok((reference, id))
}

/// `Loaded image: NAME` (docker, podman) or `Loaded image(s): NAME` (older podman).
fn loaded_name(text: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Loaded image")?;
        let rest = rest.strip_prefix("(s)").unwrap_or(rest).strip_prefix(':')?;
        let name = rest.split(',').next()?.trim();
        (!name.is_empty()).then(|| clean(name))
    })
}

/// `podman load` with the archive streamed to its stdin (by a thread, while this one reads what
/// podman prints), then `podman image inspect`.
fn load_with_podman(built: &Built, mtime: u64) -> Result<(String, String)> {
    let mut child = crate::process::spawn(
        podman()
            .arg("load")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        "install podman, or start docker for --load",
    )?;
    let stdin = child.stdin.take().expect("piped stdin");
    let (fed, out) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || {
            write_archive(
                built,
                mtime,
                std::io::BufWriter::with_capacity(CHUNK, stdin),
            )
            .and_then(|mut w| Ok(w.flush()?))
        });
        let out = child.wait_with_output();
        let fed = writer
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the archive writer stopped")));
        (fed, out)
    });
    let out = out?;
    let fed = match fed {
        Ok(_) => true,
        Err(e) if !broken_pipe(&e) => return Err(e),
        Err(_) => false,
    };
    if !out.status.success() || !fed {
        return Err(load_failed(
            "podman load",
            clean(&String::from_utf8_lossy(&out.stderr)),
        ));
    }
    let reference =
        loaded_name(&String::from_utf8_lossy(&out.stdout)).unwrap_or_else(|| built.reference());
    let id = crate::process::probe(
        podman()
            .args(["image", "inspect", "--format", "{{.Id}}"])
            .arg(&reference),
    )
    .unwrap_or_default();
    Ok((reference, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::tests::{input, single};
    use crate::settings::TinyConfig;

    #[test]
    fn the_archive_holds_the_docker_image_and_its_manifest() {
        let built = single(crate::image::build(&input(&TinyConfig::default())).unwrap());
        let bytes = archive(&built, 0).unwrap();
        assert_eq!(bytes, archive(&built, 0).unwrap());
        let mut names = Vec::new();
        for e in tar::Archive::new(bytes.as_slice()).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        let image = built.docker_image();
        assert_eq!(names.len(), 2 + 1 + 1 + image.layers.len());
        assert!(names.contains(&format!("blobs/sha256/{}", image.config.hex())));
        assert!(names.contains(&"manifest.json".to_string()));
    }

    #[test]
    fn engines_name_what_they_loaded() {
        assert_eq!(
            loaded_name("Loaded image: hello:0.1.0\n").as_deref(),
            Some("hello:0.1.0")
        );
        assert_eq!(
            loaded_name("Loaded image(s): localhost/hello:0.1.0").as_deref(),
            Some("localhost/hello:0.1.0")
        );
        assert_eq!(loaded_name("Loaded image ID: sha256:00"), None);
        assert_eq!(clean("a\x1b[31mb\nc"), "a [31mb c");
    }

    #[test]
    fn a_remote_or_silent_engine_is_one_line_naming_it() {
        let e = socket_of("DOCKER_HOST", "tcp://10.0.0.1:2375").unwrap_err();
        assert!(
            e.to_string().contains("DOCKER_HOST=tcp://10.0.0.1:2375"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let env = Env {
            docker_host: Some(format!("unix://{}/none.sock", dir.path().display())),
            ..Default::default()
        };
        let e = find(Want::Auto, &env).unwrap_err().to_string();
        assert!(
            e.starts_with("docker is not running: nothing answers on unix://"),
            "{e}"
        );
        assert!(e.contains("none.sock"), "{e}");
    }
}
