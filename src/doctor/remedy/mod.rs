//! The fix search. Every error (a route to OpenSSL, a native crate that cannot link statically) is
//! a [`Problem`] with candidate edits in order of preference; the candidates are chosen together
//! for the whole workspace ([`compose`]: one change set, each candidate tried on a copy of the
//! workspace on top of those already chosen, kept only when cargo's re-resolved graph no longer has
//! its problem and no path that was not there, or that an earlier choice removed, came back), then
//! the change set is built ([`checked`]: `cargo check --target <musl>` on the copy), and a
//! candidate the build refutes gives way to the next.
//!
//! The kinds, in order (the finding says which one it is and why the earlier ones did not apply):
//! - a. the knowledge base's entry for the crate and major version (`src/knowledge/tls.toml`);
//! - b. rustls features derived from the locked version's own feature table (`default-tls` →
//!   `rustls-tls`, `runtime-tokio-native-tls` → `runtime-tokio-rustls`, …), the locked defaults kept;
//! - c. a feature of the user's own package that selects rustls, vendored OpenSSL, or a library
//!   built from source;
//! - d. a feature that builds the library from source: the crate's own (vendored OpenSSL, `bundled`)
//!   or a dependency's that turns it on, else a direct dependency on the crate with it; or, for a
//!   crate that builds its own unless asked not to, the feature that asks (`pkg-config`) dropped;
//! - e. the feature that pulls a system-only library in, turned off.
//!
//! Within a problem, a candidate that certainly needs code changes (the code calls an OpenSSL-only
//! API) comes after every one that does not.

mod api;
mod blame;
mod candidates;
pub mod checked;
mod compose;
pub mod native;
mod verify;

use cargo_metadata::Package;

pub use api::openssl_api_note;
pub use candidates::{candidates, native_features, native_name, rustls_pair, vendored_feature};
pub use compose::{compose, Choice};
pub use verify::{analyse, texts, Analysis};

use super::findings::{Edit, Finding, Severity};
use super::tls::{self, Route};
use crate::knowledge::KnowledgeBase;
use crate::workspace::Workspace;

/// Which kind of fix a candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    KnowledgeBase,
    Derived,
    OwnFeature,
    CrateVendored,
    OpensslSys,
    Forwarded,
    BuildFromSource,
    DropSystemRequest,
    DropOwn,
    DropDependency,
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
            Kind::Forwarded => "d (a dependency's feature that builds it from source)",
            Kind::BuildFromSource => "d (the crate's feature that builds it from source)",
            Kind::DropSystemRequest => {
                "d (the feature that makes it link the system's library, dropped: it builds its own)"
            }
            Kind::DropOwn => "e (the package's own feature that pulls it in, turned off)",
            Kind::DropDependency => "e (the dependency's feature that pulls it in, turned off)",
        }
    }

    pub fn letter(self) -> &'static str {
        &self.label()[..1]
    }
}

/// One candidate fix: the edit, the line to print, and what it may cost the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub kind: Kind,
    pub file: String,
    pub line: Option<usize>,
    pub edit: Edit,
    pub fix: String,
    /// It switches an API off (rustls for native TLS, a feature dropped): the code may not compile
    /// without changes, which the check finds out.
    pub risky: bool,
    /// Code that certainly needs changes: where the code calls the API the switch removes.
    pub code_change: Option<String>,
}

/// An error to fix, with its candidates.
#[derive(Debug, Clone)]
pub struct Problem {
    /// `tls:<owner>><crate>` or `native:<crate>`.
    pub key: String,
    /// The finding as the analysis made it.
    pub finding: Finding,
    pub candidates: Vec<Candidate>,
    /// Why kinds of fix found no candidate ("b: no rustls feature of …"), and why candidates were
    /// rejected, in kind order.
    pub notes: Vec<String>,
}

/// The problems of an analysis (errors only) with their candidates.
pub fn problems(a: &Analysis, kb: &KnowledgeBase) -> Vec<Problem> {
    let mut out: Vec<Problem> = Vec::new();
    for (key, f, route) in &a.tls {
        if f.severity != Severity::Error || out.iter().any(|p| &p.key == key) {
            continue;
        }
        let (candidates, notes) = match route {
            Some(r) => tls_candidates(&a.ws, kb, r, f),
            None => (Vec::new(), Vec::new()),
        };
        out.push(Problem {
            key: key.clone(),
            finding: f.clone(),
            candidates,
            notes,
        });
    }
    for (key, f, issue) in &a.native {
        if f.severity != Severity::Error {
            continue;
        }
        out.push(Problem {
            key: key.clone(),
            finding: f.clone(),
            candidates: native::candidates(&a.ws, &a.graph, issue),
            notes: Vec::new(),
        });
    }
    out
}

