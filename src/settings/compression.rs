//! How the image layer is compressed: one value chosen on the command line or in
//! `[*.metadata.tiny]`, carrying the layer's media type, the encoder and which engines read it.
//!
//! Every choice is deterministic: the same tar gives the same bytes. gzip uses miniz_oxide
//! (flate2's `rust_backend`) at level 9; gzip-max uses zopfli (pure Rust, single-threaded) and
//! writes a plain gzip stream any engine reads; zstd uses libzstd at a fixed level, single-threaded,
//! without a content checksum or dictionary.

use std::io::Write;
use std::num::NonZeroU64;

use anyhow::Result;
use flate2::GzBuilder;

/// The layer media type of a gzip layer.
pub const LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// The layer media type of a zstd layer.
pub const LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// The zstd level: 19 is the highest level without `--ultra` windows (no extra memory to decode).
pub const ZSTD_LEVEL: i32 = 19;
/// zopfli's iterations per block: 5, as its docs advise for inputs of several MB (15, its default,
/// takes 40 % longer on a 1.4 MB binary for 31 bytes less).
pub const ZOPFLI_ITERATIONS: u64 = 5;

/// The layer's compression.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Compression {
    /// gzip level 9: every engine loads it (the default)
    #[default]
    Gzip,
    /// zopfli-encoded gzip: a few % smaller, still plain gzip every engine loads; slower to build
    #[value(name = "gzip-max")]
    GzipMax,
    /// zstd level 19: much smaller; podman ≥ 4, skopeo, containerd ≥ 1.5, docker ≥ 23 (not docker 20.10)
    Zstd,
}

impl Compression {
    /// The spelling on the command line and in `[*.metadata.tiny]` (and a stable cache-key part).
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::GzipMax => "gzip-max",
            Compression::Zstd => "zstd",
        }
    }

    pub const ALL: [Compression; 3] = [Compression::Gzip, Compression::GzipMax, Compression::Zstd];

    /// Parses the `[*.metadata.tiny]` spelling.
    pub fn parse(s: &str) -> Option<Compression> {
        Compression::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The OCI media type of the compressed layer.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip | Compression::GzipMax => LAYER_GZIP,
            Compression::Zstd => LAYER_ZSTD,
        }
    }

    /// The stream format, as the status line says it (`gzip`, `zstd`).
    pub fn format(self) -> &'static str {
        match self {
            Compression::Gzip | Compression::GzipMax => "gzip",
            Compression::Zstd => "zstd",
        }
    }

    /// The encoder and its setting, for status lines.
    pub fn encoder(self) -> String {
        match self {
            Compression::Gzip => "miniz_oxide level 9".into(),
            Compression::GzipMax => format!("zopfli, {ZOPFLI_ITERATIONS} iterations"),
            Compression::Zstd => format!("libzstd level {ZSTD_LEVEL}"),
        }
    }

    /// Whether `docker load` (docker 20.10, through `manifest.json`) is claimed to load it.
    pub fn docker_loads(self) -> bool {
        self != Compression::Zstd
    }

    /// Which engines read a layer of this compression (said once in the build output for zstd).
    pub fn engines(self) -> &'static str {
        match self {
            Compression::Gzip | Compression::GzipMax => "every engine",
            Compression::Zstd => {
                "podman ≥ 4, skopeo, containerd ≥ 1.5 and docker ≥ 23; not docker 20.10 or older"
            }
        }
    }

    /// Compresses `data`.
    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        let mut w = self.writer(data.len() as u64)?;
        w.write_all(data)?;
        w.finish()
    }

    /// A writer compressing the `size` bytes written into it (zstd puts the size in its frame
    /// header); [`Compressor::finish`] gives the compressed bytes.
    pub fn writer(self, size: u64) -> Result<Compressor> {
        Ok(match self {
            Compression::Gzip => Compressor::Gzip(gzip_writer()),
            Compression::GzipMax => Compressor::GzipMax(ZopfliWhole::new(size)?),
            Compression::Zstd => Compressor::Zstd(zstd_writer(size)?),
        })
    }
}

/// A streaming encoder of one [`Compression`], writing into memory.
pub enum Compressor {
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    GzipMax(ZopfliWhole),
    Zstd(zstd::stream::Encoder<'static, Vec<u8>>),
}

impl Compressor {
    /// Ends the stream; the compressed bytes.
    pub fn finish(self) -> Result<Vec<u8>> {
        Ok(match self {
            Compressor::Gzip(w) => w.finish()?,
            Compressor::GzipMax(w) => w.finish()?,
            Compressor::Zstd(w) => w.finish()?,
        })
    }
}

impl Write for Compressor {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Compressor::Gzip(w) => w.write(buf),
            Compressor::GzipMax(w) => w.write(buf),
            Compressor::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Compressor::Gzip(w) => w.flush(),
            Compressor::GzipMax(w) => w.flush(),
            Compressor::Zstd(w) => w.flush(),
        }
    }
}

/// zopfli's gzip encoder given the whole tar at once. gzip-max does not stream: zopfli compresses
/// each `write` as its own chunk (its `DeflateEncoder`), and `zopfli::compress` on a slice, which
/// made every gzip-max layer so far, hands it the whole input in one `write` (std's `io::copy`
/// writes a slice reader whole). Feeding it in pieces would change the bytes of every gzip-max
/// image, so this mode alone keeps the tar in memory (zopfli itself keeps a copy of its chunk).
pub struct ZopfliWhole {
    enc: zopfli::GzipEncoder<Vec<u8>>,
    tar: Vec<u8>,
}

