//! Choosing the fixes together: one change set for the whole workspace, verified by cargo's
//! re-resolved graph of the copy.
//!
//! A candidate is tried on top of the fixes already chosen, and kept when its problem is gone and
//! nothing else moved the wrong way: no path that was not there before (a vendored feature that
//! brings git2's OpenSSL in), none that an earlier fix removed (a package feature that turns
//! `curl/static-ssl` back on). A problem an earlier fix already cleared takes no edit. The passes,
//! in order:
//! 0. one crate declared by several packages: its rustls switch in all of them at once (features
//!    unify: one package's switch alone leaves the path the others enable);
//! 1. every problem's rustls switches and own features (kinds a, b, c);
//! 2. the rustls switches of the problems left, all at once: a family of crates that enable each
//!    other's native TLS (librespot's) is switched together, before anything is vendored;
//! 3. the rest (kinds d, e: vendoring, building from source, a feature turned off);
//! 4. a problem's turn-off candidates together (a feature turned on from two packages);
//! 5. the candidates that need code changes;
//! 6. a chosen fix the others make redundant is dropped (vendoring OpenSSL for git2 clears curl's
//!    path too, so curl's rustls switch is one edit too many).

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

/// Which pass tries a candidate.
fn tier(c: &Candidate) -> u8 {
    match c.kind {
        _ if c.code_change.is_some() => 3,
        Kind::KnowledgeBase | Kind::Derived | Kind::OwnFeature => 1,
        _ => 2,
    }
}

struct Search<'a> {
    sandbox: &'a Sandbox,
    opts: &'a DoctorOptions,
    shell: &'a Shell,
    problems: &'a mut [Problem],
    rejected: &'a BTreeSet<(usize, usize)>,
    base_paths: BTreeSet<String>,
    choices: Vec<Choice>,
    cleared_by: Vec<(usize, usize)>,
    errors: BTreeSet<String>,
    paths: BTreeSet<String>,
    /// The chosen set vendors OpenSSL.
    vendored: bool,
    /// The analysis of the choices as they are, when the last trial kept was exactly them.
    last: Option<(Vec<Choice>, Analysis)>,
    /// The set the copy holds now (every trial writes it).
    written: Vec<Candidate>,
}

