//! Who owns a symbol: a package of the graph, the standard library, musl's libc, other C code, or a
//! named remainder. Rust symbols are named by their demangled path ([`super::crate_of`]); C symbols by
//! the archive that defines them — the C objects cargo bundled into a `-sys` crate's rlib (ring's
//! assembly and C), and the sysroot's self-contained `libc.a` / `libunwind.a` — exactly, by name
//! (locals by their source file too), before any guess from a name prefix.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use object::{Object, ObjectSymbol};
use serde::{Deserialize, Serialize};

use super::crate_of::{crate_of, STD, STD_DEPS};
use super::elf::{Namer, RawSymbol};

/// What kind of owner a row is.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A package of the dependency graph (or the workspace's own).
    Crate,
    /// The Rust standard library (std, core, alloc, compiler_builtins, libunwind, std's own deps).
    Std,
    /// musl's libc, linked statically.
    Libc,
    /// C code no archive or package claims.
    C,
    /// What no symbol owns: headers, padding, shared unwind entries, unreferenced data.
    #[default]
    Unattributed,
}

/// One owner: its row name and kind, and the versions of the package (several when the graph has
/// two versions of one crate: their symbols cannot be told apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    pub kind: Kind,
    pub versions: Vec<String>,
}

/// The packages of one binary: Rust crate name (`hyper_util`, a lib's or a bin's name) → package.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    pub crates: BTreeMap<String, (String, Vec<String>)>,
    /// The binary's own package: `main` is its.
    pub bin_package: String,
}

impl Graph {
    /// From `cargo metadata`'s packages, keeping those the binary's audit data lists.
    pub fn new<'a>(
        packages: impl IntoIterator<Item = &'a cargo_metadata::Package>,
        in_binary: &[(String, String)],
        bin_package: &str,
    ) -> Graph {
        let mut g = Graph {
            bin_package: bin_package.to_string(),
            ..Default::default()
        };
        for p in packages {
            let v = p.version.to_string();
            if !in_binary
                .iter()
                .any(|(n, ver)| *n == p.name.as_str() && *ver == v)
            {
                continue;
            }
            let mut names: Vec<String> = p
                .targets
                .iter()
                .filter(|t| {
                    t.kind.iter().any(|k| {
                        matches!(
                            k,
                            cargo_metadata::TargetKind::Lib
                                | cargo_metadata::TargetKind::RLib
                                | cargo_metadata::TargetKind::Bin
                                | cargo_metadata::TargetKind::ProcMacro
                        )
                    })
                })
                .map(|t| t.name.replace('-', "_"))
                .collect();
            names.push(p.name.replace('-', "_"));
            names.dedup();
            for n in names {
                let e = g
                    .crates
                    .entry(n)
                    .or_insert_with(|| (p.name.to_string(), Vec::new()));
                if !e.1.contains(&v) {
                    e.1.push(v.clone());
                    e.1.sort();
                }
            }
        }
        g
    }
}

/// C symbols by archive: (local's source file or "", name) → owner.
#[derive(Debug, Default)]
pub struct NativeSymbols {
    map: HashMap<(String, String), Option<Owner>>,
}

impl NativeSymbols {
    /// Adds the defined symbols of every C object in the archive at `path` (Rust objects, `*.rcgu.o`,
    /// and the rlib's metadata skipped). A name two owners define is nobody's.
    pub fn add_archive(&mut self, path: &Path, owner: &Owner) {
        let Ok(data) = std::fs::read(path) else {
            return;
        };
        let Ok(archive) = object::read::archive::ArchiveFile::parse(&*data) else {
            return;
        };
        for member in archive.members().flatten() {
            let name = String::from_utf8_lossy(member.name()).into_owned();
            if name.ends_with(".rcgu.o") || name == "lib.rmeta" || name.ends_with(".rmeta") {
                continue;
            }
            // Members sit at any offset; the ELF reader wants its header aligned: a copy is.
            if let Ok(bytes) = member.data(&*data).map(<[u8]>::to_vec) {
                self.add_bytes(&bytes, &name, owner);
            }
        }
    }

