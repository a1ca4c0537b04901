//! File writes at the edge: atomic replacement, and unified diffs for `--dry-run`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Failure;

/// Reads a file that must be a regular file of at most `limit` bytes: a device, a FIFO, a socket
/// or a directory (also behind a symlink) is refused without being read (opened non-blocking, so a
/// FIFO never waits for a writer), and the read stops at `limit`. `NotFound` passes through.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "not a regular file (a device, FIFO, socket or directory)",
        ));
    }
    if meta.len() > limit {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {}", crate::shell::human_size(limit)),
        ));
    }
    let mut data = Vec::new();
    file.take(limit + 1).read_to_end(&mut data)?;
    if data.len() as u64 > limit {
        return Err(Error::new(
            ErrorKind::InvalidData,
            format!("larger than {}", crate::shell::human_size(limit)),
        ));
    }
    Ok(data)
}

/// Replaces `path` with `bytes` atomically: a temp file in the same directory, then a rename, keeping
/// the old file's permissions. A failure leaves the old file (or no file) in place, never half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let hint = "check that the directory exists and is writable";
    let tmp = stage(path, Mode::OfReplaced, hint, |mut file| {
        Ok(file.write_all(bytes)?)
    })?;
    tmp.persist(path)
        .map_err(|e| cannot_write(path, e.error, hint))?;
    Ok(())
}

/// The permissions of a staged file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The replaced file's (a new file keeps the temp file's 0600).
    OfReplaced,
    /// 0644: an artifact to share, like cargo's.
    Shared,
}

/// The one atomic writer: a temp file beside `path` (`.cargo-tiny-<pid>-….tmp`, see
/// [`sweep_stale_temps`]; the directory is created), filled by `write`, given `mode` and synced.
/// `persist` it onto `path` to replace that in one rename, or drop it to leave `path` as it was. An
/// I/O error is `cannot write PATH: …` with `hint`.
pub fn stage(
    path: &Path,
    mode: Mode,
    hint: &str,
    write: impl FnOnce(&std::fs::File) -> Result<()>,
) -> Result<tempfile::NamedTempFile> {
    let dir = dir_of(path);
    std::fs::create_dir_all(dir).map_err(|e| cannot_write(path, e, hint))?;
    let tmp = tempfile::Builder::new()
        .prefix(&temp_prefix())
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| cannot_write(path, e, hint))?;
    write(tmp.as_file()).map_err(|e| match e.downcast::<std::io::Error>() {
        Ok(io) => cannot_write(path, io, hint),
        Err(other) => other,
    })?;
    let permissions = match mode {
        Mode::OfReplaced => std::fs::metadata(path).ok().map(|m| m.permissions()),
        // tempfile creates 0600; these are artifacts to share, like cargo's.
        Mode::Shared => {
            use std::os::unix::fs::PermissionsExt;
            Some(std::fs::Permissions::from_mode(0o644))
        }
    };
    if let Some(p) = permissions {
        std::fs::set_permissions(tmp.path(), p).map_err(|e| cannot_write(path, e, hint))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| cannot_write(path, e, hint))?;
    Ok(tmp)
}

/// `cannot write PATH: …`, with `hint`.
pub fn cannot_write(path: &Path, e: std::io::Error, hint: &str) -> anyhow::Error {
    Failure::new(format!("cannot write {}: {e}", path.display()))
        .hint(hint)
        .into()
}

/// The directory of `path` (`.` for a bare file name).
pub fn dir_of(path: &Path) -> &Path {
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

/// `path` as a user can paste it: relative to the current directory when inside it, else as is.
pub fn shown_path(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|c| path.strip_prefix(c).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// A unified diff of `old` → `new`, with `a/` and `b/` headers naming `name`.
pub fn unified_diff(old: &str, new: &str, name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_keeps_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.toml");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&p, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left behind"
        );
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

    #[test]
    fn diff_has_headers() {
        let d = unified_diff("a\nb\n", "a\nc\n", "Cargo.toml");
        assert!(d.starts_with("--- a/Cargo.toml\n+++ b/Cargo.toml\n"), "{d}");
        assert!(d.contains("-b\n+c\n"));
    }
}
