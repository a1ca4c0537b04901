//! `cargo tiny size`: the build, then per binary its owners (from its symbol twin), per image its
//! files, the diff against `--baseline`, the advice and the budget; printed (text, or one JSON message
//! after the build's) and written to `<target-dir>/tiny/size-report.json` and `size-report.html`.
//! Also the budget check at the end of `cargo tiny build` ([`after_build`]).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::budget::Verdict;
use super::model::{BinaryReport, OwnerSymbols, Report, VERSION};
use super::{advice, binary, diff, enforce, html, layer};
use crate::cli::SizeArgs;
use crate::compile::command::{build, Built};
use crate::shell::Shell;

/// `cargo tiny size`: 0, or the budget's failure after the report is written and printed.
pub fn run(args: &SizeArgs, shell: &Shell) -> Result<i32> {
    // A baseline that cannot be read fails before minutes of compiling.
    let baseline = match &args.baseline {
        Some(p) => Some((p.display().to_string(), diff::load(p)?)),
        None => None,
    };
    let built = build(&args.build, shell)?;
    let started = std::time::Instant::now();
    let mut report = Report {
        version: VERSION,
        tool: binary::tool(),
        ..Default::default()
    };
    let mut treemaps = Vec::new();
    for b in &built.binaries {
        let a = binary::analyse(&built.ws, &built.plan, &built.opts.target_dir, b, shell)?;
        report.binaries.push(a.report);
        treemaps.push(a.treemap);
    }
    report.images = images(&built)?;
    if let Some((path, old)) = &baseline {
        report.diff = Some(diff::diff(path, old, &report));
    }
    report.advice = advise(&built, &report.binaries);
    report.budget = built.budgets.verdicts(&report);
    let (json_path, html_path) = write(&built.opts.target_dir, &report, &treemaps)?;
    shell.verbose(
        "Timing",
        format!(
            "size report made {:.0} ms after the build",
            started.elapsed().as_secs_f64() * 1000.0
        ),
    );
    crate::report::size_report(&report, &json_path, &html_path, shell, built.opts.json)?;
    budget_outcome(&report.budget, &report, shell).map(|_| 0)
}

/// The reports of every image the build wrote, with the package each was built from.
fn images(built: &Built) -> Result<Vec<super::model::ImageReport>> {
    let mut out = Vec::new();
    for p in &built.images {
        for mut i in layer::images(&p.tarball)? {
            i.package = p.target.package.clone();
            out.push(i);
        }
    }
    Ok(out)
}

/// The measured advice for every binary.
fn advise(built: &Built, binaries: &[BinaryReport]) -> Vec<advice::Advice> {
    let ws = &built.ws;
    let features = |name: &str, major: &str| -> Option<Vec<String>> {
        let resolve = ws.metadata.resolve.as_ref()?;
        resolve.nodes.iter().find_map(|n| {
            let p = ws.package(&n.id);
            (p.name.as_str() == name && crate::knowledge::major(&p.version.to_string()) == major)
                .then(|| n.features.iter().map(|f| f.to_string()).collect())
        })
    };
    let direct = |package: &str, krate: &str| {
        ws.members().iter().any(|p| {
            p.name.as_str() == package
                && p.dependencies
                    .iter()
                    .any(|d| d.name == krate && d.kind == cargo_metadata::DependencyKind::Normal)
        })
    };
    let facts = advice::Facts {
        features: &features,
        direct: &direct,
        panic_abort: built
            .plan
            .size_profile
            .as_ref()
            .is_some_and(|p| p.panic_abort),
        size_max: built.plan.size_max.is_some(),
    };
    binaries
        .iter()
        .flat_map(|b| advice::advise(b, &facts))
        .collect()
}

/// Writes the JSON and the HTML report (each atomically).
fn write(
    target_dir: &Path,
    report: &Report,
    treemaps: &[Vec<OwnerSymbols>],
) -> Result<(PathBuf, PathBuf)> {
    let dir = target_dir.join("tiny");
    let json_path = dir.join("size-report.json");
    let html_path = dir.join("size-report.html");
    let mut json = serde_json::to_vec_pretty(report)?;
    json.push(b'\n');
    let page = html::render(report, treemaps)?;
    // Both staged before either replaces its file: a failure leaves the last pair.
    let hint = "check that the target directory is writable";
    let stage = |path: &Path, bytes: &[u8]| {
        crate::fsutil::stage(path, crate::fsutil::Mode::Shared, hint, |mut f| {
            Ok(std::io::Write::write_all(&mut f, bytes)?)
        })
    };
    let (j, h) = (
        stage(&json_path, &json)?,
        stage(&html_path, page.as_bytes())?,
    );
    for (tmp, path) in [(j, &json_path), (h, &html_path)] {
        tmp.persist(path)
            .map_err(|e| crate::fsutil::cannot_write(path, e.error, hint))?;
    }
    Ok((json_path, html_path))
}

/// Over budget: the failure naming what is big; within: the headroom.
fn budget_outcome(verdicts: &[Verdict], report: &Report, shell: &Shell) -> Result<()> {
    let over: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok).collect();
    if over.is_empty() {
        crate::report::size_budget(verdicts, shell);
        return Ok(());
    }
    Err(enforce::failure(&over, report, report.diff.as_ref()))
}

/// `cargo tiny build`'s budget check: the sizes it measured against the budgets; over budget, the
/// binaries' owners are found (their twins linked) to name the biggest.
pub fn after_build(built: &Built, shell: &Shell) -> Result<()> {
    if !built.budgets.is_set() {
        return Ok(());
    }
    let mut report = Report {
        version: VERSION,
        binaries: built
            .binaries
            .iter()
            .map(|b| BinaryReport {
                package: b.target.package.clone(),
                version: b.version.clone(),
                bin: b.target.bin.clone(),
                target: b.platform.triple.clone(),
                size: b.size,
                source: "none".into(),
                ..Default::default()
            })
            .collect(),
        images: images(built)?,
        ..Default::default()
    };
    let verdicts = built.budgets.verdicts(&report);
    let over_binaries: Vec<(String, String)> = verdicts
        .iter()
        .filter(|v| !v.ok && v.what == "binary")
        .map(|v| (v.bin.clone(), v.platform.clone()))
        .collect();
    for (i, b) in built.binaries.iter().enumerate() {
        if over_binaries.contains(&(b.target.bin.clone(), b.platform.triple.clone())) {
            report.binaries[i] =
                binary::analyse(&built.ws, &built.plan, &built.opts.target_dir, b, shell)?.report;
        }
    }
    budget_outcome(&verdicts, &report, shell)
}
