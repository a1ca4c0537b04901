//! The image stage of `cargo tiny build`, after the compile — one path for one platform or several:
//! per bin, every platform's binary is read and its input and SBOM assembled; the image cache is
//! asked for the whole result; the images it does not hold are built, several at a time; each bin's
//! [`Built`] result goes to the publishers its plan lists, step by step (every tarball is written
//! before anything is pushed or loaded); then each is reported.

use anyhow::Result;

use super::image_cache::{self, Cached};
use super::image_plan::ImagePlan;
use super::options::ImageOptions;
use super::Binary;
use crate::error::Failure;
use crate::image::assemble::Provenance;
use crate::image::{self, ca_bundle, Built, CompressionCost, ImageInput, LayerFacts, Summary};
use crate::progress::Meter;
use crate::publish::{tarball, Published, Publisher, Shared};
use crate::report::{PlatformFacts, ResultReport};
use crate::source_date::SourceDate;
use crate::workspace::Workspace;

/// What the stage shares with every image job.
struct Context<'a> {
    ws: &'a Workspace,
    revision: Option<String>,
    lockfile: Option<String>,
    created: SourceDate,
}

/// One platform's image, read, with its SBOM.
struct Prepared<'a> {
    input: ImageInput<'a>,
    facts: PlatformFacts,
}

/// Reads one image's inputs (the binary, the CA bundle, the `files` handles) and assembles the
/// input and SBOM for the binary's platform.
fn prepare<'a>(cx: &Context<'_>, p: &'a ImagePlan, b: &Binary) -> Result<Prepared<'a>> {
    let pkg = cx.ws.package(&p.target.package_id);
    let binary = std::fs::read(&b.path).map_err(|e| {
        Failure::new(format!("cannot read the binary {}: {e}", b.path))
            .hint("keep the target directory in place while cargo tiny build runs")
    })?;

    let mut ca = ca_bundle::decide(p.config.ca_certificates, &b.exact);
    let ca_bundle = if ca.include {
        let (bytes, source) = ca_bundle::read(&ca.reason)?;
        ca.source = Some(source);
        Some(bytes)
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

    let mut input = ImageInput {
        name: p.name.clone(),
        tag: p.tag.clone(),
        bin: p.target.bin.clone(),
        binary,
        platform: b.platform.clone(),
        config: &p.config,
        files,
        ca_bundle,
        created: cx.created,
        annotations: Default::default(),
        sboms: Vec::new(),
    };
    let packages = image::assemble::assemble(
        &mut input,
        &Provenance {
            package: pkg,
            packages: &cx.ws.metadata.packages,
            root: cx.ws.root(),
            lockfile: cx.lockfile.as_deref(),
            revision: cx.revision.as_deref(),
            audit: &b.exact,
        },
    )?;
    Ok(Prepared {
        input,
        facts: PlatformFacts {
            binary_size: b.size,
            ca,
            sbom_packages: packages,
        },
    })
}

/// One bin's result: its inputs, and either the cache record that holds it or what was built.
struct Job<'a> {
    plan: &'a ImagePlan,
    prepared: Vec<Prepared<'a>>,
    key: String,
    cached: Option<Cached>,
    /// A cache hit's result, re-read from its tarball and checked.
    reread: Option<Built>,
}

/// One platform's image, built.
struct Image {
    made: image::Made,
    cost: Option<CompressionCost>,
}

fn build_one(input: &ImageInput<'_>, meter: &Meter) -> Result<Image> {
    let started = std::time::Instant::now();
    let made = image::build_metered(input, meter)?;
    let cost = if made.layer.compression != image::Compression::Gzip {
        Some(image::compression_cost(
            input,
            &made.layer,
            started.elapsed(),
            meter,
        )?)
    } else {
        None
    };
    Ok(Image { made, cost })
}

