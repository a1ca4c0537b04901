//! What a build tells: the status lines on stderr and the `--message-format json` lines on stdout
//! (schema in README: "JSON output") for each binary, each built result and what its publishers did,
//! in one place. It reads plain values only: what the compile found, the image stage's
//! [`Summary`], and the publishers' [`Published`] receipts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;

use crate::image::{self, ca_bundle, Kind, Summary};
use crate::publish::daemon::Loaded;
use crate::publish::{Published, Pushed, Referrers};
use crate::reference::Destination;
use crate::settings::TinyConfig;
use crate::shell::{human_size, Shell};

/// One line of `--message-format json` per binary (schema in README: "JSON output").
#[derive(Debug, Serialize)]
pub struct BinaryMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub version: &'a str,
    pub bin: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub path: &'a str,
    pub size: u64,
    #[serde(rename = "static")]
    pub is_static: bool,
    pub audited_packages: usize,
    /// Packages in the audit data that the build never compiled (left out of the SBOM).
    pub uncompiled_packages: Vec<UncompiledPackage<'a>>,
}

/// A package of the audit data that was never compiled.
#[derive(Debug, Serialize)]
pub struct UncompiledPackage<'a> {
    pub name: &'a str,
    pub version: String,
    pub source: String,
}

/// A verified binary, as the compile found it.
pub struct BinaryFacts<'a> {
    pub package: &'a str,
    pub version: &'a str,
    pub bin: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub path: &'a Path,
    pub size: u64,
    pub audited_packages: usize,
    pub uncompiled: &'a [auditable_serde::Package],
}

