//! A `files` source, opened once where it was checked.
//!
//! The source is opened without following a symlink (`O_NOFOLLOW`) when the configuration is
//! resolved, before anything is compiled, and the handle is kept: the image gets the bytes of the
//! file that was checked, even if a build script later replaces the path by a symlink or a hard link
//! to a file outside the package.

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::sync::Arc;

/// The largest file a ustar header can describe (11 octal digits): 8 GiB − 1.
pub const MAX_SIZE: u64 = 0o777_7777_7777;

/// An open regular file and what was checked about it.
#[derive(Clone)]
pub struct OpenedSource {
    file: Arc<File>,
    pub dev: u64,
    pub ino: u64,
    /// Permission bits (`rwx` for user, group, other), kept in the image like `COPY` keeps them.
    pub mode: u32,
    pub size: u64,
}

impl PartialEq for OpenedSource {
    fn eq(&self, other: &Self) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

impl Eq for OpenedSource {}

/// Without the handle (its fd number) or the inode: what is shown, and hashed into the image cache
/// key, is what the image gets of the file besides its bytes.
impl std::fmt::Debug for OpenedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSource")
            .field("mode", &format_args!("{:o}", self.mode))
            .field("size", &self.size)
            .finish()
    }
}

impl OpenedSource {
    /// Opens `path` (no symlink as its last component), checks that it is a regular file that fits
    /// in a layer. The error says what is wrong, without the path (the caller names it).
    pub fn open(path: &Path) -> Result<OpenedSource, String> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| format!("cannot be opened: {e}"))?;
        let meta = file
            .metadata()
            .map_err(|e| format!("cannot be read: {e}"))?;
        if !meta.file_type().is_file() {
            return Err("is not a regular file".into());
        }
        if meta.len() > MAX_SIZE {
            return Err(format!(
                "is {} bytes; a layer entry holds at most {MAX_SIZE} bytes",
                meta.len()
            ));
        }
        Ok(OpenedSource {
            file: Arc::new(file),
            dev: meta.dev(),
            ino: meta.ino(),
            mode: meta.mode() & 0o777,
            size: meta.len(),
        })
    }

    /// The file's bytes, read from the handle opened at check time (from offset 0, whatever was
    /// read before). A file that changed size since is an error.
    pub fn read(&self) -> std::io::Result<Vec<u8>> {
        let len = self.file.metadata()?.len();
        if len != self.size {
            return Err(std::io::Error::other(format!(
                "changed size during the build ({} → {len} bytes)",
                self.size
            )));
        }
        let mut buf = vec![0; len as usize];
        self.file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symlink_is_not_followed_and_a_swap_does_not_change_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let inside = dir.path().join("a.txt");
        let outside = dir.path().join("secret");
        std::fs::write(&inside, "inside").unwrap();
        std::fs::write(&outside, "SECRET").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&outside, &link).unwrap();
        assert!(OpenedSource::open(&link).unwrap_err().contains("opened"));
        assert!(OpenedSource::open(dir.path())
            .unwrap_err()
            .contains("not a regular file"));

        let opened = OpenedSource::open(&inside).unwrap();
        // A build script swaps the path for a symlink to the outside file.
        std::fs::remove_file(&inside).unwrap();
        std::os::unix::fs::symlink(&outside, &inside).unwrap();
        assert_eq!(opened.read().unwrap(), b"inside");
    }

    #[test]
    fn a_file_too_large_for_a_tar_entry_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("huge.bin");
        // Sparse: no disk space used.
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(MAX_SIZE + 1).unwrap();
        let e = OpenedSource::open(&p).unwrap_err();
        assert!(e.contains("at most 8589934591 bytes"), "{e}");
    }

    #[test]
    fn permission_bits_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("run.sh");
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o750)).unwrap();
        assert_eq!(OpenedSource::open(&p).unwrap().mode, 0o750);
    }
}
