//! `--size max`: the nightly recipe past the size profile — rebuild std with `-Zbuild-std`, std's
//! `optimize_for_size` feature, and immediate-abort panics (no panic machinery at all).
//!
//! What the installed nightly accepts is read from it, not assumed: newer nightlies spell
//! immediate-abort as a panic strategy (`panic = "immediate-abort"`, behind cargo's
//! `-Zpanic-immediate-abort`), older ones as std's `panic_immediate_abort` feature with
//! `panic = "abort"`. The toolchain is `nightly`, or the one named by `CARGO_TINY_NIGHTLY`
//! (e.g. a dated `nightly-2026-10-29`, to pin it).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::error::Failure;

/// How far the size goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, clap::ValueEnum)]
pub enum Size {
    /// The size profile on the stable toolchain (opt-level z, fat LTO, one codegen unit, strip)
    #[default]
    Profile,
    /// Nightly: also rebuild std for size with immediate-abort panics (a panic kills the process with no message)
    Max,
}

impl Size {
    pub fn as_str(self) -> &'static str {
        match self {
            Size::Profile => "profile",
            Size::Max => "max",
        }
    }
}

/// The variable naming the nightly toolchain `--size max` uses.
pub const TOOLCHAIN_VAR: &str = "CARGO_TINY_NIGHTLY";

/// The nightly toolchain to use: `$CARGO_TINY_NIGHTLY`, else `nightly`. A value that starts with
/// `-` (rustup would read it as an option) or holds a control character is refused.
pub fn toolchain_name() -> Result<String> {
    let name = std::env::var(TOOLCHAIN_VAR)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "nightly".into());
    check_toolchain_name(&name)?;
    Ok(name)
}

fn check_toolchain_name(name: &str) -> Result<()> {
    let why = if name.starts_with('-') {
        "starts with `-` (rustup would read it as an option)"
    } else if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        "holds a space or a control character"
    } else {
        return Ok(());
    };
    Err(Failure::new(format!(
        "{TOOLCHAIN_VAR}=`{}` {why}",
        crate::shell::escape(name)
    ))
    .hint(format!(
        "set {TOOLCHAIN_VAR} to a toolchain name such as nightly or nightly-2026-11-01, or unset it"
    ))
    .into())
}

/// The hint of every missing-toolchain failure.
pub fn setup_hint(target: &str) -> String {
    let mut cmd = "cargo tiny setup --size max".to_string();
    if target != crate::target::default_triple() {
        cmd.push_str(&format!(" --target {target}"));
    }
    format!("run `{cmd}` (installs the nightly toolchain with rust-src and the {target} target)")
}

/// How the installed nightly spells immediate-abort panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImmediateAbort {
    /// `panic = "immediate-abort"` in the profile, enabled by `-Zpanic-immediate-abort`.
    PanicStrategy,
    /// std's `panic_immediate_abort` feature, with `panic = "abort"`.
    StdFeature,
}

impl ImmediateAbort {
    pub fn describe(self) -> &'static str {
        match self {
            ImmediateAbort::PanicStrategy => "panic=immediate-abort",
            ImmediateAbort::StdFeature => "std feature panic_immediate_abort",
        }
    }
}

/// A nightly toolchain checked for `--size max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nightly {
    /// The rustup toolchain name (`nightly`).
    pub toolchain: String,
    /// `rustc 1.101.0-nightly (92b5b8c87 2026-10-29)`.
    pub version: String,
    pub sysroot: PathBuf,
    pub immediate_abort: ImmediateAbort,
    /// Whether std has the `optimize_for_size` feature.
    pub optimize_for_size: bool,
}

impl Nightly {
    /// Finds the toolchain and checks rust-src and the target's std: a one-line error naming
    /// `cargo tiny setup --size max` otherwise.
    pub fn detect(target: &str, dir: &Path) -> Result<Nightly> {
        let toolchain = toolchain_name()?;
        if which::which("rustup").is_err() {
            return Err(Failure::new(
                "--size max needs rustup to run the nightly toolchain, and rustup is not on PATH",
            )
            .hint("install Rust with rustup (https://rustup.rs), then run `cargo tiny setup --size max`")
            .into());
        }
        let rustc = |args: &[&str]| -> Option<String> {
            crate::process::probe(
                std::process::Command::new("rustup")
                    .args(["run", &toolchain, "rustc"])
                    .args(args)
                    .current_dir(dir)
                    .env_remove("RUSTC")
                    .env("RUSTUP_AUTO_INSTALL", "0"),
            )
        };
        let (Some(version), Some(sysroot)) =
            (rustc(&["--version"]), rustc(&["--print", "sysroot"]))
        else {
            return Err(Failure::new(format!(
                "--size max needs the `{toolchain}` toolchain, and it is not installed"
            ))
            .hint(setup_hint(target))
            .into());
        };
        if !version.contains("-nightly") && !version.contains("-dev") {
            return Err(Failure::new(format!(
                "--size max needs a nightly toolchain, and `{toolchain}` is {version}"
            ))
            .hint(format!(
                "unset {TOOLCHAIN_VAR} or point it at a nightly toolchain, then {}",
                setup_hint(target)
            ))
            .into());
        }
        Nightly::from_sysroot(toolchain, version, PathBuf::from(sysroot), target)
    }

