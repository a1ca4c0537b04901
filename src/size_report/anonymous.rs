//! Anonymous data (string literals, vtables, panic locations, constant tables: no symbol) given to
//! the code that refers to it: the relocations of the symbol twin (`--emit-relocs` keeps the static
//! ones, `.rela.dyn` holds the dynamic ones) say which place points where; a gap between data
//! symbols is cut at every address pointed to, and each piece goes to the owners of the places that
//! point at its start — directly from code and named data, then from data to data, to a fixed point.
//!
//! A twin linked by lld has no static relocations (with `--emit-relocs` lld lays the sections out
//! otherwise, so the twin would not be the binary): its references are read from the bytes instead —
//! aarch64's `adrp` + `add`/`ldr` pairs in the code, and every aligned word of the data that holds an
//! address of a loaded section.

use std::collections::BTreeSet;

use object::elf;
use object::{Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget};

use super::elf::{find, is_alloc, Loaded, Map, Piece};

/// Every (place, target) address pair the twin's relocations record: the static ones kept by
/// `--emit-relocs` and the dynamic ones (`.rela.dyn`); without static ones, what the bytes say.
pub(super) fn relocations(
    file: &object::File<'_>,
    sections: &[Loaded<'_>],
    x86: bool,
) -> Vec<(u64, u64)> {
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
    if out.is_empty() {
        if file.architecture() == object::Architecture::Aarch64 {
            for s in sections.iter().filter(|s| s.code) {
                adrp_pairs(s, &mut out);
            }
        }
        pointers(sections, &mut out);
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

/// aarch64 code addresses data with `adrp xN, page` followed (within a few instructions) by
/// `add xM, xN, #lo` or a load/store `[xN, #lo]`: each pair is a (place, page + lo).
fn adrp_pairs(s: &Loaded<'_>, out: &mut Vec<(u64, u64)>) {
    let insns: Vec<u32> = s
        .data
        .chunks_exact(4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    for (i, &insn) in insns.iter().enumerate() {
        if insn & 0x9f00_0000 != 0x9000_0000 {
            continue;
        }
        let pc = s.address + 4 * i as u64;
        let rd = insn & 0x1f;
        let imm = (((insn >> 5) & 0x7ffff) << 2 | (insn >> 29) & 3) as i64;
        let imm = (imm << 43) >> 31; // sign-extend 21 bits, then × 4096
        let page = ((pc & !0xfff) as i64).wrapping_add(imm) as u64;
        let lo = insns[i + 1..]
            .iter()
            .take(4)
            .find_map(|&next| low_bits(next, rd));
        out.push((pc, page + lo.unwrap_or(0)));
    }
}

/// The low 12 bits an `add` (immediate) or a load/store (unsigned offset) from register `rn` adds.
fn low_bits(insn: u32, rn: u32) -> Option<u64> {
    if (insn >> 5) & 0x1f != rn {
        return None;
    }
    let imm12 = u64::from((insn >> 10) & 0xfff);
    if insn & 0xff80_0000 == 0x9100_0000 {
        // ADD Xd, Xn, #imm{, LSL #12}
        return Some(imm12 << (12 * ((insn >> 22) & 1)));
    }
    // LDR/STR (unsigned offset): size in bits 31:30, V in bit 26, opc in 23:22.
    if insn & 0x3b00_0000 == 0x3900_0000 {
        let size = insn >> 30;
        let vector_q = insn & 0x0400_0000 != 0 && (insn >> 23) & 1 == 1;
        let scale = if vector_q { 4 } else { size };
        return Some(imm12 << scale);
    }
    None
}

/// Every 8-byte-aligned word of the data sections that holds an address inside a loaded section.
fn pointers(sections: &[Loaded<'_>], out: &mut Vec<(u64, u64)>) {
    let ranges: Vec<(u64, u64)> = sections
        .iter()
        .map(|s| (s.address, s.address + s.data.len() as u64))
        .collect();
    for s in sections.iter().filter(|s| !s.code) {
        let n = s.name.as_str();
        if !(n.starts_with(".data") || n == ".got" || n.starts_with(".init_array")) {
            continue;
        }
        let skip = (8 - s.address % 8) % 8;
        for (i, w) in s
            .data
            .get(skip as usize..)
            .unwrap_or(&[])
            .chunks_exact(8)
            .enumerate()
        {
            let v = u64::from_le_bytes(w.try_into().unwrap_or_default());
            if ranges.iter().any(|&(a, b)| (a..b).contains(&v)) {
                out.push((s.address + skip + 8 * i as u64, v));
            }
        }
    }
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
