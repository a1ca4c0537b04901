//! The copy of the workspace cargo runs in. Doctor resolves, edits and checks a copy, never the
//! user's workspace: `cargo metadata` and `cargo tree` rewrite a stale `Cargo.lock`, and a candidate
//! fix is tried (and built) before anything of the user's is written.
//!
//! It lives in `<target-dir>/tiny/doctor/`: `ws-<hash of the workspace root>/` mirrors the local
//! packages (the workspace root's directory and every path dependency outside it, without target
//! directories, `.git` and `node_modules`); `target/` is the `CARGO_TARGET_DIR` every check of every
//! run shares. Unchanged files are not copied again and keep the user's mtimes, so cargo's
//! fingerprints of the workspace's own crates hold from one run to the next. A lock file keeps two
//! doctor runs from sharing one copy at the same time. Cargo runs in the user's current directory,
//! so it reads the same `.cargo/config.toml` files as the user's own cargo does.

mod copy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8PathBuf;
use sha2::Digest;

use super::options::DoctorOptions;
use crate::error::Failure;
use crate::shell::Shell;
use crate::workspace::{LoadOptions, Workspace};

/// The workspace copy of one doctor run.
pub struct Sandbox {
    /// The user's directory the copy mirrors: the common ancestor of the local packages.
    base: PathBuf,
    /// The copy of `base`.
    dir: PathBuf,
    /// `CARGO_TARGET_DIR` of every cargo run in the copy.
    pub target_dir: PathBuf,
    /// The user's manifest (absolute), workspace root and target directory.
    manifest: PathBuf,
    root: PathBuf,
    user_target: Utf8PathBuf,
    /// The user's text of every manifest and lockfile of the copy (copy path → bytes): what
    /// [`Sandbox::reset`] puts back before each candidate.
    originals: BTreeMap<PathBuf, Vec<u8>>,
    _lock: std::fs::File,
}

impl Sandbox {
    /// Copies (or refreshes the copy of) the user's workspace. Reads the user's workspace with
    /// `cargo metadata --no-deps`, which resolves nothing and so writes no lockfile.
    pub fn open(opts: &DoctorOptions, shell: &Shell) -> Result<Sandbox> {
        let ws = Workspace::load(&opts.load_options(opts.manifest_path.clone()).members_only())?;
        let root = ws.root().as_std_path().to_path_buf();
        let user_target = ws.target_dir().to_path_buf();
        let manifest = ws.manifest_path.as_std_path().to_path_buf();
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::from([root.clone()]);
        dirs.extend(copy::outside_packages(&ws, &root)?);
        let mut base = root.clone();
        for d in &dirs {
            while !d.starts_with(&base) {
                if !base.pop() {
                    break;
                }
            }
        }
        let home = user_target.as_std_path().join("tiny/doctor");
        std::fs::create_dir_all(&home).map_err(|e| {
            Failure::new(format!("cannot create {}: {e}", home.display()))
                .hint("check that the target directory is writable, or set CARGO_TARGET_DIR")
        })?;
        let key: String = sha2::Sha256::digest(root.as_os_str().as_encoded_bytes())
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect();
        let lock = std::fs::File::create(home.join(format!("ws-{key}.lock")))?;
        if !flock(&lock, false)? {
            shell.status(
                "Blocking",
                "waiting for another doctor run on this workspace",
            );
            flock(&lock, true)?;
        }
        let dir = home.join(format!("ws-{key}"));
        let mut s = Sandbox {
            base,
            dir,
            target_dir: home.join("target"),
            manifest,
            root,
            user_target,
            originals: BTreeMap::new(),
            _lock: lock,
        };
        let mut kept = BTreeSet::new();
        let user_target = s.user_target.as_std_path().to_path_buf();
        let leave_out = |p: &Path| p == user_target || p.starts_with(&s.dir);
        for d in &dirs {
            copy::sync(d, &s.map(d)?, &leave_out, &mut kept)?;
        }
        copy::prune(&s.dir, &kept)?;
        for p in &kept {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if matches!(name, "Cargo.toml" | "Cargo.lock") && p.is_file() {
                s.originals.insert(p.clone(), std::fs::read(p)?);
            }
        }
        Ok(s)
    }

