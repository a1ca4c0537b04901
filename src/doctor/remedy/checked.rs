//! The change set built: `cargo check --target <musl>` on the copy that holds it (see
//! [`crate::doctor::check`]), and what a failure says about the candidates. Code of the workspace
//! that no longer compiles refutes the risky fixes (a rustls switch, a feature turned off) of that
//! package; a crate that does not build refutes the fix that builds it (or, when nothing chose it,
//! becomes a problem of its own, with the features of its locked version that build it from
//! source); a library linked from the host refutes its fix the same way. Then the set is composed
//! again without what was refuted, and built again — a few rounds at most.

use std::collections::BTreeSet;

use anyhow::Result;

use super::compose::{compose, Choice, Composed};
use super::{problems, Analysis, Kind, Problem};
use crate::doctor::check::{self, BuildFailure, CheckReport};
use crate::doctor::findings::{Finding, Severity};
use crate::doctor::native::{self, IssueKind, NativeIssue};
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

/// What the rounds learned about failures of the workspace's own code: the fixes a failure was
/// blamed on (`suspects`), and failures that stayed when those fixes were gone — not theirs.
#[derive(Default)]
struct Blame {
    suspects: Vec<(Choice, String, String)>,
    innocent: BTreeSet<(String, String)>,
}

/// Maps one build failure to the candidates it refutes, or to a finding.
#[allow(clippy::too_many_arguments)]
fn refute(
    f: &BuildFailure,
    current: &Analysis,
    problems: &mut Vec<Problem>,
    composed: &Composed,
    rejected: &mut BTreeSet<(usize, usize)>,
    extra: &mut Vec<Finding>,
    record: &mut Blame,
    target: &str,
) {
    if f.package.is_empty() {
        extra.push(finding(
            "build-check",
            format!("cargo check fails: {}", f.message),
            vec![],
        ));
        return;
    }
    let not_ours = |what: &str| {
        finding(
            "build-check",
            format!(
                "`{}` does not compile for {target} (not a cause doctor knows{what}): {}",
                f.package, f.message
            ),
            vec![f.package.clone()],
        )
    };
    if !f.build_script && !f.local {
        // A dependency's Rust code: no feature of it is known to help.
        extra.push(not_ours(""));
        return;
    }
    if f.local && !f.build_script {
        let failure = (f.package.clone(), f.message.clone());
        if record.innocent.contains(&failure) {
            extra.push(not_ours(
                ": it fails as well with the fixes it was blamed on taken back",
            ));
            return;
        }
        // The user's code: the risky fixes of that package (else every risky fix) are refuted.
        let risky: Vec<_> = composed
            .choices
            .iter()
            .filter(|c| problems[c.problem].candidates[c.candidate].risky)
            .copied()
            .collect();
        let own: Vec<_> = risky
            .iter()
            .filter(|c| {
                let p = &problems[c.problem];
                p.finding.path.first() == Some(&f.package)
                    || p.key.starts_with(&format!("tls:{}>", f.package))
            })
            .copied()
            .collect();
        let blamed = if own.is_empty() { risky } else { own };
        if blamed.is_empty() {
            extra.push(not_ours(""));
        }
        for c in blamed {
            let why = format!("breaks the code of `{}`: {}", f.package, f.message);
            let cand = problems[c.problem].candidates[c.candidate].clone();
            super::compose::note(&mut problems[c.problem], &cand, &why);
            rejected.insert((c.problem, c.candidate));
            record
                .suspects
                .push((c, failure.0.clone(), failure.1.clone()));
        }
        return;
    }
    let reason = format!(
        "`cargo check` fails in {} v{}: {}",
        f.package, f.version, f.message
    );
    if !blame(&f.package, &reason, problems, composed, rejected) {
        add_problem(current, &f.package, &f.message, problems, extra);
    }
}

