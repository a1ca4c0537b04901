//! The toolchain check: the musl target, cargo-auditable and a musl C compiler (when the graph
//! compiles C) are findings — `cargo tiny build` fails without them, so they are errors with the
//! command that fixes them. Versions of rustc/cargo/cargo-auditable and the container tools that can
//! load the result are machine facts, not findings: `-v` prints them as status lines.

use std::path::Path;

use super::findings::{Finding, Severity};
use super::graph::Graph;
use crate::shell::Shell;
use crate::tools;
use crate::workspace::Workspace;

/// Findings for what `cargo tiny build` needs on this machine.
pub fn check(ws: &Workspace, target: &str, g: &Graph) -> Vec<Finding> {
    let mut out = Vec::new();
    let finding = |code: &'static str, message: String, fix: Option<String>| Finding {
        code,
        severity: Severity::Error,
        message,
        path: Vec::new(),
        fix,
        file: None,
        line: None,
        edit: None,
        verified: None,
    };
    if let Err(e) = tools::check_target_installed(target, ws.root().as_std_path()) {
        let (message, hint) = describe(e);
        out.push(finding("toolchain-target", message, hint));
    }
    if let Err(e) = tools::check_cargo_auditable() {
        let (message, hint) = describe(e);
        out.push(finding("toolchain-auditable", message, hint));
    }
    // The crates of the real target graph that compile C (build-depend on cc/cmake or `links`).
    let c: Vec<String> = crate::compile::c_code_crates(ws)
        .into_iter()
        .filter(|name| g.nodes.iter().any(|n| n.name() == name))
        .collect();
    if tools::find_musl_cc(target).is_none() && !c.is_empty() {
        let f = tools::no_musl_cc(target, &c);
        out.push(finding("toolchain-cc", f.message, f.hint));
    }
    // What native builds need besides a C compiler: CMake, a C++ compiler for musl.
    out.extend(tools_for(
        &super::native::needs(ws, g),
        target,
        |c, m, f| finding(c, m, Some(f)),
    ));
    // The other platforms of `platforms = [...]`: their target, and a C compiler for each (zig or a
    // cross gcc) when the graph compiles C. (Their graph is taken to be this target's: the Linux
    // targets resolve the same unless a crate depends on the architecture.)
    for t in configured_targets(ws) {
        if t.triple == target {
            continue;
        }
        if let Err(e) = tools::check_target_installed(&t.triple, ws.root().as_std_path()) {
            let (message, hint) = describe(e);
            out.push(finding("toolchain-target", message, hint));
        }
        if !c.is_empty() && !crate::cross::has_c_compiler(&t) {
            let f = tools::no_musl_cc(&t.triple, &c).hint(crate::cross::cc_hint(&t));
            out.push(finding("toolchain-cc", f.message, f.hint));
        }
    }
    out
}

