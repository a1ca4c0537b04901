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
use object::{
    Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionFlags,
};

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
struct Span {
    start: u64,
    end: u64,
    owner: usize,
}

/// Anonymous data between symbols, split at the addresses pointed to.
struct Piece {
    start: u64,
    end: u64,
    refs: BTreeSet<usize>,
}

/// Owners of addresses: symbol spans, then anonymous pieces (both sorted, disjoint).
struct Map {
    spans: Vec<Span>,
    pieces: Vec<Piece>,
}

fn find<T>(v: &[T], addr: u64, range: impl Fn(&T) -> (u64, u64)) -> Option<usize> {
    let i = v.partition_point(|x| range(x).0 <= addr);
    (i > 0 && addr < range(&v[i - 1]).1).then(|| i - 1)
}

impl Map {
    fn span(&self, addr: u64) -> Option<usize> {
        find(&self.spans, addr, |s| (s.start, s.end)).map(|i| self.spans[i].owner)
    }
    fn piece(&self, addr: u64) -> Option<usize> {
        find(&self.pieces, addr, |p| (p.start, p.end))
    }
    /// The owner of the byte at `addr`: its symbol's, else the first of its piece's.
    fn owner(&self, addr: u64) -> Option<usize> {
        self.span(addr).or_else(|| {
            self.piece(addr)
                .and_then(|i| self.pieces[i].refs.iter().next().copied())
        })
    }
}

/// A section of the binary as both files must agree on it.
struct Loaded<'a> {
    name: String,
    address: u64,
    data: &'a [u8],
    code: bool,
}

