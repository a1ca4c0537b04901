//! The C compiler and linker of each target: what cargo and cc-rs are told through the environment.
//!
//! - The host's target: the user's `CC_<triple>`, else `musl-gcc` (Debian's musl-tools), needed only
//!   when the graph compiles C — as in cargo-tiny 0.1.
//! - Another architecture: the user's `CARGO_TARGET_<TRIPLE>_LINKER` and `CC_<triple>` win; else an
//!   `<arch>-linux-musl-gcc` on PATH is both; else the binary is linked with `rust-lld` (the musl
//!   targets ship their own libc and start files, so nothing else is needed), and, when a crate of the
//!   graph compiles C, zig compiles it (`zig cc -target <arch>-linux-musl`, through a small wrapper
//!   script cargo-tiny writes under `<target-dir>/tiny/zig/`).

use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::fsutil;
use crate::target::Target;
use crate::tools;

/// How to run zig: `zig` on PATH, else `python3 -m ziglang` (PyPI's `ziglang`, e.g. in the venv
/// `cargo tiny setup` makes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zig {
    /// The program and the arguments before `cc`/`ar`.
    pub command: Vec<String>,
}

impl Zig {
    pub fn find() -> Option<Zig> {
        if let Ok(p) = which::which("zig") {
            return Some(Zig {
                command: vec![p.display().to_string()],
            });
        }
        let mut pythons: Vec<PathBuf> = Vec::new();
        if let Some(p) = zig_venv().map(|v| v.join("bin/python3")) {
            pythons.push(p);
        }
        if let Ok(p) = which::which("python3") {
            pythons.push(p);
        }
        pythons.into_iter().find_map(|py| {
            let ok = crate::process::probe(
                std::process::Command::new(&py).args(["-c", "import ziglang"]),
            )
            .is_some();
            ok.then(|| Zig {
                command: vec![py.display().to_string(), "-m".into(), "ziglang".into()],
            })
        })
    }

    pub fn describe(&self) -> String {
        self.command.join(" ")
    }
}

/// The venv `cargo tiny setup --platform` installs PyPI's `ziglang` into: `$CARGO_HOME/tiny/zig-venv`.
pub fn zig_venv() -> Option<PathBuf> {
    let env = |k: &str| std::env::var(k).ok();
    crate::compile::rustflags::cargo_home(&env).map(|h| h.join("tiny/zig-venv"))
}

/// An `<arch>-linux-musl-gcc` on PATH.
fn cross_gcc(t: &Target) -> Option<String> {
    let gcc = format!("{}-linux-musl-gcc", t.cpu());
    which::which(&gcc).ok().map(|_| gcc)
}

/// Whether a C compiler for `t` is available without installing anything (the user's, a musl gcc,
/// or zig for another architecture).
pub fn has_c_compiler(t: &Target) -> bool {
    tools::find_musl_cc(&t.triple).is_some()
        || (!t.is_host() && (cross_gcc(t).is_some() || Zig::find().is_some()))
}

/// The hint for a missing cross C compiler.
pub fn cc_hint(t: &Target) -> String {
    if t.is_host() {
        tools::musl_cc_hint(&t.triple)
    } else {
        format!(
            "run `cargo tiny setup --platform {}` (installs zig from PyPI's ziglang), or put {}-linux-musl-gcc on PATH, or set {}",
            t.platform(),
            t.cpu(),
            t.cc_var()
        )
    }
}

/// What the user configured for a target in cargo's configuration (`.cargo/config.toml`): their
/// linker and `[env]` keys win over ours, as their environment variables do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserTools {
    /// `target.<triple>.linker` (or `CARGO_TARGET_<TRIPLE>_LINKER`).
    pub linker: Option<String>,
    /// The names the `[env]` table sets.
    pub env: std::collections::BTreeSet<String>,
}