    /// Adds the defined symbols of the object file at `path` (a start file such as `rcrt1.o`).
    pub fn add_object(&mut self, path: &Path, owner: &Owner) {
        if let Ok(bytes) = std::fs::read(path) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            self.add_bytes(&bytes, &name, owner);
        }
    }

    fn add_bytes(&mut self, bytes: &[u8], object_name: &str, owner: &Owner) {
        let Ok(obj) = object::File::parse(bytes) else {
            return;
        };
        // An object without STT_FILE (assembly) is named after itself by the linker.
        let mut file = object_name.to_string();
        for s in obj.symbols() {
            if s.kind() == object::SymbolKind::File {
                file = s.name().unwrap_or_default().to_string();
                continue;
            }
            if !s.is_definition() {
                continue;
            }
            let Ok(n) = s.name() else { continue };
            let key = (
                if s.is_local() {
                    file.clone()
                } else {
                    String::new()
                },
                n.to_string(),
            );
            match self.map.get(&key) {
                None => {
                    self.map.insert(key, Some(owner.clone()));
                }
                Some(Some(o)) if o != owner => {
                    self.map.insert(key, None);
                }
                _ => {}
            }
        }
    }

    /// A local symbol by its file and name, else by name as a global of some archive (hidden
    /// globals become local in the linked binary).
    fn get(&self, sym: &RawSymbol<'_>) -> Option<&Owner> {
        let by = |file: &str| {
            self.map
                .get(&(file.to_string(), sym.name.to_string()))
                .and_then(Option::as_ref)
        };
        match (sym.local, sym.file) {
            (true, Some(file)) => by(file).or_else(|| by("")),
            _ => by(""),
        }
    }
}

/// The owners of one binary, in the order they were first met; the [`Namer`] of its attribution.
pub struct Owners<'a> {
    pub list: Vec<Owner>,
    index: HashMap<String, usize>,
    graph: &'a Graph,
    native: &'a NativeSymbols,
}

impl<'a> Owners<'a> {
    pub fn new(graph: &'a Graph, native: &'a NativeSymbols) -> Owners<'a> {
        Owners {
            list: Vec::new(),
            index: HashMap::new(),
            graph,
            native,
        }
    }

    fn intern(&mut self, o: Owner) -> usize {
        if let Some(&i) = self.index.get(&o.name) {
            return i;
        }
        self.index.insert(o.name.clone(), self.list.len());
        self.list.push(o);
        self.list.len() - 1
    }

    /// The owner of a Rust crate name.
    fn rust(&self, krate: &str) -> Owner {
        // std's `#[rustc_std_internal_symbol]` items live under `__rustc::`.
        let krate = if krate == "__rustc" { "std" } else { krate };
        if let Some((package, versions)) = self.graph.crates.get(krate) {
            return Owner {
                name: package.clone(),
                kind: Kind::Crate,
                versions: versions.clone(),
            };
        }
        let kind = if STD.contains(&krate) || STD_DEPS.contains(&krate) {
            Kind::Std
        } else {
            Kind::Crate
        };
        let name = if STD_DEPS.contains(&krate) {
            format!("{krate} (std's)")
        } else {
            krate.to_string()
        };
        Owner {
            name,
            kind,
            versions: Vec::new(),
        }
    }

    /// A C symbol no archive claims: a package whose name (without `lib`/`-sys`) prefixes it
    /// (`ZSTD_…` → zstd-sys, `sqlite3_…` → libsqlite3-sys), the runtime's glue, or other C code.
    fn c(&self, name: &str) -> Owner {
        if name == "main" {
            return self.rust(&self.graph.bin_package.replace('-', "_"));
        }
        if ["__rust", "rust_", "__rdl_", "__rg_"]
            .iter()
            .any(|p| name.starts_with(p))
        {
            return self.rust("std");
        }
        let lower = name.to_ascii_lowercase();
        let mut best: Option<(&String, usize)> = None;
        for (krate, (package, _)) in &self.graph.crates {
            let stem = krate.strip_suffix("_sys").unwrap_or(krate);
            let stem = stem.strip_prefix("lib").unwrap_or(stem);
            if stem.len() >= 3
                && lower.starts_with(stem)
                && lower[stem.len()..].starts_with('_')
                && best.is_none_or(|(_, l)| stem.len() > l)
            {
                best = Some((package, stem.len()));
            }
        }
        if let Some((package, _)) = best {
            let krate = package.replace('-', "_");
            return self.rust(&krate);
        }
        Owner {
            name: "other C code".into(),
            kind: Kind::C,
            versions: Vec::new(),
        }
    }
}

impl Namer for Owners<'_> {
    fn owner(&mut self, sym: &RawSymbol<'_>) -> usize {
        let o = if let Ok(d) = rustc_demangle::try_demangle(sym.name) {
            self.rust(&crate_of(&format!("{d:#}")))
        } else if let Some(o) = self.native.get(sym) {
            o.clone()
        } else {
            self.c(sym.name)
        };
        self.intern(o)
    }

    fn bucket(&mut self, name: &'static str) -> usize {
        self.intern(Owner {
            name: name.to_string(),
            kind: Kind::Unattributed,
            versions: Vec::new(),
        })
    }
}
