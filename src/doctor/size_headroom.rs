//! The `size-budget` check: each bin with a budget, measured on what the last `cargo tiny build`
//! left (the binary under `<target-dir>/<triple>/release/`, the tarball `<target-dir>/tiny/<name>.tar`):
//! the headroom as an info, a budget already exceeded as a warning. Nothing is built.

use super::findings::{Finding, Severity};
use crate::config::{self, Overrides, Source};
use crate::shell::human_size;
use crate::size_report::budget::Verdict;
use crate::workspace::{bin_targets, Workspace};

pub fn check(ws: &Workspace, target: &str) -> Vec<Finding> {
    let root = ws.root_manifest();
    let mut out = Vec::new();
    for pkg in ws.members() {
        let Ok(cfg) = config::resolve(&Source::of_package(ws, pkg, &root), &Overrides::default())
        else {
            continue; // the build reports a bad configuration, with its key and file
        };
        let budget = cfg.size_budget;
        if !budget.is_set() {
            continue;
        }
        let text = std::fs::read_to_string(&pkg.manifest_path).unwrap_or_default();
        let line = super::spans::key_line(&text, &["package", "metadata", "tiny", "size-budget"]);
        for t in bin_targets(pkg) {
            let bin = t.name.as_str();
            let binary = ws.target_dir().join(target).join("release").join(bin);
            let name = cfg
                .name
                .clone()
                .unwrap_or_else(|| crate::reference::name_from_bin(bin));
            let file = name.rsplit('/').next().unwrap_or(&name).to_string();
            let tarball = ws.target_dir().join("tiny").join(format!("{file}.tar"));
            let mut verdicts = Vec::new();
            let mut missing = Vec::new();
            if let Some(limit) = budget.binary {
                match std::fs::metadata(&binary) {
                    Ok(m) => verdicts.push(Verdict::new(
                        &pkg.name,
                        bin,
                        target,
                        "binary",
                        limit,
                        m.len(),
                    )),
                    Err(_) => missing.push(binary.to_string()),
                }
            }
            if let Some(limit) = budget.layer {
                match crate::size_report::layer::sizes(tarball.as_std_path()) {
                    Ok(images) => verdicts.extend(images.iter().map(|i| {
                        Verdict::new(
                            &pkg.name,
                            bin,
                            &i.platform,
                            &format!("layer {}", i.platform),
                            limit,
                            i.compressed_size,
                        )
                    })),
                    Err(_) => missing.push(tarball.to_string()),
                }
            }
            let over = verdicts.iter().any(|v| !v.ok);
            let mut parts: Vec<String> = verdicts.iter().map(Verdict::describe).collect();
            if !missing.is_empty() {
                parts.push(format!("not built yet: {}", missing.join(", ")));
            }
            let limits: Vec<String> = [("layer", budget.layer), ("binary", budget.binary)]
                .iter()
                .filter_map(|(k, v)| Some(format!("{k} {}", human_size((*v)?))))
                .collect();
            out.push(Finding {
                code: "size-budget",
                severity: if over {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                message: format!(
                    "bin `{bin}` has a size budget ({}): {} (measured on the last build's files)",
                    limits.join(", "),
                    parts.join(", ")
                ),
                path: Vec::new(),
                fix: Some(if over {
                    "`cargo tiny size` shows what every crate and file costs".into()
                } else if !missing.is_empty() {
                    "cargo tiny build".into()
                } else {
                    "`cargo tiny size --baseline` shows what grew since an earlier report".into()
                }),
                file: Some(pkg.manifest_path.to_string()),
                line,
                edit: None,
                verified: None,
            });
        }
    }
    out
}
