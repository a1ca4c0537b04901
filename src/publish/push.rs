//! The registry publisher: where each image goes ([`PushPlan`]) and the settings every push of a run
//! shares ([`Settings`]: CA roots, plain-HTTP hosts, where credentials are found), all planned from
//! plain values and checked before anything is compiled — no command line here; then [`Registry`],
//! the [`Publisher`] that pushes through one [`Session`] per registry host.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::Result;

use super::credentials::{self, Env};
use super::registry::{Reach, Session};
use super::{Published, Publisher, Pushed};
use crate::error::Failure;
use crate::image::Built;
use crate::reference::{self, Destination};
use crate::shell::Shell;

/// The registry settings of a push, as given (`--tag`, `--registry-ca`, `--insecure-registry`).
#[derive(Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Extra tags, besides the image's own and `tags = [...]`.
    pub tags: Vec<String>,
    pub registry_ca: Vec<PathBuf>,
    pub insecure_registry: Vec<String>,
}

/// Blob uploads in flight at once.
const JOBS: usize = 4;

/// Where one image goes: its destination, and every tag it is written under (the destination's own
/// first, then `tags = [...]`, then `--tag`, each once).
#[derive(Debug, Clone)]
pub struct PushPlan {
    pub dest: Destination,
    pub tags: Vec<String>,
}

/// The push plan of an image named `name:tag`, with the metadata's `tags` and the command line's.
pub fn plan(
    name: &str,
    tag: &str,
    config_tags: &[String],
    flags: &RegistryFlags,
) -> Result<PushPlan> {
    let dest = reference::destination(name, tag)?;
    let mut tags = vec![dest.tag.clone()];
    for t in &flags.tags {
        reference::check_tag(t)
            .map_err(|w| Failure::new(format!("--tag: {w}")).hint(reference::TAG_HINT))?;
    }
    for t in config_tags.iter().chain(&flags.tags) {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    Ok(PushPlan { dest, tags })
}

/// What every push of a run shares, read and checked when planned.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The `--registry-ca` files' PEM bundles, each holding a certificate.
    pub roots: Vec<Vec<u8>>,
    /// Hosts reached over plain HTTP (`--insecure-registry`).
    pub insecure: Vec<String>,
    /// Where credential files are looked for.
    pub env: Env,
    /// Blob uploads in flight at once.
    pub jobs: usize,
}

impl Settings {
    /// Reads every `--registry-ca` file now: a missing or non-PEM one fails before compiling.
    pub fn new(flags: &RegistryFlags, env: Env) -> Result<Settings> {
        let mut roots = Vec::new();
        for f in &flags.registry_ca {
            let data = std::fs::read(f).map_err(|e| {
                Failure::new(format!("cannot read --registry-ca {}: {e}", f.display()))
                    .hint("pass the PEM file of the CA that signed the registry's certificate")
            })?;
            if reqwest::Certificate::from_pem_bundle(&data).map_or(true, |c| c.is_empty()) {
                crate::fail!(
                    hint = "pass a PEM file (-----BEGIN CERTIFICATE-----)",
                    "--registry-ca {} holds no PEM certificate",
                    f.display()
                );
            }
            roots.push(data);
        }
        Ok(Settings {
            roots,
            insecure: flags.insecure_registry.clone(),
            env,
            jobs: JOBS,
        })
    }
}

/// Every push of a run: the settings, one runtime, and one [`Session`] per registry host, made at
/// the first push to it. The credential files are read for every host when planned.
pub struct Registries {
    settings: Settings,
    credentials: HashMap<String, credentials::Lookup>,
    runtime: tokio::runtime::Runtime,
    sessions: RefCell<HashMap<String, Rc<Session>>>,
}

impl Registries {
    /// The pushes to `hosts`: their credential files read now (an unparsable one fails here).
    pub fn new<'a>(
        settings: Settings,
        hosts: impl IntoIterator<Item = &'a str>,
    ) -> Result<Registries> {
        let mut found = HashMap::new();
        for host in hosts {
            if !found.contains_key(host) {
                found.insert(host.to_string(), credentials::find(&settings.env, host)?);
            }
        }
        Ok(Registries {
            settings,
            credentials: found,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
            sessions: RefCell::new(HashMap::new()),
        })
    }

    /// Pushes `built` as `plan` says.
    pub fn push(&self, built: &Built, plan: &PushPlan, shell: &Shell) -> Result<Pushed> {
        let host = &plan.dest.host;
        let session = self.session(host)?;
        self.runtime.block_on(session.push(
            built,
            &plan.dest,
            &plan.tags,
            self.settings.jobs,
            shell,
        ))
    }

    fn session(&self, host: &str) -> Result<Rc<Session>> {
        if let Some(s) = self.sessions.borrow().get(host) {
            return Ok(s.clone());
        }
        let creds = match self.credentials.get(host) {
            Some(found) => found.credentials(host)?,
            None => credentials::find(&self.settings.env, host)?.credentials(host)?,
        };
        let reach = Reach {
            roots: &self.settings.roots,
            insecure: self.settings.insecure.iter().any(|h| h == host),
            jobs: self.settings.jobs,
        };
        let session = Rc::new(self.runtime.block_on(Session::new(host, &reach, creds))?);
        self.sessions
            .borrow_mut()
            .insert(host.to_string(), session.clone());
        Ok(session)
    }

    /// Warnings about the credential files read (ones others may read).
    pub fn warnings(&self) -> Vec<String> {
        let mut v: Vec<String> = Vec::new();
        for w in self.credentials.values().flat_map(|l| &l.warnings) {
            if !v.contains(w) {
                v.push(w.clone());
            }
        }
        v.sort();
        v
    }

    /// How many sessions were opened (one per host pushed to).
    pub fn sessions(&self) -> usize {
        self.sessions.borrow().len()
    }
}

/// The registry publisher: the result to the plan's destination, through the run's session of its
/// host.
pub struct Registry<'a> {
    pub registries: &'a Registries,
    pub plan: &'a PushPlan,
    pub shell: &'a Shell,
}

impl Publisher for Registry<'_> {
    fn publish(&self, built: &Built) -> Result<Published> {
        Ok(Published::Registry(
            self.registries.push(built, self.plan, self.shell)?,
        ))
    }
}
