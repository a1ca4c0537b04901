//! The image stage of `cargo tiny build`: per verified binary, an image value (config from
//! `[*.metadata.tiny]`, SBOM from the audit data), then the tarball publisher writes it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use super::plan::BinTarget;
use super::{image_cache, Binary};
use crate::cli::BuildArgs;
use crate::config::{self, Overrides, Source, TinyConfig};
use crate::error::Failure;
use crate::image::{self, archive, certs, ImageInput};
use crate::sbom::{self, SbomInput};
use crate::shell::{human_size, Shell};
use crate::source_date;
use crate::workspace::Workspace;

/// What one image will be, decided before anything is compiled (so bad configuration fails fast).
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub target: BinTarget,
    pub config: TinyConfig,
    pub name: String,
    pub tag: String,
    pub tarball: PathBuf,
    pub sbom: PathBuf,
    /// The image cache record (see `image_cache`).
    pub cache: PathBuf,
    /// With `--push`: the registry destination.
    pub push: Option<crate::publish::command::PushPlan>,
}

/// The source date, looked up once per process for a given root and `SOURCE_DATE_EPOCH` (the plan
/// checks it before the compile, the image stage uses it after: one `git log`, not two).
fn source_date_of(ws: &Workspace) -> Result<source_date::SourceDate> {
    type Memo = (String, Option<String>, source_date::SourceDate);
    static MEMO: std::sync::Mutex<Option<Memo>> = std::sync::Mutex::new(None);
    let env = std::env::var("SOURCE_DATE_EPOCH").ok();
    let root = ws.root().to_string();
    let mut memo = MEMO.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((r, e, d)) = memo.as_ref() {
        if *r == root && *e == env {
            return Ok(d.clone());
        }
    }
    let date = source_date::source_date(env.as_deref(), ws.root().as_std_path())?;
    *memo = Some((root, env, date.clone()));
    Ok(date)
}

/// Resolves and validates the configuration of every image.
pub fn plan(ws: &Workspace, args: &BuildArgs, bins: &[BinTarget]) -> Result<Vec<ImagePlan>> {
    // What would fail after the compile is checked before it.
    source_date_of(ws)?;
    if bins.len() > 1 {
        for (flag, set) in [
            ("--output", args.output.is_some()),
            ("--image", args.image.is_some()),
        ] {
            if set {
                crate::fail!(
                    hint = "select one binary with --bin (and -p), or drop the flag",
                    "{flag} names one image, but {} binaries are selected",
                    bins.len()
                );
            }
        }
    }
    let mut overrides = Overrides {
        user: args.user.clone(),
        ca_certificates: args.ca_certificates,
        compression: args.compression,
        ..Default::default()
    };
    if let Some(r) = &args.image {
        let (n, t) = config::split_reference(r);
        overrides.name = Some(n);
        overrides.tag = t;
    }
    let root_manifest = ws.root_manifest();
    let target_dir = match &args.target_dir {
        Some(d) => std::path::absolute(d)?,
        None => ws.target_dir().as_std_path().to_path_buf(),
    };
    let mut out: Vec<ImagePlan> = Vec::new();
    for t in bins {
        let pkg = ws.package(&t.package_id);
        let sources = [
            Source {
                section: "[workspace.metadata.tiny]",
                manifest: &root_manifest,
                metadata: &ws.metadata.workspace_metadata,
            },
            Source {
                section: "[package.metadata.tiny]",
                manifest: &pkg.manifest_path,
                metadata: &pkg.metadata,
            },
        ];
        let cfg = config::resolve(&sources, &overrides)?;
        let name = cfg
            .name
            .clone()
            .unwrap_or_else(|| config::name_from_bin(&t.bin));
        config::check_name(&name).map_err(|w| {
            Failure::new(format!(
                "image name of bin `{}` ({}): {w}",
                t.bin, pkg.manifest_path
            ))
            .hint("set name = \"…\" in [package.metadata.tiny] or pass --image NAME[:TAG]")
        })?;
        let tag = match &cfg.tag {
            Some(t) => t.clone(),
            None => config::tag_from_version(&pkg.version.to_string()).map_err(|w| {
                Failure::new(format!(
                    "image tag of bin `{}` ({}): {w}",
                    t.bin, pkg.manifest_path
                ))
                .hint("set tag = \"…\" in [package.metadata.tiny] or pass --image NAME:TAG")
            })?,
        };
        image::paths::check_files(&cfg, &t.bin, pkg.manifest_path.as_str())?;
        let file_name = name.rsplit('/').next().unwrap_or(&name).to_string();
        let tarball = match &args.output {
            Some(o) => std::path::absolute(o)?,
            None => target_dir.join("tiny").join(format!("{file_name}.tar")),
        };
        let sbom = sbom_path(&tarball);
        archive::check_outputs(&tarball, &sbom, args.output.is_some())?;
        if let Some(other) = out.iter().find(|p| p.tarball == tarball) {
            crate::fail!(
                hint = "give them different names with name = \"…\" in [package.metadata.tiny]",
                "bins `{}` and `{}` would both be written to {}",
                other.target.bin,
                t.bin,
                tarball.display()
            );
        }
        let push = if args.push {
            Some(crate::publish::command::plan(
                &name,
                &tag,
                &cfg.tags,
                &args.registry,
            )?)
        } else {
            None
        };
        out.push(ImagePlan {
            push,
            target: t.clone(),
            config: cfg,
            name,
            tag,
            cache: super::image_cache::record_path(&target_dir, &tarball),
            tarball,
            sbom,
        });
    }
    Ok(out)
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

/// `x.tar` → `x.cdx.json` beside it.
pub fn sbom_path(tarball: &std::path::Path) -> PathBuf {
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    tarball.with_file_name(format!("{stem}.cdx.json"))
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

/// What the build stage shares with every image job.
struct Context<'a> {
    ws: &'a Workspace,
    revision: Option<String>,
    lockfile: Option<String>,
    created: String,
    epoch: i64,
}

/// One image, written or reused.
struct Done {
    ca: certs::Decision,
    written: image_cache::Written,
    sbom_packages: usize,
    reused: bool,
    /// The image value when it was built now (the registry publisher takes it); `None` when reused.
    image: Option<image::Image>,
    /// The status line of a non-default compression (what it cost and bought).
    compressed: Option<String>,
}

/// One image's inputs, read, with its SBOM.
struct Prepared<'a> {
    input: ImageInput<'a>,
    ca: certs::Decision,
    sbom_packages: usize,
}

