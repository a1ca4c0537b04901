//! File writes at the edge: atomic replacement, and unified diffs for `--dry-run`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Failure;

/// Replaces `path` with `bytes` atomically: a temp file in the same directory, then a rename, keeping
/// the old file's permissions. A failure leaves the old file (or no file) in place, never half a file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let unwritable = |e: std::io::Error| {
        Failure::new(format!("cannot write {}: {e}", path.display()))
            .hint("check that the directory exists and is writable")
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".cargo-tiny-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(unwritable)?;
    tmp.write_all(bytes).map_err(unwritable)?;
    tmp.as_file().sync_all().map_err(unwritable)?;
    if let Ok(meta) = std::fs::metadata(path) {
        std::fs::set_permissions(tmp.path(), meta.permissions()).map_err(unwritable)?;
    }
    tmp.persist(path).map_err(|e| unwritable(e.error))?;
    Ok(())
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
    fn diff_has_headers() {
        let d = unified_diff("a\nb\n", "a\nc\n", "Cargo.toml");
        assert!(d.starts_with("--- a/Cargo.toml\n+++ b/Cargo.toml\n"), "{d}");
        assert!(d.contains("-b\n+c\n"));
    }
}
