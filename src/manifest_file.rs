//! A user's Cargo.toml, read for editing and written back in the user's own style.
//!
//! One reader/writer for `cargo tiny init` and `cargo tiny doctor --fix`: the text handed to
//! toml_edit has no UTF-8 BOM and `\n` line endings; writing puts the BOM and the CRLF endings back,
//! writes the file a symlink points to (the link stays a link), refuses a read-only file up front,
//! and replaces the file atomically only if it still holds what was read.

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Failure;

const BOM: &str = "\u{feff}";

/// A manifest as read from disk.
#[derive(Debug, Clone)]
pub struct ManifestFile {
    /// The path as given (may be a symlink).
    pub path: PathBuf,
    /// The file behind it: where the new text is written.
    pub real: PathBuf,
    /// The text to edit: no BOM, `\n` line endings (when the file used CRLF throughout).
    pub text: String,
    bom: bool,
    crlf: bool,
    original: Vec<u8>,
}

impl ManifestFile {
    /// Reads `path`. `writable`: refuse a read-only file now, before any work is done.
    pub fn read(path: &Path, writable: bool) -> Result<ManifestFile> {
        let real = std::fs::canonicalize(path).map_err(|e| {
            Failure::new(format!("cannot read {}: {e}", path.display()))
                .hint("check the path given to --manifest-path")
        })?;
        let original = std::fs::read(&real).map_err(|e| {
            Failure::new(format!("cannot read {}: {e}", path.display()))
                .hint("check the path given to --manifest-path")
        })?;
        let Ok(raw) = String::from_utf8(original.clone()) else {
            crate::fail!(
                hint = "save it as UTF-8",
                "{} is not UTF-8 text",
                path.display()
            );
        };
        let bom = raw.starts_with(BOM);
        let body = raw.strip_prefix(BOM).unwrap_or(&raw);
        // CRLF only when every line ends so: a mixed file is edited as it is.
        let crlf = body.contains("\r\n") && !body.replace("\r\n", "").contains('\n');
        let text = if crlf {
            body.replace("\r\n", "\n")
        } else {
            body.to_string()
        };
        let m = ManifestFile {
            path: path.to_path_buf(),
            real,
            text,
            bom,
            crlf,
            original,
        };
        if writable {
            m.check_writable()?;
        }
        Ok(m)
    }

    /// A read-only manifest is refused with a one-line error (before anything is computed).
    pub fn check_writable(&self) -> Result<()> {
        let meta = std::fs::metadata(&self.real)?;
        if meta.permissions().readonly() {
            crate::fail!(
                hint = "make it writable (chmod u+w), or use --dry-run to see the change",
                "{} is read-only",
                self.shown()
            );
        }
        Ok(())
    }

    /// `path`, and the file it points to when it is a symlink.
    pub fn shown(&self) -> String {
        if self.real == self.path {
            self.path.display().to_string()
        } else {
            format!("{} (→ {})", self.path.display(), self.real.display())
        }
    }

    /// `text` (edited, `\n` endings) in the file's style: BOM and CRLF restored.
    pub fn render(&self, text: &str) -> Vec<u8> {
        let body = if self.crlf {
            text.replace("\r\n", "\n").replace('\n', "\r\n")
        } else {
            text.to_string()
        };
        let mut out = String::with_capacity(body.len() + 3);
        if self.bom {
            out.push_str(BOM);
        }
        out.push_str(&body);
        out.into_bytes()
    }

    /// Writes `text` in the file's style to the real file, atomically, only if the file still holds
    /// what was read.
    pub fn write(&self, text: &str, rerun: &str) -> Result<()> {
        let now = std::fs::read(&self.real).map_err(|e| {
            Failure::new(format!("cannot re-read {}: {e}", self.shown()))
                .hint(format!("run `{rerun}` again"))
        })?;
        if now != self.original {
            crate::fail!(
                hint = format!("run `{rerun}` again"),
                "{} changed on disk while it was being patched; nothing written",
                self.shown()
            );
        }
        crate::fsutil::write_atomic(&self.real, &self.render(text))
    }

    /// Puts the bytes that were read back (a rollback).
    pub fn restore(&self) -> Result<()> {
        crate::fsutil::write_atomic(&self.real, &self.original)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_and_crlf_survive_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.toml");
        std::fs::write(&p, "\u{feff}[package]\r\nname = \"a\"\r\n").unwrap();
        let m = ManifestFile::read(&p, true).unwrap();
        assert_eq!(m.text, "[package]\nname = \"a\"\n");
        m.write(
            "[package]\nname = \"a\"\n[profile.release]\nlto = true\n",
            "x",
        )
        .unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "\u{feff}[package]\r\nname = \"a\"\r\n[profile.release]\r\nlto = true\r\n"
        );
    }

    #[test]
    fn a_symlink_stays_a_link_and_its_target_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "[package]\n").unwrap();
        let link = dir.path().join("Cargo.toml");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let m = ManifestFile::read(&link, true).unwrap();
        m.write("[package]\nname = \"b\"\n", "x").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            std::fs::read_to_string(&real).unwrap(),
            "[package]\nname = \"b\"\n"
        );
    }

    #[test]
    fn read_only_and_changed_files_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.toml");
        std::fs::write(&p, "[package]\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o444)).unwrap();
        let e = ManifestFile::read(&p, true).unwrap_err();
        assert!(format!("{e:#}").contains("read-only"), "{e:#}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let m = ManifestFile::read(&p, true).unwrap();
        std::fs::write(&p, "[package]\nname = \"c\"\n").unwrap();
        let e = m.write("new", "cargo tiny init").unwrap_err();
        assert!(format!("{e:#}").contains("changed on disk"), "{e:#}");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "[package]\nname = \"c\"\n"
        );
    }

    #[test]
    fn mixed_line_endings_are_left_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.toml");
        std::fs::write(&p, "[package]\r\nname = \"a\"\n").unwrap();
        let m = ManifestFile::read(&p, false).unwrap();
        assert_eq!(m.text, "[package]\r\nname = \"a\"\n");
        assert_eq!(m.render(&m.text), std::fs::read(&p).unwrap());
    }
}