/// A route's candidates: the knowledge base's (the finding's own edit), then b, c, d; candidates
/// that certainly need code changes last. And the kinds that had none, said.
fn tls_candidates(
    ws: &Workspace,
    kb: &KnowledgeBase,
    r: &Route,
    f: &Finding,
) -> (Vec<Candidate>, Vec<String>) {
    let kb_candidate = f.edit.clone().map(|edit| Candidate {
        kind: Kind::KnowledgeBase,
        file: f.file.clone().unwrap_or_default(),
        line: f.line,
        edit,
        fix: f.fix.clone().unwrap_or_default(),
        risky: true,
        code_change: None,
    });
    let mut notes = Vec::new();
    if kb_candidate.is_none() {
        let known = kb.get(&r.dname, &r.dver).is_some();
        notes.push(format!(
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
    let mut all: Vec<Candidate> = kb_candidate
        .into_iter()
        .chain(candidates(ws, kb, r))
        .collect();
    for c in &mut all {
        if c.risky {
            c.code_change = openssl_api_note(ws, r);
        }
    }
    let has = |k: Kind| all.iter().any(|c| c.kind == k);
    let skipped_b = kb.get(&r.dname, &r.dver).is_some_and(|e| e.has_rustls());
    if !has(Kind::Derived) && !skipped_b {
        notes.push(format!(
            "b: no rustls feature of {} pairs with the native one the package asks for",
            r.dname
        ));
    }
    if !has(Kind::OwnFeature) {
        notes.push(format!(
            "c: no feature of `{}` selects rustls or vendored OpenSSL",
            r.owner
        ));
    }
    if !has(Kind::CrateVendored) {
        notes.push(format!("d: {} has no vendored OpenSSL feature", r.dname));
    }
    // Candidates that need code changes go last; the finding says why they were passed over.
    all.sort_by_key(|c| c.code_change.is_some());
    if all.first().is_some_and(|c| c.code_change.is_none()) {
        for c in all.iter().filter(|c| c.code_change.is_some()) {
            let note = c.code_change.as_deref().unwrap_or_default();
            notes.push(format!(
                "{}: `{}` passed over, {note}",
                c.kind.letter(),
                c.fix
            ));
        }
    }
    (all, notes)
}

/// The finding of a problem once the search is done: the chosen candidates' edit and line (with
/// the kind and why earlier kinds did not apply), or no edit and why nothing fixed it.
pub fn finding(p: &Problem, chosen: &[&Candidate], verified: Option<&'static str>) -> Finding {
    let mut f = p.finding.clone();
    let mut notes = p.notes.clone();
    // In kind order, each kind's lines in the order they were written.
    notes.sort_by_key(|n| n.chars().next());
    match chosen.first() {
        Some(c) => {
            // Only the kinds up to the chosen one explain the choice.
            notes.retain(|n| n.as_bytes().first() <= c.kind.letter().as_bytes().first());
            let mut why = format!("fix kind {}", c.kind.label());
            if !notes.is_empty() {
                why.push_str(&format!("; {}", notes.join("; ")));
            }
            if f.code == "tls-native-unknown" {
                f.code = "tls-native";
            }
            f.message = format!("{} — {why}", f.message);
            let fixes: Vec<String> = chosen
                .iter()
                .map(|c| match &c.code_change {
                    Some(note) => format!("{} — {note}", c.fix),
                    None => c.fix.clone(),
                })
                .collect();
            f.fix = Some(fixes.join("; and "));
            f.file = Some(c.file.clone());
            f.line = c.line;
            f.edit = Some(c.edit.clone());
            f.verified = verified;
        }
        None => {
            if f.code == "tls-native" {
                f.code = "tls-native-unknown";
            }
            f.edit = None;
            if !notes.is_empty() {
                f.message = format!("{} — no verified fix: {}", f.message, notes.join("; "));
            }
        }
    }
    f
}

fn package<'a>(ws: &'a Workspace, name: &str, version: &str) -> Option<&'a Package> {
    tls::attribution::package(&ws.metadata.packages, name, version)
}