    /// Where the user's `path` is in the copy; an error for a path outside it (never the user's
    /// own file: everything written goes below the copy).
    pub fn map(&self, path: &Path) -> Result<PathBuf> {
        if path == self.base {
            return Ok(self.dir.clone());
        }
        match path.strip_prefix(&self.base) {
            // Plain names only: a `..` would lead out of the copy.
            Ok(rel) if rel.components().all(|c| matches!(c, Component::Normal(_))) => {
                Ok(self.dir.join(rel))
            }
            _ => Err(Failure::new(format!(
                "{} is outside the copied workspace {}",
                path.display(),
                self.base.display()
            ))
            .into()),
        }
    }

    /// The user's path for a path of the copy (other paths as they are).
    pub fn unmap(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.dir) {
            Ok(rel) => self.base.join(rel),
            Err(_) => path.to_path_buf(),
        }
    }

    /// The copy of the user's manifest.
    pub fn manifest(&self) -> PathBuf {
        self.map(&self.manifest)
            .unwrap_or_else(|_| self.dir.join("Cargo.toml"))
    }

    /// The copy's lockfile.
    pub fn lockfile(&self) -> Result<PathBuf> {
        Ok(self.map(&self.root)?.join("Cargo.lock"))
    }

    /// Puts the user's manifests and lockfile back into the copy, then writes `texts` (user path →
    /// new text) over them.
    pub fn write(&self, texts: &BTreeMap<PathBuf, String>) -> Result<()> {
        for (p, bytes) in &self.originals {
            if std::fs::read(p).ok().as_deref() != Some(bytes.as_slice()) {
                std::fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))?;
            }
        }
        // A lockfile cargo created in the copy (the user has none) goes too.
        let lock = self.lockfile()?;
        if !self.originals.contains_key(&lock) && lock.exists() {
            std::fs::remove_file(&lock)?;
        }
        for (user, text) in texts {
            let p = self.map(user)?;
            std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
        }
        Ok(())
    }

    /// `cargo metadata` of the copy, its paths turned back into the user's: findings point at the
    /// user's files, and the checks read the user's sources.
    pub fn load(&self, load: &LoadOptions) -> Result<Workspace> {
        // (cargo metadata builds nothing: the target directory it reports is replaced below.)
        let mut ws = Workspace::load(&LoadOptions {
            manifest_path: Some(self.manifest()),
            ..load.clone()
        })?;
        self.relocate(&mut ws);
        Ok(ws)
    }

    fn relocate(&self, ws: &mut Workspace) {
        let back = |p: &mut Utf8PathBuf| {
            if let Ok(u) = Utf8PathBuf::from_path_buf(self.unmap(p.as_std_path())) {
                *p = u;
            }
        };
        let m = &mut ws.metadata;
        back(&mut m.workspace_root);
        m.target_directory = self.user_target.clone();
        m.build_directory = None;
        for p in &mut m.packages {
            back(&mut p.manifest_path);
            for t in &mut p.targets {
                back(&mut t.src_path);
            }
            for d in &mut p.dependencies {
                if let Some(path) = &mut d.path {
                    back(path);
                }
            }
        }
        back(&mut ws.manifest_path);
    }

    /// A cargo command run on the copy: `CARGO_TARGET_DIR` the shared one, the current directory
    /// the user's (their cargo configuration applies).
    pub fn cargo(&self) -> Command {
        let mut cmd = Command::new(crate::tools::cargo());
        cmd.env("CARGO_TARGET_DIR", &self.target_dir);
        cmd
    }

    /// `--config` arguments that make the units of the workspace's own packages this copy's: cargo
    /// names a path package's units by its path *relative to the workspace root*, so two workspaces
    /// with a package `app 0.1.0` at their roots share units in one target directory, and one's
    /// check could pass on the other's artifacts. A codegen-units setting of their own, derived from
    /// the copy's key, tells them apart (it changes nothing of what `cargo check` reports).
    pub fn unit_config(&self, local: &[&str]) -> Vec<String> {
        let key = self
            .dir
            .file_name()
            .map(|n| {
                n.as_encoded_bytes()
                    .iter()
                    .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(*b)))
            })
            .unwrap_or(0);
        let units = 256 + key % 4096;
        local
            .iter()
            .flat_map(|name| {
                [
                    "--config".to_string(),
                    format!("profile.dev.package.\"{name}\".codegen-units={units}"),
                ]
            })
            .collect()
    }

    /// The user's workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The shared target directory as the user's target directory names it.
    pub fn shown_target(&self) -> String {
        let t = self.user_target.as_std_path();
        match self.target_dir.strip_prefix(self.root.as_path()) {
            Ok(rel) => rel.display().to_string(),
            Err(_) => self
                .target_dir
                .strip_prefix(t)
                .map(|r| format!("{}/{}", t.display(), r.display()))
                .unwrap_or_else(|_| self.target_dir.display().to_string()),
        }
    }
}

