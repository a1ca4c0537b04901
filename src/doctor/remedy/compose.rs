//! Choosing the fixes together: one change set for the whole workspace, verified by cargo's
//! re-resolved graph of the copy.
//!
//! Problems are taken in order; for each, its candidates are tried on top of the fixes already
//! chosen, and the first is kept when the problem is gone and nothing else moved the wrong way: no
//! path that was not there before (a vendored feature that brings git2's OpenSSL in), none that an
//! earlier fix removed (a package feature that turns `curl/static-ssl` back on). A problem an
//! earlier fix already cleared takes no edit. Problems left without a fix whose rustls candidates
//! failed one by one are tried together (a family of crates that enable each other's native TLS,
//! as librespot's do). Last, a chosen fix the others make redundant is dropped.

use std::collections::BTreeSet;

use anyhow::Result;

use super::{analyse, Analysis, Candidate, Kind, Problem};
use crate::doctor::findings::Edit;
use crate::doctor::options::DoctorOptions;
use crate::doctor::sandbox::Sandbox;
use crate::shell::Shell;

/// A problem's chosen candidate (`problem` indexes the problems, `candidate` its candidates).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    pub problem: usize,
    pub candidate: usize,
}

/// The result of a composition: the choices, the problems another choice cleared (problem →
/// the problem whose fix did), and the analysis of the copy with the choices applied (`None`: no
/// edit was ever written, the copy is the base analysis's).
pub struct Composed {
    pub choices: Vec<Choice>,
    pub cleared_by: Vec<(usize, usize)>,
    pub analysis: Option<Analysis>,
}

/// Chooses the fixes for `problems` (of `base`, the unmodified copy), skipping `rejected`
/// candidates; notes why candidates were turned down in the problems.
pub fn compose(
    sandbox: &Sandbox,
    opts: &DoctorOptions,
    base: &Analysis,
    problems: &mut [Problem],
    rejected: &BTreeSet<(usize, usize)>,
    shell: &Shell,
) -> Result<Composed> {
    let base_paths = base.paths();
    let mut choices: Vec<Choice> = Vec::new();
    let mut cleared_by: Vec<(usize, usize)> = Vec::new();
    let mut errors = base.errors();
    let mut paths = base_paths.clone();
    // The analysis of the last set tried that was kept, with that set; and the set the copy holds
    // now (every trial writes it).
    let mut last: Option<(Vec<Choice>, Analysis)> = None;
    let mut written: Vec<Candidate> = Vec::new();
    let set =
        |choices: &[Choice], problems: &[Problem], extra: Option<&Candidate>| -> Vec<Candidate> {
            choices
                .iter()
                .map(|c| problems[c.problem].candidates[c.candidate].clone())
                .chain(extra.cloned())
                .collect()
        };
    let mut unsolved: Vec<usize> = Vec::new();
    for pi in 0..problems.len() {
        if !errors.contains(&problems[pi].key) {
            continue;
        }
        let mut accepted = false;
        for ci in 0..problems[pi].candidates.len() {
            if rejected.contains(&(pi, ci)) {
                continue;
            }
            let c = problems[pi].candidates[ci].clone();
            shell.verbose("Trying", format!("{} for {}", c.fix, problems[pi].key));
            let trial = set(&choices, problems, Some(&c));
            let refs: Vec<&Candidate> = trial.iter().collect();
            written = trial.clone();
            let a = match analyse(sandbox, opts, &refs) {
                Ok(a) => a,
                Err(e) => {
                    let why = crate::error::report(&e).1;
                    note(&mut problems[pi], &c, &format!("does not resolve ({why})"));
                    continue;
                }
            };
            match judge(&problems[pi].key, &a, &base_paths, &paths, declared(&c)) {
                Some(why) => note(&mut problems[pi], &c, &why),
                None => {
                    let now = a.errors();
                    // The later problems this fix clears as well take no edit of their own.
                    for (other, q) in problems.iter().enumerate().skip(pi + 1) {
                        if errors.contains(&q.key) && !now.contains(&q.key) {
                            cleared_by.push((other, pi));
                        }
                    }
                    errors = now;
                    paths = a.paths();
                    choices.push(Choice {
                        problem: pi,
                        candidate: ci,
                    });
                    last = Some((choices.clone(), a));
                    accepted = true;
                    break;
                }
            }
        }
        if !accepted {
            unsolved.push(pi);
        }
    }
    // A problem no single candidate fixes: its features turned off in every package that turns
    // them on, together (librespot's `rodio-backend`, in the member and in the crate it enables).
    for &pi in &unsolved.clone() {
        let together: Vec<Choice> = problems[pi]
            .candidates
            .iter()
            .enumerate()
            .filter(|(ci, c)| {
                matches!(c.kind, Kind::DropOwn | Kind::DropDependency)
                    && !rejected.contains(&(pi, *ci))
            })
            .map(|(ci, _)| Choice {
                problem: pi,
                candidate: ci,
            })
            .collect();
        if together.len() < 2 {
            continue;
        }
        let mut trial = choices.clone();
        trial.extend(together.iter().copied());
        let cands = set(&trial, problems, None);
        let refs: Vec<&Candidate> = cands.iter().collect();
        written = cands.clone();
        let Ok(a) = analyse(sandbox, opts, &refs) else {
            continue;
        };
        if judge(&problems[pi].key, &a, &base_paths, &paths, None).is_none() {
            problems[pi].notes.push(format!(
                "{}: no one of them alone clears it, together they do",
                Kind::DropOwn.letter()
            ));
            errors = a.errors();
            paths = a.paths();
            choices = trial;
            unsolved.retain(|&u| u != pi);
            last = Some((choices.clone(), a));
        }
    }
    // A family: the rustls candidates of the problems left, all at once.
    let family: Vec<Choice> = unsolved
        .iter()
        .filter_map(|&pi| {
            let ci = problems[pi]
                .candidates
                .iter()
                .enumerate()
                .position(|(ci, c)| {
                    matches!(c.kind, Kind::KnowledgeBase | Kind::Derived)
                        && !rejected.contains(&(pi, ci))
                })?;
            Some(Choice {
                problem: pi,
                candidate: ci,
            })
        })
        .collect();
    if family.len() > 1 {
        let mut trial = choices.clone();
        trial.extend(family.iter().copied());
        let cands = set(&trial, problems, None);
        let refs: Vec<&Candidate> = cands.iter().collect();
        written = cands.clone();
        if let Ok(a) = analyse(sandbox, opts, &refs) {
            let all_clear = family
                .iter()
                .all(|c| judge(&problems[c.problem].key, &a, &base_paths, &paths, None).is_none());
            if all_clear {
                let names: Vec<String> = family
                    .iter()
                    .map(|c| {
                        let p = &problems[c.problem];
                        p.key.rsplit('>').next().unwrap_or(&p.key).to_string()
                    })
                    .collect();
                for c in &family {
                    let n = format!(
                        "{}: one family, switched together ({})",
                        Kind::KnowledgeBase.letter(),
                        names.join(", ")
                    );
                    problems[c.problem]
                        .notes
                        .retain(|x| !x.starts_with("a: `") && !x.starts_with("b: `"));
                    problems[c.problem].notes.push(n);
                }
                choices = trial;
                errors = a.errors();
                last = Some((choices.clone(), a));
            }
        }
    }
    // Redundant choices: one the others make unnecessary goes (vendoring OpenSSL for git2 clears
    // curl's path too: curl's rustls switch is then one edit too many).
    if choices.len() > 1 {
        let mut i = choices.len();
        while i > 0 {
            i -= 1;
            let mut fewer = choices.clone();
            let gone = fewer.remove(i);
            let cands = set(&fewer, problems, None);
            let refs: Vec<&Candidate> = cands.iter().collect();
            written = cands.clone();
            let Ok(a) = analyse(sandbox, opts, &refs) else {
                continue;
            };
            let still =
                a.errors().is_subset(&errors) && a.paths().difference(&base_paths).next().is_none();
            if still {
                if let Some(by) = fewer.last() {
                    cleared_by.push((gone.problem, by.problem));
                }
                choices = fewer;
                last = Some((choices.clone(), a));
            }
        }
    }
    // The copy holds exactly the chosen set when this returns (a later trial may have been
    // written over it).
    let cands = set(&choices, problems, None);
    let refs: Vec<&Candidate> = cands.iter().collect();
    let analysis = match last {
        _ if written.is_empty() && cands.is_empty() => None,
        Some((kept, a)) if kept == choices && written == cands => Some(a),
        _ => Some(analyse(sandbox, opts, &refs)?),
    };
    cleared_by.retain(|(p, _)| !choices.iter().any(|c| c.problem == *p));
    Ok(Composed {
        choices,
        cleared_by,
        analysis,
    })
}

