//! The tools a static musl build needs, found before anything is built.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::error::Failure;

/// `cargo` as cargo itself would run it (cargo sets `$CARGO` for subcommands).
pub fn cargo() -> PathBuf {
    std::env::var_os("CARGO")
        .map(PathBuf::from)
        .unwrap_or_else(|| "cargo".into())
}

/// `rustc` as cargo would run it.
pub fn rustc() -> PathBuf {
    std::env::var_os("RUSTC")
        .map(PathBuf::from)
        .unwrap_or_else(|| "rustc".into())
}

/// Runs a short command in `dir` and returns its stdout, or a one-line error naming it.
pub fn capture(program: &Path, args: &[&str], dir: &Path) -> Result<String> {
    crate::process::capture(
        Command::new(program).args(args).current_dir(dir),
        "install Rust with rustup (https://rustup.rs) and make sure it is on PATH",
    )
}

/// The standard library for `target` is installed in the active toolchain.
pub fn check_target_installed(target: &str, dir: &Path) -> Result<()> {
    let sysroot = capture(&rustc(), &["--print", "sysroot"], dir)?;
    check_target_in_sysroot(target, sysroot.trim())
}

/// `rustc --print sysroot --print cfg --target T` in one spawn: the sysroot (first line) and the cfg
/// text, for callers that need both.
pub fn sysroot_and_cfg(target: &str, dir: &Path) -> Result<(String, String)> {
    let out = capture(
        &rustc(),
        &["--print", "sysroot", "--print", "cfg", "--target", target],
        dir,
    )?;
    let (sysroot, cfg) = out.split_once('\n').unwrap_or((&out, ""));
    Ok((sysroot.trim().to_string(), cfg.to_string()))
}

/// The standard library for `target` is in `sysroot`.
pub fn check_target_in_sysroot(target: &str, sysroot: &str) -> Result<()> {
    let lib = Path::new(sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib");
    if lib.is_dir() {
        return Ok(());
    }
    Err(Failure::new(format!(
        "the Rust standard library for `{target}` is not installed"
    ))
    .hint(format!(
        "run `rustup target add {target}` (or `cargo tiny setup`)"
    ))
    .into())
}

/// `cargo-auditable` on PATH or in `$CARGO_HOME/bin`.
pub fn find_cargo_auditable() -> Option<PathBuf> {
    which::which("cargo-auditable").ok().or_else(|| {
        let env = |k: &str| std::env::var(k).ok();
        let home = crate::compile::rustflags::cargo_home(&env)?;
        let p = home.join("bin/cargo-auditable");
        p.is_file().then_some(p)
    })
}

/// `name version` of the package `cargo install` recorded for the binary at `bin`
/// (`<home>/bin/NAME`: `<home>/.crates2.json` lists the package and version that installed each
/// binary), when it did.
pub fn installed_package(bin: &Path) -> Option<String> {
    let name = bin.file_name()?.to_str()?;
    let bytes = bin
        .parent()
        .and_then(Path::parent)
        .map(|home| home.join(".crates2.json"))
        .and_then(|f| crate::fsutil::read_regular(&f, 16 << 20).ok())?;
    recorded_package(&bytes, name)
}

/// The version alone of [`installed_package`].
pub fn installed_version(bin: &Path) -> Option<String> {
    installed_package(bin)?
        .rsplit_once(' ')
        .map(|(_, v)| v.to_string())
}

/// `name version` of the `cargo install` record (`.crates2.json`) whose binaries include `bin`.
pub fn recorded_package(crates2: &[u8], bin: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(crates2).ok()?;
    v.get("installs")?
        .as_object()?
        .iter()
        .find_map(|(key, entry)| {
            let bins = entry.get("bins")?.as_array()?;
            bins.iter()
                .any(|b| b == bin)
                .then(|| key.split(" (").next().unwrap_or(key).to_string())
        })
}

pub fn check_cargo_auditable() -> Result<PathBuf> {
    find_cargo_auditable().ok_or_else(|| {
        Failure::new("cargo-auditable is not installed")
            .hint("run `cargo install cargo-auditable --locked` (or `cargo tiny setup`)")
            .into()
    })
}

/// `CC_x86_64_unknown_linux_musl`: the variable cc-rs reads for a target's C compiler.
pub fn cc_var(target: &str) -> String {
    format!("CC_{}", target.replace(['-', '.'], "_"))
}

/// A C compiler for the musl target: the one the user set, else `<arch>-linux-musl-gcc`, else `musl-gcc`
/// (Debian's musl-tools; it targets the host architecture only).
pub fn find_musl_cc(target: &str) -> Option<CCompiler> {
    for var in [
        cc_var(target),
        format!("CC_{target}"),
        "TARGET_CC".to_string(),
    ] {
        if let Ok(v) = std::env::var(&var) {
            if !v.is_empty() {
                return Some(CCompiler {
                    program: v,
                    from_env: Some(var),
                });
            }
        }
    }
    let arch = target.split('-').next().unwrap_or_default();
    let mut names = vec![format!("{arch}-linux-musl-gcc")];
    if arch == std::env::consts::ARCH {
        names.push("musl-gcc".into());
    }
    names
        .into_iter()
        .find(|n| which::which(n).is_ok())
        .map(|program| CCompiler {
            program,
            from_env: None,
        })
}

/// A C compiler for the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CCompiler {
    pub program: String,
    /// The variable the user set it with, if they did.
    pub from_env: Option<String>,
}

/// The apt package to suggest for a musl C compiler.
/// The failure when `crates` compile C for `target` and no musl C compiler was found.
pub fn no_musl_cc(target: &str, crates: &[String]) -> Failure {
    let listed = match crates.len() {
        1..=3 => crates.join(", "),
        n => format!("{} and {} more", crates[..3].join(", "), n - 3),
    };
    Failure::new(format!(
        "no C compiler for {target}, and {listed} compile C code"
    ))
    .hint(musl_cc_hint(target))
}

pub fn musl_cc_hint(target: &str) -> String {
    let arch = target.split('-').next().unwrap_or_default();
    if arch == std::env::consts::ARCH {
        format!(
            "install one with `apt-get install musl-tools` (or set {})",
            cc_var(target)
        )
    } else {
        format!(
            "install a cross C compiler for {arch} musl (e.g. {arch}-linux-musl-gcc) and set {}",
            cc_var(target)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names_follow_cc_and_cargo() {
        assert_eq!(
            cc_var("x86_64-unknown-linux-musl"),
            "CC_x86_64_unknown_linux_musl"
        );
    }
}