/// `toolchain-cmake` / `toolchain-cxx` for the tools `needs` names that this machine lacks.
fn tools_for(
    needs: &[(String, &'static str)],
    target: &str,
    finding: impl Fn(&'static str, String, String) -> Finding,
) -> Vec<Finding> {
    let crates = |tool: &str| -> Vec<&str> {
        needs
            .iter()
            .filter(|(_, t)| *t == tool)
            .map(|(c, _)| c.as_str())
            .collect()
    };
    let mut out = Vec::new();
    let cmake = crates("cmake");
    if !cmake.is_empty() && !has_cmake() {
        out.push(finding(
            "toolchain-cmake",
            format!(
                "{} builds with CMake, and `cmake` is not on PATH",
                cmake.join(", ")
            ),
            "install it (`apt-get install cmake`), or set CMAKE to the cmake program".into(),
        ));
    }
    let cxx = crates("c++");
    if !cxx.is_empty() && find_musl_cxx(target).is_none() {
        let arch = target.split('-').next().unwrap_or_default();
        out.push(finding(
            "toolchain-cxx",
            format!(
                "{} compiles C++, and there is no C++ compiler for {target} (cc-rs looks for {arch}-linux-musl-g++; musl-gcc is C only, and Debian has no musl C++ compiler)",
                cxx.join(", ")
            ),
            format!(
                "put a musl cross toolchain with g++ on PATH ({arch}-linux-musl-g++, e.g. from musl-cross-make), or set {} to one; or turn off the feature that builds the C++ code",
                cxx_var(target)
            ),
        ));
    }
    out
}

/// The tool a failed build script says it lacks (CMake, a C++ compiler for musl), as a finding.
pub fn from_failure(krate: &str, message: &str, target: &str) -> Option<Finding> {
    let m = message.to_ascii_lowercase();
    let tool = if m.contains("cmake")
        && [
            "not installed",
            "no such file",
            "failed to execute",
            "not found",
        ]
        .iter()
        .any(|w| m.contains(w))
    {
        "cmake"
    } else if (m.contains("g++") || m.contains("c++"))
        && ["failed to find tool", "installed?", "not found"]
            .iter()
            .any(|w| m.contains(w))
    {
        "c++"
    } else {
        return None;
    };
    let needs = [(krate.to_string(), tool)];
    tools_for(&needs, target, |code, message, fix| Finding {
        code,
        severity: Severity::Error,
        message,
        path: Vec::new(),
        fix: Some(fix),
        file: None,
        line: None,
        edit: None,
        verified: None,
    })
    .into_iter()
    .next()
}

/// `CXX_<triple>` as cc-rs reads it.
fn cxx_var(target: &str) -> String {
    format!("CXX_{}", target.replace(['-', '.'], "_"))
}

fn has_cmake() -> bool {
    std::env::var_os("CMAKE").is_some_and(|v| !v.is_empty()) || which::which("cmake").is_ok()
}

/// A C++ compiler for the musl target, as cc-rs finds one: the environment, else
/// `<arch>-linux-musl-g++` (or, for the host's architecture, `musl-g++`) on PATH.
pub fn find_musl_cxx(target: &str) -> Option<String> {
    for var in [
        cxx_var(target),
        format!("CXX_{target}"),
        "TARGET_CXX".to_string(),
    ] {
        if let Some(v) = std::env::var(&var).ok().filter(|v| !v.is_empty()) {
            return Some(v);
        }
    }
    let arch = target.split('-').next().unwrap_or_default();
    let mut names = vec![format!("{arch}-linux-musl-g++")];
    if arch == std::env::consts::ARCH {
        names.push("musl-g++".into());
    }
    names.into_iter().find(|n| which::which(n).is_ok())
}

/// Every platform a member's or the workspace's `platforms = [...]` names (unsupported ones are the
/// build's error, not doctor's).
fn configured_targets(ws: &Workspace) -> Vec<crate::target::Target> {
    let mut metas = vec![&ws.metadata.workspace_metadata];
    metas.extend(ws.members().into_iter().map(|p| &p.metadata));
    let mut out: Vec<crate::target::Target> = metas
        .iter()
        .filter_map(|m| m.get("tiny")?.get("platforms")?.as_array())
        .flatten()
        .filter_map(|p| crate::target::Target::from_platform(p.as_str()?).ok())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn describe(e: anyhow::Error) -> (String, Option<String>) {
    match e.downcast::<crate::error::Failure>() {
        Ok(f) => (f.message, f.hint),
        Err(e) => (e.to_string(), None),
    }
}

/// `-v`: the versions and tools found.
pub fn report(shell: &Shell, target: &str, dir: &Path) {
    if shell.verbosity() >= crate::shell::Verbosity::Verbose {
        versions(shell, target, dir, tools::find_musl_cc(target).as_ref());
    }
}

/// What `cargo install` recorded for the `cargo-auditable` at `bin`, else its path.
/// Running it tells nothing: `cargo-auditable --version` is cargo's own version, passed through.
fn auditable_version(bin: &Path) -> String {
    match tools::installed_package(bin) {
        Some(v) => format!("{v} ({})", bin.display()),
        None => format!(
            "{} (version unknown: not installed by `cargo install`)",
            bin.display()
        ),
    }
}

fn versions(shell: &Shell, target: &str, dir: &Path, cc: Option<&tools::CCompiler>) {
    let version = |p: &Path| {
        tools::capture(p, &["--version"], dir)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "not found".into())
    };
    shell.verbose("Toolchain", format!("rustc: {}", version(&tools::rustc())));
    shell.verbose("Toolchain", format!("cargo: {}", version(&tools::cargo())));
    let target_ok = tools::check_target_installed(target, dir).is_ok();
    shell.verbose(
        "Toolchain",
        format!(
            "{target}: {}",
            if target_ok {
                "installed"
            } else {
                "not installed (cargo tiny setup)"
            }
        ),
    );
    shell.verbose(
        "Toolchain",
        format!(
            "musl C compiler: {}",
            cc.as_ref()
                .map(|c| c.program.clone())
                .unwrap_or_else(|| "not found".into())
        ),
    );
    let auditable = tools::find_cargo_auditable();
    shell.verbose(
        "Toolchain",
        format!(
            "cargo-auditable: {}",
            auditable
                .as_deref()
                .map(auditable_version)
                .unwrap_or_else(|| "not found (cargo tiny setup)".into())
        ),
    );
    for tool in ["docker", "podman", "skopeo", "crane"] {
        if let Ok(p) = which::which(tool) {
            shell.verbose(
                "Toolchain",
                format!("{tool}: {} (can load the image tarball)", p.display()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_auditable_version_is_what_cargo_install_recorded() {
        let crates2 = br#"{"installs":{
            "cargo-edit 0.13.0 (registry+https://github.com/rust-lang/crates.io-index)":{"bins":["cargo-add","cargo-rm"]},
            "cargo-auditable 0.7.7 (registry+https://github.com/rust-lang/crates.io-index)":{"bins":["cargo-auditable"]}}}"#;
        assert_eq!(
            tools::recorded_package(crates2, "cargo-auditable").as_deref(),
            Some("cargo-auditable 0.7.7")
        );
        assert_eq!(tools::recorded_package(crates2, "cargo-tiny"), None);
        assert_eq!(
            tools::recorded_package(b"not json", "cargo-auditable"),
            None
        );
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("bin")).unwrap();
        std::fs::write(home.path().join(".crates2.json"), crates2).unwrap();
        let bin = home.path().join("bin/cargo-auditable");
        assert!(auditable_version(&bin).starts_with("cargo-auditable 0.7.7 ("));
        std::fs::remove_file(home.path().join(".crates2.json")).unwrap();
        assert!(auditable_version(&bin)
            .ends_with("(version unknown: not installed by `cargo install`)"));
    }
}
