//! The tarball publisher: one tar that is at once an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) and a `docker save` archive (`manifest.json` with `RepoTags`), written atomically
//! together with the SBOM beside it.
//!
//! `index.json` has exactly one entry, the nested image index, because skopeo and crane refuse a layout
//! with more than one image when no reference is given.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use super::{canonical_json, Blob, Image, INDEX, REF_NAME};
use crate::error::Failure;

/// The bytes of the tarball: entries sorted, explicit directories, every mtime `mtime`.
pub fn tarball(image: &Image, mtime: u64) -> Result<Vec<u8>> {
    write_tarball(image, mtime, Vec::new())
}

/// Writes the tarball into `w` (the blobs borrowed from `image`, not copied); gives `w` back.
pub fn write_tarball<W: Write>(image: &Image, mtime: u64, w: W) -> Result<W> {
    write_layout(&image.index, image, &image.blobs(), mtime, w)
}

/// Writes a layout whose `index.json` names `index` (under `docker`'s reference), holding `blobs`,
/// with `docker`'s image in `manifest.json` (what `docker load` reads). A multi-platform image passes
/// its own index, every platform's blobs, and the host platform's image.
pub fn write_layout<W: Write>(
    index: &Blob,
    docker: &Image,
    blobs: &[&Blob],
    mtime: u64,
    w: W,
) -> Result<W> {
    let image = docker;
    let mut index_desc = index.descriptor();
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
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;

    // Sorted by path, directories (`None`) included: the order and modes of a layer `Tree`.
    let mut entries: BTreeMap<String, Option<&[u8]>> = BTreeMap::new();
    entries.insert("blobs/".into(), None);
    entries.insert("blobs/sha256/".into(), None);
    for b in blobs {
        entries.insert(blob_path(b), Some(&b.data));
    }
    entries.insert("index.json".into(), Some(&index_json));
    entries.insert("manifest.json".into(), Some(&docker_manifest));
    entries.insert("oci-layout".into(), Some(layout));
    let mut b = tar::Builder::new(w);
    for (path, data) in &entries {
        let mode = if data.is_some() { 0o644 } else { 0o755 };
        let h = super::layer::header(path, mode, 0, 0, mtime, data.map(|d| d.len() as u64))?;
        b.append(&h, data.unwrap_or_default())?;
    }
    Ok(b.into_inner()?)
}

/// Checks, before anything is compiled, that the tarball and the SBOM beside it can be written:
/// neither is a directory, their directory is not a file, and an explicit `--output` does not name a
/// file that is not an image tarball (a careless `-o Cargo.toml` must not destroy the manifest).
pub fn check_outputs(tar_path: &Path, sbom_path: &Path, explicit: bool) -> Result<()> {
    let flag = if explicit { "--output " } else { "image path " };
    use std::os::unix::ffi::OsStrExt;
    if tar_path.as_os_str().as_bytes().ends_with(b"/") {
        crate::fail!(
            hint = "give --output a file path, e.g. --output out/app.tar",
            "{flag}{} names a directory",
            tar_path.display()
        );
    }
    for (what, path) in [("tarball", tar_path), ("SBOM", sbom_path)] {
        if path.is_dir() {
            crate::fail!(
                hint = "give --output a file path, e.g. --output out/app.tar",
                "{flag}{}: the {what} path {} is a directory",
                tar_path.display(),
                path.display()
            );
        }
        let mut up = path.parent();
        while let Some(dir) = up.filter(|d| !d.as_os_str().is_empty()) {
            if dir.exists() {
                if !dir.is_dir() {
                    crate::fail!(
                        hint = "choose another path with --output",
                        "{flag}{}: {} is not a directory",
                        tar_path.display(),
                        dir.display()
                    );
                }
                break;
            }
            up = dir.parent();
        }
    }
    if explicit && tar_path.is_file() && !is_tarball(tar_path) {
        crate::fail!(
            hint = "remove it first, or choose another path with --output",
            "--output {} names an existing file that is not an image tarball",
            tar_path.display()
        );
    }
    Ok(())
}

