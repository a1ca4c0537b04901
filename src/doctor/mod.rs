//! `cargo tiny doctor`: what keeps the workspace from building a static musl binary — paths to
//! OpenSSL / native-tls, native libraries that cannot link statically, missing tools — each with the
//! Cargo.toml change that fixes it.
//!
//! Design: everything cargo runs on is a copy of the workspace ([`sandbox`]), so the user's files
//! (their lockfile too) are only ever written by `--fix`. The activated graph comes from cargo's own
//! feature resolver (`cargo tree -e normal,features --target T`, see [`graph`]); `cargo metadata`
//! gives declarations and the locked versions' feature tables; the knowledge base
//! ([`crate::knowledge`]) gives replacement features. The fixes are chosen together and verified on
//! the copy ([`remedy`]): by the re-resolved graph, and with `--fix` (or `--check`) by building it
//! ([`check`]: `cargo check --target T`).

pub mod certs;
pub mod check;
pub mod command;
pub mod crypto;
pub mod findings;
pub mod fix;
pub mod graph;
pub mod host_files;
pub mod native;
pub mod options;
pub mod pid1;
pub mod profile;
pub mod programs;
pub mod remedy;
pub mod report;
pub mod sandbox;
pub mod scratch;
pub mod size_headroom;
pub mod sources;
pub use crate::manifest_spans as spans;
#[cfg(test)]
mod testing;
pub mod tls;
pub mod toolchain;

use std::path::Path;
use std::time::Instant;

use anyhow::Result;

use crate::error::Failure;
use crate::shell::Shell;
use findings::{Finding, Severity};
use options::{DoctorOptions, FixMode};
use remedy::checked::Outcome;
use remedy::Analysis;
use sandbox::Sandbox;

/// Runs the doctor and returns the exit code (0 nothing blocks the build, 1 an error finding —
/// or a warning with `--deny warnings`; doctor's own failures → 2).
pub fn run(opts: &DoctorOptions, shell: &Shell) -> Result<i32> {
    run_inner(opts, shell).map_err(|e| {
        let (_, message, hint) = crate::error::report(&e);
        let mut f = Failure::new(message).code(2);
        if let Some(h) = hint {
            f = f.hint(h);
        }
        anyhow::Error::new(f)
    })
}

fn run_inner(opts: &DoctorOptions, shell: &Shell) -> Result<i32> {
    let t0 = Instant::now();
    let sandbox = Sandbox::open(opts, shell)?;
    shell.verbose(
        "Timing",
        format!("workspace copy {:.3}s", t0.elapsed().as_secs_f64()),
    );
    let t1 = Instant::now();
    let base = Analysis::read(&sandbox, opts, false)?;
    shell.verbose(
        "Timing",
        format!(
            "cargo metadata + cargo tree {:.3}s ({} graph nodes, {} packages)",
            t1.elapsed().as_secs_f64(),
            base.graph.nodes.len(),
            base.ws.metadata.packages.len()
        ),
    );
    if tls::search::openssl_vendored(&base.graph) {
        shell.verbose(
            "Vendored",
            "OpenSSL (openssl-sys/vendored): built from source, linked statically",
        );
    }
    let t2 = Instant::now();
    let outcome = remedy::checked::search(&sandbox, opts, &base, shell)?;
    shell.verbose(
        "Timing",
        format!("fix search {:.3}s", t2.elapsed().as_secs_f64()),
    );
    // The other checks look at what is (or, after --fix, will be) the workspace.
    let now = match opts.fix {
        FixMode::Report => &base,
        FixMode::DryRun | FixMode::Write => outcome.analysis(&base),
    };
    let fixing = opts.fix != FixMode::Report;
    let mut findings = assemble(opts, &base, &outcome, fixing);
    findings.extend(crypto::check(&now.graph));
    findings.extend(certs::check(&now.graph));
    findings.extend(profile::check(&now.ws));
    findings.extend(toolchain::check(&now.ws, &opts.target, &now.graph));
    // What breaks only FROM scratch.
    findings.extend(pid1::check(&now.ws, &now.graph));
    findings.extend(programs::check(&now.ws, &now.graph));
    findings.extend(host_files::check(&now.ws, &now.graph));
    findings.extend(size_headroom::check(&now.ws, &opts.target));
    findings.extend(sources::findings());
    let root = sandbox.root().to_path_buf();
    if opts.format == report::Format::Human {
        toolchain::report(shell, &opts.target, &root);
    }
    if opts.fix != FixMode::Report {
        apply(opts, shell, &sandbox, &outcome, &root)?;
    }
    report::render(opts.format, &findings, &root, shell)?;
    let failing = findings.iter().any(|f| {
        f.severity == Severity::Error || (opts.deny_warnings && f.severity == Severity::Warning)
    });
    Ok(i32::from(failing))
}