/// The crate a candidate declares or changes the declaration of: the path it opens to that crate
/// itself (a direct `openssl-sys` with `vendored`) is the fix, not a new path — unless an error.
fn declared(c: &Candidate) -> Option<&str> {
    match &c.edit {
        Edit::AddDependency { key, .. }
        | Edit::Dependency { key, .. }
        | Edit::Upgrade { key, .. } => Some(key),
        _ => None,
    }
}

/// Why a trial does not fix problem `key` cleanly, or `None` when it does.
fn judge(
    key: &str,
    a: &Analysis,
    base: &BTreeSet<String>,
    before: &BTreeSet<String>,
    own: Option<&str>,
) -> Option<String> {
    let errors = a.errors();
    if errors.contains(key) {
        return Some("leaves the path".into());
    }
    let mut now = a.paths();
    if let Some(own) = own {
        now.retain(|k| {
            errors.contains(k)
                || !(k.ends_with(&format!(">{own}")) || *k == format!("native:{own}"))
        });
    }
    let shown = |s: &BTreeSet<&String>| {
        s.iter()
            .map(|k| format!("`{}`", k.split_once(':').map_or(k.as_str(), |x| x.1)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let new: BTreeSet<&String> = now.difference(base).collect();
    if !new.is_empty() {
        return Some(format!("opens a new path ({})", shown(&new)));
    }
    let back: BTreeSet<&String> = now
        .iter()
        .filter(|k| base.contains(*k) && !before.contains(*k))
        .collect();
    if !back.is_empty() {
        return Some(format!(
            "re-enables what another fix removes ({})",
            shown(&back)
        ));
    }
    None
}

/// Records why candidate `c` of `p` was turned down.
pub fn note(p: &mut Problem, c: &Candidate, why: &str) {
    let line = format!("{}: `{}` {why}", c.kind.letter(), c.fix);
    if !p.notes.contains(&line) {
        p.notes.push(line);
    }
}
