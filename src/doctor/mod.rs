//! `cargo tiny doctor`: every path to OpenSSL / native-tls for the build target, with the Cargo.toml fix.
//!
//! Design: the activated graph comes from cargo's own feature resolver (`cargo tree -e normal,features
//! --target T`, see [`graph`]), so dev-dependency unification and phantom weak-feature edges of the raw
//! `cargo metadata` resolve never show up; `cargo metadata` ([`Workspace`]) gives declarations and
//! feature definitions; the knowledge base (`tls.toml`) gives the replacement features.

pub mod findings;
pub mod graph;
pub mod kb;
pub mod report;
pub mod tls;

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

fn run_inner(args: &DoctorArgs, shell: &Shell) -> Result<i32> {
    if args.fix {
        crate::fail!(
            hint = "apply the printed replacement lines by hand",
            "`--fix` is not implemented yet"
        );
    }
    let t0 = Instant::now();
    let ws = Workspace::load(&LoadOptions {
        manifest_path: args.common.manifest_path.clone(),
        features: args.features.clone(),
        resolve: args.resolve.clone(),
        target: Some(args.target.clone()),
        no_deps: false,
    })?;
    shell.verbose(
        "Timing",
        format!("cargo metadata {:.3}s", t0.elapsed().as_secs_f64()),
    );
    let t1 = Instant::now();
    let tree = tls::cargo_tree(&ws, args)?;
    shell.verbose(
        "Timing",
        format!("cargo tree {:.3}s", t1.elapsed().as_secs_f64()),
    );
    let t2 = Instant::now();
    let g = graph::Graph::parse(&tree);
    let findings = tls::check(&ws, &g, &kb::KnowledgeBase::builtin());
    shell.verbose(
        "Timing",
        format!(
            "analysis {:.3}s ({} graph nodes, {} packages)",
            t2.elapsed().as_secs_f64(),
            g.nodes.len(),
            ws.metadata.packages.len()
        ),
    );
    report::render(args.format, &findings, ws.root().as_std_path(), shell);
    let deny_warn = matches!(args.deny, Some(Deny::Warnings));
    let failing = findings
        .iter()
        .any(|f| f.severity == Severity::Error || (deny_warn && f.severity == Severity::Warning));
    Ok(i32::from(failing))
}
