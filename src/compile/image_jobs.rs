//! The image stage of `cargo tiny build`, after the compile: per verified binary its files are read,
//! [`crate::image::assemble`] makes the input and SBOM, the image cache is asked, and the image is
//! built and handed to the publishers (the tarball, then with `--push` the registry).

use anyhow::Result;

use std::path::PathBuf;

use super::image_plan::{platform_sbom_path, ImagePlan};
use super::options::ImageOptions;
use super::{image_cache, Binary};
use crate::error::Failure;
use crate::image::assemble::Parts;
use crate::image::{self, ca_bundle, ImageInput};
use crate::publish::push::Registry;
use crate::publish::{layout, tarball, Publisher};
use crate::shell::Shell;
use crate::source_date;
use crate::workspace::Workspace;

/// What the build stage shares with every image job.
struct Context<'a> {
    ws: &'a Workspace,
    revision: Option<String>,
    lockfile: Option<String>,
    /// `--docker-platform`.
    docker_platform: Option<crate::target::Target>,
    created: String,
    epoch: i64,
}

/// One image, written or reused.
struct Done {
    ca: ca_bundle::Decision,
    written: image_cache::Written,
    sbom_packages: usize,
    reused: bool,
    /// The image value when it was built now (the registry publisher takes it); `None` when reused.
    image: Option<image::Image>,
    /// The status line of a non-default compression (what it cost and bought).
    compressed: Option<image::CompressionCost>,
}

/// One image's inputs, read, with its SBOM.
struct Prepared<'a> {
    input: ImageInput<'a>,
    ca: ca_bundle::Decision,
    sbom_packages: usize,
}

/// Reads one image's inputs (the binary, the CA bundle, the `files` handles) and assembles the
/// input and SBOM for the binary's platform.
fn prepare<'a>(cx: &'a Context<'_>, p: &'a ImagePlan, b: &'a Binary) -> Result<Prepared<'a>> {
    let pkg = cx.ws.package(&p.target.package_id);
    let binary = std::fs::read(&b.path).map_err(|e| {
        Failure::new(format!("cannot read the binary {}: {e}", b.path))
            .hint("keep the target directory in place while cargo tiny build runs")
    })?;

    let ca = ca_bundle::decide(p.config.ca_certificates, &b.exact);
    let ca_bundle = if ca.include {
        Some(ca_bundle::read_host_bundle(&ca.reason)?)
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

    let (input, sbom) = image::assemble::assemble(Parts {
        name: &p.name,
        tag: &p.tag,
        bin: &p.target.bin,
        config: &p.config,
        package: pkg,
        packages: &cx.ws.metadata.packages,
        root: cx.ws.root(),
        lockfile: cx.lockfile.as_deref(),
        revision: cx.revision.as_deref(),
        audit: &b.exact,
        binary,
        ca_bundle,
        files,
        arch: b.platform.oci_arch(),
        created: &cx.created,
        epoch: cx.epoch,
    })?;
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
        Some(image::compression_cost(&input, &img, took)?)
    } else {
        None
    };
    if tarball::interrupt_pending() {
        anyhow::bail!("interrupted");
    }
    let (tarball_size, tarball_digest) = tarball::Tarball {
        path: &p.tarball,
        sbom: &p.sbom,
        mtime,
    }
    .publish(&img)?;
    remove_stale_sboms(&p.sbom, std::slice::from_ref(&p.sbom));
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
    let _held = tarball::HeldSignals::hold();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<Done>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if tarball::interrupt_pending() {
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
    io: &ImageOptions,
    plans: &[ImagePlan],
    binaries: &[Binary],
    shell: &Shell,
    json: bool,
) -> Result<()> {
    let started = std::time::Instant::now();
    let date = &io.source_date;
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
        revision: io.revision.clone(),
        lockfile: std::fs::read_to_string(ws.root().join("Cargo.lock")).ok(),
        docker_platform: io.docker_platform.clone(),
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
        if let Some(cost) = compressed {
            crate::report::compressed(&cost, None, shell);
        }
        // The registry publisher takes the image value, or, when it was reused, the tarball (the same
        // bytes: the cache checked them).
        let pushed = match &p.push {
            Some(plan) => {
                let registry = Registry { plan, shell };
                Some(match &built {
                    Some(img) => registry.publish(img)?,
                    None => registry.publish_artifact(&layout::read(&p.tarball)?.artifact)?,
                })
            }
            None => None,
        };
        crate::report::image(
            crate::report::ImageReport {
                plan: p,
                ca: &ca,
                written: &w,
                sbom_packages,
                reused: was_reused,
                pushed,
                created: created.clone(),
            },
            shell,
            json,
        )?;
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

/// Several platforms: per bin, one image per platform under one index, in one tarball (no image
/// cache: the images are rebuilt every time; every tarball is made before any is pushed).
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
            let started = std::time::Instant::now();
            let img = image::build(&input)?;
            if img.compression != image::Compression::Gzip {
                let cost = image::compression_cost(&input, &img, started.elapsed())?;
                crate::report::compressed(&cost, Some(&b.platform.platform()), shell);
            }
            images.push((b.platform.clone(), img));
            facts.push(crate::report::PlatformFacts {
                binary_size: b.size,
                ca,
                sbom_packages,
            });
        }
        let multi =
            image::index::MultiImage::new(images, &cx.created, cx.docker_platform.as_ref())?;
        made.push((p, multi, facts));
    }
    let mut written = Vec::new();
    for (p, multi, facts) in &made {
        if tarball::interrupt_pending() {
            anyhow::bail!("interrupted");
        }
        let docker_platform = &multi.docker_image().0;
        let sbom_paths: Vec<PathBuf> = multi
            .images
            .iter()
            .map(|(t, _)| {
                if t == docker_platform {
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
            tarball::publish_with(|sink| multi.write_tarball(mtime, sink), &p.tarball, &files)?;
        remove_stale_sboms(&p.sbom, &sbom_paths);
        written.push((p, multi, facts, sbom_paths, tarball_size));
    }
    for (p, multi, facts, sbom_paths, tarball_size) in written {
        let pushed = match &p.push {
            Some(plan) => Some(
                Registry { plan, shell }
                    .publish_artifact(&crate::publish::Artifact::from_multi(multi)?)?,
            ),
            None => None,
        };
        crate::report::index(
            crate::report::IndexReport {
                plan: p,
                multi,
                facts,
                sbom_paths: &sbom_paths,
                tarball_size,
                pushed,
            },
            shell,
            json,
        )?;
    }
    Ok(())
}

/// Removes the per-platform SBOMs an earlier build left beside this tarball that this one did not
/// write (a single-platform build over a multi-platform one, or another `--docker-platform`), so
/// every SBOM beside it describes it.
fn remove_stale_sboms(sbom: &std::path::Path, written: &[PathBuf]) {
    for t in crate::target::Target::all() {
        let path = platform_sbom_path(sbom, &t);
        if !written.contains(&path) && path.is_file() {
            let _ = std::fs::remove_file(&path);
        }
    }
}
