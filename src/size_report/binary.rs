//! One binary's report: its twin linked (or the last analysis of the very same bytes reused), the
//! owners named, every byte attributed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::elf;
use super::model::{BinaryReport, OwnerRow, OwnerSymbols, SymbolRow};
use super::owners::{Graph, Kind, NativeSymbols, Owner, Owners};
use super::twin;
use crate::compile::plan::Plan;
use crate::compile::Binary;
use crate::shell::Shell;
use crate::workspace::Workspace;

/// How many symbols per owner the treemap shows, and how many the report lists.
const TREEMAP_SYMBOLS: usize = 150;
const TOP_SYMBOLS: usize = 30;

/// The analysis of one binary, as kept between runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Analysis {
    pub report: BinaryReport,
    pub treemap: Vec<OwnerSymbols>,
    /// The cargo-tiny that made it (an analysis of an older one is made again).
    tool: String,
}

/// `<target-dir>/tiny/size/<triple>/<bin>.json`: the last analysis of this binary. A hint: used only
/// when the binary's sha256 and cargo-tiny's version are the same.
fn record_path(target_dir: &Path, b: &Binary) -> PathBuf {
    target_dir
        .join("tiny/size")
        .join(&b.platform.triple)
        .join(format!("{}.{}.json", b.target.package, b.target.bin))
}

/// Bumped whenever the analysis changes what it finds, so that records of an older one are not reused.
const ANALYSIS: u32 = 1;

pub fn tool() -> String {
    format!(
        "cargo-tiny {} (analysis {ANALYSIS})",
        env!("CARGO_PKG_VERSION")
    )
}

/// The report of `b`: reused when the last one describes the same bytes, else from a new twin.
pub fn analyse(
    ws: &Workspace,
    plan: &Plan,
    target_dir: &Path,
    b: &Binary,
    shell: &Shell,
) -> Result<Analysis> {
    let stripped = std::fs::read(&b.path)?;
    let sha256 = crate::image::sha256(&stripped);
    let record = record_path(target_dir, b);
    if let Some(a) = std::fs::read(&record)
        .ok()
        .and_then(|d| serde_json::from_slice::<Analysis>(&d).ok())
        .filter(|a| a.report.sha256 == sha256 && a.tool == tool())
    {
        shell.verbose(
            "Symbols",
            format!(
                "{}: unchanged since the last report ({})",
                b.target.bin,
                record.display()
            ),
        );
        return Ok(a);
    }
    let t = plan
        .targets
        .iter()
        .find(|t| t.target == b.platform)
        .ok_or_else(|| anyhow::anyhow!("no plan for {}", b.platform.triple))?;
    let started = std::time::Instant::now();
    let twin = twin::link(plan, t, b)?;
    shell.status(
        "Symbols",
        format!(
            "{}: linked again with its symbols kept, in {:.1}s",
            b.target.bin,
            started.elapsed().as_secs_f64()
        ),
    );
    let in_binary: Vec<(String, String)> = b
        .exact
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.to_string()))
        .collect();
    let graph = Graph::new(&ws.metadata.packages, &in_binary, &b.target.package);
    let native = native_symbols(ws, plan, b, &twin.rlibs);
    let mut owners = Owners::new(&graph, &native);
    let attribution = elf::attribute(&twin.bytes, &stripped, &mut owners)?;
    let a = Analysis {
        report: report(b, sha256, &owners.list, &attribution),
        treemap: treemap(&owners.list, &attribution),
        tool: tool(),
    };
    // A record that cannot be written costs the next run a twin, nothing else.
    if let Ok(json) = serde_json::to_vec(&a) {
        let _ = crate::fsutil::write_atomic(&record, &json);
    }
    Ok(a)
}

