//! Anonymous data (string literals, vtables, panic locations, constant tables: no symbol) given to
//! the code that refers to it: the relocations of the symbol twin (`--emit-relocs` keeps the static
//! ones, `.rela.dyn` holds the dynamic ones) say which place points where; a gap between data
//! symbols is cut at every address pointed to, and each piece goes to the owners of the places that
//! point at its start — directly from code and named data, then from data to data, to a fixed point.

use std::collections::BTreeSet;

use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget};

use super::elf::{find, is_alloc, Loaded, Map, Piece};

/// Every (place, target) address pair the twin's relocations record: the static ones kept by
/// `--emit-relocs` and the dynamic ones (`.rela.dyn`).
pub(super) fn relocations(file: &object::File<'_>, x86: bool) -> Vec<(u64, u64)> {
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
pub(super) fn pieces(sections: &[Loaded<'_>], map: &mut Map, relocs: &[(u64, u64)]) {
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