    /// Checks a sysroot for rust-src and the target's std, and reads which spellings std accepts.
    pub fn from_sysroot(
        toolchain: String,
        version: String,
        sysroot: PathBuf,
        target: &str,
    ) -> Result<Nightly> {
        let std_manifest = sysroot.join("lib/rustlib/src/rust/library/std/Cargo.toml");
        let Ok(std_toml) = std::fs::read_to_string(&std_manifest) else {
            return Err(Failure::new(format!(
                "--size max rebuilds std from source, and the `{toolchain}` toolchain has no rust-src component"
            ))
            .hint(setup_hint(target))
            .into());
        };
        if !sysroot
            .join("lib/rustlib")
            .join(target)
            .join("lib")
            .is_dir()
        {
            return Err(Failure::new(format!(
                "the `{toolchain}` toolchain has no standard library for `{target}` (its C runtime objects link the static binary)"
            ))
            .hint(setup_hint(target))
            .into());
        }
        let features = std_toml
            .parse::<toml::Table>()
            .ok()
            .and_then(|t| t.get("features").and_then(|f| f.as_table()).cloned())
            .unwrap_or_default();
        let immediate_abort = if features.contains_key("panic_immediate_abort") {
            ImmediateAbort::StdFeature
        } else {
            ImmediateAbort::PanicStrategy
        };
        Ok(Nightly {
            toolchain,
            version,
            sysroot,
            immediate_abort,
            optimize_for_size: features.contains_key("optimize_for_size"),
        })
    }

    /// std's features to build with.
    pub fn std_features(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.optimize_for_size {
            v.push("optimize_for_size");
        }
        if self.immediate_abort == ImmediateAbort::StdFeature {
            v.push("panic_immediate_abort");
        }
        v
    }

    /// The unstable cargo flags, placed right after `build`.
    pub fn cargo_flags(&self) -> Vec<String> {
        let mut v = vec!["-Zbuild-std=std,panic_abort".to_string()];
        let features = self.std_features();
        if !features.is_empty() {
            v.push(format!("-Zbuild-std-features={}", features.join(",")));
        }
        if self.immediate_abort == ImmediateAbort::PanicStrategy {
            v.push("-Zpanic-immediate-abort".into());
        }
        v
    }

    /// Rustflags: std's sources are compiled from the sysroot, so its path is remapped like the
    /// workspace's (the binary carries no path of this machine).
    pub fn rustflags(&self) -> Vec<String> {
        let src = self.sysroot.join("lib/rustlib/src/rust");
        vec![
            "--remap-path-prefix".into(),
            format!("{}=/rust", src.display()),
        ]
    }

    /// The status line: toolchain, std features and the panic spelling.
    pub fn describe(&self) -> String {
        let features = self.std_features();
        format!(
            "{} (+{}): -Zbuild-std=std,panic_abort, std features [{}], {}",
            self.version,
            self.toolchain,
            features.join(", "),
            self.immediate_abort.describe()
        )
    }
}

/// The rustup commands `cargo tiny setup --size max` runs: the nightly toolchain (minimal profile)
/// with rust-src and the targets, or only the pieces an installed nightly lacks.
pub fn setup_commands(
    targets: &[String],
    dir: &Path,
    shell: &crate::shell::Shell,
) -> Result<Vec<Vec<String>>> {
    if which::which("rustup").is_err() {
        crate::fail!(
            hint = "install Rust with rustup (https://rustup.rs); --size max runs a nightly toolchain through it",
            "rustup is not on PATH, so the nightly toolchain cannot be installed"
        );
    }
    let toolchain = toolchain_name()?;
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<String>>();
    let sysroot = crate::process::probe(
        std::process::Command::new("rustup")
            .args(["run", &toolchain, "rustc", "--print", "sysroot"])
            .current_dir(dir)
            .env_remove("RUSTC")
            .env("RUSTUP_AUTO_INSTALL", "0"),
    )
    .map(PathBuf::from);
    let Some(sysroot) = sysroot else {
        let mut c = owned(&[
            "rustup",
            "toolchain",
            "install",
            &toolchain,
            "--profile",
            "minimal",
            "--component",
            "rust-src",
        ]);
        for t in targets {
            c.push("--target".into());
            c.push(t.clone());
        }
        return Ok(vec![c]);
    };
    let mut commands = Vec::new();
    if sysroot
        .join("lib/rustlib/src/rust/library/std/Cargo.toml")
        .is_file()
    {
        shell.status("Fresh", format!("rust-src for {toolchain}"));
    } else {
        commands.push(owned(&[
            "rustup",
            "component",
            "add",
            "rust-src",
            "--toolchain",
            &toolchain,
        ]));
    }
    let missing: Vec<&String> = targets
        .iter()
        .filter(|t| !sysroot.join("lib/rustlib").join(t).join("lib").is_dir())
        .collect();
    if missing.is_empty() {
        shell.status(
            "Fresh",
            format!("target {} for {toolchain}", targets.join(", ")),
        );
    } else {
        let mut c = owned(&["rustup", "target", "add", "--toolchain", &toolchain]);
        c.extend(missing.into_iter().cloned());
        commands.push(c);
    }
    Ok(commands)
}

