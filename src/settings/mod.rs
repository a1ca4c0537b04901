//! What an image is asked to be, as validated values: [`TinyConfig`] (one package's image settings,
//! from `[*.metadata.tiny]` and the command line), and the values inside it — the layer's
//! [`Compression`], [`CaCertificates`], the extra [`ExtraFile`]s with their opened sources, the
//! [`SizeBudget`] — and the rules on paths in the image.
//!
//! Below both [`crate::config`] (which reads and checks these values from the manifests) and
//! [`crate::image`] (which builds from them): neither imports the other.

pub mod compression;
pub mod size_budget;
pub mod source;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

pub use compression::Compression;
pub use size_budget::SizeBudget;

/// Whether the image gets `/etc/ssl/certs/ca-certificates.crt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CaCertificates {
    /// When the binary reads the system trust store (rustls-native-certs, openssl-probe, native-tls …)
    #[default]
    Auto,
    Always,
    Never,
}

impl CaCertificates {
    pub fn as_str(self) -> &'static str {
        match self {
            CaCertificates::Auto => "auto",
            CaCertificates::Always => "always",
            CaCertificates::Never => "never",
        }
    }
}

/// Which local engine `--load` (or `load = …`) puts the image into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum LoadInto {
    /// docker when its socket answers, else podman (its socket, else `podman load`)
    #[default]
    Auto,
    /// docker's Engine API on its socket (DOCKER_HOST honoured)
    Docker,
    /// podman's socket (CONTAINER_HOST, or `podman system service`'s), else `podman load`
    Podman,
}

impl LoadInto {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadInto::Auto => "auto",
            LoadInto::Docker => "docker",
            LoadInto::Podman => "podman",
        }
    }

    pub const ALL: [LoadInto; 3] = [LoadInto::Auto, LoadInto::Docker, LoadInto::Podman];
}

/// The user the entrypoint runs as, as the image config spells it (`uid:gid`).
pub const NONROOT: &str = "65532:65532";

/// A file copied from the package into the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraFile {
    /// Absolute path of the source on this machine.
    pub source: PathBuf,
    /// Absolute path in the image.
    pub dest: String,
    /// The source, opened (without following symlinks) when it was checked: the image gets these
    /// bytes, whatever a build script later does to the path.
    pub opened: source::OpenedSource,
}

/// The validated image configuration of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TinyConfig {
    pub name: Option<String>,
    pub tag: Option<String>,
    /// Extra tags written by `--push` (`tags = [...]`).
    pub tags: Vec<String>,
    pub cmd: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// `8080/tcp`, `53/udp`.
    pub ports: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// `uid:gid`.
    pub user: String,
    pub workdir: Option<String>,
    pub stop_signal: Option<String>,
    pub ca_certificates: CaCertificates,
    /// Sorted by destination.
    pub files: Vec<ExtraFile>,
    /// Where `files` was set: `[package.metadata.tiny] of /p/Cargo.toml` (empty when not set).
    pub files_from: String,
    /// How the layer is compressed.
    pub compression: Compression,
    /// `platforms = ["linux/amd64", "linux/arm64"]`, when set.
    pub platforms: Option<Vec<crate::target::Target>>,
    /// `load = true` (or an engine): also load the image into the local engine.
    pub load: Option<LoadInto>,
    /// `size-budget = { layer = "2 MiB", binary = "4 MiB" }`.
    pub size_budget: SizeBudget,
    /// `repository = "ghcr.io/acme"` (or `--repository`, `CARGO_TINY_REPOSITORY`): the prefix of
    /// every image name that has no registry host.
    pub repository: Option<String>,
    /// `sbom = [...]` / `--sbom`: the documents written beside the tarball and attached, in order
    /// (the first is the one the image's annotations and `sbom_path` name).
    pub sbom: Vec<crate::sbom::Format>,
    /// `vex = "…"` / `--vex`: an OpenVEX document attached to every image manifest.
    pub vex: Option<VexFile>,
    /// `sign = true`: sign the images (keyless unless `--sign-key` names a key).
    pub sign: bool,
}