/// Reads one image's inputs and makes its SBOM.
fn prepare<'a>(cx: &Context<'_>, p: &'a ImagePlan, b: &Binary) -> Result<Prepared<'a>> {
    let pkg = cx.ws.package(&p.target.package_id);
    let binary = std::fs::read(&b.path)?;
    let binary_digest = image::sha256(&binary);

    let ca = certs::decide(p.config.ca_certificates, &b.exact);
    let ca_bundle = if ca.include {
        Some(certs::read_host_bundle(&ca.reason)?)
    } else {
        None
    };
    let mut files = Vec::new();
    for f in &p.config.files {
        // From the handle opened when the configuration was checked, never the path again; read
        // in chunks while the layer is written.
        let what = format!(
            "`files.\"{}\"` in {}: cannot read {}",
            f.dest,
            p.config.files_from,
            f.source.display()
        );
        f.opened.check_size().map_err(|e| {
            Failure::new(format!("{what}: {e}"))
                .hint("keep the file in place while cargo tiny build runs")
        })?;
        let data = image::layer::Data::Source {
            opened: f.opened.clone(),
            what,
        };
        files.push((f.dest.clone(), f.opened.mode, data));
    }

    let sbom = sbom::build(&SbomInput {
        audit: &b.exact,
        packages: &cx.ws.metadata.packages,
        root: cx.ws.root(),
        lockfile: cx.lockfile.as_deref(),
        bin: &p.target.bin,
        binary_digest: &binary_digest,
        created: &cx.created,
    })?;

    let mut annotations = BTreeMap::new();
    let mut put = |k: &str, v: Option<String>| {
        if let Some(v) = v.filter(|v| !v.trim().is_empty()) {
            annotations.insert(
                format!("org.opencontainers.image.{k}"),
                v.trim().to_string(),
            );
        }
    };
    put("title", Some(p.name.clone()));
    put("description", pkg.description.clone());
    put("version", Some(pkg.version.to_string()));
    put("revision", cx.revision.clone());
    put("source", pkg.repository.clone());
    put("url", pkg.homepage.clone());
    put("licenses", pkg.license.clone());
    put("authors", Some(pkg.authors.join(", ")));
    put("documentation", pkg.documentation.clone());

    let input = ImageInput {
        name: p.name.clone(),
        tag: p.tag.clone(),
        bin: p.target.bin.clone(),
        binary,
        arch: b.platform.oci_arch(),
        config: &p.config,
        files,
        ca_bundle,
        created: cx.epoch,
        annotations,
        sbom: sbom.json,
    };
    Ok(Prepared {
        input,
        ca,
        sbom_packages: sbom.packages,
    })
}

