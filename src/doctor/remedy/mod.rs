//! The fix search for a route to OpenSSL: candidate edits in order of preference, each tried on a
//! scratch copy of the workspace and kept only when cargo, re-resolving it, no longer reaches
//! OpenSSL through that dependency (or links it vendored).
//!
//! The kinds, in order (the finding says which one it is and why the earlier ones did not apply):
//! - a. the knowledge base's entry for the crate and major version (`src/knowledge/tls.toml`);
//! - b. rustls features derived from the locked version's own feature table (`default-tls` →
//!   `rustls-tls`, `runtime-tokio-native-tls` → `runtime-tokio-rustls`, …), the locked defaults kept;
//! - c. a feature of the user's own package that selects rustls or vendored OpenSSL;
//! - d. the crate's own vendored feature, then a direct `openssl-sys` with `vendored`.

use std::collections::BTreeSet;

use cargo_metadata::Package;

mod api;
mod candidates;
mod verify;

pub use api::openssl_api_note;
pub use candidates::{candidates, native_features, native_name, rustls_pair, vendored_feature};
pub use verify::{still_failing, verify};

use super::findings::{Edit, Finding, Severity};
use super::tls::{self, Route};
use crate::cli::DoctorArgs;
use crate::knowledge::KnowledgeBase;
use crate::workspace::Workspace;

/// Which kind of fix a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    KnowledgeBase,
    Derived,
    OwnFeature,
    CrateVendored,
    OpensslSys,
}

impl Kind {
    /// Order of preference.
    pub fn rank(self) -> usize {
        self as usize
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::KnowledgeBase => "a (knowledge base)",
            Kind::Derived => "b (rustls feature derived from the crate's feature table)",
            Kind::OwnFeature => "c (the package's own feature)",
            Kind::CrateVendored => "d (the crate's vendored OpenSSL feature)",
            Kind::OpensslSys => "d (direct openssl-sys with `vendored`)",
        }
    }
}

/// One candidate fix: the edits (manifest → edit), the line to print, and whether it switches to
/// rustls (then code calling the crate's OpenSSL-only API needs changes).
#[derive(Debug, Clone)]
pub struct Candidate {
    pub kind: Kind,
    pub file: String,
    pub line: Option<usize>,
    pub edit: Edit,
    pub fix: String,
    pub rustls: bool,
}

/// Replaces each error finding's fix by the first candidate that verifies; a finding no candidate
/// clears keeps its advice (`tls-native-unknown`). Findings sharing one root cause (the same edit)
/// are merged.
pub fn resolve(
    ws: &Workspace,
    args: &DoctorArgs,
    kb: &KnowledgeBase,
    routes: Vec<(Finding, Option<Route>)>,
) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::new();
    // The fixes chosen so far: their finding's index in `out`, and the crates whose routes are
    // still errors once the fix is applied (one re-resolution answers for every later route).
    let mut chosen_so_far: Vec<(usize, BTreeSet<String>)> = Vec::new();
    'routes: for (mut f, route) in routes {
        let mut new_choice: Option<BTreeSet<String>> = None;
        if let (Some(r), Severity::Error) = (&route, f.severity) {
            // One finding per root cause: a fix already chosen that clears this path too (vendoring
            // OpenSSL for one route vendors it for all) takes this path in.
            for (i, left) in &chosen_so_far {
                if !left.contains(&r.dname) {
                    let o = &mut out[*i];
                    const ALSO: &str = "; the same fix also clears the paths through ";
                    let named = format!("`{}`", r.dname);
                    if !o.message.contains(&named) {
                        let sep = if o.message.contains(ALSO) { ", " } else { ALSO };
                        o.message.push_str(&format!("{sep}{named}"));
                    }
                    continue 'routes;
                }
            }
        }
        if let (Some(r), Severity::Error) = (route, f.severity) {
            let (chosen, rejected) = search(ws, args, kb, &r, &f);
            match chosen {
                Some((c, left)) => {
                    let mut why = format!("fix kind {}", c.kind.label());
                    if !rejected.is_empty() {
                        why.push_str(&format!("; {}", rejected.join("; ")));
                    }
                    f.code = "tls-native";
                    f.message = format!("{} — {why}", f.message);
                    f.fix = Some(match c.rustls.then(|| openssl_api_note(ws, &r)).flatten() {
                        Some(note) => format!("{} — {note}", c.fix),
                        None => c.fix,
                    });
                    f.file = Some(c.file);
                    f.line = c.line;
                    f.edit = Some(c.edit);
                    new_choice = Some(left);
                }
                None => {
                    f.code = "tls-native-unknown";
                    f.edit = None;
                    if !rejected.is_empty() {
                        f.message =
                            format!("{} — no verified fix: {}", f.message, rejected.join("; "));
                    }
                }
            }
        }
        // One finding per root cause: the same edit of the same file.
        if let Some(o) = out
            .iter_mut()
            .find(|o| o.edit.is_some() && o.edit == f.edit && o.file == f.file)
        {
            if f.path.len() > o.path.len() {
                o.path = f.path;
            }
            continue;
        }
        if let Some(left) = new_choice {
            chosen_so_far.push((out.len(), left));
        }
        out.push(f);
    }
    out
}

