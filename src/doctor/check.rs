//! The verification build: `cargo check --target <triple>` on the workspace copy, with the C
//! compiler `cargo tiny build` would give cc-rs. Build scripts run, so a `-sys` crate that cannot
//! build for musl fails here, and so does code calling an API a fix switched off. What the build
//! scripts tell the linker is read back (`build-script-executed`): a library found only in the
//! host's directories (a glibc build) or named without being built anywhere cannot go into a static
//! musl binary, although `cargo check`, which links nothing, passes.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::Value;

use super::options::DoctorOptions;
use super::sandbox::Sandbox;
use crate::shell::{Shell, Verbosity};
use crate::workspace::Workspace;

/// What one check found.
#[derive(Debug, Default, Clone)]
pub struct CheckReport {
    /// cargo's exit status.
    pub passed: bool,
    pub seconds: f64,
    /// Units cargo compiled, and units it found fresh.
    pub compiled: usize,
    pub fresh: usize,
    pub failures: Vec<BuildFailure>,
    pub links: Vec<LinkIssue>,
    /// Packages whose build links a C++ runtime (`stdc++`, `c++`).
    pub cpp: Vec<String>,
}

impl CheckReport {
    /// cargo passed and every library the build scripts link can be linked statically.
    pub fn ok(&self) -> bool {
        self.passed && self.links.is_empty()
    }
}

/// A package cargo could not build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildFailure {
    /// Empty when cargo failed before building (resolution).
    pub package: String,
    pub version: String,
    /// A workspace member or path dependency (the user's code).
    pub local: bool,
    /// Its build script failed (else its code did not compile).
    pub build_script: bool,
    /// The line that says why.
    pub message: String,
}

/// A library a build script links that a static musl binary cannot have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkIssue {
    pub package: String,
    pub version: String,
    pub library: String,
    /// Where it was found: a directory of the host (a glibc build); none when nothing built it.
    pub from: Option<PathBuf>,
}

/// Libraries musl's libc provides (or that are empty stubs in it).
const LIBC: &[&str] = &[
    "c", "m", "dl", "pthread", "rt", "util", "resolv", "crypt", "xnet", "gcc_eh", "unwind",
];
/// The C++ runtimes: linked when a crate compiles C++.
const CPP: &[&str] = &["stdc++", "c++", "c++abi"];

