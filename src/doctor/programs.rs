//! The `missing-program` check: `Command::new("ping")` (std, tokio, async-process …) with a literal
//! program in the workspace's own sources, which the FROM-scratch image does not contain.
//!
//! The image holds its binary in `/usr/local/bin`, `/etc/passwd`, `/etc/group`, the CA bundle and
//! the `files` of `[package.metadata.tiny]`, nothing else. A bare name is found when a `files`
//! entry puts it in a directory of the image's PATH; an absolute path when a `files` entry is it.

use std::collections::BTreeSet;

use super::findings::{Finding, Severity};
use super::graph::Graph;
use super::scratch;
use super::sources::{self, ProgramCall};
use crate::config::TinyConfig;
use crate::image::BIN_DIR;
use crate::workspace::Workspace;

/// Whether the image of `bin` (configured by `cfg`) contains `program`.
pub fn image_has(program: &str, bin: &str, cfg: &TinyConfig) -> bool {
    let own = format!("{BIN_DIR}/{bin}");
    if program.starts_with('/') {
        return program == own
            || program == "/proc/self/exe"
            || cfg.files.iter().any(|f| f.dest == program);
    }
    if program.contains('/') {
        let abs = workdir_path(program, cfg);
        return abs == own || cfg.files.iter().any(|f| f.dest == abs);
    }
    let path = cfg
        .env
        .get("PATH")
        .cloned()
        .unwrap_or_else(|| BIN_DIR.to_string());
    path.split(':').filter(|d| !d.is_empty()).any(|dir| {
        let candidate = format!("{}/{program}", dir.trim_end_matches('/'));
        candidate == own || cfg.files.iter().any(|f| f.dest == candidate)
    })
}

/// A relative path (`./tool`, `bin/tool`) in the image: under the working directory (default `/`).
fn workdir_path(program: &str, cfg: &TinyConfig) -> String {
    let wd = cfg.workdir.as_deref().unwrap_or("/").trim_end_matches('/');
    format!("{wd}/{}", program.trim_start_matches("./"))
}

pub fn check(ws: &Workspace, g: &Graph) -> Vec<Finding> {
    let members = scratch::members(ws, g);
    // Every call site of every member's own code, with the images (member, bin, config) it runs in.
    let mut reported: BTreeSet<ProgramCall> = BTreeSet::new();
    let mut out = Vec::new();
    for m in &members {
        let Some(cfg) = scratch::image_config(ws, m.package) else {
            continue;
        };
        for bin in m.bins() {
            let scan = sources::scan(&scratch::own_roots(ws, g, m, Some(bin)));
            for call in scan.programs {
                // An empty name fails on every machine, not only FROM scratch.
                if call.program.is_empty()
                    || image_has(&call.program, &bin.name, &cfg)
                    || reported.contains(&call)
                {
                    continue;
                }
                let (how, dest) = if call.program.starts_with('/') {
                    (format!("runs `{}`", call.program), call.program.clone())
                } else if call.program.contains('/') {
                    (
                        format!(
                            "runs `{}` (relative to the working directory)",
                            call.program
                        ),
                        workdir_path(&call.program, &cfg),
                    )
                } else {
                    (
                        format!("runs `{}` by name", call.program),
                        format!("{BIN_DIR}/{}", call.program),
                    )
                };
                out.push(Finding {
                    code: "missing-program",
                    severity: Severity::Warning,
                    message: format!(
                        "bin `{}` {how}, which its FROM-scratch image does not contain: the call fails with \"No such file or directory\" (ENOENT)",
                        bin.name
                    ),
                    path: vec![m.package.name.to_string(), format!("bin {}", bin.name)],
                    fix: Some(format!(
                        "do it in Rust (a crate instead of the program), or ship a static `{name}` with files = {{ \"{dest}\" = \"path/to/{name}\" }} in [package.metadata.tiny]",
                        name = call.program.rsplit('/').next().unwrap_or(&call.program),
                    )),
                    file: Some(call.file.display().to_string()),
                    line: Some(call.line),
                    edit: None,
                    verified: None,
                });
                reported.insert(call);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ExtraFile;

    #[test]
    fn what_the_image_contains() {
        let tool = tempfile::NamedTempFile::new().unwrap();
        let mut cfg = TinyConfig {
            files: vec![ExtraFile {
                source: "/x/tool".into(),
                dest: "/usr/local/bin/tool".into(),
                opened: crate::image::source::OpenedSource::open(tool.path()).unwrap(),
            }],
            ..TinyConfig::default()
        };
        assert!(image_has("tool", "app", &cfg));
        assert!(image_has("/usr/local/bin/tool", "app", &cfg));
        assert!(image_has("app", "app", &cfg));
        assert!(image_has("/proc/self/exe", "app", &cfg));
        assert!(!image_has("ping", "app", &cfg));
        assert!(
            !image_has("/bin/sh", "app", &cfg),
            "FROM scratch has no shell"
        );
        assert!(!image_has("other-bin", "app", &cfg));
        assert!(!image_has("./tool", "app", &cfg));
        cfg.workdir = Some("/usr/local/bin".into());
        assert!(image_has("./tool", "app", &cfg), "relative to the workdir");
        cfg.files[0].dest = "/opt/tool".into();
        assert!(!image_has("tool", "app", &cfg), "not on PATH");
        cfg.env.insert("PATH".into(), "/opt:/usr/local/bin".into());
        assert!(image_has("tool", "app", &cfg));
    }
}