fn is_alloc(flags: SectionFlags) -> bool {
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
    let relocs = relocations(&tf, x86);
    pieces(&sections, &mut map, &relocs);

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
    unwind(&tf, &sections, &map, namer, &mut out.shares)?;

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
            anyhow::bail!(
                "the symbol twin differs from the binary in {} (the twin must be the same link with symbols kept)",
                s.name
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
    let mut file_name: Option<&str> = None;
    let mut raw: Vec<(u64, u64, bool, &str, bool, Option<&str>)> = Vec::new();
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
        raw.push((
            sym.address(),
            sym.size(),
            code,
            name,
            local,
            local.then_some(file_name).flatten(),
        ));
    }
    // By address; at one address the largest, globals first.
    raw.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(a.4.cmp(&b.4)));
    raw.dedup_by_key(|r| r.0);
    for (i, &(addr, size, code, name, local, file)) in raw.iter().enumerate() {
        let next = raw.get(i + 1).map_or(u64::MAX, |r| r.0);
        let end = (addr + size).min(next);
        let owner = namer.owner(&RawSymbol { name, local, file });
        map.spans.push(Span {
            start: addr,
            end,
            owner,
        });
        out.push(Symbol {
            name: demangle(name),
            owner,
            size: end - addr,
            code,
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

/// Every (place, target) address pair the twin's relocations record: the static ones kept by
/// `--emit-relocs` and the dynamic ones (`.rela.dyn`).
fn relocations(file: &object::File<'_>, x86: bool) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    let sym_addr = |i| file.symbol_by_index(i).map(|s| s.address()).ok();
    for section in file.sections() {
        if !is_alloc(section.flags()) {
            continue;
        }
        for (place, r) in section.relocations() {
            let base = match r.target() {
                RelocationTarget::Symbol(i) => sym_addr(i),
                RelocationTarget::Section(i) => file.section_by_index(i).ok().map(|s| s.address()),
                RelocationTarget::Absolute => Some(0),
                _ => None,
            };
            let Some(base) = base else { continue };
            // x86-64 rip-relative 32-bit forms count from the end of the 4-byte field.
            let pc32 = x86
                && matches!(r.flags(), RelocationFlags::Elf { r_type } if matches!(r_type,
                    elf::R_X86_64_PC32 | elf::R_X86_64_PLT32 | elf::R_X86_64_GOTPCREL
                    | elf::R_X86_64_GOTPCRELX | elf::R_X86_64_REX_GOTPCRELX));
            let target = (base as i64)
                .wrapping_add(r.addend())
                .wrapping_add(if pc32 { 4 } else { 0 });
            out.push((place, target as u64));
        }
    }
    if let Some(dynamic) = file.dynamic_relocations() {
        for (place, r) in dynamic {
            if let RelocationTarget::Absolute = r.target() {
                out.push((place, r.addend() as u64));
            }
        }
    }
    out
}

/// The anonymous data of the data sections, split at every address pointed to, with the owners of
/// what points there (code first, then data pointing to data, to a fixed point).
fn pieces(sections: &[Loaded<'_>], map: &mut Map, relocs: &[(u64, u64)]) {
    let mut gaps: Vec<(u64, u64)> = Vec::new();
    for s in sections.iter().filter(|s| !s.code) {
        // Anonymous data lives in .rodata*, .data* and .tdata; .got, the init arrays and the rest
        // are the linker's.
        let n = s.name.as_str();
        if !(n.starts_with(".rodata") || n.starts_with(".data") || n == ".tdata") {
            continue;
        }
        let (start, end) = (s.address, s.address + s.data.len() as u64);
        let mut at = start;
        let first = map.spans.partition_point(|sp| sp.end <= start);
        for sp in map.spans[first..].iter().take_while(|sp| sp.start < end) {
            if sp.start > at {
                gaps.push((at, sp.start));
            }
            at = at.max(sp.end);
        }
        if end > at {
            gaps.push((at, end));
        }
    }
    // Split points: every target inside a gap.
    let mut cuts: BTreeSet<u64> = gaps.iter().map(|g| g.0).collect();
    for &(_, t) in relocs {
        if let Some(i) = find(&gaps, t, |g| *g) {
            if t > gaps[i].0 {
                cuts.insert(t);
            }
        }
    }
    for &(gs, ge) in &gaps {
        let inner: Vec<u64> = cuts.range(gs..ge).copied().collect();
        for (i, &s) in inner.iter().enumerate() {
            let e = inner.get(i + 1).copied().unwrap_or(ge);
            map.pieces.push(Piece {
                start: s,
                end: e,
                refs: BTreeSet::new(),
            });
        }
    }
    // Who points where: code and named data directly, anonymous data by propagation.
    let mut edges: Vec<(usize, usize)> = Vec::new();
    for &(place, target) in relocs {
        let Some(dst) = map.piece(target) else {
            continue;
        };
        if let Some(owner) = map.span(place) {
            map.pieces[dst].refs.insert(owner);
        } else if let Some(src) = map.piece(place) {
            if src != dst {
                edges.push((src, dst));
            }
        }
    }
    edges.sort_unstable();
    edges.dedup();
    for _ in 0..64 {
        let mut changed = false;
        for &(src, dst) in &edges {
            let from: Vec<usize> = map.pieces[src].refs.iter().copied().collect();
            for o in from {
                changed |= map.pieces[dst].refs.insert(o);
            }
        }
        if !changed {
            break;
        }
    }
}

/// One `.eh_frame` entry.
enum Entry {
    Cie,
    Fde {
        owner: Option<usize>,
        lsda: Option<u64>,
    },
}

/// `.eh_frame` FDEs, their `.eh_frame_hdr` entries and LSDAs, to the owner of the function each
/// describes; CIEs and headers to the shared bucket.
fn unwind(
    file: &object::File<'_>,
    sections: &[Loaded<'_>],
    map: &Map,
    namer: &mut dyn Namer,
    shares: &mut BTreeMap<usize, Share>,
) -> Result<()> {
    let get = |n: &str| sections.iter().find(|s| s.name == n);
    let shared = namer.bucket(UNWIND_SHARED);
    let mut add = |o: usize, n: u64| shares.entry(o).or_default().unwind += n;
    let Some(eh) = get(".eh_frame") else {
        for n in [".eh_frame_hdr", ".gcc_except_table"] {
            if let Some(s) = get(n) {
                add(shared, s.data.len() as u64);
            }
        }
        return Ok(());
    };
    let mut bases = gimli::BaseAddresses::default().set_eh_frame(eh.address);
    if let Some(t) = get(".text") {
        bases = bases.set_text(t.address);
    }
    if let Some(g) = get(".got") {
        bases = bases.set_got(g.address);
    }
    if let Some(h) = get(".eh_frame_hdr") {
        bases = bases.set_eh_frame_hdr(h.address);
    }
    let mut frame = gimli::EhFrame::new(eh.data, gimli::LittleEndian);
    frame.set_address_size(if file.is_64() { 8 } else { 4 });
    let mut entries: Vec<(usize, Entry)> = Vec::new();
    let mut iter = frame.entries(&bases);
    use gimli::UnwindSection;
    // An entry gimli cannot read ends the walk: the rest of the section is shared.
    while let Ok(Some(entry)) = iter.next() {
        match entry {
            gimli::CieOrFde::Cie(c) => entries.push((c.offset(), Entry::Cie)),
            gimli::CieOrFde::Fde(p) => {
                let offset = p.offset();
                let fde = p.parse(|s, b, o| s.cie_from_offset(b, o)).ok();
                entries.push((
                    offset,
                    Entry::Fde {
                        owner: fde.as_ref().and_then(|f| map.span(f.initial_address())),
                        lsda: fde
                            .as_ref()
                            .and_then(|f| f.lsda())
                            .and_then(|l| l.direct().ok()),
                    },
                ));
            }
        }
    }
    let eh_len = eh.data.len();
    add(shared, entries.first().map_or(eh_len, |e| e.0) as u64);
    for (i, (offset, entry)) in entries.iter().enumerate() {
        let end = entries.get(i + 1).map_or(eh_len, |e| e.0);
        let n = end.saturating_sub(*offset) as u64;
        match entry {
            Entry::Fde { owner: Some(o), .. } => add(*o, n),
            _ => add(shared, n),
        }
    }
    let fdes: Vec<Option<usize>> = entries
        .iter()
        .filter_map(|(_, e)| match e {
            Entry::Fde { owner, .. } => Some(*owner),
            Entry::Cie => None,
        })
        .collect();
    // .eh_frame_hdr: a header, then one 8-byte entry per FDE (the linker's search table).
    if let Some(h) = get(".eh_frame_hdr") {
        let hdr = h.data.len() as u64;
        let table = 8 * fdes.len() as u64;
        if hdr >= table {
            for owner in &fdes {
                add(owner.unwrap_or(shared), 8);
            }
            add(shared, hdr - table);
        } else {
            add(shared, hdr);
        }
    }
    // .gcc_except_table: each LSDA up to the next one.
    if let Some(g) = get(".gcc_except_table") {
        let (start, end) = (g.address, g.address + g.data.len() as u64);
        let mut lsdas: Vec<(u64, usize)> = entries
            .iter()
            .filter_map(|(_, e)| match e {
                Entry::Fde {
                    owner: Some(o),
                    lsda: Some(l),
                } => Some((*l, *o)),
                _ => None,
            })
            .filter(|(a, _)| (start..end).contains(a))
            .collect();
        lsdas.sort_unstable();
        lsdas.dedup_by_key(|l| l.0);
        let before = lsdas.first().map_or(end, |l| l.0) - start;
        add(shared, before);
        for (i, &(a, o)) in lsdas.iter().enumerate() {
            let e = lsdas.get(i + 1).map_or(end, |l| l.0);
            add(o, e - a);
        }
    }
    Ok(())
}