/// A failure of the workspace's own code that is still there with the fixes it was blamed on
/// gone was not theirs: they are taken back (rejection and note), and the failure is marked.
/// True when something was taken back.
fn exonerate(
    failures: &[BuildFailure],
    composed: &Composed,
    problems: &mut [Problem],
    rejected: &mut BTreeSet<(usize, usize)>,
    record: &mut Blame,
) -> bool {
    let mut any = false;
    for f in failures.iter().filter(|f| f.local && !f.build_script) {
        let failure = (f.package.clone(), f.message.clone());
        let theirs: Vec<Choice> = record
            .suspects
            .iter()
            .filter(|(c, p, m)| (p, m) == (&failure.0, &failure.1) && !composed.choices.contains(c))
            .map(|(c, _, _)| *c)
            .collect();
        if theirs.is_empty() {
            continue;
        }
        for c in theirs {
            rejected.remove(&(c.problem, c.candidate));
            let why = format!("breaks the code of `{}`: {}", failure.0, failure.1);
            problems[c.problem].notes.retain(|n| !n.ends_with(&why));
        }
        record
            .suspects
            .retain(|(_, p, m)| (p, m) != (&failure.0, &failure.1));
        record.innocent.insert(failure);
        any = true;
    }
    any
}

/// Refutes the chosen fix of the problem about `package` (its `-src` crate counts as the `-sys`
/// one; openssl-src and openssl-sys as every vendored-OpenSSL fix). False when no chosen fix is
/// about it.
fn blame(
    package: &str,
    reason: &str,
    problems: &mut [Problem],
    composed: &Composed,
    rejected: &mut BTreeSet<(usize, usize)>,
) -> bool {
    let sys = package.strip_suffix("-src").map(|b| format!("{b}-sys"));
    let keys = [Some(native::key(package)), sys.map(|s| native::key(&s))];
    let openssl = matches!(package, "openssl-src" | "openssl-sys");
    let mut any = false;
    for c in &composed.choices {
        let p = &problems[c.problem];
        let cand = &p.candidates[c.candidate];
        let vendoring = matches!(
            cand.kind,
            Kind::CrateVendored | Kind::OpensslSys | Kind::OwnFeature
        ) && !cand.risky;
        let about = keys.iter().flatten().any(|k| *k == p.key)
            || (openssl && p.key.starts_with("tls:") && vendoring);
        if about {
            let cand = cand.clone();
            super::compose::note(
                &mut problems[c.problem],
                &cand,
                &format!("fails to build: {reason}"),
            );
            rejected.insert((c.problem, c.candidate));
            any = true;
        }
    }
    any
}

/// A crate the build showed failing (or linking from the host) that no problem was about: a
/// problem of its own when its locked version has features that build it from source, else a
/// finding.
fn add_problem(
    current: &Analysis,
    package: &str,
    why: &str,
    problems: &mut Vec<Problem>,
    extra: &mut Vec<Finding>,
) {
    let key = native::key(package);
    if problems.iter().any(|p| p.key == key) {
        // Its fixes are all refuted already: the problem says why.
        return;
    }
    let pkg = current
        .ws
        .metadata
        .packages
        .iter()
        .filter(|p| p.name.as_str() == package)
        .max_by(|a, b| a.version.cmp(&b.version));
    let version = pkg.map(|p| p.version.to_string()).unwrap_or_default();
    let features: Vec<String> = pkg
        .map(|p| {
            p.features
                .keys()
                .filter(|f| {
                    native::looks_static(f) && !native::feature_on(&current.graph, package, f)
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let (path, route) = native::route(&current.ws, &current.graph, package);
    let message = format!("{package} v{version} does not build for a static musl binary: {why}");
    let f = Finding {
        code: "native-build",
        severity: Severity::Error,
        message,
        path,
        fix: features
            .first()
            .map(|x| format!("enable its `{x}` feature, which builds it from source")),
        file: route.as_ref().map(|r| r.owner_manifest.clone()),
        line: None,
        edit: None,
        verified: None,
    };
    let issue = NativeIssue {
        krate: package.to_string(),
        version,
        kind: IssueKind::Unknown { features },
        route,
    };
    let candidates = super::native::candidates(&current.ws, &current.graph, &issue);
    if candidates.is_empty() {
        extra.push(f);
    } else {
        problems.push(Problem {
            key,
            finding: f,
            candidates,
            notes: Vec::new(),
        });
    }
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
fn finding(code: &'static str, message: String, path: Vec<String>) -> Finding {
    Finding {
        code,
        severity: Severity::Error,
        message,
        path,
        fix: None,
        file: None,
        line: None,
        edit: None,
        verified: None,
    }
}