/// Human summary line or JSON object for one binary.
pub fn binary(b: &BinaryFacts<'_>, shell: &Shell, json: bool) -> Result<()> {
    let shown = crate::fsutil::shown_path(b.path);
    if json {
        let msg = BinaryMessage {
            reason: "binary",
            package: b.package,
            version: b.version,
            bin: b.bin,
            target: b.target,
            profile: b.profile,
            path: &b.path.to_string_lossy(),
            size: b.size,
            is_static: true,
            audited_packages: b.audited_packages,
            uncompiled_packages: b
                .uncompiled
                .iter()
                .map(|p| UncompiledPackage {
                    name: &p.name,
                    version: p.version.to_string(),
                    source: serde_json::to_value(&p.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
                .collect(),
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    let n = b.audited_packages;
    shell.status(
        "Binary",
        format!(
            "{} {} ({} bytes, {}), static, {} audited package{}",
            b.bin,
            shown.display(),
            b.size,
            human_size(b.size),
            n,
            if n == 1 { "" } else { "s" }
        ),
    );
    if !b.uncompiled.is_empty() {
        shell.note(
            "Audit",
            format!("{} (left out of the SBOM)", uncompiled_line(b.uncompiled)),
        );
    }
    Ok(())
}

/// `2 packages in the binary's audit data were never compiled: opt 0.1.0, quinn 0.11.5`.
pub fn uncompiled_line(uncompiled: &[auditable_serde::Package]) -> String {
    let names: Vec<String> = uncompiled
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    format!(
        "{} package{} in the binary's audit data {} never compiled: {}",
        uncompiled.len(),
        if uncompiled.len() == 1 { "" } else { "s" },
        if uncompiled.len() == 1 { "was" } else { "were" },
        names.join(", ")
    )
}

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
    /// Each platform's SBOM beside the tarball, in the same order.
    pub sboms: &'a [PathBuf],
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

/// One line of `--message-format json` per single-platform image (schema in README: "JSON output").
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
    pub ca_certificates: bool,
    pub ca_certificates_reason: &'a str,
    pub user: &'a str,
    pub load: BTreeMap<&'static str, String>,
    pub run: BTreeMap<&'static str, String>,
    /// The tarball already held this image (every input unchanged) and was not rewritten.
    pub reused: bool,
    /// With `--push`: what was pushed where.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<&'a Pushed>,
    /// With `--load`: what was loaded into which engine.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loaded: Option<&'a Loaded>,
}

/// One line of `--message-format json` per multi-platform image (schema in README: "JSON output").
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
    /// This platform's image was reused with the tarball.
    pub reused: bool,
}

/// The status lines and JSON line of one built result: its publishers' lines (pushed, loaded), then
/// the image's (one platform) or each platform's and the index's (several).
pub fn result(r: &ResultReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    if let Some(p) = r.pushed() {
        pushed_lines(p, shell);
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

fn shown(path: &Path) -> String {
    shell_word(&crate::fsutil::shown_path(path).display().to_string())
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
            ca_certificates: ca.include,
            ca_certificates_reason: &ca.reason,
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
            format!("{} ({})", image::CA_BUNDLE_PATH, ca.reason)
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
            p.manifest_digest,
            if r.reused { ", unchanged" } else { "" }
        ),
    );
    shell.status(
        "SBOM",
        format!(
            "{} (CycloneDX 1.5, {} package{}, attached as an OCI referrer)",
            shown(sbom),
            facts.sbom_packages,
            if facts.sbom_packages == 1 { "" } else { "s" }
        ),
    );
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

/// Several platforms: each platform's image, the index, the SBOMs, how to load it.
fn index(r: &ResultReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    let s = r.summary;
    let reference = &s.reference;
    let (tarball, tarball_size) = r.tarball();
    if json {
        let msg = IndexMessage {
            reason: "image-index",
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
                p.manifest_digest
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
            s.index_digest,
            if r.reused { ", unchanged" } else { "" }
        ),
    );
    shell.status(
        "SBOM",
        format!(
            "{} (CycloneDX 1.5, one per platform, each attached as an OCI referrer of its platform's image)",
            r.sboms
                .iter()
                .map(|s| shown(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
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

/// The status line of a non-default compression: its encoder, its time and its size, each against
/// gzip -9 of the same tar; `platform` prefixes it in a multi-platform build.
pub fn compressed(c: &image::CompressionCost, platform: Option<&str>, shell: &Shell) {
    let change = 100.0 * (c.size as f64 - c.gzip_size as f64) / c.gzip_size.max(1) as f64;
    shell.status(
        "Compressed",
        format!(
            "{}layer with {} ({}) in {:.1} s, {:+.1} s against gzip; {} ({} bytes), {change:+.1} % against gzip's {} ({} bytes)",
            platform.map(|p| format!("{p} ")).unwrap_or_default(),
            c.compression,
            c.compression.encoder(),
            c.took.as_secs_f64(),
            c.took.as_secs_f64() - c.gzip_took.as_secs_f64(),
            human_size(c.size),
            c.size,
            human_size(c.gzip_size),
            c.gzip_size,
        ),
    );
}

/// The status lines of a push (`cargo tiny push`).
pub fn pushed(_dest: &Destination, pushed: &Pushed, shell: &Shell) {
    pushed_lines(pushed, shell);
}

/// The status lines of a push: the credentials (`-v`), the digest pushed, the extra tags, the
/// platforms, the referrers.
fn pushed_lines(pushed: &Pushed, shell: &Shell) {
    if !pushed.credentials.is_empty() {
        let host = pushed.reference.split('/').next().unwrap_or_default();
        shell.verbose("Credentials", format!("{} for {host}", pushed.credentials));
    }
    let uploaded = if pushed.uploaded_blobs == 0 {
        "no blob uploaded".to_string()
    } else {
        format!(
            "{} blob{} uploaded, {}",
            pushed.uploaded_blobs,
            if pushed.uploaded_blobs == 1 { "" } else { "s" },
            human_size(pushed.uploaded_bytes)
        )
    };
    shell.status(
        "Pushed",
        format!(
            "{}@{} ({uploaded}, {:.1}s)",
            pushed.reference,
            pushed.digest,
            pushed.took.as_secs_f64()
        ),
    );
    for t in pushed.tags.iter().skip(1) {
        shell.status("Tagged", t);
    }
    if !pushed.manifests.is_empty() {
        shell.status(
            "Platforms",
            format!(
                "{} image manifests under the index, each pushed by digest with its SBOM referrer: {}",
                pushed.manifests.len(),
                pushed.manifests.join(", ")
            ),
        );
    }
    if let Some(d) = &pushed.sbom_digest {
        let subject = pushed
            .attached
            .iter()
            .find(|a| a.digest == *d)
            .map_or(pushed.digest.as_str(), |a| a.subject.as_str());
        let how = match pushed.referrers {
            Some(Referrers::Api) => "indexed by the registry's referrers API".to_string(),
            _ => format!(
                "listed under the fallback tag {}",
                subject.replace(':', "-")
            ),
        };
        shell.status("SBOM", format!("referrer {d} ({how})"));
    }
}

/// The `--message-format json` line of `cargo tiny push`.
#[derive(Serialize)]
struct PushMessage<'a> {
    reason: &'static str,
    path: String,
    pushed: &'a Pushed,
}

/// Prints the JSON line of `cargo tiny push`.
pub fn push_message(tarball: &Path, pushed: &Pushed) -> Result<()> {
    let msg = PushMessage {
        reason: "pushed",
        path: tarball.display().to_string(),
        pushed,
    };
    println!("{}", serde_json::to_string(&msg)?);
    Ok(())
}

/// A word for a POSIX shell: quoted when it holds anything but safe characters.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_in_commands_are_quoted_when_needed() {
        assert_eq!(
            super::shell_word("target/tiny/api.tar"),
            "target/tiny/api.tar"
        );
        assert_eq!(
            super::shell_word("my dir/it's.tar"),
            r"'my dir/it'\''s.tar'"
        );
    }
}
