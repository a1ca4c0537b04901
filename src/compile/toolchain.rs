//! What compiled a signed build, for its provenance: `rustc -vV` and `cargo -vV` as the build runs
//! them (the same program and directory as the plan's `rustc --print`: `$RUSTC`/`$CARGO` or rustup's
//! proxy in the workspace, so `RUSTUP_TOOLCHAIN` and `rust-toolchain.toml` apply), the
//! cargo-auditable binary cargo runs (its sha256, and its version as its own audit data or
//! `cargo install`'s record names it: `cargo auditable --version` prints cargo's version), and
//! cargo-tiny's own version. Probed once per build, only when it signs.
//!
//! Checked against the binaries: rustc writes `rustc version R` into each binary's `.comment`; a
//! binary whose `.comment` names another rustc than the probed one stops the signing (the
//! provenance would name the wrong compiler).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::Result;
use object::{Object as _, ObjectSection as _};

use crate::error::Failure;
use crate::sign::provenance::Tool;
use crate::tools;

/// `rustc -vV` / `cargo -vV`: the first line and its `key: value` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerboseVersion {
    /// `rustc 1.95.0 (59807616e 2026-04-14)`.
    pub line: String,
    pub release: String,
    pub commit_hash: Option<String>,
    pub host: String,
}

impl VerboseVersion {
    pub fn parse(text: &str) -> Option<VerboseVersion> {
        let mut lines = text.lines();
        let line = lines.next()?.trim().to_string();
        let fields: BTreeMap<&str, &str> = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.trim(), v.trim()))
            .collect();
        Some(VerboseVersion {
            release: fields.get("release")?.to_string(),
            commit_hash: fields
                .get("commit-hash")
                .filter(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
                .map(|c| c.to_string()),
            host: fields.get("host")?.to_string(),
            line,
        })
    }

    /// The version as the first line gives it after the program's name: `1.95.0 (59807616e 2026-04-14)`.
    pub fn shown(&self) -> &str {
        self.line
            .split_once(' ')
            .map(|(_, v)| v)
            .unwrap_or(&self.line)
    }

    fn tool(&self, name: &str) -> Tool {
        let mut t = Tool::new(name, format!("pkg:generic/{name}@{}", self.release));
        if let Some(c) = &self.commit_hash {
            t.digest.insert("gitCommit", c.clone());
        }
        t.annotations.insert("version", self.shown().to_string());
        t.annotations.insert("host", self.host.clone());
        t
    }
}

/// The cargo-auditable that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Auditable {
    /// `0.7.7`, when its audit data or `cargo install` says.
    pub version: Option<String>,
    /// sha256 hex of the binary.
    pub sha256: String,
}

impl Auditable {
    fn tool(&self) -> Tool {
        let mut t = match &self.version {
            Some(v) => Tool::new("cargo-auditable", format!("pkg:cargo/cargo-auditable@{v}")),
            None => Tool::named("cargo-auditable"),
        };
        t.digest.insert("sha256", self.sha256.clone());
        if let Some(v) = &self.version {
            t.annotations.insert("version", v.clone());
        }
        t
    }
}

/// The tools of one build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toolchain {
    pub rustc: VerboseVersion,
    pub cargo: VerboseVersion,
    pub auditable: Auditable,
}

/// Largest cargo-auditable binary hashed or read.
const MAX_TOOL: u64 = 256 << 20;

impl Toolchain {
    /// Runs `rustc -vV` and `cargo -vV` in `dir` as the build ran them — with `--size max`,
    /// through `rustup run NIGHTLY` (`nightly`), as src/compile/cargo.rs runs cargo — and reads the
    /// cargo-auditable binary.
    pub fn probe(dir: &Path, nightly: Option<&str>) -> Result<Toolchain> {
        let verbose = |program: &Path| -> Result<VerboseVersion> {
            let mut cmd = match nightly {
                Some(toolchain) => {
                    let mut c = Command::new("rustup");
                    c.args(["run", toolchain]).arg(program).env_remove("RUSTC");
                    c
                }
                None => Command::new(program),
            };
            cmd.arg("-vV").current_dir(dir);
            let text = crate::process::capture(
                &mut cmd,
                "install Rust with rustup (https://rustup.rs) and make sure it is on PATH",
            )?;
            VerboseVersion::parse(&text).ok_or_else(|| {
                Failure::new(format!(
                    "`{} -vV` printed no release and host: {}",
                    program.display(),
                    crate::shell::escape(text.lines().next().unwrap_or(""))
                ))
                .into()
            })
        };
        let (rustc, cargo) = match nightly {
            Some(_) => (verbose(Path::new("rustc"))?, verbose(Path::new("cargo"))?),
            None => (verbose(&tools::rustc())?, verbose(&tools::cargo())?),
        };
        let bin = tools::check_cargo_auditable()?;
        let bytes = crate::fsutil::read_regular(&bin, MAX_TOOL)
            .map_err(|e| Failure::new(format!("{}: {e}", bin.display())))?;
        let version = own_audit_version(&bytes).or_else(|| tools::installed_version(&bin));
        Ok(Toolchain {
            rustc,
            cargo,
            auditable: Auditable {
                version,
                sha256: crate::digest::sha256(&bytes)
                    .trim_start_matches("sha256:")
                    .to_string(),
            },
        })
    }

