//! The tarball publisher: one tar that is at once an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) and a `docker save` archive (`manifest.json` with `RepoTags`), written atomically
//! together with the SBOM beside it.
//!
//! `index.json` has exactly one entry, the nested image index, because skopeo and crane refuse a layout
//! with more than one image when no reference is given.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde_json::json;

use super::{Published, Publisher};
use crate::fsutil::{self, Mode};
use crate::image::{canonical_json, Blob, Built, INDEX, REF_NAME};
use crate::target::Target;

/// How to fix a tarball or SBOM that cannot be written.
const HINT: &str = "check that the directory is writable, or choose another path with --output";

/// The bytes of the tarball: entries sorted, explicit directories, every mtime `mtime`.
pub fn tarball(built: &Built, mtime: u64) -> Result<Vec<u8>> {
    write_layout(built, mtime, Vec::new())
}

/// Writes the layout into `w` (the blobs borrowed from `built`, not copied); gives `w` back:
/// `index.json` names the result's index (under its reference), `blobs/` holds every blob of every
/// platform and referrer, and `manifest.json` names the image `docker load` gets.
pub fn write_layout<W: Write>(built: &Built, mtime: u64, w: W) -> Result<W> {
    let reference = built.reference();
    let mut index_desc = built.index.descriptor();
    index_desc.insert("annotations".into(), json!({ REF_NAME: reference }));
    let index_json = canonical_json(&json!({
        "schemaVersion": 2,
        "mediaType": INDEX,
        "manifests": [index_desc],
    }))?;
    let docker_manifest = docker_manifest(built)?;
    let layout = br#"{"imageLayoutVersion":"1.0.0"}"#;

    // Sorted by path, directories included: the order and modes of a layer `Tree`. A blob is read
    // as it is written (from memory or from the tarball it was read back from), never held whole.
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    entries.insert("blobs/".into(), Entry::Dir);
    entries.insert("blobs/sha256/".into(), Entry::Dir);
    for b in built.blobs() {
        entries.insert(blob_path(b), Entry::Blob(b));
    }
    entries.insert("index.json".into(), Entry::Bytes(&index_json));
    entries.insert("manifest.json".into(), Entry::Bytes(&docker_manifest));
    entries.insert("oci-layout".into(), Entry::Bytes(layout));
    let mut b = tar::Builder::new(w);
    for (path, entry) in &entries {
        append(&mut b, path, entry, mtime)?;
    }
    Ok(b.into_inner()?)
}

/// One entry of a tarball the publishers write.
pub(super) enum Entry<'a> {
    Dir,
    Bytes(&'a [u8]),
    /// Streamed through [`Blob::verified_reader`]: bytes that are not the blob's fail the write.
    Blob(&'a Blob),
}

/// Appends `entry` at `path` (every mtime `mtime`, owner 0:0).
pub(super) fn append<W: Write>(
    b: &mut tar::Builder<W>,
    path: &str,
    entry: &Entry,
    mtime: u64,
) -> Result<()> {
    let (mode, size) = match entry {
        Entry::Dir => (0o755, None),
        Entry::Bytes(d) => (0o644, Some(d.len() as u64)),
        Entry::Blob(blob) => (0o644, Some(blob.size())),
    };
    let h = crate::image::layer::header(path, mode, 0, 0, mtime, size)?;
    match entry {
        Entry::Dir => b.append(&h, &[][..])?,
        Entry::Bytes(d) => b.append(&h, *d)?,
        Entry::Blob(blob) => b.append(&h, blob.verified_reader()?)?,
    }
    Ok(())
}

fn blob_path(b: &Blob) -> String {
    format!("blobs/sha256/{}", b.hex())
}

/// `manifest.json` of `docker save`, naming the image `docker load` gets under the reference, in
/// docker's own key order.
pub fn docker_manifest(built: &Built) -> Result<Vec<u8>> {
    let image = built.docker_image();
    Ok(serde_json::to_vec(&json!([{
        "Config": blob_path(&image.config),
        "RepoTags": built.references(),
        "Layers": image.layers.iter().map(blob_path).collect::<Vec<_>>(),
    }]))?)
}

/// The tarball publisher: the layout to `path`, and beside it the documents the plan asked for (each
/// platform's SBOM); every mtime `mtime`.
#[derive(Debug, Clone)]
pub struct Tarball {
    pub path: PathBuf,
    pub beside: Vec<Beside>,
    /// Files an earlier build left beside this path that this one does not write (another
    /// platform's SBOM): removed once the tarball is written, so every file beside it describes it.
    pub stale: Vec<PathBuf>,
    pub mtime: u64,
}

/// A referrer's document written as a file beside the tarball.
#[derive(Debug, Clone)]
pub struct Beside {
    pub path: PathBuf,
    /// The document whose `artifactType` is this, attached to this platform's image.
    pub platform: Target,
    pub artifact_type: String,
}

/// What the tarball publisher wrote: the tarball and the files beside it, with their digests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    /// `sha256:` of the tarball file.
    pub digest: String,
    /// The files beside it and the `sha256:` of each.
    pub beside: Vec<(PathBuf, String)>,
}