/// Runs `work` on every item, several at a time (compression is the costly part), results in
/// order. Signals are held meanwhile: a worker starts nothing new once one is pending.
fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Vec<Result<R>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(items.len());
    if workers <= 1 {
        return items.iter().map(&work).collect();
    }
    // Workers inherit this thread's signal mask: with SIGINT/SIGTERM/SIGHUP held here too, no thread
    // can be killed by one while a worker has temp files.
    let _held = tarball::HeldSignals::hold();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<R>>>> =
        items.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if tarball::interrupt_pending() {
                    break;
                }
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = work(item);
                *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|e| e.into_inner())
                .unwrap_or_else(|| Err(anyhow::anyhow!("interrupted")))
        })
        .collect()
}

/// A bin's result on its way to the publishers.
struct Outcome<'a> {
    job: Job<'a>,
    /// What was built now (`None`: reused, read back from the tarball when a publisher needs it).
    built: Option<Built>,
    summary: Summary,
    costs: Vec<(String, CompressionCost)>,
    published: Vec<Published>,
    /// What was built now and is to be signed (its provenance predicate), with its layers for the
    /// summary then: signed once the budget gate let it through, never before (a keyless
    /// signature is a public Rekor entry).
    to_sign: Option<(serde_json::Value, Vec<LayerFacts>)>,
}

/// Builds and publishes one result per binary (or reuses the one already written when nothing
/// changed).
pub fn run(
    ws: &Workspace,
    io: &ImageOptions,
    plans: &[ImagePlan],
    binaries: &[Binary],
    shared: &Shared<'_>,
    gate: Gate<'_>,
    json: bool,
) -> Result<()> {
    run_with(
        ws,
        io,
        plans,
        binaries,
        shared,
        &Hooks { extra: &[], gate },
        json,
    )
}

/// What a caller adds to the publishing: `extra` publishers after each plan's own, and the gate.
pub struct Hooks<'a> {
    pub extra: &'a [&'a dyn Publisher],
    pub gate: Gate<'a>,
}

/// Asked once every tarball is written, before any other publisher (the size budget): an error
/// stops the build there; `Ok(false)` skips the other publishers (nothing pushed or loaded).
pub type Gate<'a> = &'a dyn Fn() -> Result<bool>;

