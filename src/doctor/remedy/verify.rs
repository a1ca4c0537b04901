//! Verification by the graph: a set of candidate edits written into the workspace copy, cargo's
//! metadata and feature-resolved graph of it read back, and what is left: the problems that are
//! still errors, and every path that exists (to judge whether a fix opens or re-opens one).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::Result;

use super::Candidate;
use crate::doctor::findings::{Finding, Severity};
use crate::doctor::graph::{self, Graph};
use crate::doctor::native::{self, NativeIssue};
use crate::doctor::options::DoctorOptions;
use crate::doctor::sandbox::Sandbox;
use crate::doctor::tls::{self, Route};
use crate::workspace::Workspace;

/// The workspace (or its copy with some edits) as doctor sees it.
pub struct Analysis {
    pub ws: Workspace,
    pub graph: Graph,
    /// The tls routes and native crates, each with its problem key.
    pub tls: Vec<(String, Finding, Option<Route>)>,
    pub native: Vec<(String, Finding, NativeIssue)>,
}

impl Analysis {
    /// Reads the copy as it is now (`resolve`: the user's flags for the first read, relaxed ones
    /// once edits may add packages).
    pub fn read(sandbox: &Sandbox, opts: &DoctorOptions, relaxed: bool) -> Result<Analysis> {
        let mut load = opts.load_options(None);
        if relaxed {
            load.resolve = opts.relaxed_resolve();
        }
        let ws = sandbox.load(&load)?;
        let graph = graph::resolve(&ws, sandbox, opts, &load.resolve)?;
        let kb = &crate::knowledge::get().tls;
        let tls = tls::routes(&ws, &graph, kb)
            .into_iter()
            .map(|(f, r)| (tls::key(&f, r.as_ref()), f, r))
            .collect();
        let native = native::check(&ws, &graph)
            .into_iter()
            .map(|(f, i)| (native::key(&i.krate), f, i))
            .collect();
        Ok(Analysis {
            ws,
            graph,
            tls,
            native,
        })
    }

    /// Problem keys that are errors.
    pub fn errors(&self) -> BTreeSet<String> {
        let tls = self.tls.iter().map(|(k, f, _)| (k, f));
        let native = self.native.iter().map(|(k, f, _)| (k, f));
        tls.chain(native)
            .filter(|(_, f)| f.severity == Severity::Error)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Every path to native TLS (vendored ones too) and every native crate that blocks the build
    /// (not the ones doctor only cannot vouch for).
    pub fn paths(&self) -> BTreeSet<String> {
        let tls = self.tls.iter().map(|(k, _, _)| k.clone());
        let native = self
            .native
            .iter()
            .filter(|(_, f, _)| f.severity == Severity::Error)
            .map(|(k, _, _)| k.clone());
        tls.chain(native).collect()
    }
}

/// The new text of every manifest `set` edits (user path → (old, new)), the edits applied in order.
pub fn texts(set: &[&Candidate]) -> Result<BTreeMap<String, (String, String)>> {
    crate::doctor::fix::plan_edits(set.iter().map(|c| (c.file.as_str(), &c.edit)))
}

/// Writes `set` into the copy (over the user's manifests and lockfile) and reads it back.
pub fn analyse(sandbox: &Sandbox, opts: &DoctorOptions, set: &[&Candidate]) -> Result<Analysis> {
    let plan = texts(set)?;
    let texts: BTreeMap<PathBuf, String> = plan
        .into_iter()
        .map(|(f, (_, new))| (PathBuf::from(f), new))
        .collect();
    sandbox.write(&texts)?;
    Analysis::read(sandbox, opts, !set.is_empty())
}