impl Publisher for &Tarball {
    fn publish(&self, built: &Built) -> Result<Published> {
        let mut files: Vec<(&Path, &[u8])> = Vec::new();
        for b in &self.beside {
            let doc = built
                .images
                .iter()
                .filter(|i| i.platform == b.platform)
                .flat_map(|i| built.referrers_of(&i.manifest.digest))
                .find(|r| r.artifact_type == b.artifact_type)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "the {} image has no {} document for {}",
                        b.platform.platform(),
                        b.artifact_type,
                        b.path.display()
                    )
                })?;
            files.push((&b.path, &doc.document.data));
        }
        let (size, digest) = publish_with(
            |sink| write_layout(built, self.mtime, sink),
            &self.path,
            &files,
        )?;
        for p in &self.stale {
            if p.is_file() {
                let _ = std::fs::remove_file(p);
            }
        }
        Ok(Published::Tarball(Written {
            path: self.path.clone(),
            size,
            digest,
            beside: files
                .iter()
                .map(|(p, data)| (p.to_path_buf(), crate::digest::sha256(data)))
                .collect(),
        }))
    }

    fn reuse(&self, cached: &[Published]) -> Option<Published> {
        cached
            .iter()
            .find(|p| matches!(p, Published::Tarball(w) if w.path == self.path))
            .cloned()
    }
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

/// Writes the tarball (by `write`, straight into its temp file) and the files beside it: each to a
/// temp file in its directory, then renamed (the tarball first). When anything fails, no new file is
/// left at its path, and a file that was there before and was not replaced is left alone. Temp files
/// of earlier runs that were killed are swept; SIGINT/SIGTERM/SIGHUP are held while temp files
/// exist, so an interrupt removes them before the process ends. Returns the tarball's size and
/// `sha256:` digest.
pub fn publish_with<F>(write: F, tar_path: &Path, files: &[(&Path, &[u8])]) -> Result<(u64, String)>
where
    F: FnOnce(
        crate::image::layer::Hashing<std::io::BufWriter<&std::fs::File>>,
    ) -> Result<crate::image::layer::Hashing<std::io::BufWriter<&std::fs::File>>>,
{
    fsutil::sweep_stale_temps(fsutil::dir_of(tar_path));
    for (p, _) in files {
        fsutil::sweep_stale_temps(fsutil::dir_of(p));
    }
    let _held = HeldSignals::hold();
    let mut temps = Vec::new();
    for (p, data) in files {
        temps.push((
            *p,
            fsutil::stage(p, Mode::Shared, HINT, |mut file| Ok(file.write_all(data)?))?,
        ));
    }
    let mut written = None;
    let tar_tmp = fsutil::stage(tar_path, Mode::Shared, HINT, |file| {
        let sink = crate::image::layer::Hashing::new(std::io::BufWriter::new(file));
        let mut sink = write(sink)?;
        sink.flush()?;
        crate::panic_boundary::test_point("tarball-staged");
        written = Some((sink.count, crate::image::layer::hex_digest(sink.hasher)));
        Ok(())
    })?;
    tar_tmp
        .persist(tar_path)
        .map_err(|e| fsutil::cannot_write(tar_path, e.error, HINT))?;
    // A file beside it that cannot be renamed into place takes the tarball and the files already
    // renamed with it: none of this run's files is left alone.
    let mut persisted: Vec<&Path> = vec![tar_path];
    crate::panic_boundary::test_pause("between-renames");
    for (p, tmp) in temps {
        if let Err(e) = tmp.persist(p) {
            for done in persisted {
                let _ = std::fs::remove_file(done);
            }
            return Err(fsutil::cannot_write(p, e.error, HINT));
        }
        persisted.push(p);
    }
    Ok(written.expect("written"))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::tests::{input, single};
    use crate::settings::TinyConfig;

    fn one() -> Built {
        single(crate::image::build(&input(&TinyConfig::default())).unwrap())
    }

    /// The tarball publisher with the SBOM beside it.
    fn publish(built: &Built, mtime: u64, tar: &Path, sbom: &Path) -> Result<Published> {
        let t = Tarball {
            path: tar.to_path_buf(),
            beside: vec![Beside {
                path: sbom.to_path_buf(),
                platform: built.images[0].platform.clone(),
                artifact_type: crate::image::CYCLONEDX.into(),
            }],
            stale: Vec::new(),
            mtime,
        };
        (&t).publish(built)
    }

    #[test]
    fn tarball_is_a_layout_and_a_docker_archive() {
        let img = one();
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
        let img = one();
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, "").unwrap();
        // The parent of the tarball is a file: the write fails.
        let tar_path = blocker.join("x.tar");
        let sbom_path = dir.path().join("x.cdx.json");
        assert!(publish(&img, 0, &tar_path, &sbom_path).is_err());
        assert!(!sbom_path.exists());
        let ok = dir.path().join("ok.tar");
        let Published::Tarball(w) = publish(&img, 0, &ok, &sbom_path).unwrap() else {
            panic!("not a tarball receipt")
        };
        assert!(ok.exists() && sbom_path.exists());
        assert_eq!(w.size, std::fs::metadata(&ok).unwrap().len());
        assert_eq!(
            w.digest,
            crate::digest::sha256(&std::fs::read(&ok).unwrap())
        );
        assert_eq!(
            w.beside,
            [(
                sbom_path.clone(),
                crate::digest::sha256(&std::fs::read(&sbom_path).unwrap())
            )]
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            3,
            "no temp files left"
        );
    }

    #[test]
    fn outputs_are_checked_and_an_old_sbom_survives_a_failed_publish() {
        let img = one();
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
}