/// [`run`], with [`Hooks`].
pub fn run_with(
    ws: &Workspace,
    io: &ImageOptions,
    plans: &[ImagePlan],
    binaries: &[Binary],
    shared: &Shared<'_>,
    hooks: &Hooks<'_>,
    json: bool,
) -> Result<()> {
    let (extra, gate) = (hooks.extra, hooks.gate);
    let shell = shared.shell;
    let started = std::time::Instant::now();
    let date = io.source_date;
    if date.undated() {
        // Said once, not with -v only: a 1970 `created` surprises whoever lists the image.
        shell.note(
            "Timestamp",
            format!(
                "{} ({}: set SOURCE_DATE_EPOCH, or build from a git checkout, to date the image)",
                date.rfc3339(),
                date.origin
            ),
        );
    } else {
        shell.verbose(
            "Timestamp",
            format!("{} (from {})", date.rfc3339(), date.origin),
        );
    }
    let cx = Context {
        ws,
        revision: io.revision.clone(),
        lockfile: std::fs::read_to_string(ws.root().join("Cargo.lock")).ok(),
        created: date,
    };

    // Every platform's input, and the cache's answer for the whole result.
    let mut jobs = Vec::new();
    for p in plans {
        let mut prepared = Vec::new();
        for platform in &p.platforms {
            let b = binaries
                .iter()
                .find(|b| b.target == p.target && b.platform == *platform)
                .ok_or_else(|| {
                    anyhow::anyhow!("no binary built for `{}` on {platform}", p.target.bin)
                })?;
            prepared.push(prepare(&cx, p, b)?);
        }
        let inputs: Vec<&ImageInput<'_>> = prepared.iter().map(|x| &x.input).collect();
        let key = image_cache::key(&inputs, p.kind, &p.docker, date.mtime())?;
        // A signed result is never reused (its bundles are made now), and its record never serves
        // an unsigned build.
        let key = match signs(io, p) {
            true => format!("{key}+signed"),
            false => key,
        };
        let beside: Vec<_> = p.beside.iter().map(|b| b.path.clone()).collect();
        let mut cached = match signs(io, p) {
            true => None,
            false => image_cache::lookup(&p.cache, &key, &p.tarball, &beside),
        };
        // The record is a hint: the tarball is re-read and checked before it counts as reused.
        let mut reread = None;
        if let Some(c) = &cached {
            let checked = crate::publish::layout::read(&p.tarball)
                .map_err(|e| format!("{e:#}"))
                .and_then(|l| image_cache::verify(c, &l.built, &inputs).map(|()| l.built));
            match checked {
                Ok(b) => reread = Some(b),
                Err(why) => {
                    shell.note(
                        "Rebuilding",
                        format!(
                            "{}: the image cache record disagrees with {} ({why}); discarded",
                            p.target.bin,
                            crate::fsutil::shown_path(&p.tarball).display()
                        ),
                    );
                    let _ = std::fs::remove_file(&p.cache);
                    cached = None;
                }
            }
        }
        jobs.push(Job {
            plan: p,
            prepared,
            key,
            cached,
            reread,
        });
    }

    // Every image not reused, built before anything is published: one that fails stops the build
    // before a registry or an engine has seen any of them.
    let wanted: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .filter(|(_, j)| j.cached.is_none())
        .flat_map(|(k, j)| (0..j.prepared.len()).map(move |i| (k, i)))
        .collect();
    // One progress line for every layer compressing (on a terminal, past a second).
    let meter = Meter::new(shell, "Compressing");
    let images = in_parallel(&wanted, |&(k, i)| {
        build_one(&jobs[k].prepared[i].input, &meter)
    });
    meter.finish();
    let mut images = images
        .into_iter()
        .collect::<Result<Vec<Image>>>()?
        .into_iter();
    let signing = io.sign.is_some() && plans.iter().any(|p| signs(io, p));
    // What compiled, for the provenance: probed once, and checked against each signed binary —
    // before the signer is readied, so that a refused toolchain spends no OIDC token and has no
    // certificate issued.
    let toolchain = match signing {
        true => {
            let t =
                super::toolchain::Toolchain::probe(ws.root().as_std_path(), io.nightly.as_deref())?;
            for b in binaries
                .iter()
                .filter(|b| plans.iter().any(|p| p.target == b.target && signs(io, p)))
            {
                t.check_compiled_by(b.path.as_std_path())?;
            }
            t.tools()
        }
        false => Vec::new(),
    };
    // One signer for the run (keyless: one token, one certificate), readied after compiling.
    let signer = match (&io.sign, signing) {
        (Some(mode), true) => Some(crate::sign::signer(mode, |k| std::env::var(k).ok())?),
        _ => None,
    };
    let mut results = Vec::new();
    for mut job in jobs {
        let p = job.plan;
        let mut to_sign = None;
        let (built, summary, costs) = match &job.cached {
            Some(c) => (job.reread.take(), c.summary.clone(), Vec::new()),
            None => {
                // In the plan's platform order (the table's), as `prepared` is: the summary and the
                // report pair them up.
                let mine: Vec<Image> = images.by_ref().take(job.prepared.len()).collect();
                let mut made = Vec::new();
                let mut referrers = Vec::new();
                let mut layers: Vec<LayerFacts> = Vec::new();
                let mut costs = Vec::new();
                for img in mine {
                    if let Some(c) = img.cost {
                        costs.push((img.made.image.platform.platform(), c));
                    }
                    layers.push(img.made.layer);
                    referrers.extend(img.made.referrers);
                    made.push(img.made.image);
                }
                let built = Built::new(
                    &p.name,
                    &p.tag,
                    p.kind,
                    made,
                    referrers,
                    &date.rfc3339(),
                    Some(&p.docker),
                )?
                .with_tags(&p.config.tags);
                if signer.is_some() && signs(io, p) {
                    let pkg = ws.package(&p.target.package_id);
                    let predicate = super::signing::provenance(
                        p,
                        &super::signing::Facts {
                            revision: cx.revision.as_deref(),
                            lockfile: cx.lockfile.as_deref(),
                            repository: pkg.repository.as_deref(),
                            profile: &io.profile,
                            not_compiled: binaries
                                .iter()
                                .filter(|b| b.target == p.target)
                                .map(|b| {
                                    let names = b.uncompiled.iter();
                                    let names = names.map(|u| format!("{}@{}", u.name, u.version));
                                    (b.platform.platform(), names.collect())
                                })
                                .collect(),
                            tools: &toolchain,
                        },
                    );
                    to_sign = Some((predicate, layers.clone()));
                }
                let summary = Summary::of(&built, &layers);
                (Some(built), summary, costs)
            }
        };
        results.push(Outcome {
            job,
            built,
            summary,
            costs,
            published: Vec::new(),
            to_sign,
        });
    }

    // The publishers, step by step: each plan's first (the tarball) for every result, then the next.
    let opened = results
        .iter()
        .map(|r| {
            r.job
                .plan
                .publish
                .iter()
                .map(|to| to.open(shared))
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?;
    let lists: Vec<Vec<&dyn Publisher>> = opened
        .iter()
        .map(|own| {
            own.iter()
                .map(|b| b.as_ref())
                .chain(extra.iter().copied())
                .collect()
        })
        .collect();
    let steps = lists.iter().map(Vec::len).max().unwrap_or(0);
    // Once the gate let the tarballs through (never over budget): each result to be signed is
    // signed, its summary made again (its bundles), and its tarball (step 0) written again with
    // the bundles, before anything goes further.
    let sign_written = |results: &mut Vec<Outcome<'_>>,
                        lists: &Vec<Vec<&dyn Publisher>>|
     -> Result<()> {
        let Some(signer) = signer.as_ref() else {
            return Ok(());
        };
        for (r, list) in results.iter_mut().zip(lists) {
            let Some((predicate, layers)) = r.to_sign.take() else {
                continue;
            };
            let p = r.job.plan;
            let Some(built) = r.built.as_mut() else {
                anyhow::bail!("a result to sign was not built");
            };
            let started = std::time::Instant::now();
            let n = super::signing::sign_built(built, p, signer, &predicate)?;
            shell.status(
                "Signed",
                format!(
                    "{}:{} ({} Sigstore bundle{} {}: signature, SLSA v1 provenance, SBOM{} attestations; {:.0} ms)",
                    p.name,
                    p.tag,
                    n,
                    if n == 1 { "" } else { "s" },
                    signer_hint(signer),
                    if p.config.vex.is_some() { " and VEX" } else { "" },
                    started.elapsed().as_secs_f64() * 1000.0
                ),
            );
            r.summary = Summary::of(built, &layers);
            if let (Some(tarball), Some(first)) = (list.first(), r.published.first_mut()) {
                let done = tarball.publish(built)?;
                if let Published::Tarball(w) = &done {
                    if w.path == p.tarball {
                        image_cache::store(
                            &p.cache,
                            &r.job.key,
                            &Cached {
                                summary: r.summary.clone(),
                                written: w.clone(),
                            },
                        );
                    }
                }
                *first = done;
            }
        }
        Ok(())
    };
    let mut gated = false;
    // A publisher that failed once every tarball was written (a push, a load): the results are
    // still reported (what was built and written), with the push commands to retry, then the error.
    let mut failed = None;
    // The gate's error (over budget): like a failed publisher, nothing more is published, the
    // results (the tarballs written for inspection) are reported, then the error.
    let mut refused = None;
    'steps: for step in 0..steps {
        // Every tarball written (step 0): the gate decides whether anything goes further.
        if step == 1 {
            gated = true;
            match gate() {
                Ok(true) => sign_written(&mut results, &lists)?,
                Ok(false) => break,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        for (r, list) in results.iter_mut().zip(&lists) {
            let Some(publisher) = list.get(step) else {
                continue;
            };
            if tarball::interrupt_pending() {
                anyhow::bail!("interrupted");
            }
            let cached: Vec<Published> = r
                .job
                .cached
                .iter()
                .map(|c| Published::Tarball(c.written.clone()))
                .collect();
            let done = match publisher.reuse(&cached) {
                Some(done) => done,
                None => {
                    // Reused: re-read from the tarball and checked when the cache was asked.
                    // (Its `manifest.json` names the plan's docker platform: the key covers it.)
                    let Some(built) = r.built.as_ref() else {
                        anyhow::bail!("a result neither built nor read back");
                    };
                    let done = match publisher.publish(built) {
                        Ok(done) => done,
                        Err(e) if step > 0 => {
                            failed = Some(e);
                            break 'steps;
                        }
                        Err(e) => return Err(e),
                    };
                    // The tarball this plan wrote now: recorded for the next build.
                    match (&done, &r.job.cached) {
                        (Published::Tarball(w), None) if w.path == r.job.plan.tarball => {
                            image_cache::store(
                                &r.job.plan.cache,
                                &r.job.key,
                                &Cached {
                                    summary: r.summary.clone(),
                                    written: w.clone(),
                                },
                            );
                        }
                        _ => {}
                    }
                    done
                }
            };
            r.published.push(done);
        }
    }
    if !gated && failed.is_none() {
        match gate() {
            Ok(true) => sign_written(&mut results, &lists)?,
            Ok(false) => {}
            Err(e) => refused = Some(e),
        }
    }

    let total = results.len();
    let mut reused = 0;
    for r in &results {
        reused += usize::from(r.job.cached.is_some());
        for (platform, cost) in &r.costs {
            let prefix = (r.job.plan.kind == image::Kind::Index).then_some(platform.as_str());
            crate::report::compressed(cost, prefix, shell);
        }
        let p = r.job.plan;
        crate::report::result(
            &ResultReport {
                package: &p.target.package,
                bin: &p.target.bin,
                config: &p.config,
                summary: &r.summary,
                platforms: r.job.prepared.iter().map(|x| &x.facts).collect(),
                sboms: &p.sboms,
                beside: &p.beside,
                reused: r.job.cached.is_some(),
                published: &r.published,
                created: date.rfc3339(),
            },
            shell,
            json,
        )?;
    }
    if let Some(e) = failed {
        crate::report::retry(&retry_commands(io, &results), shell);
        return Err(e);
    }
    if let Some(e) = refused {
        return Err(e);
    }
    shell.verbose(
        "Timing",
        format!(
            "images written {:.0} ms after cargo finished ({reused} of {total} unchanged and reused)",
            started.elapsed().as_secs_f64() * 1000.0,
        ),
    );
    Ok(())
}

/// The `cargo tiny push` command of every result with a push that did not happen.
fn retry_commands(io: &ImageOptions, results: &[Outcome<'_>]) -> Vec<String> {
    let Some((flags, _)) = &io.push else {
        return Vec::new();
    };
    results
        .iter()
        .filter(|r| {
            !r.published
                .iter()
                .any(|p| matches!(p, Published::Registry(_)))
        })
        .flat_map(|r| {
            r.job.plan.publish.iter().filter_map(|to| match to {
                crate::publish::PublishTo::Registry(plan) => Some(crate::report::retry_command(
                    &r.job.plan.tarball,
                    plan,
                    flags,
                )),
                _ => None,
            })
        })
        .collect()
}

/// The key's hint (`sha256` of its public key, base64), as bundles name it.
fn signer_hint(signer: &crate::sign::Signer) -> String {
    match signer {
        crate::sign::Signer::Key(k) => format!("with key {}", k.hint()),
        crate::sign::Signer::Keyless(k) => format!("keyless as {}", k.identity()),
    }
}

/// Whether `p`'s images are signed: every image with --sign/--sign-key, else `sign = true`.
fn signs(io: &ImageOptions, p: &ImagePlan) -> bool {
    io.sign.is_some() && (io.sign_all || p.config.sign)
}
