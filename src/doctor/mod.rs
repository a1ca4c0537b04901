//! `cargo tiny doctor`: every path to OpenSSL / native-tls for the build target, with the Cargo.toml fix.
//!
//! Design: the activated graph comes from cargo's own feature resolver (`cargo tree -e normal,features
//! --target T`, see [`graph`]), so dev-dependency unification and phantom weak-feature edges of the raw
//! `cargo metadata` resolve never show up; `cargo metadata` ([`Workspace`]) gives declarations and
//! feature definitions; the knowledge base ([`crate::knowledge`]) gives the replacement features.

pub mod certs;
pub mod crypto;
pub mod findings;
pub mod fix;
pub mod graph;
pub mod host_files;
pub mod native;
pub mod pid1;
pub mod profile;
pub mod programs;
pub mod remedy;
pub mod report;
pub mod scratch;
pub mod size_headroom;
pub mod sources;
pub use crate::manifest_spans as spans;
#[cfg(test)]
mod testing;
pub mod tls;
pub mod toolchain;

use std::time::Instant;

use anyhow::Result;

use crate::cli::{Deny, DoctorArgs};
use crate::error::Failure;
use crate::shell::Shell;
use crate::workspace::{LoadOptions, Workspace};
use findings::Severity;

/// Runs the doctor and returns the exit code (0 no error, 1 an error finding; doctor's own failures → 2).
pub fn run(args: &DoctorArgs, shell: &Shell) -> Result<i32> {
    run_inner(args, shell).map_err(|e| {
        let (_, message, hint) = crate::error::report(&e);
        let mut f = Failure::new(message).code(2);
        if let Some(h) = hint {
            f = f.hint(h);
        }
        anyhow::Error::new(f)
    })
}

/// The workspace as doctor reads it: the user's features and resolve flags, for the target.
fn load_workspace(args: &DoctorArgs) -> Result<Workspace> {
    Workspace::load(&LoadOptions {
        manifest_path: args.common.manifest_path.clone(),
        features: args.features.clone(),
        resolve: args.resolve.clone(),
        target: Some(args.target.clone()),
        no_deps: false,
    })
}

fn run_inner(args: &DoctorArgs, shell: &Shell) -> Result<i32> {
    let t0 = Instant::now();
    let ws = load_workspace(args)?;
    shell.verbose(
        "Timing",
        format!("cargo metadata {:.3}s", t0.elapsed().as_secs_f64()),
    );
    let t1 = Instant::now();
    let g = graph::resolve(&ws, args)?;
    shell.verbose(
        "Timing",
        format!("cargo tree {:.3}s", t1.elapsed().as_secs_f64()),
    );
    let t2 = Instant::now();
    let kb = &crate::knowledge::get().tls;
    let mut findings = remedy::resolve(&ws, args, kb, tls::routes(&ws, &g, kb));
    findings.extend(native::check(&ws, &g));
    findings.extend(crypto::check(&g));
    findings.extend(certs::check(&g));
    findings.extend(profile::check(&ws));
    findings.extend(toolchain::check(&ws, &args.target, &g));
    // What breaks only FROM scratch.
    findings.extend(pid1::check(&ws, &g));
    findings.extend(programs::check(&ws, &g));
    findings.extend(host_files::check(&ws, &g));
    findings.extend(size_headroom::check(&ws, &args.target));
    shell.verbose(
        "Timing",
        format!(
            "analysis {:.3}s ({} graph nodes, {} packages)",
            t2.elapsed().as_secs_f64(),
            g.nodes.len(),
            ws.metadata.packages.len()
        ),
    );
    if args.format == crate::cli::ReportFormat::Human {
        toolchain::report(shell, &args.target, ws.root().as_std_path());
    }
    if args.fix {
        return apply_fixes(args, shell, &ws, &findings);
    }
    report::render(args.format, &findings, ws.root().as_std_path(), shell)?;
    let deny_warn = matches!(args.deny, Some(Deny::Warnings));
    let failing = findings
        .iter()
        .any(|f| f.severity == Severity::Error || (deny_warn && f.severity == Severity::Warning));
    Ok(i32::from(failing))
}

fn analyse(ws: &Workspace, args: &DoctorArgs) -> Result<Vec<findings::Finding>> {
    Ok(tls::check(
        ws,
        &graph::resolve(ws, args)?,
        &crate::knowledge::get().tls,
    ))
}

/// `--fix`: write the edits (or print the diff with `--dry-run`), re-resolve, roll back if cargo cannot read them.
fn apply_fixes(
    args: &DoctorArgs,
    shell: &Shell,
    ws: &Workspace,
    found: &[findings::Finding],
) -> Result<i32> {
    let plan = fix::plan(found)?;
    let root = ws.root().as_std_path();
    if plan.is_empty() {
        shell.status("Fixed", "nothing: no applicable fix");
        report::render(args.format, found, root, shell)?;
        return Ok(i32::from(
            found.iter().any(|f| f.severity == Severity::Error),
        ));
    }
    // Every manifest in the user's style (BOM, CRLF, through a symlink), and a read-only one refused
    // before any is written (crate::manifest_file).
    let mut files = Vec::new();
    for (file, (old, _)) in &plan {
        let m =
            crate::manifest_file::ManifestFile::read(std::path::Path::new(file), !args.dry_run)?;
        if m.text != *old {
            crate::fail!(
                hint = "run `cargo tiny doctor --fix` again",
                "{} changed on disk while it was being fixed; nothing written",
                m.shown()
            );
        }
        files.push(m);
    }
    for (i, ((file, (old, new)), m)) in plan.iter().zip(&files).enumerate() {
        let name = std::path::Path::new(file)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or(file.clone());
        if args.dry_run {
            print!("{}", crate::fsutil::unified_diff(old, new, &name));
        } else if let Err(e) = m.write(new, "cargo tiny doctor --fix") {
            // All or nothing: the manifests already written go back to what they were.
            let unrestored = restore_all(&files[..i]);
            return Err(e.context(match unrestored {
                None => "the manifests fixed before it were restored".to_string(),
                Some(left) => format!("could not restore {left}"),
            }));
        } else {
            shell.status("Fixed", &name);
        }
    }
    if args.dry_run {
        return Ok(0);
    }
    // Re-resolve: cargo metadata must read the manifests, and the paths must be gone.
    let reload = load_workspace(args).and_then(|ws| analyse(&ws, args));
    match reload {
        Err(e) => match restore_all(&files) {
            None => {
                Err(e.context("cargo could not read the fixed manifests; restored the originals"))
            }
            Some(left) => Err(e.context(format!(
                "cargo could not read the fixed manifests, and restoring failed for {left}"
            ))),
        },
        Ok(left) => {
            report::render(args.format, &left, root, shell)?;
            Ok(i32::from(
                left.iter().any(|f| f.severity == Severity::Error),
            ))
        }
    }
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