/// The first candidate fix for route `r` (finding `f`) that verifies, with the crates whose routes
/// are still errors once it is applied; and why the other kinds did not apply, in kind order.
fn search(
    ws: &Workspace,
    args: &DoctorArgs,
    kb: &KnowledgeBase,
    r: &Route,
    f: &Finding,
) -> (Option<(Candidate, BTreeSet<String>)>, Vec<String>) {
    let kb_candidate = f.edit.clone().map(|edit| Candidate {
        kind: Kind::KnowledgeBase,
        file: f.file.clone().unwrap_or_default(),
        line: f.line,
        edit,
        fix: f.fix.clone().unwrap_or_default(),
        rustls: true,
    });
    let mut rejected: Vec<String> = Vec::new();
    if kb_candidate.is_none() {
        let known = kb.get(&r.dname, &r.dver).is_some();
        rejected.push(format!(
            "a: {} {} {}",
            if known {
                "the knowledge base knows no rustls option of"
            } else {
                "no knowledge-base entry for"
            },
            r.dname,
            crate::knowledge::major(&r.dver)
        ));
    }
    let mut chosen: Option<(Candidate, BTreeSet<String>)> = None;
    let mut tried: Vec<Kind> = Vec::new();
    for c in kb_candidate.into_iter().chain(candidates(ws, kb, r)) {
        if chosen.is_none() {
            tried.push(c.kind);
        }
        match still_failing(ws, args, &c) {
            Ok(left) if !left.contains(&r.dname) => {
                chosen = Some((c, left));
                break;
            }
            Ok(_) => rejected.push(format!(
                "{}: `{}` leaves the path",
                &c.kind.label()[..1],
                c.fix
            )),
            Err(e) => rejected.push(format!(
                "{}: `{}` does not resolve ({})",
                &c.kind.label()[..1],
                c.fix,
                crate::error::report(&e).1
            )),
        }
    }
    // Kinds before the chosen one that had no candidate at all: say why.
    let rank = chosen.as_ref().map_or(usize::MAX, |(c, _)| c.kind.rank());
    for (k, why) in [
        (
            Kind::Derived,
            format!(
                "b: no rustls feature of {} pairs with the native one the package asks for",
                r.dname
            ),
        ),
        (
            Kind::OwnFeature,
            format!(
                "c: no feature of `{}` selects rustls or vendored OpenSSL",
                r.owner
            ),
        ),
        (
            Kind::CrateVendored,
            format!("d: {} has no vendored OpenSSL feature", r.dname),
        ),
    ] {
        let skipped_b =
            k == Kind::Derived && kb.get(&r.dname, &r.dver).is_some_and(|e| e.has_rustls());
        if k.rank() < rank && !tried.contains(&k) && !skipped_b {
            rejected.push(why);
        }
    }
    // In the order of the kinds (a, b, c, d), each kind's lines in the order tried.
    rejected.sort_by_key(|w| w.chars().next());
    (chosen, rejected)
}

fn package<'a>(ws: &'a Workspace, name: &str, version: &str) -> Option<&'a Package> {
    tls::attribution::package(&ws.metadata.packages, name, version)
}