/// Runs the check on the copy as it is now (`ws` is its metadata).
pub fn run(
    sandbox: &Sandbox,
    opts: &DoctorOptions,
    ws: &Workspace,
    shell: &Shell,
) -> Result<CheckReport> {
    let t0 = Instant::now();
    let mut cmd = sandbox.cargo();
    // --keep-going: every crate that cannot build, in one run.
    cmd.args([
        "check",
        "--keep-going",
        "--target",
        &opts.target,
        "--manifest-path",
    ])
    .arg(sandbox.manifest())
    .args(opts.selection_args())
    .args(opts.relaxed_resolve().cargo_args())
    .args(["--message-format", "json", "--color", "never"]);
    let local: Vec<&str> = ws
        .metadata
        .packages
        .iter()
        .filter(|p| p.source.is_none())
        .map(|p| p.name.as_str())
        .collect();
    cmd.args(sandbox.unit_config(&local));
    for (k, v) in env(ws, &opts.target, sandbox) {
        cmd.env(k, v);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = crate::process::spawn(&mut cmd, "is cargo on PATH?")?;
    let stdout = child.stdout.take().context("cargo's stdout")?;
    let stderr = child.stderr.take().context("cargo's stderr")?;
    // cargo's status lines are the progress; they stream to our stderr as cargo prints them.
    let show = opts.cargo_verbosity >= 0 && shell.verbosity() != Verbosity::Quiet;
    let err_thread = std::thread::spawn(move || read_stderr(stderr, show));
    let mut report = CheckReport::default();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    let mut links = Links::default();
    for line in BufReader::new(stdout).lines() {
        let Ok(v) = serde_json::from_str::<Value>(&line?) else {
            continue;
        };
        message(&v, ws, &mut report, &mut errors, &mut links);
    }
    // The linker searches every directory any build script named (a crate may link a library
    // another one builds: curl-sys's `ssl` is openssl-sys's).
    let home = crate::compile::rustflags::cargo_home(&|k: &str| std::env::var(k).ok());
    let mut built_in = vec![sandbox.target_dir.as_path()];
    built_in.extend(home.as_deref());
    for (package, version, library) in links.linked {
        if let Some(from) = host_library(&library, &links.search, &built_in) {
            report.links.push(LinkIssue {
                package,
                version,
                library,
                from,
            });
        }
    }
    let status = child.wait()?;
    let stderr = err_thread.join().unwrap_or_default();
    report.passed = status.success();
    report.seconds = t0.elapsed().as_secs_f64();
    if !report.passed {
        report.failures = failures(&stderr, &errors, ws);
    }
    Ok(report)
}

/// The C compiler (and, for another architecture, the linker) `cargo tiny build` sets.
fn env(ws: &Workspace, triple: &str, sandbox: &Sandbox) -> Vec<(String, String)> {
    let Ok(t) = crate::target::Target::from_triple(triple) else {
        return Vec::new();
    };
    let getenv = |k: &str| std::env::var(k).ok();
    let cwd = std::env::current_dir().unwrap_or_default();
    let user = crate::compile::rustflags::user_config(&getenv, &cwd, triple)
        .map(|c| crate::cross::UserTools {
            linker: c.linker,
            env: c.env,
        })
        .unwrap_or_default();
    let c = crate::compile::c_code_crates(ws);
    // No C compiler: cc-rs says so in the build script that needs one (a finding of its own).
    crate::cross::env_for(&t, &c, &sandbox.target_dir.join("zig"), &user).unwrap_or_default()
}

/// What the build scripts tell the linker: (package, version, library) and every search path.
#[derive(Default)]
struct Links {
    linked: Vec<(String, String, String)>,
    search: Vec<PathBuf>,
}

/// One JSON message of cargo.
fn message(
    v: &Value,
    ws: &Workspace,
    report: &mut CheckReport,
    errors: &mut BTreeMap<String, String>,
    links: &mut Links,
) {
    let Links { linked, search } = links;
    let id = v["package_id"].as_str().unwrap_or_default();
    match v["reason"].as_str() {
        Some("compiler-artifact") => {
            if v["fresh"].as_bool() == Some(true) {
                report.fresh += 1;
            } else {
                report.compiled += 1;
            }
        }
        Some("compiler-message") if v["message"]["level"] == "error" => {
            let m = &v["message"];
            let mut text = m["message"].as_str().unwrap_or_default().to_string();
            if let Some(code) = m["code"]["code"].as_str() {
                text = format!("error[{code}]: {text}");
            }
            if let Some(span) = m["spans"].as_array().and_then(|s| s.first()) {
                let file = span["file_name"].as_str().unwrap_or_default();
                text.push_str(&format!(" ({file}:{})", span["line_start"]));
            }
            let (name, _) = package_of(ws, id);
            errors.entry(name).or_insert(text);
        }
        Some("build-script-executed") => {
            let (name, version) = package_of(ws, id);
            let paths: Vec<PathBuf> = v["linked_paths"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|p| PathBuf::from(p.split_once('=').map_or(p, |(_, p)| p)))
                .collect();
            for lib in v["linked_libs"].as_array().into_iter().flatten() {
                let Some(lib) = lib.as_str() else { continue };
                let lib = library_name(lib);
                if CPP.contains(&lib) {
                    if !report.cpp.contains(&name) {
                        report.cpp.push(name.clone());
                    }
                    continue;
                }
                if LIBC.contains(&lib) {
                    continue;
                }
                linked.push((name.clone(), version.clone(), lib.to_string()));
            }
            search.extend(paths);
        }
        _ => {}
    }
}

/// `static:+whole-archive=foo`, `dylib=foo`, `foo:renamed` → `foo`.
fn library_name(spec: &str) -> &str {
    let name = spec.rsplit_once('=').map_or(spec, |(_, n)| n);
    name.split_once(':').map_or(name, |(n, _)| n)
}

/// Where the library `lib` a build script links comes from: `None` when it is built here (found
/// below the check's target directory or cargo's home — a crate that ships it); else the host
/// directory it was found in (a build for the host's libc), or `Some(None)` when no searched
/// directory has it (the system's would be wanted at link time).
fn host_library(lib: &str, paths: &[PathBuf], built_in: &[&Path]) -> Option<Option<PathBuf>> {
    let built = |p: &Path| built_in.iter().any(|b| p.starts_with(b));
    // `static:+verbatim=libfoo.a` names the file itself.
    let names = [
        format!("lib{lib}.a"),
        format!("lib{lib}.so"),
        format!("{lib}.lib"),
        lib.to_string(),
    ];
    let has = |p: &&PathBuf| names.iter().any(|n| p.join(n).is_file());
    // Built here wins over a host copy of the same library (libz in /usr/lib too).
    if paths.iter().filter(|p| built(p)).any(|p| has(&p)) {
        return None;
    }
    Some(paths.iter().find(has).cloned())
}

/// cargo's stderr: status lines shown as they come (when `show`), everything kept for the
/// failure lines.
fn read_stderr(stderr: impl Read, show: bool) -> String {
    let mut all = String::new();
    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
        if show && is_status(&line) {
            eprintln!("{}", crate::shell::escape(&line));
        }
        if all.len() < 4 << 20 {
            all.push_str(&line);
            all.push('\n');
        }
    }
    all
}

