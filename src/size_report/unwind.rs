//! Unwind tables given to the functions they describe: each `.eh_frame` FDE (read with gimli), its
//! 8-byte entry in `.eh_frame_hdr`'s search table and its LSDA in `.gcc_except_table` go to the owner
//! of the function at the FDE's initial address; CIEs and headers are shared.

use std::collections::BTreeMap;

use anyhow::Result;
use object::Object;

use super::elf::{Loaded, Map, Namer, Share, UNWIND_SHARED};

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
pub(super) fn unwind(
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