impl ZopfliWhole {
    fn new(size: u64) -> Result<ZopfliWhole> {
        let options = zopfli::Options {
            iteration_count: NonZeroU64::new(ZOPFLI_ITERATIONS).expect("non-zero"),
            ..Default::default()
        };
        Ok(ZopfliWhole {
            enc: zopfli::GzipEncoder::new(options, zopfli::BlockType::Dynamic, Vec::new())?,
            tar: Vec::with_capacity(usize::try_from(size).unwrap_or(0)),
        })
    }

    fn finish(mut self) -> std::io::Result<Vec<u8>> {
        if !self.tar.is_empty() {
            self.enc.write_all(&self.tar)?;
        }
        self.enc.finish()
    }
}

impl Write for ZopfliWhole {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tar.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// gzip at level 9 with a fixed header (no name, mtime 0, OS unknown). The bytes depend on the
/// deflate backend, which Cargo.toml pins to flate2's `rust_backend` (miniz_oxide).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    Compression::Gzip.compress(data)
}

fn gzip_writer() -> flate2::write::GzEncoder<Vec<u8>> {
    GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::best())
}

/// zopfli's gzip: a fixed header (mtime 0, XFL 2, OS 3), then an exhaustively searched deflate stream.
pub fn gzip_max(data: &[u8]) -> Result<Vec<u8>> {
    Compression::GzipMax.compress(data)
}

/// zstd at [`ZSTD_LEVEL`], one thread, the content size in the frame header, no checksum, no dictionary.
pub fn zstd(data: &[u8]) -> Result<Vec<u8>> {
    Compression::Zstd.compress(data)
}

fn zstd_writer(size: u64) -> Result<zstd::stream::Encoder<'static, Vec<u8>>> {
    let mut enc = zstd::stream::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
    enc.include_checksum(false)?;
    enc.include_contentsize(true)?;
    enc.set_pledged_src_size(Some(size))?;
    enc.include_dictid(false)?;
    enc.long_distance_matching(false)?;
    Ok(enc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Vec<u8> {
        // Compressible but not trivial: a repeated pseudo-random text.
        let mut v = Vec::new();
        let mut x: u32 = 1;
        for _ in 0..20_000 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            v.extend_from_slice(format!("{} ", (x >> 16) % 97).as_bytes());
        }
        v
    }

    #[test]
    fn every_compression_round_trips_and_is_deterministic() {
        let data = sample();
        for c in Compression::ALL {
            let a = c.compress(&data).unwrap();
            assert_eq!(a, c.compress(&data).unwrap(), "{c} is deterministic");
            let mut back = Vec::new();
            match c.format() {
                "gzip" => {
                    flate2::read::GzDecoder::new(a.as_slice())
                        .read_to_end(&mut back)
                        .unwrap();
                }
                _ => {
                    zstd::stream::Decoder::new(a.as_slice())
                        .unwrap()
                        .read_to_end(&mut back)
                        .unwrap();
                }
            }
            assert_eq!(back, data, "{c} round-trips");
        }
    }

    #[test]
    fn headers_carry_no_time_and_media_types_follow_the_format() {
        let data = sample();
        let gz = gzip(&data).unwrap();
        assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255]);
        let max = gzip_max(&data).unwrap();
        assert_eq!(&max[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "mtime 0");
        assert!(max.len() < gz.len(), "{} < {}", max.len(), gz.len());
        let z = zstd(&data).unwrap();
        assert_eq!(&z[..4], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
        // Frame header descriptor: no checksum flag (bit 2), no dictionary id (bits 0-1).
        assert_eq!(z[4] & 0b111, 0);
        assert_eq!(Compression::Gzip.media_type(), LAYER_GZIP);
        assert_eq!(Compression::GzipMax.media_type(), LAYER_GZIP);
        assert_eq!(Compression::Zstd.media_type(), LAYER_ZSTD);
        assert!(!Compression::Zstd.docker_loads());
    }

    #[test]
    fn spellings_round_trip() {
        for c in Compression::ALL {
            assert_eq!(Compression::parse(c.as_str()), Some(c));
            let v = <Compression as clap::ValueEnum>::from_str(c.as_str(), false).unwrap();
            assert_eq!(v, c);
        }
        assert_eq!(Compression::parse("xz"), None);
    }

    #[test]
    fn written_gzip_max_is_zopfli_compress_on_the_whole_slice() {
        // Over zopfli's 1 MB buffer, written in odd-sized pieces: the bytes of `zopfli::compress`.
        let data: Vec<u8> = sample().into_iter().cycle().take(1_100_000).collect();
        let options = zopfli::Options {
            iteration_count: NonZeroU64::new(ZOPFLI_ITERATIONS).unwrap(),
            ..Default::default()
        };
        let mut whole = Vec::new();
        zopfli::compress(options, zopfli::Format::Gzip, data.as_slice(), &mut whole).unwrap();
        let mut w = Compression::GzipMax.writer(data.len() as u64).unwrap();
        for piece in data.chunks(4093) {
            w.write_all(piece).unwrap();
        }
        assert_eq!(w.finish().unwrap(), whole);
    }
}