/// C objects' symbols: those of the graph's C-compiling crates (in their rlibs), musl's libc and
/// start files, LLVM's libunwind, compiler-rt's builtins.
fn native_symbols(
    ws: &Workspace,
    plan: &Plan,
    b: &Binary,
    rlibs: &[(
        cargo_metadata::PackageId,
        cargo_metadata::camino::Utf8PathBuf,
    )],
) -> NativeSymbols {
    let mut native = NativeSymbols::default();
    let c_crates = crate::compile::c_code_crates(ws);
    let triple = &b.platform.triple;
    for (id, path) in rlibs {
        let pkg = ws.package(id);
        let for_target = path.components().any(|c| c.as_str() == triple);
        if for_target && c_crates.iter().any(|c| *c == pkg.name.as_str()) {
            native.add_archive(
                path.as_std_path(),
                &Owner {
                    name: pkg.name.to_string(),
                    kind: Kind::Crate,
                    versions: vec![pkg.version.to_string()],
                },
            );
        }
    }
    if let Some(dir) = twin::runtime_dir(plan, triple) {
        let libc = Owner {
            name: "musl libc".into(),
            kind: Kind::Libc,
            versions: Vec::new(),
        };
        native.add_archive(&dir.join("libc.a"), &libc);
        for crt in [
            "rcrt1.o",
            "crt1.o",
            "Scrt1.o",
            "crti.o",
            "crtn.o",
            "crtbeginS.o",
            "crtendS.o",
        ] {
            native.add_object(&dir.join(crt), &libc);
        }
        native.add_archive(
            &dir.join("libunwind.a"),
            &Owner {
                name: "libunwind".into(),
                kind: Kind::Std,
                versions: Vec::new(),
            },
        );
        // compiler-rt's C builtins (outline atomics, soft float) ride in compiler_builtins' rlib.
        let builtins = Owner {
            name: "compiler_builtins".into(),
            kind: Kind::Std,
            versions: Vec::new(),
        };
        let lib = dir.parent().map(Path::to_path_buf).unwrap_or_default();
        for entry in std::fs::read_dir(&lib).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("libcompiler_builtins-") && name.ends_with(".rlib") {
                native.add_archive(&entry.path(), &builtins);
            }
        }
    }
    native
}

fn report(b: &Binary, sha256: String, owners: &[Owner], a: &elf::Attribution) -> BinaryReport {
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for s in &a.symbols {
        *counts.entry(s.owner).or_default() += 1;
    }
    let mut rows: Vec<OwnerRow> = a
        .shares
        .iter()
        .map(|(&o, share)| OwnerRow {
            name: owners[o].name.clone(),
            kind: owners[o].kind,
            versions: owners[o].versions.clone(),
            size: share.total(),
            share: *share,
            symbols: counts.get(&o).copied().unwrap_or(0),
        })
        .filter(|r| r.size > 0)
        .collect();
    rows.sort_by(|x, y| y.size.cmp(&x.size).then(x.name.cmp(&y.name)));
    let mut syms: Vec<&elf::Symbol> = a.symbols.iter().collect();
    syms.sort_by(|x, y| y.size.cmp(&x.size).then(x.name.cmp(&y.name)));
    BinaryReport {
        package: b.target.package.clone(),
        version: b.version.clone(),
        bin: b.target.bin.clone(),
        target: b.platform.triple.clone(),
        size: a.file_size,
        sha256,
        source: "twin".into(),
        attributed: rows
            .iter()
            .filter(|r| r.kind != Kind::Unattributed)
            .map(|r| r.size)
            .sum(),
        owners: rows,
        top_symbols: syms
            .iter()
            .take(TOP_SYMBOLS)
            .map(|s| SymbolRow {
                name: s.name.clone(),
                owner: owners[s.owner].name.clone(),
                size: s.size,
                code: s.code,
            })
            .collect(),
    }
}

/// Per owner, its biggest symbols and the rest.
fn treemap(owners: &[Owner], a: &elf::Attribution) -> Vec<OwnerSymbols> {
    let mut by_owner: BTreeMap<usize, Vec<&elf::Symbol>> = BTreeMap::new();
    for s in &a.symbols {
        by_owner.entry(s.owner).or_default().push(s);
    }
    a.shares
        .iter()
        .filter(|(_, s)| s.total() > 0)
        .map(|(&o, share)| {
            let mut syms = by_owner.remove(&o).unwrap_or_default();
            syms.sort_by(|x, y| y.size.cmp(&x.size).then(x.name.cmp(&y.name)));
            syms.truncate(TREEMAP_SYMBOLS);
            let listed: u64 = syms.iter().map(|s| s.size).sum();
            OwnerSymbols {
                owner: owners[o].name.clone(),
                symbols: syms.iter().map(|s| (s.name.clone(), s.size)).collect(),
                rest: share.total().saturating_sub(listed),
            }
        })
        .collect()
}