/// The environment cargo needs for `t`. `c_crates` are the graph's crates that compile C; `tools`
/// is where the zig wrapper scripts are written (`<target-dir>/tiny/zig`); `user` is what the
/// user's cargo configuration sets (nothing is exported over it: the environment beats the config).
pub fn env_for(
    t: &Target,
    c_crates: &[String],
    tools: &Path,
    user: &UserTools,
) -> Result<Vec<(String, String)>> {
    let mut env = Vec::new();
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty()) || user.env.contains(k);
    let user_cc =
        set(&t.cc_var()) || tools::find_musl_cc(&t.triple).is_some_and(|c| c.from_env.is_some());
    if t.is_host() {
        match tools::find_musl_cc(&t.triple) {
            _ if user_cc => {}
            Some(cc) => env.push((t.cc_var(), cc.program)),
            None if !c_crates.is_empty() => {
                return Err(tools::no_musl_cc(&t.triple, c_crates).into());
            }
            None => {}
        }
        return Ok(env);
    }
    let gcc = cross_gcc(t);
    if !set(&t.linker_var()) && user.linker.is_none() {
        let linker = gcc.clone().unwrap_or_else(|| "rust-lld".to_string());
        env.push((t.linker_var(), linker));
    }
    if c_crates.is_empty() || user_cc {
        return Ok(env);
    }
    if let Some(gcc) = gcc {
        env.push((t.cc_var(), gcc));
        return Ok(env);
    }
    let Some(zig) = Zig::find() else {
        return Err(tools::no_musl_cc(&t.triple, c_crates)
            .hint(cc_hint(t))
            .into());
    };
    let (cc, ar) = write_zig_wrappers(&zig, t, tools)?;
    env.push((t.cc_var(), cc.display().to_string()));
    if !set(&t.ar_var()) {
        env.push((t.ar_var(), ar.display().to_string()));
    }
    Ok(env)
}

/// The text of the `zig cc` wrapper: cc-rs passes clang's `--target=<rust triple>`, which zig does
/// not know; the wrapper drops it and passes zig's own `-target`.
pub fn cc_wrapper(zig: &Zig, t: &Target) -> String {
    let words: Vec<String> = zig.command.iter().map(|w| sh_quote(w)).collect();
    format!(
        "#!/bin/sh\n# Written by cargo-tiny: zig as the C compiler for {triple}.\nfor a in \"$@\"; do\n  shift\n  case \"$a\" in\n    --target=*|-target=*) ;;\n    *) set -- \"$@\" \"$a\" ;;\n  esac\ndone\nexec {zig} cc -target {zt} \"$@\"\n",
        triple = t.triple,
        zig = words.join(" "),
        zt = t.zig_target()
    )
}

fn ar_wrapper(zig: &Zig) -> String {
    let words: Vec<String> = zig.command.iter().map(|w| sh_quote(w)).collect();
    format!(
        "#!/bin/sh\n# Written by cargo-tiny: zig's archiver.\nexec {} ar \"$@\"\n",
        words.join(" ")
    )
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Writes (or keeps, when unchanged) the wrapper scripts; returns their paths. Each is replaced in
/// one rename (fsutil's writer), so a concurrent build sharing the target directory never runs half
/// a script.
fn write_zig_wrappers(zig: &Zig, t: &Target, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;
    let hint = "check that the target directory is writable";
    let cc = dir.join(format!("cc-{}", t.triple));
    let ar = dir.join(format!("ar-{}", t.triple));
    fsutil::sweep_stale_temps(dir);
    for (path, text) in [(&cc, cc_wrapper(zig, t)), (&ar, ar_wrapper(zig))] {
        if std::fs::read_to_string(path).ok().as_deref() == Some(text.as_str()) {
            continue;
        }
        let tmp = fsutil::stage(path, fsutil::Mode::Shared, hint, |mut f| {
            Ok(f.write_all(text.as_bytes())?)
        })?;
        // A script to run: 0755 rather than the shared 0644.
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| fsutil::cannot_write(path, e, hint))?;
        tmp.persist(path)
            .map_err(|e| fsutil::cannot_write(path, e.error, hint))?;
    }
    Ok((cc, ar))
}