/// cargo's right-aligned status lines (`   Compiling foo v1.0`), not errors or warnings.
fn is_status(line: &str) -> bool {
    let t = line.trim_start();
    let verb = t.split(' ').next().unwrap_or_default();
    line.len() - t.len() >= 2
        && verb.len() > 2
        && verb.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && verb.chars().skip(1).all(|c| c.is_ascii_lowercase())
}

/// (name, version) of a package id of the copy's metadata.
fn package_of(ws: &Workspace, id: &str) -> (String, String) {
    ws.metadata
        .packages
        .iter()
        .find(|p| p.id.repr == id)
        .map(|p| (p.name.to_string(), p.version.to_string()))
        .unwrap_or_default()
}

/// The packages cargo could not build, each with the line that says why.
fn failures(stderr: &str, errors: &BTreeMap<String, String>, ws: &Workspace) -> Vec<BuildFailure> {
    let local = |name: &str| {
        ws.metadata
            .packages
            .iter()
            .any(|p| p.name.as_str() == name && p.source.is_none())
    };
    let mut out: Vec<BuildFailure> = Vec::new();
    let blocks: Vec<&str> = stderr.split("\nerror: ").collect();
    for (i, block) in blocks.iter().enumerate() {
        let block = if i == 0 {
            match block.strip_prefix("error: ") {
                Some(b) => b,
                None => continue,
            }
        } else {
            block
        };
        let first = block.lines().next().unwrap_or_default();
        let named = |prefix: &str| {
            let rest = first.strip_prefix(prefix)?;
            let inner = rest.split('`').next()?;
            let mut it = inner.split(' ');
            Some((
                it.next()?.to_string(),
                it.next().unwrap_or("").trim_start_matches('v').to_string(),
            ))
        };
        if let Some((name, version)) = named("failed to run custom build command for `") {
            out.push(BuildFailure {
                local: local(&name),
                package: name,
                version,
                build_script: true,
                message: build_script_reason(block),
            });
        } else if let Some((name, _)) = named("could not compile `") {
            let message = errors
                .get(&name)
                .cloned()
                .unwrap_or_else(|| first.to_string());
            let version = ws
                .metadata
                .packages
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| p.version.to_string())
                .unwrap_or_default();
            out.push(BuildFailure {
                local: local(&name),
                package: name,
                version,
                build_script: false,
                message,
            });
        } else if out.is_empty() && !first.starts_with("warning") {
            out.push(BuildFailure {
                package: String::new(),
                version: String::new(),
                local: false,
                build_script: false,
                message: first.to_string(),
            });
        }
    }
    out.dedup();
    out
}

