//! One build at a time writes a target dir's images: a lock on `<target-dir>/tiny/.lock`, held from
//! before the compile (so the binaries read are this build's) until the result is reported, as cargo
//! locks its build directory. A second build waits, saying so, instead of pairing one build's tarball
//! with another's SBOM.

use std::fs::File;
use std::os::unix::io::AsRawFd;
use std::path::Path;

use anyhow::Result;

use crate::error::Failure;
use crate::shell::Shell;

/// The held lock; released when dropped (or when the process ends).
pub struct OutputLock {
    _file: File,
}

/// Takes the lock of `target_dir`'s image output, waiting (with a `Blocking` line) while another
/// build holds it.
pub fn acquire(target_dir: &Path, shell: &Shell) -> Result<OutputLock> {
    let dir = target_dir.join("tiny");
    let path = dir.join(".lock");
    let cannot = |e: std::io::Error| {
        Failure::new(format!("cannot lock {}: {e}", path.display()))
            .hint("check that the target directory is writable")
    };
    std::fs::create_dir_all(&dir).map_err(cannot)?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(cannot)?;
    // flock(2), as cargo locks its build directory (std's File::lock needs Rust 1.89; MSRV 1.88).
    let flock = |op: i32| {
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    match flock(libc::LOCK_EX | libc::LOCK_NB) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            shell.status(
                "Blocking",
                format!(
                    "waiting for the lock on {} (another cargo tiny build writes its images)",
                    crate::fsutil::shown_path(&dir).display()
                ),
            );
            flock(libc::LOCK_EX).map_err(cannot)?;
        }
        Err(e) => return Err(cannot(e).into()),
    }
    Ok(OutputLock { _file: file })
}
