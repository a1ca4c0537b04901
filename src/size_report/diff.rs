//! `--baseline OLD`: what grew and shrank since an earlier report (its JSON) or image tarball.
//!
//! Binaries are matched by bin and target, images by bin and platform. A tarball gives the image's
//! files and its binary's size, not the binary's owners: the diff then has the totals only.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use super::model::{BinaryReport, ImageReport, Report, VERSION};
use crate::error::Failure;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Diff {
    /// The baseline as given.
    pub baseline: String,
    /// The cargo-tiny that made the baseline, when it is not this one (empty for a tarball).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub baseline_tool: String,
    pub binaries: Vec<BinaryDiff>,
    pub images: Vec<ImageDiff>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinaryDiff {
    pub bin: String,
    pub target: String,
    /// `None`: the binary is new (or gone) since the baseline.
    pub old: Option<u64>,
    pub new: Option<u64>,
    pub delta: i64,
    /// Largest growth first, then the largest shrink; unchanged owners left out. Empty when the
    /// baseline has no owners (a tarball).
    pub owners: Vec<Delta>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageDiff {
    pub bin: String,
    pub platform: String,
    pub old: Option<u64>,
    pub new: Option<u64>,
    /// Of the compressed layer.
    pub delta: i64,
    pub files: Vec<Delta>,
}

/// One row's change, in bytes (compressed bytes for an image's files).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Delta {
    pub name: String,
    pub old: u64,
    pub new: u64,
    pub delta: i64,
}

/// Reads a baseline: a report (`.json`) or an image tarball.
pub fn load(path: &Path) -> Result<Report> {
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::new(format!("cannot read the baseline {}: {e}", path.display())).hint(
            "pass a size report (target/tiny/size-report.json) or an image tarball from an earlier build",
        )
    })?;
    if bytes.first() == Some(&b'{') {
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            Failure::new(format!("the baseline {} is not JSON: {e}", path.display()))
                .hint("pass the size-report.json an earlier `cargo tiny size` wrote")
        })?;
        let version = v["version"].as_u64().unwrap_or(0);
        if version != u64::from(VERSION) {
            crate::fail!(
                hint = "make the baseline again with this cargo-tiny, or pass its image tarball instead",
                "the baseline {} is a size report of version {version}, this cargo-tiny reads version {VERSION}",
                path.display()
            );
        }
        return serde_json::from_value(v).map_err(|e| {
            Failure::new(format!(
                "the baseline {} is not a size report: {e}",
                path.display()
            ))
            .hint("pass the size-report.json an earlier `cargo tiny size` wrote")
            .into()
        });
    }
    let images = super::layer::images(path).map_err(|e| {
        Failure::new(format!(
            "the baseline {} is neither a size report nor an image tarball ({})",
            path.display(),
            crate::error::report(&e).1
        ))
        .hint("pass the size-report.json an earlier `cargo tiny size` wrote, or an image tarball")
    })?;
    // The binary's size, from the layer.
    let binaries = images
        .iter()
        .filter_map(|i| {
            let f = i.files.iter().find(|f| f.kind == "binary")?;
            Some(BinaryReport {
                bin: i.bin.clone(),
                target: triple_of(&i.platform),
                size: f.size,
                source: "none".into(),
                ..Default::default()
            })
        })
        .collect();
    Ok(Report {
        version: VERSION,
        binaries,
        images,
        ..Default::default()
    })
}

/// The triple of a platform cargo-tiny builds (`linux/arm64` → aarch64 musl).
fn triple_of(platform: &str) -> String {
    crate::target::Target::from_platform(platform)
        .map(|t| t.triple)
        .unwrap_or_else(|_| platform.to_string())
}

/// The differences from `old` to `new`.
pub fn diff(baseline: &str, old: &Report, new: &Report) -> Diff {
    let mut out = Diff {
        baseline: baseline.to_string(),
        baseline_tool: match old.binaries.iter().any(|b| !b.owners.is_empty()) {
            true if old.tool.is_empty() => "an older cargo-tiny".into(),
            true if old.tool != new.tool => old.tool.clone(),
            _ => String::new(),
        },
        ..Default::default()
    };
    for b in &new.binaries {
        let o = old
            .binaries
            .iter()
            .find(|o| o.bin == b.bin && o.target == b.target);
        out.binaries.push(binary(o, Some(b)));
    }
    for o in &old.binaries {
        if !new
            .binaries
            .iter()
            .any(|b| o.bin == b.bin && o.target == b.target)
        {
            out.binaries.push(binary(Some(o), None));
        }
    }
    for i in &new.images {
        let o = old
            .images
            .iter()
            .find(|o| o.bin == i.bin && o.platform == i.platform);
        out.images.push(image(o, Some(i)));
    }
    for o in &old.images {
        if !new
            .images
            .iter()
            .any(|i| o.bin == i.bin && o.platform == i.platform)
        {
            out.images.push(image(Some(o), None));
        }
    }
    out
}

