//! What a build tells: the status lines on stderr and the `--message-format json` lines on stdout
//! (schema in README: "JSON output") for each binary, image and push, in one place.
//!
//! Over 400 lines: four messages (binary, image, multi-platform index, push), each a serialised struct
//! whose fields are the documented schema plus its status lines; they share the quoting of paths and
//! the load/run commands, so they stay together.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::compile::image_cache::Written;
use crate::compile::image_plan::ImagePlan;
use crate::compile::plan::Plan;
use crate::compile::Binary;
use crate::image::{self, ca_bundle};
use crate::publish::{Pushed, Referrers};
use crate::reference::Destination;
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

/// Human summary line or JSON object for one binary.
pub fn binary(b: &Binary, plan: &Plan, shell: &Shell, json: bool) -> Result<()> {
    let shown = crate::fsutil::shown_path(b.path.as_std_path());
    if json {
        let msg = BinaryMessage {
            reason: "binary",
            package: &b.target.package,
            version: &b.version,
            bin: &b.target.bin,
            target: &b.platform.triple,
            profile: &plan.profile,
            path: b.path.as_str(),
            size: b.size,
            is_static: true,
            audited_packages: b.audit.packages.len(),
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
    let n = b.audit.packages.len();
    shell.status(
        "Binary",
        format!(
            "{} {} ({} bytes, {}), static, {} audited package{}",
            b.target.bin,
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
            format!(
                "{} (left out of the SBOM)",
                crate::compile::compiled::uncompiled_line(&b.uncompiled)
            ),
        );
    }
    Ok(())
}

/// One line of `--message-format json` per image (schema in README: "JSON output").
#[derive(Debug, Serialize)]
pub struct ImageMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub bin: &'a str,
    pub image: String,
    pub path: String,
    pub manifest_digest: &'a str,
    pub config_digest: &'a str,
    pub created: String,
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
    pub pushed: Option<crate::publish::Pushed>,
}

/// One image, as the image stage made it: what [`image()`] reports.
pub struct ImageReport<'a> {
    pub plan: &'a ImagePlan,
    pub ca: &'a ca_bundle::Decision,
    pub written: &'a Written,
    pub sbom_packages: usize,
    /// The tarball already held this image and was not rewritten.
    pub reused: bool,
    pub pushed: Option<Pushed>,
    /// The images' RFC 3339 timestamp.
    pub created: String,
}

/// The status lines of one image (certificates, image, SBOM, how to run it) and its JSON line.
pub fn image(r: ImageReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    let ImageReport {
        plan: p,
        ca,
        written: w,
        sbom_packages,
        reused: was_reused,
        pushed,
        created,
    } = r;
    let shown =
        |path: &std::path::Path| shell_word(&crate::fsutil::shown_path(path).display().to_string());
    let reference = &w.reference;
    let commands = |tarball: String| {
        let mut load = BTreeMap::from([
            ("docker", format!("docker load -i {tarball}")),
            ("podman", format!("podman load -i {tarball}")),
        ]);
        if !w.compression.docker_loads() {
            load.remove("docker");
        }
        // Publish exposed ports on the same host port: `-p 8080:8080`, `-p 53:53/udp`.
        let publish: String = p
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
        if !w.compression.docker_loads() {
            run.remove("docker");
        }
        (load, run)
    };
    if json {
        let msg = ImageMessage {
            reason: "image",
            package: &p.target.package,
            bin: &p.target.bin,
            image: reference.clone(),
            path: p.tarball.display().to_string(),
            manifest_digest: &w.manifest_digest,
            config_digest: &w.config_digest,
            created: created.clone(),
            tarball_size: w.tarball_size,
            compressed_size: w.compressed_size,
            compression: w.compression.as_str(),
            layer_media_type: &w.layer_media_type,
            uncompressed_size: w.uncompressed_size,
            sbom_path: p.sbom.display().to_string(),
            sbom_digest: &w.sbom_digest,
            sbom_components: sbom_packages,
            ca_certificates: ca.include,
            ca_certificates_reason: &ca.reason,
            user: &p.config.user,
            // Absolute paths for machines.
            load: commands(shell_word(&p.tarball.display().to_string())).0,
            run: commands(String::new()).1,
            reused: was_reused,
            pushed,
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
            "{reference} {} ({} tarball, layer {} {} / {} tar), {}{}",
            shown(&p.tarball),
            human_size(w.tarball_size),
            human_size(w.compressed_size),
            w.compression.format(),
            human_size(w.uncompressed_size),
            w.manifest_digest,
            if was_reused { ", unchanged" } else { "" }
        ),
    );
    shell.status(
        "SBOM",
        format!(
            "{} (CycloneDX 1.5, {} package{}, attached as an OCI referrer)",
            shown(&p.sbom),
            sbom_packages,
            if sbom_packages == 1 { "" } else { "s" }
        ),
    );
    let (load, run) = commands(shown(&p.tarball));
    if w.compression.docker_loads() {
        shell.note("Run", format!("{} && {}", load["docker"], run["docker"]));
    } else {
        shell.note(
            "Run",
            format!(
                "{} && {} ({} layers load in {})",
                load["podman"],
                run["podman"],
                w.compression.format(),
                w.compression.engines()
            ),
        );
    }
    Ok(())
}