    /// The provenance's entries: rustc, cargo, cargo-auditable, cargo-tiny.
    pub fn tools(&self) -> Vec<Tool> {
        let mut tiny = Tool::new(
            "cargo-tiny",
            format!("pkg:generic/cargo-tiny@{}", env!("CARGO_PKG_VERSION")),
        );
        tiny.annotations
            .insert("version", env!("CARGO_PKG_VERSION").to_string());
        vec![
            self.rustc.tool("rustc"),
            self.cargo.tool("cargo"),
            self.auditable.tool(),
            tiny,
        ]
    }

    /// Each binary's `.comment` names this rustc (when it names one).
    pub fn check_compiled_by(&self, binary: &Path) -> Result<()> {
        let bytes = crate::fsutil::read_regular(binary, 1 << 30)
            .map_err(|e| Failure::new(format!("{}: {e}", binary.display())))?;
        let Some(found) = compiled_by(&bytes) else {
            return Ok(());
        };
        let probed = self.rustc.shown();
        if found != probed {
            return Err(Failure::new(format!(
                "{} was compiled by rustc {}, but `rustc -vV` here names rustc {probed}: the provenance would name the wrong compiler",
                crate::fsutil::shown_path(binary).display(),
                crate::shell::escape(&found)
            ))
            .hint("set RUSTC (or RUSTUP_TOOLCHAIN) to the rustc cargo runs, as cargo's `build.rustc` may name another")
            .into());
        }
        Ok(())
    }
}

/// The version after `rustc version ` in an ELF's `.comment` section.
fn compiled_by(elf: &[u8]) -> Option<String> {
    let file = object::File::parse(elf).ok()?;
    let data = file.section_by_name(".comment")?.data().ok()?;
    data.split(|&b| b == 0)
        .filter_map(|s| std::str::from_utf8(s).ok())
        .find_map(|s| s.strip_prefix("rustc version "))
        .map(str::to_owned)
}

/// The version of the `cargo-auditable` package in the binary's own audit data (installed with
/// `cargo auditable install`).
fn own_audit_version(bytes: &[u8]) -> Option<String> {
    let info = auditable_info::audit_info_from_slice(
        bytes,
        auditable_info::Limits::default().decompressed_json_size,
    )
    .ok()?;
    info.packages
        .iter()
        .find(|p| p.root && p.name == "cargo-auditable")
        .map(|p| p.version.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUSTC: &str = "rustc 1.95.0 (59807616e 2026-04-14)\nbinary: rustc\ncommit-hash: 59807616e1fa2540724bfbac14d7976d7e4a3860\ncommit-date: 2026-04-14\nhost: x86_64-unknown-linux-gnu\nrelease: 1.95.0\nLLVM version: 22.1.2\n";

    #[test]
    fn verbose_versions_become_resource_descriptors() {
        let v = VerboseVersion::parse(RUSTC).unwrap();
        assert_eq!(v.shown(), "1.95.0 (59807616e 2026-04-14)");
        let t = v.tool("rustc");
        assert_eq!(t.uri.as_deref(), Some("pkg:generic/rustc@1.95.0"));
        assert_eq!(
            t.digest["gitCommit"],
            "59807616e1fa2540724bfbac14d7976d7e4a3860"
        );
        assert_eq!(t.annotations["host"], "x86_64-unknown-linux-gnu");
        assert!(VerboseVersion::parse("rustc 1.95.0\n").is_none());
        // A build without a commit (a distro's rustc) keeps its release.
        let distro = RUSTC.replace("59807616e1fa2540724bfbac14d7976d7e4a3860", "unknown");
        assert!(VerboseVersion::parse(&distro)
            .unwrap()
            .commit_hash
            .is_none());
        let a = Auditable {
            version: None,
            sha256: "ab".repeat(32),
        }
        .tool();
        assert!(a.uri.is_none() && a.digest["sha256"] == "ab".repeat(32));
    }

    #[test]
    fn a_binary_compiled_by_another_rustc_is_refused() {
        let this = std::env::current_exe().unwrap();
        let bytes = std::fs::read(&this).unwrap();
        // The test binary itself: built by the rustc on PATH here.
        let Some(found) = compiled_by(&bytes) else {
            panic!("no rustc in the test binary's .comment");
        };
        let mut tc = Toolchain {
            rustc: VerboseVersion::parse(&RUSTC.replace("1.95.0 (59807616e 2026-04-14)", &found))
                .unwrap(),
            cargo: VerboseVersion::parse(RUSTC).unwrap(),
            auditable: Auditable {
                version: None,
                sha256: String::new(),
            },
        };
        tc.check_compiled_by(&this).unwrap();
        tc.rustc.line = "rustc 1.0.0 (000000000 2015-05-15)".into();
        let err = format!("{:#}", tc.check_compiled_by(&this).unwrap_err());
        assert!(
            err.contains("the provenance would name the wrong compiler"),
            "{err}"
        );
    }
}
