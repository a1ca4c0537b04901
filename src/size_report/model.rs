//! The size report as data: what `--message-format json` prints (`"reason":"size-report"`), what
//! `<target-dir>/tiny/size-report.json` holds and what `--baseline` reads back. The schema is in
//! docs/src/commands/size.md; `version` changes only when a field changes meaning.

use serde::{Deserialize, Serialize};

pub use super::elf::Share;
pub use super::owners::Kind;

/// The schema version.
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Report {
    pub version: u32,
    /// The cargo-tiny (and its analysis) that made the report: reports of another one may attribute
    /// some bytes otherwise.
    #[serde(default)]
    pub tool: String,
    pub binaries: Vec<BinaryReport>,
    pub images: Vec<ImageReport>,
    /// With `--baseline`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<super::diff::Diff>,
    /// With a `size-budget`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub budget: Vec<super::budget::Verdict>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advice: Vec<super::advice::Advice>,
}

/// One binary, every byte of it owned.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BinaryReport {
    pub package: String,
    pub version: String,
    pub bin: String,
    pub target: String,
    /// Bytes of the (stripped) binary.
    pub size: u64,
    pub sha256: String,
    /// `"twin"`: attributed from its symbol twin; `"none"`: sizes only (a baseline read from a
    /// tarball).
    pub source: String,
    /// Bytes owned by a crate, the standard library, libc or other C code (the rest have a name,
    /// not an owner: see the rows of kind `unattributed`).
    pub attributed: u64,
    /// Biggest first; the sizes add up to `size`.
    pub owners: Vec<OwnerRow>,
    /// The biggest functions and data.
    pub top_symbols: Vec<SymbolRow>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OwnerRow {
    pub name: String,
    pub kind: Kind,
    /// The package's versions in the binary (two for a crate the graph holds twice).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
    pub size: u64,
    #[serde(flatten)]
    pub share: Share,
    /// Named symbols (functions and data) it owns.
    pub symbols: usize,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SymbolRow {
    pub name: String,
    pub owner: String,
    pub size: u64,
    /// `true` for a function, `false` for data.
    pub code: bool,
}

/// One image (one platform of it): its layer's files and their compressed share.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ImageReport {
    pub image: String,
    /// Empty for a baseline read from a tarball.
    #[serde(default)]
    pub package: String,
    pub bin: String,
    pub platform: String,
    pub path: String,
    pub compression: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// Biggest first; `compressed` adds up to `compressed_size`.
    pub files: Vec<FileRow>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileRow {
    /// `/usr/local/bin/api`; `(tar headers and directories)` for the rest of the archive.
    pub path: String,
    /// `binary`, `ca-bundle`, `system` (passwd, group), `file` (`files = {…}`), `tar`.
    pub kind: String,
    pub size: u64,
    /// Estimated: each file compressed alone with the layer's algorithm, scaled to the layer.
    pub compressed: u64,
}

/// The symbols of one owner, for the treemap (biggest first, the rest summed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OwnerSymbols {
    pub owner: String,
    pub symbols: Vec<(String, u64)>,
    /// Bytes of the owner in neither a listed symbol: smaller symbols, anonymous data, unwind.
    pub rest: u64,
}
