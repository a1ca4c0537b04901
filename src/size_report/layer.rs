//! An image tarball's layers: every file, its size, and its share of the compressed layer.
//!
//! The layer is one compressed stream, so a file's share is an estimate: each file's tar entry is
//! compressed alone with the layer's algorithm (gzip for gzip-max: zopfli would take seconds), and the
//! estimates are scaled so that they add up to the layer's real compressed size.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::Value;

use super::model::{FileRow, ImageReport};
use crate::image::{Blob, CA_BUNDLE_PATH};

/// The reports of every platform image in the tarball at `path`.
pub fn images(path: &Path) -> Result<Vec<ImageReport>> {
    read(path, true)
}

/// The same, layer sizes only (no files: nothing decompressed).
pub fn sizes(path: &Path) -> Result<Vec<ImageReport>> {
    read(path, false)
}

fn read(path: &Path, with_files: bool) -> Result<Vec<ImageReport>> {
    let loaded = crate::publish::layout::read(path)?;
    let reference = loaded.reference.clone().unwrap_or_default();
    let mut out = Vec::new();
    for image in &loaded.built.images {
        let config: Value = serde_json::from_slice(&image.config.data).context("image config")?;
        let platform = image.platform.platform();
        let entrypoint = config["config"]["Entrypoint"][0]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let bin = entrypoint
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        for layer in &image.layers {
            let (files, uncompressed, algo) = if with_files {
                files(layer, &entrypoint)?
            } else {
                (Vec::new(), 0, "")
            };
            out.push(ImageReport {
                image: reference.clone(),
                package: String::new(),
                bin: bin.clone(),
                platform: platform.clone(),
                path: path.display().to_string(),
                compression: algo.into(),
                compressed_size: layer.size(),
                uncompressed_size: uncompressed,
                files,
            });
        }
    }
    Ok(out)
}

/// The files of one layer blob, with their estimated compressed shares; the tar's size; the algorithm.
fn files(layer: &Blob, entrypoint: &str) -> Result<(Vec<FileRow>, u64, &'static str)> {
    let (tar, algo) = decompress(layer)?;
    let mut archive = tar::Archive::new(tar.as_slice());
    // (path, kind, size, start of its header); the rest of the archive goes to one "tar" row.
    let mut entries: Vec<(String, String, u64, u64)> = Vec::new();
    for e in archive.entries().context("reading the layer's tar")? {
        let e = e.context("reading the layer's tar")?;
        let path = format!(
            "/{}",
            e.path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .trim_start_matches('/')
        );
        let kind = if !e.header().entry_type().is_file() {
            "tar"
        } else if path == entrypoint {
            "binary"
        } else if path == CA_BUNDLE_PATH {
            "ca-bundle"
        } else if path == "/etc/passwd" || path == "/etc/group" {
            "system"
        } else {
            "file"
        };
        entries.push((path, kind.into(), e.size(), e.raw_header_position()));
    }
    let total = tar.len() as u64;
    let mut rows: Vec<FileRow> = Vec::new();
    let mut estimates: Vec<u64> = Vec::new();
    let mut rest: Vec<u8> = Vec::new();
    for (i, (path, kind, size, start)) in entries.iter().enumerate() {
        let end = entries.get(i + 1).map_or(total, |n| n.3);
        let bytes = &tar[*start as usize..end as usize];
        if kind == "tar" {
            rest.extend_from_slice(bytes);
            continue;
        }
        estimates.push(compressed_len(bytes, algo)?);
        rows.push(FileRow {
            path: path.clone(),
            kind: kind.clone(),
            size: *size,
            compressed: 0,
        });
    }
    // (The end-of-archive blocks are in the last entry's slice.)
    let rest_start = entries.first().map_or(0, |e| e.3);
    rest.extend_from_slice(&tar[..rest_start as usize]);
    estimates.push(compressed_len(&rest, algo)?);
    rows.push(FileRow {
        path: "(tar headers and directories)".into(),
        kind: "tar".into(),
        size: rest.len() as u64,
        compressed: 0,
    });
    for (row, c) in rows.iter_mut().zip(scale(&estimates, layer.size())) {
        row.compressed = c;
    }
    rows.sort_by(|a, b| b.compressed.cmp(&a.compressed).then(a.path.cmp(&b.path)));
    Ok((rows, total, algo))
}

fn decompress(layer: &Blob) -> Result<(Vec<u8>, &'static str)> {
    let mut out = Vec::new();
    let algo = if layer.media_type.ends_with("+zstd") {
        zstd::stream::read::Decoder::new(layer.data.as_slice())?
            .read_to_end(&mut out)
            .context("decompressing the zstd layer")?;
        "zstd"
    } else if layer.media_type.ends_with("+gzip") || layer.data.starts_with(&[0x1f, 0x8b]) {
        flate2::read::GzDecoder::new(layer.data.as_slice())
            .read_to_end(&mut out)
            .context("decompressing the gzip layer")?;
        "gzip"
    } else {
        out = layer.data.clone();
        "none"
    };
    Ok((out, algo))
}

fn compressed_len(bytes: &[u8], algo: &str) -> Result<u64> {
    Ok(match algo {
        "zstd" => crate::image::compression::zstd(bytes)?.len(),
        "gzip" => crate::image::compression::gzip(bytes)?.len(),
        _ => bytes.len(),
    } as u64)
}

/// `parts` scaled to add up to `total` exactly (largest remainders round up).
pub fn scale(parts: &[u64], total: u64) -> Vec<u64> {
    let sum: u128 = parts.iter().map(|&p| u128::from(p)).sum();
    if sum == 0 {
        let mut v = vec![0; parts.len()];
        if let Some(last) = v.last_mut() {
            *last = total;
        }
        return v;
    }
    let exact: Vec<(u64, u128)> = parts
        .iter()
        .map(|&p| {
            let n = u128::from(p) * u128::from(total);
            ((n / sum) as u64, n % sum)
        })
        .collect();
    let mut out: Vec<u64> = exact.iter().map(|e| e.0).collect();
    let short = total - out.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for &i in order.iter().take(short as usize) {
        out[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::scale;

    #[test]
    fn scaled_shares_add_up() {
        assert_eq!(scale(&[50, 30, 20], 10), vec![5, 3, 2]);
        let v = scale(&[1, 1, 1], 10);
        assert_eq!(v.iter().sum::<u64>(), 10);
        assert_eq!(scale(&[0, 0], 7), vec![0, 7]);
    }
}
