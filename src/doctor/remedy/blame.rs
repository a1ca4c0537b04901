//! What a failed build says about the candidates: the user's code no longer compiles — the risky
//! fixes of that package are refuted (and taken back if the failure outlives them); a crate fails to
//! build or links from the host — the fix that builds it is refuted, or, when no fix is about it,
//! the crate becomes a problem of its own with the features of its locked version that build it
//! from source; a dependency's Rust code fails — a finding, no fix known.

use std::collections::BTreeSet;

use super::compose::{Choice, Composed};
use super::{Analysis, Kind, Problem};
use crate::doctor::check::BuildFailure;
use crate::doctor::findings::{Finding, Severity};
use crate::doctor::native::{self, IssueKind, NativeIssue};

/// What the rounds learned about failures of the workspace's own code: the fixes a failure was
/// blamed on (`suspects`), and failures that stayed when those fixes were gone — not theirs.
#[derive(Default)]
pub struct Blame {
    suspects: Vec<(Choice, String, String)>,
    pub innocent: BTreeSet<(String, String)>,
}

/// Maps one build failure to the candidates it refutes, or to a finding.
#[allow(clippy::too_many_arguments)]
pub fn refute(
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
pub fn exonerate(
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
pub fn blame(
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
pub fn add_problem(
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

pub fn finding(code: &'static str, message: String, path: Vec<String>) -> Finding {
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
