//! Paths in the image checked against the image's own tree, before anything is compiled.
//!
//! The image creates the binary, `/etc/passwd`, `/etc/group`, `/tmp`, `/root`, `/home/nonroot`, the
//! CA bundle (unless `ca-certificates = "never"`) and every parent directory. A `files` destination
//! at or under one of its files, or a file where it has a directory, would give a layer that engines
//! refuse or that silently loses one of the two: it is an error naming the key and the manifest.

use std::collections::BTreeSet;

use anyhow::Result;

use super::layer::Tree;
use crate::error::Failure;
use crate::settings::{fits_tar, CaCertificates, TinyConfig};

/// The image's own entries (files and directories, without the leading `/`) for `bin`, with the
/// CA bundle when `ca` is not `never` (with `auto` it is only decided after the compile).
fn own_tree(bin: &str, ca: CaCertificates) -> Tree {
    let cfg = TinyConfig::default();
    let input = super::ImageInput {
        name: String::new(),
        tag: String::new(),
        bin: bin.to_string(),
        binary: Vec::new(),
        // The tree is the same on every platform.
        platform: crate::target::Target::all()
            .next()
            .expect("a supported target"),
        config: &cfg,
        files: Vec::new(),
        ca_bundle: (ca != CaCertificates::Never).then(Vec::new),
        created: crate::source_date::SourceDate::at(0),
        annotations: Default::default(),
        sbom: Vec::new(),
    };
    super::tree(&input)
}

/// Checks the binary's path and every `files` destination of `cfg` against the image's own tree.
pub fn check_files(cfg: &TinyConfig, bin: &str, bin_manifest: &str) -> Result<()> {
    let bin_path = format!("{}/{bin}", super::BIN_DIR);
    fits_tar(&bin_path).map_err(|w| {
        Failure::new(format!("bin `{bin}` of {bin_manifest}: {w}"))
            .hint("give the bin a shorter name ([[bin]] name = \"…\")")
    })?;
    let tree = own_tree(bin, cfg.ca_certificates);
    let (dirs, files): (BTreeSet<&str>, BTreeSet<&str>) =
        tree.paths().partition(|p| p.ends_with('/'));
    let dirs: BTreeSet<&str> = dirs.iter().map(|d| d.trim_end_matches('/')).collect();
    for f in &cfg.files {
        let dest = f.dest.trim_start_matches('/');
        let err = |what: String, hint: &str| -> anyhow::Error {
            Failure::new(format!(
                "`files.\"{}\"` in {}: {what}",
                f.dest, cfg.files_from
            ))
            .hint(hint.to_string())
            .into()
        };
        if dest == bin_path.trim_start_matches('/') {
            return Err(err(
                format!("the binary `{bin}` goes there"),
                "pick another path in the image",
            ));
        }
        if dest == super::CA_BUNDLE_PATH.trim_start_matches('/') && files.contains(dest) {
            return Err(err(
                format!("{} is where cargo-tiny puts the CA bundle", f.dest),
                "set ca-certificates = \"never\" to ship your own bundle there, or pick another path",
            ));
        }
        if files.contains(dest) {
            return Err(err(
                format!("{} is written by cargo-tiny itself", f.dest),
                "pick another path in the image",
            ));
        }
        if dirs.contains(dest) {
            return Err(err(
                format!("{} is a directory in the image", f.dest),
                "give the file's own path under it, e.g. \"/etc/app/config.toml\"",
            ));
        }
        let mut parent = dest;
        while let Some((p, _)) = parent.rsplit_once('/') {
            if files.contains(p) {
                return Err(err(
                    format!("/{p} is a file in the image, so nothing can be under it"),
                    "pick a path that is not under one of the image's files",
                ));
            }
            parent = p;
        }
    }
    Ok(())
}