/// Reads one image's inputs and makes its SBOM; then reuses the image written last time when every
/// input is the same, or builds and writes it.
fn make(cx: &Context<'_>, p: &ImagePlan, b: &Binary) -> Result<Done> {
    let Prepared {
        input,
        ca,
        sbom_packages,
    } = prepare(cx, p, b)?;
    let mtime = cx.epoch.max(0) as u64;
    let key = image_cache::key(&input, mtime)?;
    if let Some(written) = image_cache::lookup(&p.cache, &key, &p.tarball, &p.sbom) {
        return Ok(Done {
            ca,
            written,
            sbom_packages,
            reused: true,
            image: None,
            compressed: None,
        });
    }
    let compress_started = std::time::Instant::now();
    let img = image::build(&input)?;
    let compressed = if img.compression != image::Compression::Gzip {
        let took = compress_started.elapsed();
        Some(image::compression::summary(&input, &img, took)?)
    } else {
        None
    };
    if archive::interrupt_pending() {
        anyhow::bail!("interrupted");
    }
    let (tarball_size, tarball_digest) = archive::publish(&img, mtime, &p.tarball, &p.sbom)?;
    let written = image_cache::Written {
        reference: img.reference(),
        manifest_digest: img.manifest.digest.clone(),
        config_digest: img.config.digest.clone(),
        sbom_digest: img.sbom.digest.clone(),
        compressed_size: img.layer.size(),
        uncompressed_size: img.uncompressed_size,
        compression: img.compression,
        layer_media_type: img.layer.media_type.clone(),
        tarball_size,
        tarball_digest,
        sbom_file_digest: img.sbom.digest.clone(),
    };
    image_cache::store(&p.cache, &key, &written);
    Ok(Done {
        ca,
        written,
        sbom_packages,
        reused: false,
        image: Some(img),
        compressed,
    })
}

/// Runs `make` for every image, several at a time (compression is the costly part), results in order.
fn make_all(cx: &Context<'_>, jobs: &[(&ImagePlan, &Binary)]) -> Vec<Result<Done>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len());
    if workers <= 1 {
        return jobs.iter().map(|(p, b)| make(cx, p, b)).collect();
    }
    // Workers inherit this thread's signal mask: with SIGINT/SIGTERM/SIGHUP held here too, no thread
    // can be killed by one while a worker has temp files. A worker starts no new image once one is
    // pending, and it takes effect when the images under way are written (or abandoned before
    // their temp files exist).
    let _held = archive::HeldSignals::hold();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Done>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if archive::interrupt_pending() {
                    break;
                }
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((p, b)) = jobs.get(i) else { break };
                let r = make(cx, p, b);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("an image job did not finish")))
        })
        .collect()
}

/// Builds and writes one image per binary (or reuses the one already written when nothing changed).
pub fn run(
    ws: &Workspace,
    plans: &[ImagePlan],
    binaries: &[Binary],
    shell: &Shell,
    json: bool,
) -> Result<()> {
    let started = std::time::Instant::now();
    let root = ws.root().as_std_path();
    let date = source_date_of(ws)?;
    shell.verbose(
        "Timestamp",
        format!(
            "{} (from {})",
            source_date::rfc3339(date.epoch),
            date.origin
        ),
    );
    let cx = Context {
        ws,
        revision: source_date::git_revision(root),
        lockfile: std::fs::read_to_string(ws.root().join("Cargo.lock")).ok(),
        created: source_date::rfc3339(date.epoch),
        epoch: date.epoch,
    };
    let created = cx.created.clone();
    let mut platforms: Vec<&crate::target::Target> = binaries.iter().map(|b| &b.platform).collect();
    platforms.dedup();
    if platforms.len() > 1 {
        return run_multi(&cx, plans, binaries, shell, json);
    }
    let mut jobs = Vec::new();
    for p in plans {
        let b = binaries
            .iter()
            .find(|b| b.target == p.target)
            .ok_or_else(|| anyhow::anyhow!("no binary built for `{}`", p.target.bin))?;
        jobs.push((p, b));
    }
    // Every image made before any is pushed or reported: one that failed stops the build before a
    // registry has seen any of them.
    let results = make_all(&cx, &jobs)
        .into_iter()
        .collect::<Result<Vec<Done>>>()?;
    let mut reused = 0;
    for ((p, _), done) in jobs.iter().zip(results) {
        let Done {
            ca,
            written: w,
            sbom_packages,
            reused: was_reused,
            image: built,
            compressed,
        } = done;
        reused += usize::from(was_reused);
        if let Some(line) = compressed {
            shell.status("Compressed", line);
        }
        // The registry publisher takes the image value, or, when it was reused, the tarball (the same
        // bytes: the cache checked them).
        let pushed = match &p.push {
            Some(plan) => {
                let artifact = match &built {
                    Some(img) => crate::publish::Artifact::from_image(img)?,
                    None => crate::publish::layout::read(&p.tarball)?.artifact,
                };
                Some(crate::publish::command::push(&artifact, plan, shell)?)
            }
            None => None,
        };
        let shown = |path: &std::path::Path| {
            shell_word(&crate::fsutil::shown_path(path).display().to_string())
        };
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
    }
    shell.verbose(
        "Timing",
        format!(
            "images written {:.0} ms after cargo finished ({reused} of {} unchanged and reused)",
            started.elapsed().as_secs_f64() * 1000.0,
            jobs.len()
        ),
    );
    Ok(())
}

