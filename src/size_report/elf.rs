//! Every byte of a stripped binary given an owner, read from its symbol twin: the same link with
//! `-C strip=none` and `--emit-relocs` (see [`super::twin`]), whose loaded sections are byte for byte
//! those of the stripped binary (checked here: a twin that differs is an error, never a guess).
//!
//! - code: each function symbol's bytes, and the alignment padding after it, go to its owner;
//! - named data (statics, tables): the symbol's owner;
//! - anonymous data (string literals, vtables, panic locations — no symbol): split at every address a
//!   relocation points to, and each piece goes to the owners of the code (or, transitively, of the
//!   data) that refers to it — shared evenly when several crates do;
//! - unwind tables: each `.eh_frame` FDE, its `.eh_frame_hdr` entry and its LSDA in
//!   `.gcc_except_table` go to the owner of the function the FDE describes;
//! - dynamic relocations (`.rela.dyn`, 24 bytes each): the owner of the word they patch.
//!
//! What is left has a name, not a crate: the ELF headers and the padding between sections, the shared
//! unwind entries (CIEs), anonymous data nothing refers to, the audit data, linker-made sections.
//! Which crate a symbol belongs to is the caller's business ([`Namer`]).

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags};

/// What a symbol is, as the namer sees it.
pub struct RawSymbol<'a> {
    pub name: &'a str,
    /// A local symbol, and the `STT_FILE` it follows (C objects name their source file).
    pub local: bool,
    pub file: Option<&'a str>,
}

/// Names the owner of a symbol (a crate, the standard library, libc …): an index into the caller's
/// list of owners.
pub trait Namer {
    fn owner(&mut self, sym: &RawSymbol<'_>) -> usize;
    /// The owner index of a named remainder ("ELF headers and padding" …).
    fn bucket(&mut self, name: &'static str) -> usize;
}

/// What one owner has in the binary, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Share {
    /// Code (with the alignment padding after each function).
    pub text: u64,
    /// Read-only and writable data, named or anonymous.
    pub data: u64,
    /// `.eh_frame`, `.eh_frame_hdr` and `.gcc_except_table` entries.
    pub unwind: u64,
    /// Dynamic relocations (static-pie) and ELF/linker structures.
    pub other: u64,
}

impl Share {
    pub fn total(&self) -> u64 {
        self.text + self.data + self.unwind + self.other
    }

    pub fn add(&mut self, o: &Share) {
        self.text += o.text;
        self.data += o.data;
        self.unwind += o.unwind;
        self.other += o.other;
    }
}

/// One function or named datum of the binary.
#[derive(Debug, Clone)]
pub struct Symbol {
    /// Demangled, without the hash.
    pub name: String,
    pub owner: usize,
    pub size: u64,
    pub code: bool,
}

/// The result: per owner index, its share; the symbols; the stripped file's size.
#[derive(Debug, Default)]
pub struct Attribution {
    pub shares: BTreeMap<usize, Share>,
    pub symbols: Vec<Symbol>,
    pub file_size: u64,
}

pub const HEADERS: &str = "ELF headers and padding";
pub const AUDIT: &str = "audit data (.dep-v0)";
pub const UNWIND_SHARED: &str = "unwind: shared CIEs and headers";
pub const UNREFERENCED: &str = "unreferenced anonymous data";
pub const LINKER: &str = "linker sections (.got, .plt, notes)";
pub const RELOCS: &str = "relocations of unowned words";

/// The interval of one owned symbol.
pub(super) struct Span {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) owner: usize,
}

/// Anonymous data between symbols, split at the addresses pointed to.
pub(super) struct Piece {
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) refs: BTreeSet<usize>,
}

/// Owners of addresses: symbol spans, then anonymous pieces (both sorted, disjoint).
pub(super) struct Map {
    pub(super) spans: Vec<Span>,
    pub(super) pieces: Vec<Piece>,
}

pub(super) fn find<T>(v: &[T], addr: u64, range: impl Fn(&T) -> (u64, u64)) -> Option<usize> {
    let i = v.partition_point(|x| range(x).0 <= addr);
    (i > 0 && addr < range(&v[i - 1]).1).then(|| i - 1)
}

impl Map {
    pub(super) fn span(&self, addr: u64) -> Option<usize> {
        find(&self.spans, addr, |s| (s.start, s.end)).map(|i| self.spans[i].owner)
    }
    pub(super) fn piece(&self, addr: u64) -> Option<usize> {
        find(&self.pieces, addr, |p| (p.start, p.end))
    }
    /// The owner of the byte at `addr`: its symbol's, else the first of its piece's.
    pub(super) fn owner(&self, addr: u64) -> Option<usize> {
        self.span(addr).or_else(|| {
            self.piece(addr)
                .and_then(|i| self.pieces[i].refs.iter().next().copied())
        })
    }
}

