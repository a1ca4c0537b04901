//! The toolchain check: rustc/cargo, the musl target, a musl C compiler, cargo-auditable, container tools.
//!
//! These depend on the machine, not on the project, so they are printed as `-v` status lines (and the
//! C-compiler need is tied to the graph) rather than being findings: the findings of a project are the
//! same on every machine.

use std::path::Path;

use super::graph::{Graph, Node};
use crate::shell::Shell;
use crate::toolchain;

/// Crates that compile C code for the target (need a musl C compiler).
const NEEDS_CC: &[&str] = &[
    "ring",
    "aws-lc-sys",
    "aws-lc-fips-sys",
    "zstd-sys",
    "libsqlite3-sys",
    "libz-sys",
];

pub fn report(shell: &Shell, target: &str, dir: &Path, g: &Graph) {
    let cc = toolchain::find_musl_cc(target);
    if shell.verbosity() >= crate::shell::Verbosity::Verbose {
        versions(shell, target, dir, cc.as_ref());
    }
    need_cc(shell, target, g, cc.is_some());
}

fn versions(shell: &Shell, target: &str, dir: &Path, cc: Option<&toolchain::CCompiler>) {
    let version = |p: &Path| {
        toolchain::capture(p, &["--version"], dir)
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "not found".into())
    };
    shell.verbose(
        "Toolchain",
        format!("rustc: {}", version(&toolchain::rustc())),
    );
    shell.verbose(
        "Toolchain",
        format!("cargo: {}", version(&toolchain::cargo())),
    );
    let target_ok = toolchain::check_target_installed(target, dir).is_ok();
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
    let auditable = toolchain::find_cargo_auditable();
    shell.verbose(
        "Toolchain",
        format!(
            "cargo-auditable: {}",
            auditable
                .as_deref()
                .map(version)
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

fn need_cc(shell: &Shell, target: &str, g: &Graph, have_cc: bool) {
    let needs: Vec<&str> = NEEDS_CC
        .iter()
        .copied()
        .filter(|c| {
            g.nodes
                .iter()
                .any(|n| matches!(n, Node::Package { name, .. } if name == c))
        })
        .collect();
    if !needs.is_empty() && !have_cc {
        shell.warn(format!(
            "{} compile C code for {target} but no musl C compiler was found (install musl-tools or set {})",
            needs.join(", "),
            toolchain::cc_var(target)
        ));
    }
}