/// The findings of the fix search: each problem with its chosen fix (or why none), problems
/// another fix clears folded into that one, the native crates doctor could not vouch for (unless
/// the build vouched for them), and what the build found that no fix is about. With `fixing`, the
/// fixed problems are left out: what is reported is what is left once the fixes are written.
fn assemble(
    opts: &DoctorOptions,
    base: &Analysis,
    outcome: &Outcome,
    fixing: bool,
) -> Vec<Finding> {
    let verified = match &outcome.check {
        Some(c) if c.ok() => "cargo-check",
        _ => "graph",
    };
    let problems = &outcome.problems;
    let choices = &outcome.composed.choices;
    let mut out: Vec<Finding> = Vec::new();
    let mut index: Vec<Option<usize>> = vec![None; problems.len()];
    for (pi, p) in problems.iter().enumerate() {
        if outcome.composed.cleared_by.iter().any(|(q, _)| *q == pi) {
            continue;
        }
        let chosen: Vec<&remedy::Candidate> = choices
            .iter()
            .filter(|c| c.problem == pi)
            .map(|c| &p.candidates[c.candidate])
            .collect();
        if fixing && !chosen.is_empty() {
            continue;
        }
        let mut f = remedy::finding(p, &chosen, Some(verified));
        if !chosen.is_empty() && verified == "cargo-check" {
            f.message.push_str(&format!(
                "; verified: `cargo check --target {}` passes with it",
                opts.target
            ));
        }
        index[pi] = Some(out.len());
        out.push(f);
    }
    for (pi, by) in &outcome.composed.cleared_by {
        let Some(i) = index[*by] else { continue };
        let name = problems[*pi]
            .key
            .rsplit(['>', ':'])
            .next()
            .unwrap_or_default();
        const ALSO: &str = "; the same fix also clears the paths through ";
        let o = &mut out[i];
        let named = format!("`{name}`");
        if !o.message.contains(&named) {
            let sep = if o.message.contains(ALSO) { ", " } else { ALSO };
            o.message.push_str(&format!("{sep}{named}"));
        }
        if problems[*pi].finding.path.len() > o.path.len() && problems[*by].key.starts_with("tls:")
        {
            o.path = problems[*pi].finding.path.clone();
        }
    }
    // Native crates doctor could not vouch for: a warning, unless the build did, or found that it
    // does not build (then `native-build` says so, once).
    if !outcome.built() {
        let refuted: Vec<_> = outcome
            .check
            .iter()
            .flat_map(|c| {
                let failed = c.failures.iter().map(|f| f.package.as_str());
                failed.chain(c.links.iter().map(|l| l.package.as_str()))
            })
            .map(native::key)
            .collect();
        for (key, f, _) in &base.native {
            if f.severity == Severity::Warning
                && !problems.iter().any(|p| &p.key == key)
                && !refuted.contains(key)
            {
                out.push(f.clone());
            }
        }
    }
    out.extend(outcome.extra.iter().cloned());
    out
}