/// One line of `--message-format json` per multi-platform image (schema in README: "JSON output").
#[derive(Debug, Serialize)]
pub struct IndexMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub bin: &'a str,
    pub image: String,
    pub path: String,
    pub index_digest: &'a str,
    pub tarball_size: u64,
    /// The platform `docker load` gets (`manifest.json`); the index holds them all.
    pub docker_platform: String,
    pub platforms: Vec<PlatformMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed: Option<Pushed>,
}

/// One platform of an [`IndexMessage`].
#[derive(Debug, Serialize)]
pub struct PlatformMessage<'a> {
    pub platform: String,
    pub target: &'a str,
    pub manifest_digest: &'a str,
    pub config_digest: &'a str,
    pub binary_size: u64,
    pub compressed_size: u64,
    pub sbom_path: String,
    pub sbom_digest: &'a str,
    pub sbom_components: usize,
}

/// What the image stage knows of one platform's image besides the image itself.
pub struct PlatformFacts {
    pub binary_size: u64,
    pub ca: ca_bundle::Decision,
    pub sbom_packages: usize,
}

/// One multi-platform image, written (and pushed).
pub struct IndexReport<'a> {
    pub plan: &'a ImagePlan,
    pub multi: &'a image::index::MultiImage,
    /// In the order of `multi.images`.
    pub facts: &'a [PlatformFacts],
    pub sbom_paths: &'a [std::path::PathBuf],
    pub tarball_size: u64,
    pub pushed: Option<Pushed>,
}

/// The status lines and JSON line of one multi-platform image.
pub fn index(r: IndexReport<'_>, shell: &Shell, json: bool) -> Result<()> {
    let IndexReport {
        plan: p,
        multi,
        facts,
        sbom_paths,
        tarball_size,
        pushed,
    } = r;
    let docker_platform = &multi.docker_image().0;
    let reference = multi.images[0].1.reference();
    let shown =
        |path: &std::path::Path| shell_word(&crate::fsutil::shown_path(path).display().to_string());
    if json {
        let msg = IndexMessage {
            reason: "image-index",
            package: &p.target.package,
            bin: &p.target.bin,
            image: reference.clone(),
            path: p.tarball.display().to_string(),
            index_digest: &multi.index.digest,
            tarball_size,
            docker_platform: docker_platform.platform(),
            platforms: multi
                .images
                .iter()
                .zip(facts)
                .zip(sbom_paths)
                .map(|(((t, img), f), sbom)| PlatformMessage {
                    platform: t.platform(),
                    target: &t.triple,
                    manifest_digest: &img.manifest.digest,
                    config_digest: &img.config.digest,
                    binary_size: f.binary_size,
                    compressed_size: img.layer.size(),
                    sbom_path: sbom.display().to_string(),
                    sbom_digest: &img.sbom.digest,
                    sbom_components: f.sbom_packages,
                })
                .collect(),
            pushed,
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    for ((t, img), f) in multi.images.iter().zip(facts) {
        shell.status(
            "Image",
            format!(
                "{reference} {} (layer {} {}, certificates: {}), {}",
                t.platform(),
                human_size(img.layer.size()),
                img.compression.format(),
                if f.ca.include { "yes" } else { "none" },
                img.manifest.digest
            ),
        );
    }
    shell.status(
        "Index",
        format!(
            "{reference} {} ({} tarball, {} platforms), {}",
            shown(&p.tarball),
            human_size(tarball_size),
            multi.images.len(),
            multi.index.digest
        ),
    );
    shell.status(
        "SBOM",
        format!(
            "{} (CycloneDX 1.5, one per platform, each attached as an OCI referrer of its platform's image)",
            sbom_paths
                .iter()
                .map(|s| shown(s))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let t = shown(&p.tarball);
    let d = docker_platform.platform();
    let compression = multi.images[0].1.compression;
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

/// The status lines of a push: the digest pushed, the extra tags, the SBOM referrer.
pub fn pushed(dest: &Destination, pushed: &Pushed, took: std::time::Duration, shell: &Shell) {
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
            dest.reference(),
            pushed.digest,
            took.as_secs_f64()
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
        let how = match pushed.referrers {
            Some(Referrers::Api) => "indexed by the registry's referrers API".to_string(),
            _ => format!(
                "listed under the fallback tag {}",
                pushed.digest.replace(':', "-")
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
pub fn push_message(tarball: &std::path::Path, pushed: &Pushed) -> Result<()> {
    let msg = PushMessage {
        reason: "pushed",
        path: tarball.display().to_string(),
        pushed,
    };
    println!("{}", serde_json::to_string(&msg)?);
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
