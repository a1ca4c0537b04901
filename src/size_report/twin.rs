//! The symbol twin of a binary: the very link `cargo tiny build` ran, again, with the symbols kept.
//!
//! `cargo auditable rustc` with the build's own arguments (profile, `--config` overrides, rustflags,
//! target, features) and, for the binary's crate only, `-C strip=none -C link-arg=--emit-relocs`.
//! The rlibs are the build's (cargo finds every dependency fresh), so only the binary's own crate is
//! compiled again — with fat LTO that is the whole optimisation and link — and every loaded section of
//! the result is the stripped binary's, byte for byte ([`super::elf`] checks it).
//!
//! Why not the linker's map (`-Wl,-Map`): it needs the same relink, its format differs between GNU
//! ld and lld, and with LTO all Rust code comes from one object, so the map attributes nothing but the
//! named sections and the C objects — no unwind entries and no anonymous data of the LTO object
//! (measured on examples/http-service: 55 % of the binary in sections named after a Rust symbol,
//! 16 % in C objects, against 99.2 % here).
//!
//! The extra arguments make the twin another unit for cargo (its own fingerprint and file under
//! `deps/`), so the next build does not compile anything again; but cargo copies the twin to the
//! binary's path: it is read from there, and the binary's bytes are put back at once.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8PathBuf;
use cargo_metadata::{Message, PackageId};

use crate::compile::plan::{Plan, TargetPlan};
use crate::compile::Binary;
use crate::error::Failure;

/// What the twin link gave.
pub struct Twin {
    pub bytes: Vec<u8>,
    /// Every rlib cargo reported for the target, by package: C objects are read out of them.
    pub rlibs: Vec<(PackageId, Utf8PathBuf)>,
}

/// The rustc arguments of the twin's final crate: symbols kept, and through a C compiler driving
/// GNU ld, the static relocations too. lld lays the read-only sections out otherwise with
/// `--emit-relocs` (checked on aarch64: `.eh_frame` moved ahead of `.gcc_except_table`), so a twin
/// linked by lld keeps its symbols only.
pub fn rustc_args(linker_is_ld: bool) -> Vec<String> {
    let mut args = vec!["-C".to_string(), "strip=none".to_string()];
    if !linker_is_ld {
        args.extend(["-C".to_string(), "link-arg=-Wl,--emit-relocs".to_string()]);
    }
    args
}

/// Whether the target links with `ld`/`lld` itself (link args unwrapped), not through a C compiler.
fn linker_is_ld(t: &TargetPlan) -> bool {
    let triple = &t.target.triple;
    let var = format!(
        "CARGO_TARGET_{}_LINKER",
        triple.to_uppercase().replace(['-', '.'], "_")
    );
    let getenv = |k: &str| std::env::var(k).ok();
    let linker = t
        .env
        .iter()
        .find(|(k, _)| *k == var)
        .map(|(_, v)| v.clone())
        .or_else(|| {
            let cwd = std::env::current_dir().ok()?;
            crate::compile::rustflags::user_config(&getenv, &cwd, triple)
                .ok()?
                .linker
        });
    linker.is_some_and(|l| {
        let name = Path::new(&l)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        name.contains("lld") || name == "ld" || name.ends_with("-ld")
    })
}

/// Links the twin of `b` and puts `b`'s bytes back in place.
pub fn link(plan: &Plan, t: &TargetPlan, b: &Binary) -> Result<Twin> {
    let real = std::fs::read(&b.path).with_context(|| format!("reading {}", b.path))?;
    let one = Plan {
        bins: vec![b.target.clone()],
        ..plan.clone()
    };
    let mut args = one.cargo_args(t);
    args[1] = "rustc".into();
    args.push("--".into());
    args.extend(rustc_args(linker_is_ld(t)).into_iter().map(Into::into));
    let mut cmd = match &plan.size_max {
        Some(n) => {
            let mut c = Command::new("rustup");
            c.args(["run", &n.toolchain, "cargo"]).env_remove("RUSTC");
            c
        }
        None => Command::new(crate::tools::cargo()),
    };
    cmd.args(&args)
        .envs(plan.cargo_env(t))
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = crate::process::spawn(&mut cmd, "make sure cargo is on PATH")?;
    let stdout = child.stdout.take().context("cargo stdout")?;
    let mut stderr = child.stderr.take().context("cargo stderr")?;
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut exe: Option<Utf8PathBuf> = None;
    let mut rlibs = Vec::new();
    for message in Message::parse_stream(BufReader::new(stdout)) {
        let Ok(Message::CompilerArtifact(a)) = message else {
            continue;
        };
        for f in &a.filenames {
            if f.extension() == Some("rlib") {
                rlibs.push((a.package_id.clone(), f.clone()));
            }
        }
        if a.target.is_bin() && a.target.name == b.target.bin {
            exe = a.executable.clone();
        }
    }
    let status = child.wait().context("waiting for cargo")?;
    let errors = err_reader.join().unwrap_or_default();
    let twin = exe.as_ref().map(std::fs::read).transpose();
    // The binary goes back whatever happened.
    restore(&b.path, &real)?;
    if !status.success() {
        return Err(Failure::new(format!(
            "linking `{}` again with its symbols (for the size report) failed: {}",
            b.target.bin,
            crate::workspace::cargo_error_line(&errors)
        ))
        .hint("run `cargo tiny size -v` to see cargo's command; `cargo tiny build` is not affected")
        .into());
    }
    let bytes = twin?
        .ok_or_else(|| anyhow::anyhow!("cargo reported no executable for `{}`", b.target.bin))?;
    Ok(Twin { bytes, rlibs })
}

/// Puts the built binary back where the twin was written, unless it is there already.
fn restore(path: &Utf8PathBuf, real: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|now| now == real) {
        return Ok(());
    }
    crate::fsutil::write_atomic(path.as_std_path(), real)
}

/// The self-contained C runtime of a musl target in the toolchain's sysroot (`libc.a`,
/// `libunwind.a`, the start files), when it is there.
pub fn runtime_dir(plan: &Plan, triple: &str) -> Option<PathBuf> {
    let mut cmd = match &plan.size_max {
        Some(n) => {
            let mut c = Command::new("rustup");
            c.args(["run", &n.toolchain, "rustc"]);
            c
        }
        None => Command::new(crate::tools::rustc()),
    };
    let sysroot = crate::process::probe(cmd.args(["--print", "sysroot"]))?;
    let dir = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(triple)
        .join("lib/self-contained");
    dir.is_dir().then_some(dir)
}