impl Search<'_> {
    fn before(&self) -> Before<'_> {
        Before {
            base: &self.base_paths,
            paths: &self.paths,
            vendored: self.vendored,
        }
    }

    fn candidates(&self, choices: &[Choice]) -> Vec<Candidate> {
        choices
            .iter()
            .map(|c| self.problems[c.problem].candidates[c.candidate].clone())
            .collect()
    }

    /// Writes the choices plus `extra` into the copy and reads it back.
    fn trial(&mut self, extra: &[Choice]) -> Result<Analysis> {
        let mut all = self.choices.clone();
        all.extend(extra);
        let set = self.candidates(&all);
        self.written = set.clone();
        analyse(self.sandbox, self.opts, &set.iter().collect::<Vec<_>>())
    }

    fn open(&self, pi: usize) -> bool {
        self.errors.contains(&self.problems[pi].key)
            && !self.choices.iter().any(|c| c.problem == pi)
    }

    /// Keeps `extra` (just tried, giving `a`) as chosen.
    fn keep(&mut self, extra: &[Choice], a: Analysis) {
        let now = a.errors();
        let fixing: Vec<usize> = extra.iter().map(|c| c.problem).collect();
        for (q, p) in self.problems.iter().enumerate() {
            let chosen = self.choices.iter().any(|c| c.problem == q) || fixing.contains(&q);
            if !chosen && self.errors.contains(&p.key) && !now.contains(&p.key) {
                self.cleared_by.push((q, fixing[0]));
            }
        }
        self.errors = now;
        self.paths = a.paths();
        self.vendored = crate::doctor::tls::search::openssl_vendored(&a.graph);
        self.choices.extend(extra);
        self.last = Some((self.choices.clone(), a));
    }

    /// An upgrade's open requirement (`>=0.5.0`) narrowed to the version cargo chose for it.
    fn narrow(&mut self, choice: Choice, a: &Analysis) {
        let c = &self.problems[choice.problem].candidates[choice.candidate];
        let Some(key) = declared(c) else { return };
        let packages = &a.ws.metadata.packages;
        let resolved = packages
            .iter()
            .filter(|p| p.name.as_str() == key)
            .max_by(|x, y| x.version.cmp(&y.version));
        if let Some(p) = resolved {
            let n = super::native::narrowed(c, &p.version.to_string());
            self.problems[choice.problem].candidates[choice.candidate] = n;
        }
    }

    /// Pass over the open problems with their candidates of tier `t`.
    fn pass(&mut self, t: u8) {
        for pi in 0..self.problems.len() {
            for ci in 0..self.problems[pi].candidates.len() {
                if !self.open(pi) {
                    break;
                }
                let c = self.problems[pi].candidates[ci].clone();
                if tier(&c) != t || self.rejected.contains(&(pi, ci)) {
                    continue;
                }
                self.shell
                    .verbose("Trying", format!("{} for {}", c.fix, self.problems[pi].key));
                let choice = Choice {
                    problem: pi,
                    candidate: ci,
                };
                let a = match self.trial(&[choice]) {
                    Ok(a) => a,
                    Err(e) => {
                        let why = crate::error::report(&e).1;
                        note(
                            &mut self.problems[pi],
                            &c,
                            &format!("does not resolve ({why})"),
                        );
                        continue;
                    }
                };
                let key = self.problems[pi].key.clone();
                match judge(&key, &a, &self.before(), declared(&c)) {
                    Some(why) => note(&mut self.problems[pi], &c, &why),
                    None => {
                        self.narrow(choice, &a);
                        self.keep(&[choice], a);
                    }
                }
            }
        }
    }

    /// Tries `together` (candidates of the open `problems`) at once; keeps them when every one of
    /// those problems is gone.
    fn together(&mut self, together: Vec<Choice>, why: &str) -> bool {
        let a = match self.trial(&together) {
            Ok(a) => a,
            Err(_) => return false,
        };
        let ok = together
            .iter()
            .all(|c| judge(&self.problems[c.problem].key, &a, &self.before(), None).is_none());
        if ok {
            for c in &together {
                let line = format!(
                    "{}: {why}",
                    self.problems[c.problem].candidates[c.candidate]
                        .kind
                        .letter()
                );
                if !self.problems[c.problem].notes.contains(&line) {
                    self.problems[c.problem].notes.push(line);
                }
            }
            self.keep(&together, a);
        }
        ok
    }

    /// Pass 0: one crate declared by several packages (reqwest in nine members of a workspace):
    /// features unify, so one member's switch alone leaves the path the others' still enable —
    /// their first rustls switches are tried at once, before one by one.
    fn same_crate(&mut self) {
        let mut groups: std::collections::BTreeMap<String, Vec<Choice>> = Default::default();
        for pi in (0..self.problems.len()).filter(|&pi| self.open(pi)) {
            let p = &self.problems[pi];
            let Some((_, krate)) = p.key.strip_prefix("tls:").and_then(|k| k.rsplit_once('>'))
            else {
                continue;
            };
            let first = p.candidates.iter().enumerate().position(|(ci, c)| {
                matches!(c.kind, Kind::KnowledgeBase | Kind::Derived)
                    && c.code_change.is_none()
                    && !self.rejected.contains(&(pi, ci))
            });
            if let Some(ci) = first {
                groups.entry(krate.to_string()).or_default().push(Choice {
                    problem: pi,
                    candidate: ci,
                });
            }
        }
        for (krate, group) in groups {
            if group.len() > 1 {
                let why = format!(
                    "{krate} switched in every package that declares it ({} of them): features unify",
                    group.len()
                );
                self.together(group, &why);
            }
        }
    }

    /// Pass 2: the first rustls switch (a, b) of every open problem, all at once.
    fn family(&mut self) {
        let family: Vec<Choice> = (0..self.problems.len())
            .filter(|&pi| self.open(pi))
            .filter_map(|pi| {
                let ci = self.problems[pi]
                    .candidates
                    .iter()
                    .enumerate()
                    .position(|(ci, c)| {
                        matches!(c.kind, Kind::KnowledgeBase | Kind::Derived)
                            && c.code_change.is_none()
                            && !self.rejected.contains(&(pi, ci))
                    })?;
                Some(Choice {
                    problem: pi,
                    candidate: ci,
                })
            })
            .collect();
        if family.len() > 1 {
            let names: Vec<String> = family
                .iter()
                .map(|c| {
                    let k = &self.problems[c.problem].key;
                    k.rsplit(['>', ':']).next().unwrap_or(k).to_string()
                })
                .collect();
            let why = format!(
                "one family, switched together ({}): no one of them alone clears the path",
                names.join(", ")
            );
            self.together(family, &why);
        }
    }

    /// Pass 4: each open problem's turn-off candidates together.
    fn drops_together(&mut self) {
        for pi in 0..self.problems.len() {
            if !self.open(pi) {
                continue;
            }
            let drops: Vec<Choice> = self.problems[pi]
                .candidates
                .iter()
                .enumerate()
                .filter(|(ci, c)| {
                    matches!(c.kind, Kind::DropOwn | Kind::DropDependency)
                        && !self.rejected.contains(&(pi, *ci))
                })
                .map(|(ci, _)| Choice {
                    problem: pi,
                    candidate: ci,
                })
                .collect();
            if drops.len() > 1 {
                self.together(drops, "no one of them alone clears it, together they do");
            }
        }
    }

    /// Pass 6: a choice the others make unnecessary goes.
    fn minimize(&mut self) {
        let mut i = self.choices.len();
        while self.choices.len() > 1 && i > 0 {
            i -= 1;
            let mut fewer = self.choices.clone();
            let gone = fewer.remove(i);
            // Choices for the same problem go together.
            fewer.retain(|c| c.problem != gone.problem);
            let set = self.candidates(&fewer);
            self.written = set.clone();
            let Ok(a) = analyse(self.sandbox, self.opts, &set.iter().collect::<Vec<_>>()) else {
                continue;
            };
            // Redundant: no error comes back, and what comes back is a route to an OpenSSL the
            // set vendors anyway (one TLS stack, not rustls next to a vendored OpenSSL).
            let errors = a.errors();
            let vendored = crate::doctor::tls::search::openssl_vendored(&a.graph);
            let still = errors.is_subset(&self.errors)
                && a.paths()
                    .difference(&self.paths)
                    .all(|k| vendored && k.starts_with("tls:") && !errors.contains(k));
            if still {
                // Named by the fix that vendors OpenSSL, when one does.
                let vendoring = fewer.iter().find(|c| {
                    let cand = &self.problems[c.problem].candidates[c.candidate];
                    self.problems[c.problem].key.starts_with("tls:")
                        && !cand.risky
                        && matches!(
                            cand.kind,
                            Kind::CrateVendored | Kind::OpensslSys | Kind::OwnFeature
                        )
                });
                if let Some(by) = vendoring.or(fewer.last()) {
                    self.cleared_by.push((gone.problem, by.problem));
                }
                self.errors = errors;
                self.paths = a.paths();
                self.choices = fewer;
                self.last = Some((self.choices.clone(), a));
                i = self.choices.len();
            }
        }
    }
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
    let mut s = Search {
        sandbox,
        opts,
        shell,
        problems,
        rejected,
        base_paths: base.paths(),
        choices: Vec::new(),
        cleared_by: Vec::new(),
        errors: base.errors(),
        paths: base.paths(),
        vendored: crate::doctor::tls::search::openssl_vendored(&base.graph),
        last: None,
        written: Vec::new(),
    };
    s.same_crate();
    s.pass(1);
    s.family();
    s.pass(2);
    s.drops_together();
    s.pass(3);
    s.minimize();
    // The copy holds exactly the chosen set when this returns (a later trial may have been
    // written over it).
    let cands = s.candidates(&s.choices);
    let analysis = match s.last.take() {
        _ if s.written.is_empty() && cands.is_empty() => None,
        Some((kept, a)) if kept == s.choices && s.written == cands => Some(a),
        _ => Some(analyse(sandbox, opts, &cands.iter().collect::<Vec<_>>())?),
    };
    let choices = s.choices;
    let mut cleared_by = s.cleared_by;
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

/// What a trial is judged against: the paths of the workspace as it was, those of the set chosen
/// so far, and whether that set already vendors OpenSSL.
struct Before<'a> {
    base: &'a BTreeSet<String>,
    paths: &'a BTreeSet<String>,
    vendored: bool,
}

/// Why a trial does not fix problem `key` cleanly, or `None` when it does.
fn judge(key: &str, a: &Analysis, before: &Before<'_>, own: Option<&str>) -> Option<String> {
    let (base, before_paths) = (before.base, before.paths);
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
    // New: in neither the workspace as it was nor the set chosen so far (a path an earlier fix
    // opened, such as its own direct `openssl-sys`, is that fix's). One more route to an OpenSSL
    // that is already vendored adds no library (pq-sys's `bundled` next to vendored native-tls).
    let new: BTreeSet<&String> = now
        .iter()
        .filter(|k| !base.contains(*k) && !before_paths.contains(*k))
        .filter(|k| !(before.vendored && k.starts_with("tls:") && !errors.contains(*k)))
        .collect();
    if !new.is_empty() {
        return Some(format!("opens a new path ({})", shown(&new)));
    }
    let back: BTreeSet<&String> = now
        .iter()
        .filter(|k| base.contains(*k) && !before_paths.contains(*k))
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
