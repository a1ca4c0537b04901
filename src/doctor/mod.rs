//! `cargo tiny doctor`: every path to OpenSSL / native-tls for the build target, with the Cargo.toml fix.
//!
//! Design: the activated graph comes from cargo's own feature resolver (`cargo tree -e normal,features
//! --target T`, see [`graph`]), so dev-dependency unification and phantom weak-feature edges of the raw
//! `cargo metadata` resolve never show up; `cargo metadata` ([`Workspace`]) gives declarations and
//! feature definitions; the knowledge base (`tls.toml`) gives the replacement features.

pub mod certs;
pub mod crypto;
pub mod findings;
pub mod fix;
pub mod graph;
pub mod kb;
pub mod native;
pub mod profile;
pub mod remedy;
pub mod report;
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
    let g = tls::resolve_graph(&ws, args)?;
    shell.verbose(
        "Timing",
        format!("cargo tree {:.3}s", t1.elapsed().as_secs_f64()),
    );
    let t2 = Instant::now();
    let kb = kb::KnowledgeBase::builtin();
    let mut findings = remedy::resolve(&ws, args, &kb, tls::routes(&ws, &g, &kb));
    findings.extend(native::check(&ws, &g));
    findings.extend(crypto::check(&g));
    findings.extend(certs::check(&g));
    findings.extend(profile::check(&ws));
    findings.extend(toolchain::check(&ws, &args.target, &g));
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
    report::render(args.format, &findings, ws.root().as_std_path(), shell);
    let deny_warn = matches!(args.deny, Some(Deny::Warnings));
    let failing = findings
        .iter()
        .any(|f| f.severity == Severity::Error || (deny_warn && f.severity == Severity::Warning));
    Ok(i32::from(failing))
}

fn analyse(ws: &Workspace, args: &DoctorArgs) -> Result<Vec<findings::Finding>> {
    Ok(tls::check(
        ws,
        &tls::resolve_graph(ws, args)?,
        &kb::KnowledgeBase::builtin(),
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
        report::render(args.format, found, root, shell);
        return Ok(i32::from(
            found.iter().any(|f| f.severity == Severity::Error),
        ));
    }
    for (file, (old, new)) in &plan {
        let name = std::path::Path::new(file)
            .strip_prefix(root)
            .map(|p| p.display().to_string())
            .unwrap_or(file.clone());
        if args.dry_run {
            print!("{}", crate::fsutil::unified_diff(old, new, &name));
        } else {
            crate::fsutil::write_atomic(std::path::Path::new(file), new.as_bytes())?;
            shell.status("Fixed", &name);
        }
    }
    if args.dry_run {
        return Ok(0);
    }
    // Re-resolve: cargo metadata must read the manifests, and the paths must be gone.
    let reload = load_workspace(args).and_then(|ws| analyse(&ws, args));
    match reload {
        Err(e) => {
            for (file, (old, _)) in &plan {
                crate::fsutil::write_atomic(std::path::Path::new(file), old.as_bytes())?;
            }
            Err(e.context("cargo could not read the fixed manifests; restored the originals"))
        }
        Ok(left) => {
            report::render(args.format, &left, root, shell);
            Ok(i32::from(
                left.iter().any(|f| f.severity == Severity::Error),
            ))
        }
    }
}