/// `x.cdx.json` → `x.linux-arm64.cdx.json`: the SBOM of a platform other than the one `docker load`
/// gets (that one keeps the plain name).
pub fn platform_sbom_path(sbom: &std::path::Path, t: &crate::target::Target) -> PathBuf {
    let name = sbom
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".cdx.json").unwrap_or(&name);
    sbom.with_file_name(format!(
        "{stem}.{}.cdx.json",
        t.platform().replace('/', "-")
    ))
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
    pub pushed: Option<crate::publish::Pushed>,
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

/// Several platforms: per bin, one image per platform under one index, in one tarball (no image
/// cache: the images are rebuilt every time).
fn run_multi(
    cx: &Context<'_>,
    plans: &[ImagePlan],
    binaries: &[Binary],
    shell: &Shell,
    json: bool,
) -> Result<()> {
    let mtime = cx.epoch.max(0) as u64;
    let mut made = Vec::new();
    for p in plans {
        let mut images = Vec::new();
        let mut facts = Vec::new();
        for b in binaries.iter().filter(|b| b.target == p.target) {
            let Prepared {
                input,
                ca,
                sbom_packages,
            } = prepare(cx, p, b)?;
            images.push((b.platform.clone(), image::build(&input)?));
            facts.push((b.platform.clone(), b.size, ca, sbom_packages));
        }
        let multi = image::index::MultiImage::new(images, &cx.created)?;
        made.push((p, multi, facts));
    }
    for (p, multi, facts) in &made {
        if archive::interrupt_pending() {
            anyhow::bail!("interrupted");
        }
        let docker_platform = multi.docker_image().0.clone();
        let sbom_paths: Vec<PathBuf> = multi
            .images
            .iter()
            .map(|(t, _)| {
                if *t == docker_platform {
                    p.sbom.clone()
                } else {
                    platform_sbom_path(&p.sbom, t)
                }
            })
            .collect();
        let files: Vec<(&std::path::Path, &[u8])> = sbom_paths
            .iter()
            .zip(&multi.images)
            .map(|(path, (_, img))| (path.as_path(), img.sbom.data.as_slice()))
            .collect();
        // The single-platform cache record no longer describes this tarball.
        let _ = std::fs::remove_file(&p.cache);
        let (tarball_size, _) =
            archive::publish_with(|sink| multi.write_tarball(mtime, sink), &p.tarball, &files)?;
        let pushed = match &p.push {
            Some(plan) => Some(crate::publish::command::push(
                &crate::publish::Artifact::from_multi(multi)?,
                plan,
                shell,
            )?),
            None => None,
        };
        let reference = multi.images[0].1.reference();
        let shown = |path: &std::path::Path| {
            shell_word(&crate::fsutil::shown_path(path).display().to_string())
        };
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
                    .zip(&sbom_paths)
                    .map(|(((t, img), (_, size, _, n)), sbom)| PlatformMessage {
                        platform: t.platform(),
                        target: &t.triple,
                        manifest_digest: &img.manifest.digest,
                        config_digest: &img.config.digest,
                        binary_size: *size,
                        compressed_size: img.layer.size(),
                        sbom_path: sbom.display().to_string(),
                        sbom_digest: &img.sbom.digest,
                        sbom_components: *n,
                    })
                    .collect(),
                pushed,
            };
            println!("{}", serde_json::to_string(&msg)?);
        }
        for ((t, img), (_, _, ca, _)) in multi.images.iter().zip(facts) {
            shell.status(
                "Image",
                format!(
                    "{reference} {} (layer {} {}, certificates: {}), {}",
                    t.platform(),
                    human_size(img.layer.size()),
                    img.compression.format(),
                    if ca.include { "yes" } else { "none" },
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
        shell.note(
            "Load",
            format!(
                "`skopeo copy --all oci-archive:{t} …` takes every platform; `docker load -i {t}` and `podman load -i {t}` take {d} (the others: e.g. `podman pull --arch arm64 oci-archive:{t}`)",
                d = docker_platform.platform(),
                t = shown(&p.tarball)
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sbom_path;
    use std::path::Path;

    #[test]
    fn sbom_lies_beside_the_tarball() {
        assert_eq!(
            sbom_path(Path::new("/t/tiny/api.tar")),
            Path::new("/t/tiny/api.cdx.json")
        );
        assert_eq!(
            sbom_path(Path::new("out/api.img")),
            Path::new("out/api.img.cdx.json")
        );
    }

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