/// `cargo tiny setup --platform`: for a platform of another architecture with no C compiler for
/// it, a venv with PyPI's `ziglang` (`$CARGO_HOME/tiny/zig-venv`), which [`Zig::find`] looks in.
pub fn setup_commands(
    platforms: &[Target],
    shell: &crate::shell::Shell,
) -> Result<Vec<Vec<String>>> {
    let Some(cross) = platforms.iter().find(|t| !t.is_host()) else {
        return Ok(Vec::new());
    };
    if let Some(zig) = Zig::find() {
        shell.status("Fresh", format!("zig ({})", zig.describe()));
        return Ok(Vec::new());
    }
    if cross_gcc(cross).is_some() {
        shell.status(
            "Fresh",
            format!("{}-linux-musl-gcc (C cross compiler)", cross.cpu()),
        );
        return Ok(Vec::new());
    }
    let Some(venv) = zig_venv() else {
        crate::fail!(
            hint = "set CARGO_HOME, or install zig and put it on PATH",
            "no cargo home to install zig into"
        );
    };
    if which::which("python3").is_err() {
        crate::fail!(
            hint = "install python3 (with venv), or install zig and put it on PATH",
            "python3 is not on PATH, so zig (PyPI's ziglang) cannot be installed"
        );
    }
    let v = venv.display().to_string();
    Ok(vec![
        vec!["python3".into(), "-m".into(), "venv".into(), v.clone()],
        vec![
            format!("{v}/bin/python"),
            "-m".into(),
            "pip".into(),
            "install".into(),
            "--disable-pip-version-check".into(),
            "ziglang~=0.17.0".into(),
        ],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_zig_wrapper_drops_clangs_target_and_passes_zigs() {
        let t = Target::from_triple("aarch64-unknown-linux-musl").unwrap();
        let zig = Zig {
            command: vec!["/opt/my venv/python3".into(), "-m".into(), "ziglang".into()],
        };
        let dir = tempfile::tempdir().unwrap();
        let (cc, _) = write_zig_wrappers(&zig, &t, dir.path()).unwrap();
        let text = std::fs::read_to_string(&cc).unwrap();
        assert!(
            text.contains(
                "exec '/opt/my venv/python3' '-m' 'ziglang' cc -target aarch64-linux-musl \"$@\""
            ),
            "{text}"
        );
        // Run it with `echo` standing in for zig: `--target=…` is gone, the rest kept in order.
        let echo = Zig {
            command: vec!["echo".into()],
        };
        let (cc, _) = write_zig_wrappers(&echo, &t, dir.path()).unwrap();
        let out = std::process::Command::new(&cc)
            .args(["-O2", "--target=aarch64-unknown-linux-musl", "-c", "a b.c"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "cc -target aarch64-linux-musl -O2 -c a b.c\n"
        );
        // Executable, and no temp file left beside the scripts.
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cc).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    #[test]
    fn a_linker_and_c_compiler_from_cargos_config_are_not_overridden() {
        let t = Target::from_triple("aarch64-unknown-linux-musl").unwrap();
        if std::env::var_os(t.linker_var()).is_some() || std::env::var_os(t.cc_var()).is_some() {
            return; // the environment already decides
        }
        let dir = tempfile::tempdir().unwrap();
        let c = vec!["ring".to_string()];
        let user = UserTools {
            linker: Some("/opt/my-lld".into()),
            env: [t.cc_var(), t.ar_var()].into_iter().collect(),
        };
        let env = env_for(&t, &c, dir.path(), &user).unwrap();
        assert_eq!(env, Vec::<(String, String)>::new());
        // Only the C compiler configured: the linker is still ours.
        let user = UserTools {
            linker: None,
            env: [t.cc_var()].into_iter().collect(),
        };
        let env = env_for(&t, &c, dir.path(), &user).unwrap();
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, [t.linker_var()]);
    }
}
