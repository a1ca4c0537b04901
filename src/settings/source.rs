//! A `files` source, opened once where it was checked.
//!
//! The source is opened without following a symlink (`O_NOFOLLOW`) when the configuration is
//! resolved, before anything is compiled, and the handle is kept: the image gets the bytes of the
//! file that was checked, even if a build script later replaces the path by a symlink or a hard link
//! to a file outside the package.

use std::fs::File;
use std::io::Read;
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
        let mut buf = Vec::with_capacity(self.size as usize);
        self.reader()?.read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// Checks that the file still has the size it had when it was opened.
    pub fn check_size(&self) -> std::io::Result<()> {
        let len = self.file.metadata()?.len();
        if len != self.size {
            return Err(changed(self.size, len));
        }
        Ok(())
    }

    /// A reader of the file's bytes from offset 0, in chunks from the handle opened at check time
    /// (`pread`, so several readers do not disturb each other): a large file is never held whole in
    /// memory. It yields exactly `size` bytes; a file that shrank or grew since it was checked is an
    /// error.
    pub fn reader(&self) -> std::io::Result<SourceReader<'_>> {
        self.check_size()?;
        Ok(SourceReader { src: self, pos: 0 })
    }

    /// `sha256:` of the file's bytes, read in chunks.
    pub fn sha256(&self) -> std::io::Result<String> {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        let mut r = self.reader()?;
        let mut buf = vec![0; 1 << 20];
        loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(crate::digest::hex_digest(hasher))
    }
}

fn changed(was: u64, now: u64) -> std::io::Error {
    std::io::Error::other(format!(
        "changed size during the build ({was} → {now} bytes)"
    ))
}

/// See [`OpenedSource::reader`].
pub struct SourceReader<'a> {
    src: &'a OpenedSource,
    pos: u64,
}

impl Read for SourceReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let size = self.src.size;
        if self.pos == size || buf.is_empty() {
            // The end: the file must not have grown (nor shrunk) meanwhile.
            self.src.check_size()?;
            return Ok(0);
        }
        let want = buf
            .len()
            .min((size - self.pos).min(usize::MAX as u64) as usize);
        let n = self.src.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            let now = self.src.file.metadata()?.len();
            return Err(changed(size, now));
        }
        self.pos += n as u64;
        Ok(n)
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

    #[test]
    fn a_file_that_grew_after_it_was_read_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("log.txt");
        std::fs::write(&p, "12345").unwrap();
        let opened = OpenedSource::open(&p).unwrap();
        let mut r = opened.reader().unwrap();
        let mut buf = [0; 5];
        r.read_exact(&mut buf).unwrap();
        std::fs::write(&p, "1234567").unwrap();
        let e = r.read(&mut buf).unwrap_err().to_string();
        assert_eq!(e, "changed size during the build (5 → 7 bytes)");
        assert!(opened.sha256().is_err());
    }
}
