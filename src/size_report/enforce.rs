//! Holding a build to its size budget: the budgets resolved before anything is compiled, the
//! verdicts after, and the one-line failure that names what is big (and what grew).

use anyhow::Result;

use super::budget::Verdict;
use super::diff::Diff;
use super::model::{Kind, Report};
use crate::compile::plan::BinTarget;
use crate::config::{self, Overrides, Source};
use crate::error::Failure;
use crate::settings::SizeBudget;
use crate::shell::human_size;
use crate::workspace::Workspace;

/// Per package, its budget (`[*.metadata.tiny]` with the command line's over it).
#[derive(Debug, Clone, Default)]
pub struct Budgets {
    by_package: Vec<(String, SizeBudget)>,
}

impl Budgets {
    /// The budgets of the packages of `bins`; a bad `size-budget` fails here, before compiling.
    pub fn resolve(
        ws: &Workspace,
        bins: &[BinTarget],
        flag: Option<SizeBudget>,
    ) -> Result<Budgets> {
        let root = ws.root_manifest();
        let mut by_package: Vec<(String, SizeBudget)> = Vec::new();
        for b in bins {
            if by_package.iter().any(|(p, _)| *p == b.package) {
                continue;
            }
            let pkg = ws.package(&b.package_id);
            let cfg = config::resolve(&Source::of_package(ws, pkg, &root), &Overrides::default())?;
            let budget = match flag {
                Some(f) => cfg.size_budget.merged(f),
                None => cfg.size_budget,
            };
            by_package.push((b.package.clone(), budget));
        }
        Ok(Budgets { by_package })
    }

    pub fn is_set(&self) -> bool {
        self.by_package.iter().any(|(_, b)| b.is_set())
    }

    fn of(&self, package: &str) -> SizeBudget {
        self.by_package
            .iter()
            .find(|(p, _)| p == package)
            .map(|(_, b)| *b)
            .unwrap_or_default()
    }

    /// Every limit against what `report` measured (binaries, and each image platform's layer).
    pub fn verdicts(&self, report: &Report) -> Vec<Verdict> {
        let mut out = Vec::new();
        for b in &report.binaries {
            if let Some(limit) = self.of(&b.package).binary {
                out.push(Verdict::new(
                    &b.package, &b.bin, &b.target, "binary", limit, b.size,
                ));
            }
        }
        for i in &report.images {
            if let Some(limit) = self.of(&i.package).layer {
                out.push(Verdict::new(
                    &i.package,
                    &i.bin,
                    &i.platform,
                    "layer",
                    limit,
                    i.compressed_size,
                ));
            }
        }
        out
    }
}

/// The failure for the verdicts that are over: each with its biggest contributors (crates of the
/// binary, files of the layer) and, with a baseline, what grew since.
pub fn failure(over: &[&Verdict], report: &Report, diff: Option<&Diff>) -> anyhow::Error {
    failure_held(over, report, diff, "")
}

/// [`failure`], saying what was held back (`held`: e.g. "nothing pushed or loaded; …"; empty: nothing).
pub fn failure_held(
    over: &[&Verdict],
    report: &Report,
    diff: Option<&Diff>,
    held: &str,
) -> anyhow::Error {
    let mut parts = Vec::new();
    for v in over {
        let mut s = format!("{} {}", v.bin, v.describe());
        let (biggest, grew) = if v.what == "binary" {
            let biggest: Vec<String> = report
                .binaries
                .iter()
                .find(|b| b.bin == v.bin && b.target == v.platform)
                .map(|b| {
                    b.owners
                        .iter()
                        .filter(|o| o.kind != Kind::Unattributed)
                        .take(3)
                        .map(|o| format!("{} {}", o.name, human_size(o.size)))
                        .collect()
                })
                .unwrap_or_default();
            let grew = diff.and_then(|d| {
                let b = d
                    .binaries
                    .iter()
                    .find(|b| b.bin == v.bin && b.target == v.platform)?;
                Some((
                    b.delta,
                    top_growth(b.owners.iter().map(|o| (&o.name, o.delta))),
                ))
            });
            (biggest, grew)
        } else {
            let biggest: Vec<String> = report
                .images
                .iter()
                .find(|i| i.bin == v.bin && i.platform == v.platform)
                .map(|i| {
                    i.files
                        .iter()
                        .take(3)
                        .map(|f| format!("{} {}", f.path, human_size(f.compressed)))
                        .collect()
                })
                .unwrap_or_default();
            let grew = diff.and_then(|d| {
                let i = d
                    .images
                    .iter()
                    .find(|i| i.bin == v.bin && i.platform == v.platform)?;
                Some((
                    i.delta,
                    top_growth(i.files.iter().map(|f| (&f.name, f.delta))),
                ))
            });
            (biggest, grew)
        };
        if !biggest.is_empty() {
            s.push_str(&format!("; biggest: {}", biggest.join(", ")));
        }
        if let Some((delta, top)) = grew {
            s.push_str(&format!("; {} since the baseline", signed(delta)));
            if !top.is_empty() {
                s.push_str(&format!(" ({})", top.join(", ")));
            }
        }
        parts.push(s);
    }
    let mut message = format!("over the size budget: {}", parts.join(" — "));
    if !held.is_empty() {
        message.push_str(&format!(" ({held})"));
    }
    Failure::new(super::text::printable(&message))
        .hint("`cargo tiny size` shows what every crate and file costs; raise `size-budget` in [package.metadata.tiny] (or --size-budget) to allow it")
        .into()
}

fn top_growth<'a>(rows: impl Iterator<Item = (&'a String, i64)>) -> Vec<String> {
    rows.filter(|(_, d)| *d > 0)
        .take(3)
        .map(|(n, d)| format!("{n} {}", signed(d)))
        .collect()
}

/// `+300.0 KiB` / `-12.0 KiB`.
pub fn signed(delta: i64) -> String {
    let sign = if delta < 0 { '-' } else { '+' };
    format!("{sign}{}", human_size(delta.unsigned_abs()))
}
