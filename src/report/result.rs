//! A built result told: its publishers' lines (pushed, loaded), then one platform's image or
//! several platforms' images and their index, and its JSON line (`image` or `image-index`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::{digest_shown, shell_word, shown};
use crate::image::{self, ca_bundle, Kind, Summary};
use crate::publish::daemon::Loaded;
use crate::publish::tarball::Beside;
use crate::publish::{Published, Pushed};
use crate::settings::TinyConfig;
use crate::shell::{human_size, Shell};

/// What the image stage knows of one platform's image besides the image itself.
#[derive(Debug, Clone)]
pub struct PlatformFacts {
    pub binary_size: u64,
    pub ca: ca_bundle::Decision,
    pub sbom_packages: usize,
}

/// One built result and what its publishers did: what [`result`] reports.
pub struct ResultReport<'a> {
    pub package: &'a str,
    pub bin: &'a str,
    pub config: &'a TinyConfig,
    pub summary: &'a Summary,
    /// In the order of `summary.platforms`.
    pub platforms: Vec<&'a PlatformFacts>,
    /// Each platform's (first) SBOM beside the tarball, in the same order.
    pub sboms: &'a [PathBuf],
    /// Every document beside the tarball (per platform, each selected format).
    pub beside: &'a [Beside],
    /// The tarball already held this result (every input unchanged) and was not rewritten.
    pub reused: bool,
    /// In the plan's order: the tarball first.
    pub published: &'a [Published],
    /// The images' RFC 3339 timestamp.
    pub created: String,
}