/// Whether `path` starts with a ustar header (what every tarball cargo-tiny writes does).
fn is_tarball(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 512];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok()
        && &head[257..262] == b"ustar"
}

/// Writes the tarball and the SBOM: each to a temp file in its directory, then renamed (the tarball
/// first). When anything fails, neither new file is left at its path, and a file that was there
/// before and was not replaced is left alone. Temp files of earlier runs that were killed are swept;
/// SIGINT/SIGTERM/SIGHUP are held while temp files exist, so an interrupt removes them before the
/// process ends.
/// The tarball is written straight into its temp file; its size and `sha256:` digest are returned.
pub fn publish(
    image: &Image,
    mtime: u64,
    tar_path: &Path,
    sbom_path: &Path,
) -> Result<(u64, String)> {
    publish_with(
        |sink| write_tarball(image, mtime, sink),
        tar_path,
        &[(sbom_path, &image.sbom.data)],
    )
}

/// [`publish`] with the tarball written by `write` and any number of files beside it (a
/// multi-platform image has one SBOM per platform).
pub fn publish_with<F>(write: F, tar_path: &Path, files: &[(&Path, &[u8])]) -> Result<(u64, String)>
where
    F: FnOnce(
        super::layer::Hashing<std::io::BufWriter<&std::fs::File>>,
    ) -> Result<super::layer::Hashing<std::io::BufWriter<&std::fs::File>>>,
{
    sweep_stale_temps(dir_of(tar_path));
    for (p, _) in files {
        sweep_stale_temps(dir_of(p));
    }
    let _held = HeldSignals::hold();
    let mut temps = Vec::new();
    for (p, data) in files {
        temps.push((*p, temp_with(p, data)?));
    }
    let mut written = None;
    let tar_tmp = temp_written(tar_path, |file| {
        let sink = super::layer::Hashing::new(std::io::BufWriter::new(file));
        let mut sink = write(sink)?;
        sink.flush()?;
        written = Some((sink.count, super::layer::hex_digest(sink.hasher)));
        Ok(())
    })?;
    tar_tmp
        .persist(tar_path)
        .map_err(|e| cannot_write(tar_path, e.error))?;
    for (p, tmp) in temps {
        if let Err(e) = tmp.persist(p) {
            let _ = std::fs::remove_file(tar_path);
            return Err(cannot_write(p, e.error));
        }
    }
    Ok(written.expect("written"))
}

fn dir_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."))
}

/// `.cargo-tiny-<pid>-…`: the prefix of our temp files, with the pid that owns them.
fn temp_prefix() -> String {
    format!(".cargo-tiny-{}-", std::process::id())
}

/// Removes `.cargo-tiny-<pid>-*.tmp` files in `dir` whose process no longer runs (a run that was
/// killed with SIGKILL, or a crash), and `.cargo-tiny-*.tmp` files without a pid that are a day old.
pub fn sweep_stale_temps(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name
            .to_str()
            .and_then(|n| n.strip_prefix(".cargo-tiny-"))
            .filter(|n| n.ends_with(".tmp"))
        else {
            continue;
        };
        let stale = match rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) => pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists(),
            // Without a pid (cargo-tiny 0.1, or another writer): only when a day old.
            None => e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > std::time::Duration::from_secs(86_400)),
        };
        if stale {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP blocked while alive; on drop (after the temp files are persisted or
/// removed) they are unblocked, and one that arrived meanwhile takes effect then.
pub(crate) struct HeldSignals {
    old: libc::sigset_t,
}

impl HeldSignals {
    pub(crate) fn hold() -> HeldSignals {
        // SAFETY: plain sigset manipulation on local values; pthread_sigmask only changes this
        // thread's mask.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
                libc::sigaddset(&mut set, s);
            }
            libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old);
            HeldSignals { old }
        }
    }
}