/// `--fix` and `--fix --dry-run`: the chosen set's diff printed, or written to the manifests (all
/// or nothing), with the lockfile cargo resolved for it on the copy.
fn apply(
    opts: &DoctorOptions,
    shell: &Shell,
    sandbox: &Sandbox,
    outcome: &Outcome,
    root: &Path,
) -> Result<()> {
    let set: Vec<&remedy::Candidate> = outcome
        .composed
        .choices
        .iter()
        .map(|c| &outcome.problems[c.problem].candidates[c.candidate])
        .collect();
    if set.is_empty() {
        shell.status("Fixed", "nothing: no applicable fix");
        return Ok(());
    }
    let by = if outcome.built() {
        format!(
            "`cargo check --target {}` passes on a fixed copy",
            opts.target
        )
    } else if outcome.check.is_some() {
        "by the re-resolved graph; the build still fails (below)".to_string()
    } else {
        "by the re-resolved graph only (--no-check)".to_string()
    };
    for c in &outcome.composed.choices {
        let p = &outcome.problems[c.problem];
        let cand = &p.candidates[c.candidate];
        let what = p.key.rsplit(['>', ':']).next().unwrap_or_default();
        shell.status(
            if opts.fix == FixMode::DryRun {
                "Proposing"
            } else {
                "Fixing"
            },
            format!("{what}: {} (fix kind {})", cand.fix, cand.kind.letter()),
        );
    }
    shell.status("Verified", &by);
    let plan = remedy::texts(&set)?;
    let shown = |file: &str| {
        Path::new(file)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or(file.to_string())
    };
    if opts.fix == FixMode::DryRun {
        for (file, (old, new)) in &plan {
            // The manifests' own text: its line breaks kept, any other control character escaped.
            let diff = crate::fsutil::unified_diff(old, new, &crate::shell::escape(&shown(file)));
            print!("{}", crate::shell::escape_lines(&diff));
        }
        return Ok(());
    }
    // Every manifest in the user's style (BOM, CRLF, through a symlink), and a read-only one refused
    // before any is written (crate::manifest_file).
    let mut files = Vec::new();
    for (file, (old, _)) in &plan {
        let m = crate::manifest_file::ManifestFile::read(Path::new(file), true)?;
        if m.text != *old {
            crate::fail!(
                hint = "run `cargo tiny doctor --fix` again",
                "{} changed on disk while it was being fixed; nothing written",
                m.shown()
            );
        }
        files.push(m);
    }
    for (i, ((file, (_, new)), m)) in plan.iter().zip(&files).enumerate() {
        if let Err(e) = m.write(new, "cargo tiny doctor --fix") {
            // All or nothing: the manifests already written go back to what they were.
            let unrestored = restore_all(&files[..i]);
            return Err(e.context(match unrestored {
                None => "the manifests fixed before it were restored".to_string(),
                Some(left) => format!("could not restore {left}"),
            }));
        }
        shell.status("Fixed", shown(file));
    }
    // The lockfile cargo resolved for the fixed manifests on the copy (only when the user has one).
    let user_lock = root.join("Cargo.lock");
    let copy_lock = sandbox.lockfile()?;
    if let (Ok(old), Ok(new)) = (std::fs::read(&user_lock), std::fs::read(&copy_lock)) {
        if old != new {
            if let Err(e) = crate::fsutil::write_atomic(&user_lock, &new) {
                let unrestored = restore_all(&files);
                return Err(e.context(match unrestored {
                    None => "writing Cargo.lock; the manifests were restored".to_string(),
                    Some(left) => format!("writing Cargo.lock; could not restore {left}"),
                }));
            }
            shell.status("Updated", "Cargo.lock");
        }
    }
    Ok(())
}

/// Restores every manifest, going on past a failure; `None` when all were restored, else which
/// were not and why.
fn restore_all(files: &[crate::manifest_file::ManifestFile]) -> Option<String> {
    let failed: Vec<String> = files
        .iter()
        .filter_map(|m| m.restore().err().map(|e| format!("{} ({e:#})", m.shown())))
        .collect();
    (!failed.is_empty()).then(|| failed.join(", "))
}