/// The one warning `--size max` prints: what immediate-abort panics give up.
/// (Checked: a panic in such a binary ends it with an illegal-instruction trap, exit status 132.)
pub const WARNING: &str = "--size max: panics abort immediately — a panic kills the process (a trap: SIGILL, exit status 132) without a message, a backtrace, unwinding or running Drop; std is rebuilt from source by a nightly toolchain";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toolchain_names_that_rustup_would_read_as_options_are_refused() {
        for ok in ["nightly", "nightly-2026-11-01", "stage1", "1.95.0"] {
            check_toolchain_name(ok).unwrap();
        }
        for bad in ["-Vv", "--help", "nightly --x", "a\x1b[2J"] {
            let e = format!("{:#}", check_toolchain_name(bad).unwrap_err());
            assert!(e.starts_with("CARGO_TINY_NIGHTLY=`"), "{e}");
            assert!(!e.contains('\x1b'), "{e}");
        }
    }

    fn sysroot(std_features: &str, targets: &[&str]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let std = d.path().join("lib/rustlib/src/rust/library/std");
        std::fs::create_dir_all(&std).unwrap();
        std::fs::write(
            std.join("Cargo.toml"),
            format!("[package]\nname = \"std\"\n\n[features]\n{std_features}\n"),
        )
        .unwrap();
        for t in targets {
            std::fs::create_dir_all(d.path().join("lib/rustlib").join(t).join("lib")).unwrap();
        }
        d
    }

    const T: &str = "x86_64-unknown-linux-musl";

    fn nightly(d: &tempfile::TempDir, target: &str) -> Result<Nightly> {
        Nightly::from_sysroot(
            "nightly".into(),
            "rustc 1.101.0-nightly".into(),
            d.path().into(),
            target,
        )
    }

    #[test]
    fn newer_nightlies_use_the_panic_strategy() {
        let d = sysroot("optimize_for_size = [\"core/optimize_for_size\"]", &[T]);
        let n = nightly(&d, T).unwrap();
        assert_eq!(n.immediate_abort, ImmediateAbort::PanicStrategy);
        assert_eq!(
            n.cargo_flags(),
            [
                "-Zbuild-std=std,panic_abort",
                "-Zbuild-std-features=optimize_for_size",
                "-Zpanic-immediate-abort"
            ]
        );
        assert!(n.describe().contains("panic=immediate-abort"));
    }

    #[test]
    fn older_nightlies_use_the_std_feature() {
        let d = sysroot(
            "panic_immediate_abort = [\"core/panic_immediate_abort\"]",
            &[T],
        );
        let n = nightly(&d, T).unwrap();
        assert_eq!(n.immediate_abort, ImmediateAbort::StdFeature);
        assert_eq!(
            n.cargo_flags(),
            [
                "-Zbuild-std=std,panic_abort",
                "-Zbuild-std-features=panic_immediate_abort"
            ]
        );
    }

    #[test]
    fn missing_pieces_name_the_setup_command() {
        let no_target = sysroot("", &[]);
        let e = format!("{:#}", nightly(&no_target, T).unwrap_err());
        assert!(e.contains("no standard library for"), "{e}");
        let f = nightly(&no_target, T)
            .unwrap_err()
            .downcast::<Failure>()
            .unwrap();
        assert!(f.hint.unwrap().contains("`cargo tiny setup --size max`"));
        let empty = tempfile::tempdir().unwrap();
        let e = format!(
            "{:#}",
            nightly(&empty, "aarch64-unknown-linux-musl").unwrap_err()
        );
        assert!(e.contains("no rust-src component"), "{e}");
        let hint = setup_hint("aarch64-unknown-linux-musl");
        assert!(
            hint.contains("setup --size max --target aarch64-unknown-linux-musl"),
            "{hint}"
        );
    }
}