/// A section of the binary as both files must agree on it.
pub(super) struct Loaded<'a> {
    pub(super) name: String,
    pub(super) address: u64,
    pub(super) data: &'a [u8],
    pub(super) code: bool,
}

pub(super) fn is_alloc(flags: SectionFlags) -> bool {
    matches!(flags, SectionFlags::Elf { sh_flags } if sh_flags & u64::from(elf::SHF_ALLOC) != 0)
}
fn is_exec(flags: SectionFlags) -> bool {
    matches!(flags, SectionFlags::Elf { sh_flags } if sh_flags & u64::from(elf::SHF_EXECINSTR) != 0)
}

/// The loaded sections with file bytes, by name (NOBITS `.bss`/`.tbss` take no file space).
fn loaded<'a>(file: &object::File<'a>) -> Vec<Loaded<'a>> {
    file.sections()
        .filter(|s| is_alloc(s.flags()) && s.file_range().is_some())
        .filter_map(|s| {
            Some(Loaded {
                name: s.name().ok()?.to_string(),
                address: s.address(),
                data: s.data().ok()?,
                code: is_exec(s.flags()),
            })
        })
        .collect()
}

/// Attributes every byte of `stripped` from its twin.
pub fn attribute(twin: &[u8], stripped: &[u8], namer: &mut dyn Namer) -> Result<Attribution> {
    let tf = object::File::parse(twin).context("reading the symbol twin")?;
    let sf = object::File::parse(stripped).context("reading the binary")?;
    let sections = loaded(&tf);
    check_twin(&sections, &loaded(&sf))?;
    let x86 = tf.architecture() == object::Architecture::X86_64;

    let mut out = Attribution {
        file_size: stripped.len() as u64,
        ..Default::default()
    };
    let mut map = Map {
        spans: Vec::new(),
        pieces: Vec::new(),
    };
    symbols(&tf, namer, &mut map, &mut out.symbols);
    if out.symbols.is_empty() {
        anyhow::bail!("the symbol twin has no symbols (is it the stripped binary again?)");
    }
    let relocs = super::anonymous::relocations(&tf, &sections, x86);
    super::anonymous::pieces(&sections, &mut map, &relocs);

    let mut add = |owner: usize, f: &dyn Fn(&mut Share)| f(out.shares.entry(owner).or_default());
    for s in &sections {
        let (start, end) = (s.address, s.address + s.data.len() as u64);
        match s.name.as_str() {
            ".eh_frame" | ".eh_frame_hdr" | ".gcc_except_table" => {}
            ".rela.dyn" | ".rela.plt" => {
                // Elf64_Rela: r_offset, r_info, r_addend.
                for chunk in s.data.chunks(24) {
                    let n = chunk.len() as u64;
                    let owner = chunk
                        .get(..8)
                        .filter(|_| n == 24)
                        .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
                        .and_then(|off| map.owner(off));
                    match owner {
                        Some(o) => add(o, &|sh| sh.other += n),
                        None => add(namer.bucket(RELOCS), &|sh| sh.other += n),
                    }
                }
            }
            _ if s.code => {
                // Each function with the padding up to the next one; code before the first symbol
                // (linker stubs) is the linker's.
                let mut at = start;
                let first = map.spans.partition_point(|sp| sp.end <= start);
                let mut last: Option<usize> = None;
                for sp in map.spans[first..].iter().take_while(|sp| sp.start < end) {
                    if sp.start > at {
                        let gap = sp.start - at;
                        match last {
                            Some(o) => add(o, &|sh| sh.text += gap),
                            None => add(namer.bucket(LINKER), &|sh| sh.other += gap),
                        }
                    }
                    let n = sp.end.min(end) - sp.start.max(at);
                    add(sp.owner, &|sh| sh.text += n);
                    at = sp.end.min(end);
                    last = Some(sp.owner);
                }
                if end > at {
                    let gap = end - at;
                    match last {
                        Some(o) => add(o, &|sh| sh.text += gap),
                        None => add(namer.bucket(LINKER), &|sh| sh.other += gap),
                    }
                }
            }
            _ => {
                let first = map.spans.partition_point(|sp| sp.end <= start);
                let mut covered = 0;
                for sp in map.spans[first..].iter().take_while(|sp| sp.start < end) {
                    let n = sp.end.min(end) - sp.start.max(start);
                    add(sp.owner, &|sh| sh.data += n);
                    covered += n;
                }
                let first = map.pieces.partition_point(|p| p.end <= start);
                for p in map.pieces[first..].iter().take_while(|p| p.start < end) {
                    let n = p.end - p.start;
                    covered += n;
                    if p.refs.is_empty() {
                        add(namer.bucket(UNREFERENCED), &|sh| sh.data += n);
                        continue;
                    }
                    // Shared evenly; the remainder to the first.
                    let k = p.refs.len() as u64;
                    for (i, &o) in p.refs.iter().enumerate() {
                        let part = n / k + u64::from(i == 0) * (n % k);
                        add(o, &|sh| sh.data += part);
                    }
                }
                let rest = (end - start).saturating_sub(covered);
                if rest > 0 {
                    add(namer.bucket(LINKER), &|sh| sh.other += rest);
                }
            }
        }
    }
    super::unwind::unwind(&tf, &sections, &map, namer, &mut out.shares)?;

    // The rest of the stripped file: its non-loaded sections and what lies between sections.
    let mut in_sections = 0u64;
    for s in sf.sections() {
        let Some((_, size)) = s.file_range() else {
            continue;
        };
        in_sections += size;
        if is_alloc(s.flags()) {
            continue;
        }
        let bucket = if s.name() == Ok(".dep-v0") {
            AUDIT
        } else {
            LINKER
        };
        out.shares.entry(namer.bucket(bucket)).or_default().other += size;
    }
    let headers = out.file_size.saturating_sub(in_sections);
    out.shares.entry(namer.bucket(HEADERS)).or_default().other += headers;
    let total: u64 = out.shares.values().map(Share::total).sum();
    anyhow::ensure!(
        total == out.file_size,
        "attribution accounts for {total} bytes of a {}-byte binary",
        out.file_size
    );
    Ok(out)
}