impl ResultReport<'_> {
    fn tarball(&self) -> (PathBuf, u64) {
        self.published
            .iter()
            .find_map(|p| match p {
                Published::Tarball(w) => Some((w.path.clone(), w.size)),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// The documents beside the tarball of `platform` (`linux/amd64`), with what was written.
    fn documents(&self, platform: &str) -> Vec<DocumentMessage> {
        let written: Vec<(PathBuf, String)> = self
            .published
            .iter()
            .find_map(|p| match p {
                Published::Tarball(w) => Some(w.beside.clone()),
                _ => None,
            })
            .unwrap_or_default();
        self.beside
            .iter()
            .filter(|b| b.platform.platform() == platform)
            .zip(&self.config.sbom)
            .map(|(b, f)| DocumentMessage {
                format: f.to_string(),
                media_type: f.media_type(),
                path: b.path.display().to_string(),
                digest: written
                    .iter()
                    .find(|(p, _)| *p == b.path)
                    .map(|(_, d)| d.clone())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// `CycloneDX 1.6 and SPDX 2.3`.
    fn formats(&self) -> String {
        let names: Vec<String> = self.config.sbom.iter().map(|f| f.to_string()).collect();
        match names.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => names.join(""),
        }
    }

    fn pushed(&self) -> Option<&Pushed> {
        self.published.iter().find_map(|p| match p {
            Published::Registry(p) => Some(p),
            _ => None,
        })
    }

    fn loaded(&self) -> Option<&Loaded> {
        self.published.iter().find_map(|p| match p {
            Published::Daemon(l) => Some(l),
            _ => None,
        })
    }
}

/// One line of `--message-format json` per single-platform image (schema in docs/src/reference/json-output.md).
#[derive(Debug, Serialize)]
pub struct ImageMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub bin: &'a str,
    pub image: &'a str,
    pub path: String,
    pub manifest_digest: &'a str,
    pub config_digest: &'a str,
    pub created: &'a str,
    pub tarball_size: u64,
    pub compressed_size: u64,
    pub compression: &'static str,
    pub layer_media_type: &'a str,
    pub uncompressed_size: u64,
    pub sbom_path: String,
    pub sbom_digest: &'a str,
    pub sbom_components: usize,
    /// Every SBOM document written beside the tarball and attached (the first is `sbom_path`).
    pub sboms: Vec<DocumentMessage>,
    /// The OpenVEX document attached (`vex = "…"` / `--vex`), as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vex_path: Option<String>,
    pub ca_certificates: bool,
    pub ca_certificates_reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_certificates_source: Option<&'a str>,
    pub user: &'a str,
    pub load: BTreeMap<&'static str, String>,
    pub run: BTreeMap<&'static str, String>,
    /// The Sigstore bundles attached (`--sign`, `--sign-key`): subject, predicate type, digest.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub bundles: &'a [crate::image::summary::BundleSummary],
    /// The tarball already held this image (every input unchanged) and was not rewritten.
    pub reused: bool,
    /// With `--push`: what was pushed where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<&'a Pushed>,
    /// With `--load`: what was loaded into which engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<&'a Loaded>,
}

/// One line of `--message-format json` per multi-platform image (schema in docs/src/reference/json-output.md).
#[derive(Debug, Serialize)]
pub struct IndexMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub bin: &'a str,
    pub image: &'a str,
    pub path: String,
    pub index_digest: &'a str,
    pub tarball_size: u64,
    /// The platform `docker load` gets (`manifest.json`); the index holds them all.
    pub docker_platform: &'a str,
    pub platforms: Vec<PlatformMessage<'a>>,
    /// The Sigstore bundles attached (`--sign`, `--sign-key`): subject, predicate type, digest.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub bundles: &'a [crate::image::summary::BundleSummary],
    /// The tarball already held this index (every input unchanged) and was not rewritten.
    pub reused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<&'a Pushed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<&'a Loaded>,
}

/// One platform of an [`IndexMessage`].
#[derive(Debug, Serialize)]
pub struct PlatformMessage<'a> {
    pub platform: &'a str,
    pub target: &'a str,
    pub manifest_digest: &'a str,
    pub config_digest: &'a str,
    pub binary_size: u64,
    pub compressed_size: u64,
    pub sbom_path: String,
    pub sbom_digest: &'a str,
    pub sbom_components: usize,
    /// Every SBOM document of this platform (the first is `sbom_path`).
    pub sboms: Vec<DocumentMessage>,
    /// This platform's image was reused with the tarball.
    pub reused: bool,
}

/// One SBOM document beside the tarball, in the JSON messages.
#[derive(Debug, Serialize)]
pub struct DocumentMessage {
    /// `CycloneDX 1.6`, `SPDX 2.3`, `SPDX 3.0.1`.
    pub format: String,
    pub media_type: &'static str,
    pub path: String,
    /// `sha256:` of the file (the referrer's layer digest).
    pub digest: String,
}

/// The status lines and JSON line of one built result: its publishers' lines (pushed, loaded), then
/// the image's (one platform) or each platform's and the index's (several).
pub fn result(r: &ResultReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    if let Some(p) = r.pushed() {
        super::push::pushed_lines(p, shell);
    }
    if let Some(l) = r.loaded() {
        shell.status(
            "Loaded",
            format!(
                "{} ({}) into {} ({}), image {}",
                l.reference, l.platform, l.engine, l.endpoint, l.image_id
            ),
        );
    }
    match r.summary.kind {
        Kind::Image => image(r, shell, json),
        Kind::Index => index(r, shell, json),
    }
}

/// `docker load` / `podman load` of the tarball, and the run commands, for the engines that read
/// its layers.
fn commands(
    r: &ResultReport<'_>,
    tarball: &str,
) -> (
    BTreeMap<&'static str, String>,
    BTreeMap<&'static str, String>,
) {
    let reference = &r.summary.reference;
    let mut load = BTreeMap::from([
        ("docker", format!("docker load -i {tarball}")),
        ("podman", format!("podman load -i {tarball}")),
    ]);
    // Publish exposed ports on the same host port: `-p 8080:8080`, `-p 53:53/udp`.
    let publish: String = r
        .config
        .ports
        .iter()
        .map(|port| match port.split_once('/') {
            Some((n, "tcp")) => format!("-p {n}:{n} "),
            Some((n, proto)) => format!("-p {n}:{n}/{proto} "),
            None => format!("-p {port}:{port} "),
        })
        .collect();
    let mut run = BTreeMap::from([
        ("docker", format!("docker run --rm {publish}{reference}")),
        ("podman", format!("podman run --rm {publish}{reference}")),
    ]);
    if !r.summary.compression().docker_loads() {
        load.remove("docker");
        run.remove("docker");
    }
    (load, run)
}

/// One platform: certificates, image, SBOM, how to run it.
fn image(r: &ResultReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    let s = r.summary;
    let p = &s.platforms[0];
    let facts = r.platforms[0];
    let ca = &facts.ca;
    let (tarball, tarball_size) = r.tarball();
    let sbom = &r.sboms[0];
    if json {
        let msg = ImageMessage {
            reason: "image",
            bundles: &s.bundles,
            package: r.package,
            bin: r.bin,
            image: &s.reference,
            path: tarball.display().to_string(),
            manifest_digest: &p.manifest_digest,
            config_digest: &p.config_digest,
            created: &r.created,
            tarball_size,
            compressed_size: p.compressed_size,
            compression: p.compression.as_str(),
            layer_media_type: &p.layer_media_type,
            uncompressed_size: p.uncompressed_size,
            sbom_path: sbom.display().to_string(),
            sbom_digest: &p.sbom_digest,
            sbom_components: facts.sbom_packages,
            sboms: r.documents(&p.platform),
            vex_path: r.config.vex.as_ref().map(|v| v.path.display().to_string()),
            ca_certificates: ca.include,
            ca_certificates_reason: &ca.reason,
            ca_certificates_source: ca.source.as_deref(),
            user: &r.config.user,
            // Absolute paths for machines.
            load: commands(r, &shell_word(&tarball.display().to_string())).0,
            run: commands(r, "").1,
            reused: r.reused,
            pushed: r.pushed(),
            loaded: r.loaded(),
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    shell.status(
        "Certificates",
        if ca.include {
            let source = ca.source.as_deref().map(|s| format!("; {s}"));
            format!(
                "{} ({}{})",
                image::CA_BUNDLE_PATH,
                ca.reason,
                source.unwrap_or_default()
            )
        } else {
            format!("none ({})", ca.reason)
        },
    );
    shell.status(
        "Image",
        format!(
            "{} {} ({} tarball, layer {} {} / {} tar), {}{}",
            s.reference,
            shown(&tarball),
            human_size(tarball_size),
            human_size(p.compressed_size),
            p.compression.format(),
            human_size(p.uncompressed_size),
            digest_shown(shell, &p.manifest_digest),
            if r.reused { ", unchanged" } else { "" }
        ),
    );
    let files: Vec<String> = r.beside.iter().map(|b| shown(&b.path)).collect();
    shell.status(
        "SBOM",
        format!(
            "{} ({}, {} package{}, {} as OCI referrer{})",
            files.join(", "),
            r.formats(),
            facts.sbom_packages,
            if facts.sbom_packages == 1 { "" } else { "s" },
            if files.len() == 1 {
                "attached"
            } else {
                "each attached"
            },
            if files.len() == 1 { "" } else { "s" },
        ),
    );
    vex_line(r, shell);
    let (load, run) = commands(r, &shown(&tarball));
    let compression = p.compression;
    if let Some(l) = r.loaded() {
        // Already in the engine: only the run is left.
        let cli = l.engine.split(' ').next().unwrap_or("docker");
        let run = run.get(cli).map_or(String::new(), |c| {
            c.replace(&format!(" {}", s.reference), &format!(" {}", l.reference))
        });
        if !run.is_empty() {
            shell.note("Run", run);
        }
    } else if compression.docker_loads() {
        shell.note("Run", format!("{} && {}", load["docker"], run["docker"]));
    } else {
        shell.note(
            "Run",
            format!(
                "{} && {} ({} layers load in {})",
                load["podman"],
                run["podman"],
                compression.format(),
                compression.engines()
            ),
        );
    }
    Ok(())
}

/// The VEX line, when a document is attached.
fn vex_line(r: &ResultReport<'_>, shell: &Shell) {
    if let Some(v) = &r.config.vex {
        shell.status(
            "VEX",
            format!(
                "{} ({} statement{}, attached to each image manifest as an in-toto referrer)",
                shown(&v.path),
                v.vex.statements,
                if v.vex.statements == 1 { "" } else { "s" }
            ),
        );
    }
}

/// Several platforms: each platform's image, the index, the SBOMs, how to load it.
fn index(r: &ResultReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    let s = r.summary;
    let reference = &s.reference;
    let (tarball, tarball_size) = r.tarball();
    if json {
        let msg = IndexMessage {
            reason: "image-index",
            bundles: &s.bundles,
            package: r.package,
            bin: r.bin,
            image: reference,
            path: tarball.display().to_string(),
            index_digest: &s.index_digest,
            tarball_size,
            docker_platform: &s.docker_platform,
            platforms: s
                .platforms
                .iter()
                .zip(&r.platforms)
                .zip(r.sboms)
                .map(|((p, f), sbom)| PlatformMessage {
                    platform: &p.platform,
                    target: &p.target,
                    manifest_digest: &p.manifest_digest,
                    config_digest: &p.config_digest,
                    binary_size: f.binary_size,
                    compressed_size: p.compressed_size,
                    sbom_path: sbom.display().to_string(),
                    sbom_digest: &p.sbom_digest,
                    sbom_components: f.sbom_packages,
                    sboms: r.documents(&p.platform),
                    reused: r.reused,
                })
                .collect(),
            reused: r.reused,
            pushed: r.pushed(),
            loaded: r.loaded(),
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    for (p, f) in s.platforms.iter().zip(&r.platforms) {
        shell.status(
            "Image",
            format!(
                "{reference} {} (layer {} {}, certificates: {}), {}",
                p.platform,
                human_size(p.compressed_size),
                p.compression.format(),
                if f.ca.include { "yes" } else { "none" },
                digest_shown(shell, &p.manifest_digest)
            ),
        );
    }
    shell.status(
        "Index",
        format!(
            "{reference} {} ({} tarball, {} platforms), {}{}",
            shown(&tarball),
            human_size(tarball_size),
            s.platforms.len(),
            digest_shown(shell, &s.index_digest),
            if r.reused { ", unchanged" } else { "" }
        ),
    );
    shell.status(
        "SBOM",
        format!(
            "{} ({}, one per platform, each attached as an OCI referrer of its platform's image)",
            r.beside
                .iter()
                .map(|b| shown(&b.path))
                .collect::<Vec<_>>()
                .join(", "),
            r.formats()
        ),
    );
    vex_line(r, shell);
    let t = shown(&tarball);
    let d = &s.docker_platform;
    let compression = s.compression();
    let loaders = if compression.docker_loads() {
        format!("`docker load -i {t}` and `podman load -i {t}` take {d}")
    } else {
        format!(
            "`podman load -i {t}` takes {d} ({} layers load in {})",
            compression.format(),
            compression.engines()
        )
    };
    shell.note(
        "Load",
        format!(
            "`skopeo copy --all oci-archive:{t} …` takes every platform; {loaders} (the others: e.g. `podman pull --arch arm64 oci-archive:{t}`)"
        ),
    );
    Ok(())
}
