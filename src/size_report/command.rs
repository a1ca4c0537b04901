//! `cargo tiny size`: the build, then per binary its owners (from its symbol twin), per image its
//! files, the diff against `--baseline`, the advice and the budget; printed (text, or one JSON message
//! after the build's) and written to `<target-dir>/tiny/size-report.json` and `size-report.html`.
//! Also `cargo tiny build`'s budget check, before the publishers ([`before_publishing`]).

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::budget::Verdict;
use super::model::{BinaryReport, OwnerSymbols, Report, VERSION};
use super::{advice, binary, diff, enforce, html, layer};
use crate::cli::SizeArgs;
use crate::compile::command::{build, Built, OverBudget};
use crate::shell::Shell;

/// `cargo tiny size`: 0, or the budget's failure after the report is written and printed.
pub fn run(args: &SizeArgs, shell: &Shell) -> Result<i32> {
    // A baseline that cannot be read fails before minutes of compiling.
    let baseline = match &args.baseline {
        Some(p) => Some((p.display().to_string(), diff::load(p)?)),
        None => None,
    };
    let built = build(&args.build, shell, OverBudget::Hold)?;
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
    // Over budget, the build pushed and loaded nothing (the tarballs are written): said in the error.
    let held = if built.held && built.images.iter().any(|p| p.publish.len() > 1) {
        "nothing pushed or loaded"
    } else {
        ""
    };
    budget_outcome(&report.budget, &report, held, shell).map(|_| 0)
}

/// The reports of every image the build wrote, with the package each was built from.
fn images(built: &Built) -> Result<Vec<super::model::ImageReport>> {
    images_of(&built.images)
}

fn images_of(
    plans: &[crate::compile::image_plan::ImagePlan],
) -> Result<Vec<super::model::ImageReport>> {
    let mut out = Vec::new();
    for p in plans {
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
fn budget_outcome(verdicts: &[Verdict], report: &Report, held: &str, shell: &Shell) -> Result<()> {
    let over: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok).collect();
    if over.is_empty() {
        crate::report::size_budget(verdicts, shell);
        return Ok(());
    }
    Err(enforce::failure_held(
        &over,
        report,
        report.diff.as_ref(),
        held,
    ))
}

/// `cargo tiny build`'s budget check, run once every tarball is written and before anything is
/// pushed or loaded (or after the compile with `--no-image`): the sizes measured against the
/// budgets; over budget, the binaries' owners are found (their twins linked) and the layers' files
/// read to name the biggest. Within: the verdicts, for the `Budget` lines at the end.
pub fn before_publishing(built: &Measured<'_>, shell: &Shell) -> Result<Vec<Verdict>> {
    let (mut report, verdicts) = measure(built)?;
    let over: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok).collect();
    if over.is_empty() {
        return Ok(verdicts);
    }
    // Over: what is big, found now (a twin linked, a layer decompressed) for the message only.
    if over.iter().any(|v| v.what == "layer") {
        report.images = images_of(built.images)?;
    }
    for (i, b) in built.binaries.iter().enumerate() {
        if over
            .iter()
            .any(|v| v.what == "binary" && v.bin == b.target.bin && v.platform == b.platform.triple)
        {
            report.binaries[i] =
                binary::analyse(built.ws, built.plan, built.target_dir, b, shell)?.report;
        }
    }
    // Said only when a push or a load was asked (as `cargo tiny size` does): the tarball alone is
    // the build's output, and its Image line names it.
    let held = if !built.images.iter().any(|p| p.publish.len() > 1) {
        String::new()
    } else {
        let written: Vec<String> = built
            .images
            .iter()
            .map(|p| crate::fsutil::shown_path(&p.tarball).display().to_string())
            .collect();
        format!(
            "nothing pushed or loaded; written for inspection: {}",
            written.join(", ")
        )
    };
    Err(enforce::failure_held(&over, &report, None, &held))
}

/// The sizes the build measured (binaries, and the layers of the tarballs written) and the
/// budgets' verdicts on them; nothing decompressed, no twin linked.
pub fn measure(built: &Measured<'_>) -> Result<(Report, Vec<Verdict>)> {
    if !built.budgets.is_set() {
        return Ok((Report::default(), Vec::new()));
    }
    let report = Report {
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
        images: layer_sizes(built.images)?,
        ..Default::default()
    };
    let verdicts = built.budgets.verdicts(&report);
    Ok((report, verdicts))
}

/// What the build's budget check measures.
pub struct Measured<'a> {
    pub ws: &'a crate::workspace::Workspace,
    pub plan: &'a crate::compile::plan::Plan,
    pub target_dir: &'a Path,
    pub images: &'a [crate::compile::image_plan::ImagePlan],
    pub binaries: &'a [crate::compile::Binary],
    pub budgets: &'a enforce::Budgets,
}

/// Every image's layer sizes (nothing decompressed), with the package each was built from.
fn layer_sizes(
    plans: &[crate::compile::image_plan::ImagePlan],
) -> Result<Vec<super::model::ImageReport>> {
    let mut out = Vec::new();
    for p in plans {
        for mut i in layer::sizes(&p.tarball)? {
            i.package = p.target.package.clone();
            out.push(i);
        }
    }
    Ok(out)
}