/// The layer's invariant, checked before it is written: no path is both a file and a directory,
/// and no entry is under a file. (The checks above make this hold for user input; this is the guard
/// that an engine never sees two entries for one path.)
pub fn check_tree(tree: &Tree) -> Result<()> {
    let all: BTreeSet<&str> = tree.paths().collect();
    for p in &all {
        let bare = p.trim_end_matches('/');
        if p.ends_with('/') && all.contains(bare) {
            anyhow::bail!("layer path /{bare} is both a file and a directory");
        }
        let mut parent = bare;
        while let Some((up, _)) = parent.rsplit_once('/') {
            if all.contains(up) {
                anyhow::bail!("layer path /{bare} is under the file /{up}");
            }
            parent = up;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::source::OpenedSource;
    use crate::settings::ExtraFile;

    fn cfg_with(dests: &[&str], ca: CaCertificates) -> (tempfile::NamedTempFile, TinyConfig) {
        let src = tempfile::NamedTempFile::new().unwrap();
        let opened = OpenedSource::open(src.path()).unwrap();
        let files = dests
            .iter()
            .map(|d| ExtraFile {
                source: src.path().to_path_buf(),
                dest: d.to_string(),
                opened: opened.clone(),
            })
            .collect();
        let cfg = TinyConfig {
            files,
            files_from: "[package.metadata.tiny] of /p/Cargo.toml".into(),
            ca_certificates: ca,
            ..Default::default()
        };
        (src, cfg)
    }

    fn check(dests: &[&str], ca: CaCertificates) -> Result<(), String> {
        let (_src, cfg) = cfg_with(dests, ca);
        check_files(&cfg, "api", "/p/Cargo.toml").map_err(|e| format!("{e:#}"))
    }

    #[test]
    fn destinations_at_or_under_the_images_files_are_refused() {
        use CaCertificates::*;
        for (dest, what) in [
            ("/etc/passwd/x", "/etc/passwd is a file"),
            ("/etc/group/x/y", "/etc/group is a file"),
            ("/usr/local/bin/api/x", "/usr/local/bin/api is a file"),
            ("/usr/local/bin/api", "the binary"),
            ("/etc/passwd", "written by cargo-tiny"),
            ("/etc", "is a directory in the image"),
            ("/tmp", "is a directory in the image"),
            ("/usr/local/bin", "is a directory in the image"),
            ("/home/nonroot", "is a directory in the image"),
            ("/root", "is a directory in the image"),
            ("/etc/ssl/certs", "is a directory in the image"),
            ("/etc/ssl/certs/ca-certificates.crt", "CA bundle"),
            ("/etc/ssl/certs/ca-certificates.crt/x", "is a file"),
        ] {
            let m = check(&[dest], Auto).unwrap_err();
            assert!(
                m.contains(what)
                    && m.contains(&format!("`files.\"{dest}\"`"))
                    && m.contains("/p/Cargo.toml"),
                "{dest}: {m}"
            );
        }
        // With `never` there is no bundle: the user may ship their own there.
        check(&["/etc/ssl/certs/ca-certificates.crt"], Never).unwrap();
        check(
            &["/etc/app/a.toml", "/tmp/x", "/home/nonroot/.config"],
            Auto,
        )
        .unwrap();
        check(&["/usr/local/bin/other"], Auto).unwrap();
    }

    #[test]
    fn long_components_do_not_fit() {
        assert!(fits_tar(&format!("/etc/{}", "a".repeat(100))).is_ok());
        assert!(fits_tar(&format!("/etc/{}", "a".repeat(101)))
            .unwrap_err()
            .contains("at most 100"));
        let m = check_files(&TinyConfig::default(), &"b".repeat(120), "/p/Cargo.toml").unwrap_err();
        assert!(format!("{m:#}").contains("bin `bbb"), "{m:#}");
    }

    #[test]
    fn the_layer_guard_finds_a_file_that_is_also_a_directory() {
        let mut t = Tree::default();
        t.file("/etc/passwd", 0o644, Vec::new());
        check_tree(&t).unwrap();
        t.dir("/etc/passwd", 0o755, 0, 0);
        assert!(check_tree(&t).is_err());
        let mut t = Tree::default();
        t.file("/etc/passwd", 0o644, Vec::new());
        t.file("/etc/passwd/x", 0o644, Vec::new());
        assert!(check_tree(&t).is_err());
    }
}