/// The twin must hold the very bytes of the binary in every loaded section.
fn check_twin(twin: &[Loaded<'_>], stripped: &[Loaded<'_>]) -> Result<()> {
    for s in stripped {
        // The build id hashes the whole file, symbols included: only its place and size must match.
        let note = s.name.starts_with(".note");
        let same = twin.iter().find(|t| t.name == s.name).is_some_and(|t| {
            t.address == s.address && t.data.len() == s.data.len() && (note || t.data == s.data)
        });
        if !same {
            let twin = twin
                .iter()
                .find(|t| t.name == s.name)
                .map(|t| format!("{} bytes at {:#x}", t.data.len(), t.address))
                .unwrap_or_else(|| "none".into());
            anyhow::bail!(
                "the symbol twin differs from the binary in {} ({} bytes at {:#x}; the twin's: {twin})",
                s.name,
                s.data.len(),
                s.address
            );
        }
    }
    Ok(())
}

/// The sized symbols of loaded sections, one per address (the largest; a global before a local),
/// each clipped to the next one.
fn symbols(file: &object::File<'_>, namer: &mut dyn Namer, map: &mut Map, out: &mut Vec<Symbol>) {
    let loaded_sections: BTreeMap<usize, bool> = file
        .sections()
        .filter(|s| is_alloc(s.flags()) && s.file_range().is_some())
        .map(|s| (s.index().0, is_exec(s.flags())))
        .collect();
    /// A sized symbol of a loaded section, as read.
    struct Raw<'a> {
        addr: u64,
        size: u64,
        code: bool,
        name: &'a str,
        local: bool,
        file: Option<&'a str>,
    }
    let mut file_name: Option<&str> = None;
    let mut raw: Vec<Raw<'_>> = Vec::new();
    for sym in file.symbols() {
        if sym.kind() == object::SymbolKind::File {
            file_name = sym.name().ok();
            continue;
        }
        let Some(&code) = sym.section_index().and_then(|i| loaded_sections.get(&i.0)) else {
            continue;
        };
        let Ok(name) = sym.name() else { continue };
        // TLS symbols hold offsets into the TLS block, not addresses.
        if sym.size() == 0 || name.is_empty() || sym.kind() == object::SymbolKind::Tls {
            continue;
        }
        let local = sym.is_local();
        raw.push(Raw {
            addr: sym.address(),
            size: sym.size(),
            code,
            name,
            local,
            file: local.then_some(file_name).flatten(),
        });
    }
    // By address; at one address the largest, globals first.
    raw.sort_by(|a, b| {
        a.addr
            .cmp(&b.addr)
            .then(b.size.cmp(&a.size))
            .then(a.local.cmp(&b.local))
    });
    raw.dedup_by_key(|r| r.addr);
    for (i, r) in raw.iter().enumerate() {
        let next = raw.get(i + 1).map_or(u64::MAX, |n| n.addr);
        let end = (r.addr + r.size).min(next);
        let owner = namer.owner(&RawSymbol {
            name: r.name,
            local: r.local,
            file: r.file,
        });
        map.spans.push(Span {
            start: r.addr,
            end,
            owner,
        });
        out.push(Symbol {
            name: demangle(r.name),
            owner,
            size: end - r.addr,
            code: r.code,
        });
    }
}

/// A symbol's readable name: Rust's demangled without the hash, anything else as it is.
pub fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}