/// An exclusive `flock` on `f` (released when the file is closed); with `wait` false, false when
/// another process holds it. (`File::lock` needs Rust 1.89, above the crate's MSRV.)
fn flock(f: &std::fs::File, wait: bool) -> Result<bool> {
    use std::os::fd::AsRawFd;
    let op = libc::LOCK_EX | if wait { 0 } else { libc::LOCK_NB };
    // SAFETY: flock on a file descriptor this process owns for as long as `f` lives.
    if unsafe { libc::flock(f.as_raw_fd(), op) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if !wait && e.kind() == std::io::ErrorKind::WouldBlock {
        return Ok(false);
    }
    Err(anyhow::Error::new(e).context("locking the workspace copy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sandbox(base: &Path, dir: &Path) -> Sandbox {
        Sandbox {
            base: base.to_path_buf(),
            dir: dir.to_path_buf(),
            target_dir: dir.join("target"),
            manifest: base.join("Cargo.toml"),
            root: base.to_path_buf(),
            user_target: Utf8PathBuf::from_path_buf(base.join("target")).unwrap(),
            originals: BTreeMap::new(),
            _lock: tempfile::tempfile().unwrap(),
        }
    }

    #[test]
    fn the_copy_never_maps_a_path_outside_itself() {
        let s = sandbox(Path::new("/w/proj"), Path::new("/t/ws"));
        assert_eq!(
            s.map(Path::new("/w/proj/src/main.rs")).unwrap(),
            Path::new("/t/ws/src/main.rs")
        );
        assert_eq!(s.map(Path::new("/w/proj")).unwrap(), Path::new("/t/ws"));
        for outside in [
            "/w/proj/../common/main.rs",
            "/w/proj/src/../../x.rs",
            "/w/other/main.rs",
        ] {
            assert!(s.map(Path::new(outside)).is_err(), "{outside}");
        }
        assert_eq!(
            s.unmap(Path::new("/t/ws/a/Cargo.toml")),
            Path::new("/w/proj/a/Cargo.toml")
        );
        assert_eq!(s.unmap(Path::new("/x/y")), Path::new("/x/y"));
    }

    #[test]
    fn each_copy_has_units_of_its_own() {
        let a = sandbox(Path::new("/w/a"), Path::new("/t/ws-1a2b3c4d5e6f7a8b"));
        let b = sandbox(Path::new("/w/b"), Path::new("/t/ws-9f8e7d6c5b4a3f2e"));
        assert_eq!(a.unit_config(&["app"]), a.unit_config(&["app"]));
        assert_ne!(a.unit_config(&["app"]), b.unit_config(&["app"]));
        assert_eq!(a.unit_config(&["app", "lib"]).len(), 4);
        assert!(a.unit_config(&["my-app"])[1]
            .starts_with("profile.dev.package.\"my-app\".codegen-units="));
    }
}
