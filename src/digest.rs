//! `sha256:` digests: of bytes, of what a hasher was fed, and of what goes through a writer.

use std::io::Write;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    hex_digest(Sha256::new_with_prefix(data))
}

/// `sha256:` and the hex digest of what `hasher` was fed.
pub fn hex_digest(hasher: Sha256) -> String {
    let d = hasher.finalize();
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in d.iter() {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Passes bytes on to `inner`, hashing and counting them.
pub struct Hashing<W> {
    pub inner: W,
    pub hasher: Sha256,
    pub count: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Hashing<W> {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