/// The line of a failed build script's output that says why: a missing tool or library first.
fn build_script_reason(block: &str) -> String {
    let lines: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    const TELLING: &[&str] = &[
        "failed to find tool",
        "is `cmake` not installed",
        "installed?",
        "not installed",
        "pkg-config has not been configured",
        "could not find",
        "Could not find",
        "not found",
        "No such file",
        "error occurred",
        "Error:",
    ];
    let pick = TELLING
        .iter()
        .find_map(|t| {
            lines
                .iter()
                .find(|l| l.contains(t) && !l.starts_with("cargo:"))
        })
        .or_else(|| {
            lines
                .iter()
                .skip_while(|l| !l.contains("panicked at"))
                .nth(1)
        })
        .or_else(|| lines.get(1))
        .copied()
        .unwrap_or_default();
    let pick = pick.trim_start_matches("cargo:warning=");
    let mut s: String = pick.chars().take(240).collect();
    if pick.chars().count() > 240 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names() {
        assert_eq!(library_name("static=z"), "z");
        assert_eq!(library_name("dylib=pq"), "pq");
        assert_eq!(library_name("static:+whole-archive=ring_core"), "ring_core");
        assert_eq!(library_name("asound"), "asound");
        assert_eq!(library_name("foo:bar"), "foo");
    }

    #[test]
    fn where_a_linked_library_comes_from() {
        let t = tempfile::tempdir().unwrap();
        let target = t.path().join("target");
        let out = target.join("debug/build/x-1/out");
        let host = t.path().join("usr/lib");
        for (dir, file) in [(&out, "libz.a"), (&host, "libpq.so"), (&out, "libfoo.a")] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(file), "").unwrap();
        }
        let built = [target.as_path()];
        std::fs::write(host.join("libz.a"), "").unwrap();
        let paths = vec![host.clone(), out.clone()];
        assert_eq!(
            host_library("z", &paths, &built),
            None,
            "built here (the host's too)"
        );
        assert_eq!(
            host_library("pq", &paths, &built),
            Some(Some(host.clone())),
            "the host's"
        );
        assert_eq!(
            host_library("asound", &paths, &built),
            Some(None),
            "nobody's"
        );
        assert_eq!(host_library("libfoo.a", &paths, &built), None, "verbatim");
    }

    #[test]
    fn status_lines() {
        assert!(is_status("   Compiling libc v0.2.176"));
        assert!(is_status("    Checking app v0.1.0 (/x)"));
        assert!(!is_status(
            "error: failed to run custom build command for `x v1`"
        ));
        assert!(!is_status("  cargo:rerun-if-changed=build.rs"));
        assert!(!is_status("warning: unused"));
    }

    #[test]
    fn a_build_scripts_reason_is_its_telling_line() {
        let block = "failed to run custom build command for `alsa-sys v0.3.1`\n\nCaused by:\n  process didn't exit successfully: `/t/build-script-build` (exit status: 101)\n  --- stderr\n\n  thread 'main' panicked at build.rs:13:18:\n\n  pkg-config has not been configured to support cross-compilation.\n\n  Install a sysroot for the target platform and configure it via\n";
        assert_eq!(
            build_script_reason(block),
            "pkg-config has not been configured to support cross-compilation."
        );
        let cxx = "failed to run custom build command for `e2 v0.1.0`\n  --- stderr\n  cargo:warning=Compiler family detection failed due to error: ToolNotFound: failed to find tool \"x86_64-linux-musl-g++\": No such file or directory (os error 2)\n  error occurred in cc-rs: failed to find tool \"x86_64-linux-musl-g++\": No such file or directory (os error 2)\n";
        assert!(
            build_script_reason(cxx).starts_with("error occurred in cc-rs: failed to find tool")
        );
    }
}
