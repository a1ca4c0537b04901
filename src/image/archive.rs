//! The tarball publisher: one tar that is at once an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) and a `docker save` archive (`manifest.json` with `RepoTags`), written atomically
//! together with the SBOM beside it.
//!
//! `index.json` has exactly one entry, the nested image index, because skopeo and crane refuse a layout
//! with more than one image when no reference is given.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::{canonical_json, Blob, Image, INDEX, REF_NAME};
use crate::error::Failure;

/// The bytes of the tarball: entries sorted, explicit directories, every mtime `mtime`.
pub fn tarball(image: &Image, mtime: u64) -> Result<Vec<u8>> {
    let mut index_desc = image.index.descriptor();
    index_desc.insert("annotations".into(), json!({ REF_NAME: image.reference() }));
    let index_json = canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [index_desc],
    }))?;
    let blob_path = |b: &Blob| format!("blobs/sha256/{}", b.hex());
    // docker's own key order, as `docker save` writes it.
    let docker_manifest = serde_json::to_vec(&json!([{
        "Config": blob_path(&image.config),
        "RepoTags": [image.reference()],
        "Layers": [blob_path(&image.layer)],
    }]))?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec();

    let mut tree = super::layer::Tree::default();
    for b in image.blobs() {
        tree.file(&blob_path(b), 0o644, b.data.clone());
    }
    tree.file("index.json", 0o644, index_json);
    tree.file("manifest.json", 0o644, docker_manifest);
    tree.file("oci-layout", 0o644, layout);
    super::layer::tar(&tree, mtime)
}

/// Writes the tarball and the SBOM: each to a temp file in its directory, then renamed. When anything
/// fails, neither file is left at its path.
pub fn publish(image: &Image, mtime: u64, tar_path: &Path, sbom_path: &Path) -> Result<u64> {
    let bytes = tarball(image, mtime)?;
    let sbom_tmp = temp_with(sbom_path, &image.sbom.data)?;
    let tar_tmp = temp_with(tar_path, &bytes)?;
    let _ = std::fs::remove_file(tar_path);
    sbom_tmp
        .persist(sbom_path)
        .map_err(|e| cannot_write(sbom_path, e.error))?;
    if let Err(e) = tar_tmp.persist(tar_path) {
        let _ = std::fs::remove_file(sbom_path);
        return Err(cannot_write(tar_path, e.error));
    }
    Ok(bytes.len() as u64)
}

fn temp_with(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".cargo-tiny-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| cannot_write(path, e))?;
    tmp.write_all(bytes).map_err(|e| cannot_write(path, e))?;
    // tempfile creates 0600; these are artifacts to share, like cargo's.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))
        .map_err(|e| cannot_write(path, e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| cannot_write(path, e))?;
    Ok(tmp)
}

fn cannot_write(path: &Path, e: std::io::Error) -> anyhow::Error {
    Failure::new(format!("cannot write {}: {e}", path.display()))
        .hint("check that the directory is writable, or choose another path with --output")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TinyConfig;

    #[test]
    fn tarball_is_a_layout_and_a_docker_archive() {
        let cfg = TinyConfig::default();
        let img = super::super::build(&super::super::tests::input(&cfg)).unwrap();
        let bytes = tarball(&img, 0).unwrap();
        let mut names = Vec::new();
        let mut a = tar::Archive::new(bytes.as_slice());
        for e in a.entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names[..2], ["blobs/", "blobs/sha256/"]);
        assert_eq!(
            names[names.len() - 3..],
            ["index.json", "manifest.json", "oci-layout"]
        );
        assert_eq!(names.len(), 2 + 7 + 3);
        assert_eq!(tarball(&img, 0).unwrap(), bytes);
    }

    #[test]
    fn failed_publish_leaves_nothing() {
        let cfg = TinyConfig::default();
        let img = super::super::build(&super::super::tests::input(&cfg)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        // The parent of the tarball is a file: the write fails.
        let tar_path = blocker.join("x.tar");
        let sbom_path = dir.path().join("x.cdx.json");
        assert!(publish(&img, 0, &tar_path, &sbom_path).is_err());
        assert!(!sbom_path.exists());
        let ok = dir.path().join("ok.tar");
        publish(&img, 0, &ok, &sbom_path).unwrap();
        assert!(ok.exists() && sbom_path.exists());
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temp files left"
        );
    }
}