/// An OpenVEX document read and checked when the configuration was (its products are checked
/// against each image's packages once they are known).
#[derive(Clone, PartialEq, Eq)]
pub struct VexFile {
    /// The path as the user gave it (resolved against the manifest's directory or the working
    /// directory), for messages.
    pub path: PathBuf,
    pub vex: crate::sbom::vex::Vex,
}

/// The path and the document's digest, not its bytes (the image cache hashes the `Debug` form).
impl std::fmt::Debug for VexFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VexFile")
            .field("path", &self.path)
            .field("vex", &crate::digest::sha256(&self.vex.bytes))
            .finish()
    }
}

impl VexFile {
    /// Reads and checks the OpenVEX document at `path`; the error is one line after
    /// `VEX document PATH: `.
    pub fn read(path: &Path) -> Result<VexFile, String> {
        use std::io::Read;
        let shown = path.display();
        let file = std::fs::File::open(path).map_err(|e| format!("VEX document {shown}: {e}"))?;
        let mut bytes = Vec::new();
        file.take(crate::sbom::vex::MAX_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| format!("VEX document {shown}: {e}"))?;
        let vex =
            crate::sbom::vex::parse(&bytes).map_err(|e| format!("VEX document {shown}: {e}"))?;
        Ok(VexFile {
            path: path.to_path_buf(),
            vex,
        })
    }
}

impl Default for TinyConfig {
    fn default() -> Self {
        TinyConfig {
            name: None,
            tag: None,
            tags: Vec::new(),
            cmd: Vec::new(),
            env: BTreeMap::new(),
            ports: Vec::new(),
            labels: BTreeMap::new(),
            user: NONROOT.into(),
            workdir: None,
            stop_signal: None,
            ca_certificates: CaCertificates::Auto,
            files: Vec::new(),
            files_from: String::new(),
            compression: Compression::Gzip,
            platforms: None,
            load: None,
            sbom: vec![crate::sbom::Format::DEFAULT],
            vex: None,
            sign: false,
            size_budget: SizeBudget::default(),
            repository: None,
        }
    }
}

/// An absolute, normalised path in the image: `/`-rooted, no `.`/`..`, no empty components.
pub fn check_image_path(p: &str) -> Result<(), String> {
    if !p.starts_with('/') {
        return Err(format!("{p:?} is not an absolute path"));
    }
    if p == "/" {
        return Err("\"/\" is not a file path".into());
    }
    if p.ends_with('/') {
        return Err(format!(
            "{p:?} ends with `/`: it must be a file path, not a directory (name the file, e.g. \"{p}config.toml\")"
        ));
    }
    for c in Path::new(p).components() {
        match c {
            Component::RootDir | Component::Normal(_) => {}
            _ => return Err(format!("{p:?} contains `..` or `.`")),
        }
    }
    if p.split('/')
        .skip(1)
        .any(|c| c.is_empty() || c == "." || c == "..")
        || p.contains('\0')
    {
        return Err(format!(
            "{p:?} is not a normalised path (`..`, `.` or `//`)"
        ));
    }
    if p.len() > 200 {
        return Err(format!("{p:?} is longer than 200 bytes"));
    }
    fits_tar(p)?;
    Ok(())
}

/// Whether `p` (absolute, in the image) can be written as a ustar entry, as a file and as the
/// directories above it: at most 100 bytes per name, 155 for the directory prefix.
pub fn fits_tar(p: &str) -> Result<(), String> {
    let rel = p.trim_start_matches('/');
    if let Some(c) = rel.split('/').find(|c| c.len() > 100) {
        return Err(format!(
            "path component `{c}` is {} bytes; a tar entry name holds at most 100",
            c.len()
        ));
    }
    let mut h = tar::Header::new_ustar();
    h.set_path(rel)
        .map_err(|e| format!("{p:?} cannot be written in a tar header: {e}"))?;
    Ok(())
}