/// Whether SIGINT, SIGTERM or SIGHUP arrived while held (see [`HeldSignals`]): work that has not
/// started yet should not start, so that the signal takes effect soon.
pub(crate) fn interrupt_pending() -> bool {
    // SAFETY: sigpending fills a local set; sigismember reads it.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        if libc::sigpending(&mut set) != 0 {
            return false;
        }
        [libc::SIGINT, libc::SIGTERM, libc::SIGHUP]
            .iter()
            .any(|&s| libc::sigismember(&set, s) == 1)
    }
}

impl Drop for HeldSignals {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved in `hold`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut());
        }
    }
}

fn temp_with(path: &Path, bytes: &[u8]) -> Result<tempfile::NamedTempFile> {
    temp_written(path, |mut file| Ok(file.write_all(bytes)?))
}

/// A temp file beside `path` that `write` filled (an I/O error is one naming `path`).
fn temp_written(
    path: &Path,
    write: impl FnOnce(&std::fs::File) -> Result<()>,
) -> Result<tempfile::NamedTempFile> {
    let dir = dir_of(path);
    std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| cannot_write(path, e))?;
    write(tmp.as_file()).map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(io) => cannot_write(path, io),
        Err(other) => other,
    })?;
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

    #[test]
    fn outputs_are_checked_and_an_old_sbom_survives_a_failed_publish() {
        let cfg = TinyConfig::default();
        let img = super::super::build(&super::super::tests::input(&cfg)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let old_sbom = dir.path().join("out.cdx.json");
        std::fs::write(&old_sbom, "keep me").unwrap();
        let m = format!("{:#}", check_outputs(&out, &old_sbom, true).unwrap_err());
        assert!(
            m.contains("is a directory") && m.contains("--output"),
            "{m}"
        );
        // Even without the check, publishing over a directory fails and leaves the old SBOM.
        assert!(publish(&img, 0, &out, &old_sbom).is_err());
        assert_eq!(std::fs::read_to_string(&old_sbom).unwrap(), "keep me");
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "[package]\n").unwrap();
        let m = format!(
            "{:#}",
            check_outputs(&manifest, &dir.path().join("Cargo.toml.cdx.json"), true).unwrap_err()
        );
        assert!(m.contains("not an image tarball"), "{m}");
        let m = format!(
            "{:#}",
            check_outputs(&manifest.join("x.tar"), &manifest.join("x.cdx.json"), true).unwrap_err()
        );
        assert!(m.contains("is not a directory"), "{m}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 3, "out/, out.cdx.json, Cargo.toml: {names:?}");
    }

    /// A signal that arrives while temp files exist takes effect only once they are gone.
    #[test]
    fn signals_are_held_while_temp_files_exist() {
        use std::sync::atomic::{AtomicBool, Ordering};
        static GOT: AtomicBool = AtomicBool::new(false);
        extern "C" fn on_hup(_: libc::c_int) {
            GOT.store(true, Ordering::SeqCst);
        }
        // SAFETY: a handler that only stores an atomic; the signal goes to this thread only.
        unsafe {
            libc::signal(libc::SIGHUP, on_hup as *const () as libc::sighandler_t);
            let held = HeldSignals::hold();
            libc::pthread_kill(libc::pthread_self(), libc::SIGHUP);
            assert!(!GOT.load(Ordering::SeqCst), "delivered while held");
            drop(held);
            assert!(GOT.load(Ordering::SeqCst), "delivered once released");
            libc::signal(libc::SIGHUP, libc::SIG_DFL);
        }
    }

    #[test]
    fn stale_temp_files_of_dead_runs_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!(".cargo-tiny-{dead}-abc123.tmp"));
        let mine = dir.path().join(format!("{}x.tmp", temp_prefix()));
        let other = dir.path().join(".cargo-tiny-notapid.tmp");
        let old = dir.path().join(".cargo-tiny-AbCdEf.tmp");
        for p in [&stale, &mine, &other, &old] {
            std::fs::write(p, "").unwrap();
        }
        let two_days = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .unwrap()
            .set_modified(two_days)
            .unwrap();
        sweep_stale_temps(dir.path());
        assert!(!stale.exists() && !old.exists());
        assert!(mine.exists() && other.exists());
    }
}