fn binary(old: Option<&BinaryReport>, new: Option<&BinaryReport>) -> BinaryDiff {
    let any = new.or(old).expect("one side");
    let owners = match (old, new) {
        (Some(o), Some(n)) if !o.owners.is_empty() && !n.owners.is_empty() => deltas(
            o.owners.iter().map(|r| (r.name.as_str(), r.size)),
            n.owners.iter().map(|r| (r.name.as_str(), r.size)),
        ),
        _ => Vec::new(),
    };
    BinaryDiff {
        bin: any.bin.clone(),
        target: any.target.clone(),
        old: old.map(|b| b.size),
        new: new.map(|b| b.size),
        delta: signed(new.map_or(0, |b| b.size), old.map_or(0, |b| b.size)),
        owners,
    }
}

fn image(old: Option<&ImageReport>, new: Option<&ImageReport>) -> ImageDiff {
    let any = new.or(old).expect("one side");
    let files = |i: Option<&ImageReport>| -> Vec<(String, u64)> {
        i.map(|i| {
            i.files
                .iter()
                .map(|f| (f.path.clone(), f.compressed))
                .collect()
        })
        .unwrap_or_default()
    };
    let (of, nf) = (files(old), files(new));
    ImageDiff {
        bin: any.bin.clone(),
        platform: any.platform.clone(),
        old: old.map(|i| i.compressed_size),
        new: new.map(|i| i.compressed_size),
        delta: signed(
            new.map_or(0, |i| i.compressed_size),
            old.map_or(0, |i| i.compressed_size),
        ),
        files: deltas(
            of.iter().map(|(n, s)| (n.as_str(), *s)),
            nf.iter().map(|(n, s)| (n.as_str(), *s)),
        ),
    }
}

fn signed(new: u64, old: u64) -> i64 {
    new as i64 - old as i64
}

/// Per name, old and new (0 when absent); growth first, biggest first; unchanged rows left out.
fn deltas<'a>(
    old: impl Iterator<Item = (&'a str, u64)>,
    new: impl Iterator<Item = (&'a str, u64)>,
) -> Vec<Delta> {
    let mut rows: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (n, s) in old {
        rows.entry(n).or_default().0 += s;
    }
    for (n, s) in new {
        rows.entry(n).or_default().1 += s;
    }
    let mut out: Vec<Delta> = rows
        .into_iter()
        .filter(|(_, (o, n))| o != n)
        .map(|(name, (old, new))| Delta {
            name: name.to_string(),
            old,
            new,
            delta: signed(new, old),
        })
        .collect();
    out.sort_by(|a, b| b.delta.cmp(&a.delta).then(a.name.cmp(&b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_report::model::OwnerRow;

    fn bin(owners: &[(&str, u64)]) -> BinaryReport {
        BinaryReport {
            bin: "api".into(),
            target: "x86_64-unknown-linux-musl".into(),
            size: owners.iter().map(|o| o.1).sum(),
            owners: owners
                .iter()
                .map(|(n, s)| OwnerRow {
                    name: n.to_string(),
                    size: *s,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn growth_first_new_crates_included_unchanged_left_out() {
        let old = Report {
            binaries: vec![bin(&[("std", 100), ("serde", 50), ("gone", 10)])],
            ..Default::default()
        };
        let new = Report {
            binaries: vec![bin(&[("std", 100), ("serde", 40), ("regex", 300)])],
            ..Default::default()
        };
        let d = diff("old.json", &old, &new);
        assert_eq!(d.binaries[0].delta, 280);
        let names: Vec<(&str, i64)> = d.binaries[0]
            .owners
            .iter()
            .map(|o| (o.name.as_str(), o.delta))
            .collect();
        assert_eq!(names, [("regex", 300), ("gone", -10), ("serde", -10)]);
    }
}
