//! The change set built: `cargo check --target <musl>` on the copy that holds it (see
//! [`crate::doctor::check`]); what a failure refutes is [`super::blame`]'s. Then the set is composed
//! again without what was refuted, and built again — a few rounds at most.

use std::collections::BTreeSet;

use anyhow::Result;

use super::blame::{add_problem, blame, exonerate, finding, refute, Blame};
use super::compose::{compose, Composed};
use super::{problems, Analysis, Problem};
use crate::doctor::check::{self, CheckReport};
use crate::doctor::findings::Finding;
use crate::doctor::options::{DoctorOptions, FixMode};
use crate::doctor::sandbox::Sandbox;
use crate::shell::Shell;

/// Builds after the first one, at most.
const MAX_ROUNDS: usize = 5;

/// What the search ended with.
pub struct Outcome {
    pub problems: Vec<Problem>,
    pub composed: Composed,
    /// The last check (none with the graph only).
    pub check: Option<CheckReport>,
    /// Findings of the build that no candidate is about (a member that does not compile, a crate
    /// that fails with no feature to change).
    pub extra: Vec<Finding>,
}

impl Outcome {
    /// The analysis of the copy holding the chosen set.
    pub fn analysis<'a>(&'a self, base: &'a Analysis) -> &'a Analysis {
        self.composed.analysis.as_ref().unwrap_or(base)
    }

    /// Whether the last build of the chosen set passed.
    pub fn built(&self) -> bool {
        self.check.as_ref().is_some_and(CheckReport::ok)
    }
}

/// Finds the change set for `base`'s problems: by the graph, then (with `opts.check`) by building.
pub fn search(
    sandbox: &Sandbox,
    opts: &DoctorOptions,
    base: &Analysis,
    shell: &Shell,
) -> Result<Outcome> {
    let kb = &crate::knowledge::get().tls;
    let mut problems = problems(base, kb);
    let mut rejected: BTreeSet<(usize, usize)> = BTreeSet::new();
    let mut composed = compose(sandbox, opts, base, &mut problems, &rejected, shell)?;
    let mut out_check = None;
    let mut extra: Vec<Finding> = Vec::new();
    if !opts.check {
        return Ok(Outcome {
            problems,
            composed,
            check: None,
            extra,
        });
    }
    if opts.fix == FixMode::Report {
        // `--check`: the workspace as it is, built; what fails is reported, nothing is refuted.
        if composed.analysis.is_some() {
            sandbox.write(&Default::default())?;
        }
        shell.status(
            "Checking",
            format!(
                "the workspace for {} (cargo check on a copy, target dir {})",
                opts.target,
                sandbox.shown_target()
            ),
        );
        let report = check::run(sandbox, opts, &base.ws, shell)?;
        finished(shell, &report);
        extra = leftovers(&report, &opts.target);
        return Ok(Outcome {
            problems,
            composed,
            check: Some(report),
            extra,
        });
    }
    let mut written = composed.analysis.is_some();
    let mut record = Blame::default();
    for round in 0..=MAX_ROUNDS {
        if composed.analysis.is_none() && written {
            composed.analysis = Some(super::analyse(sandbox, opts, &[])?);
        }
        let current = composed.analysis.as_ref().unwrap_or(base);
        let what = match composed.choices.len() {
            0 => "the workspace".to_string(),
            n => format!("the workspace with {n} fix(es)"),
        };
        shell.status(
            "Checking",
            format!(
                "{what} for {} (cargo check on a copy, target dir {})",
                opts.target,
                sandbox.shown_target()
            ),
        );
        let report = check::run(sandbox, opts, &current.ws, shell)?;
        finished(shell, &report);
        if report.ok() || round == MAX_ROUNDS {
            if !report.ok() {
                extra = leftovers(&report, &opts.target);
            }
            out_check = Some(report);
            break;
        }
        // Failures of the workspace's own code that outlived the fixes they were blamed on: those
        // fixes come back (chosen again by the graph), and the build is known to fail without
        // them — no round more.
        if exonerate(
            &report.failures,
            &composed,
            &mut problems,
            &mut rejected,
            &mut record,
        ) {
            extra = report
                .failures
                .iter()
                .filter(|f| record.innocent.contains(&(f.package.clone(), f.message.clone())))
                .map(|f| {
                    finding(
                        "build-check",
                        format!(
                            "`{}` does not compile for {} (not a cause doctor knows: it fails as well with the fixes it was blamed on taken back): {}",
                            f.package, opts.target, f.message
                        ),
                        vec![f.package.clone()],
                    )
                })
                .collect();
            out_check = Some(report);
            composed = compose(sandbox, opts, base, &mut problems, &rejected, shell)?;
            break;
        }
        let before = rejected.len() + problems.len();
        extra.clear();
        for f in &report.failures {
            if let Some(t) =
                crate::doctor::toolchain::from_failure(&f.package, &f.message, &opts.target)
            {
                if !extra
                    .iter()
                    .any(|e| e.code == t.code && e.message == t.message)
                {
                    extra.push(t);
                }
            }
        }
        for f in &report.failures {
            refute(
                f,
                current,
                &mut problems,
                &composed,
                &mut rejected,
                &mut extra,
                &mut record,
                &opts.target,
            );
        }
        for l in &report.links {
            let reason = link_reason(l);
            if !blame(&l.package, &reason, &mut problems, &composed, &mut rejected) {
                add_problem(current, &l.package, &reason, &mut problems, &mut extra);
            }
        }
        out_check = Some(report);
        if rejected.len() + problems.len() == before {
            break;
        }
        composed = compose(sandbox, opts, base, &mut problems, &rejected, shell)?;
        written = true;
    }
    Ok(Outcome {
        problems,
        composed,
        check: out_check,
        extra,
    })
}

/// The status line after a check.
fn finished(shell: &Shell, report: &CheckReport) {
    shell.status(
        if report.ok() { "Checked" } else { "Failed" },
        format!(
            "{:.1}s ({} crates compiled, {} fresh)",
            report.seconds, report.compiled, report.fresh
        ),
    );
}

/// What a build says when nothing is left to act on it: each failure, and each library linked
/// from the host.
fn leftovers(report: &CheckReport, target: &str) -> Vec<Finding> {
    let failures = report.failures.iter().map(|f| {
        crate::doctor::toolchain::from_failure(&f.package, &f.message, target).unwrap_or_else(
            || {
                let what = if f.package.is_empty() {
                    "`cargo check` fails".to_string()
                } else {
                    format!("`cargo check` fails in {} v{}", f.package, f.version)
                };
                finding(
                    "build-check",
                    format!("{what}: {}", f.message),
                    vec![f.package.clone()],
                )
            },
        )
    });
    let links = report.links.iter().map(|l| {
        finding(
            "native-build",
            format!("{} v{} {}", l.package, l.version, link_reason(l)),
            vec![l.package.clone()],
        )
    });
    failures.chain(links).collect()
}

/// Why a library a build script links cannot go into a static musl binary.
fn link_reason(l: &check::LinkIssue) -> String {
    match &l.from {
        Some(dir) => format!(
            "links `{}` from {} (a build for the host's libc: a static musl binary cannot link it)",
            l.library,
            dir.display()
        ),
        None => format!(
            "links `{}`, which nothing here builds (the system's would be wanted at link time, and there is none for musl)",
            l.library
        ),
    }
}
