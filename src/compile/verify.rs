//! Checks on each built binary: statically linked, and carrying cargo-auditable's dependency list.

use std::path::Path;

use anyhow::Result;
use auditable_serde::VersionInfo;
use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader, SectionHeader};
use object::{Endianness, FileKind};

use crate::error::Failure;
use crate::target::Target;

/// The name of the linker section cargo-auditable writes.
pub const AUDIT_SECTION: &str = ".dep-v0";

/// What the ELF file says about linking.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ElfFacts {
    /// Path of the program interpreter (`PT_INTERP`), if any.
    pub interpreter: Option<String>,
    /// `DT_NEEDED` entries.
    pub needed: Vec<String>,
    /// Has a `.dep-v0` section.
    pub has_audit_section: bool,
    /// ELF `e_machine`.
    pub machine: u16,
}

impl ElfFacts {
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// Reads the facts from an ELF image.
pub fn elf_facts(data: &[u8]) -> Result<ElfFacts, String> {
    match FileKind::parse(data).map_err(|e| e.to_string())? {
        FileKind::Elf64 => facts::<elf::FileHeader64<Endianness>>(data),
        FileKind::Elf32 => facts::<elf::FileHeader32<Endianness>>(data),
        other => Err(format!("not an ELF file ({other:?})")),
    }
}

fn facts<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfFacts, String> {
    let header = H::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    let mut out = ElfFacts {
        machine: header.e_machine(endian),
        ..Default::default()
    };
    for ph in header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?
    {
        if ph.p_type(endian) == elf::PT_INTERP {
            let bytes = ph
                .data(endian, data)
                .map_err(|_| "bad PT_INTERP".to_string())?;
            let s = String::from_utf8_lossy(bytes)
                .trim_end_matches('\0')
                .to_string();
            out.interpreter = Some(s);
        }
    }
    let sections = header.sections(endian, data).map_err(|e| e.to_string())?;
    for (index, section) in sections.enumerate() {
        if sections.section_name(endian, section).ok() == Some(AUDIT_SECTION.as_bytes()) {
            out.has_audit_section = true;
        }
        if let Some((dyns, link)) = section.dynamic(endian, data).map_err(|e| e.to_string())? {
            let strings = sections
                .strings(endian, data, link)
                .map_err(|e| e.to_string())?;
            for d in dyns {
                if d.tag32(endian) == Some(elf::DT_NEEDED) {
                    let name = d.string(endian, strings).map_err(|e| e.to_string())?;
                    out.needed.push(String::from_utf8_lossy(name).into_owned());
                }
            }
        }
        let _ = index;
    }
    Ok(out)
}

/// A verified binary: static, audited, its audit data read back.
pub fn verify(path: &Path, bin: &str, target: &Target) -> Result<(ElfFacts, VersionInfo)> {
    let data = std::fs::read(path)
        .map_err(|e| Failure::new(format!("could not read binary {}: {e}", path.display())))?;
    let facts = elf_facts(&data).map_err(|e| {
        Failure::new(format!(
            "`{bin}` ({}) is not a readable ELF binary: {e}",
            path.display()
        ))
    })?;
    check_machine(&facts, bin, target)?;
    if let Some(interp) = &facts.interpreter {
        return Err(Failure::new(format!("`{bin}` is dynamically linked (interpreter {interp}), not static"))
            .hint("remove `-C target-feature=-crt-static` or a dynamic linker setting from your rustflags/config")
            .into());
    }
    if !facts.needed.is_empty() {
        return Err(Failure::new(format!(
            "`{bin}` needs shared libraries ({}) and would not run FROM scratch",
            facts.needed.join(", ")
        ))
        .hint("make the -sys crates that link them static (their `vendored`/`static`/`bundled` feature); `cargo tiny doctor` lists them")
        .into());
    }
    if !facts.has_audit_section {
        return Err(Failure::new(format!("`{bin}` has no `{AUDIT_SECTION}` section: its dependency list was not embedded"))
            .hint("the linker dropped it or cargo-auditable did not run; use the default linker (not wild) and a recent cargo-auditable")
            .into());
    }
    let info = auditable_info::audit_info_from_file(path, Default::default()).map_err(|e| {
        Failure::new(format!("could not read the audit data of `{bin}`: {e}"))
            .hint("update cargo-auditable (`cargo install cargo-auditable --locked`)")
    })?;
    Ok((facts, info))
}

/// The binary's ELF machine is the target's: an aarch64 binary in the amd64 slot is an error.
pub fn check_machine(facts: &ElfFacts, bin: &str, target: &Target) -> Result<()> {
    let want = target.machine();
    if facts.machine == want {
        return Ok(());
    }
    let name = |m: u16| match m {
        elf::EM_X86_64 => "x86-64".to_string(),
        elf::EM_AARCH64 => "AArch64".to_string(),
        other => format!("ELF machine {other}"),
    };
    Err(Failure::new(format!(
        "`{bin}` is an {} binary, but it was built for {} ({})",
        name(facts.machine),
        target.platform(),
        target.triple
    ))
    .hint("check that no config overrides the target or the linker (a cross linker for the wrong architecture?)")
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_of_another_machine_is_refused() {
        let arm = Target::from_platform("linux/arm64").unwrap();
        let x86 = Target::from_platform("linux/amd64").unwrap();
        let facts = ElfFacts {
            machine: elf::EM_AARCH64,
            ..Default::default()
        };
        assert!(check_machine(&facts, "hello", &arm).is_ok());
        let e = check_machine(&facts, "hello", &x86)
            .unwrap_err()
            .to_string();
        assert!(e.contains("AArch64") && e.contains("linux/amd64"), "{e}");
    }
}
