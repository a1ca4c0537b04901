//! The workspace's own sources, parsed with `syn`: the module tree of a target (following `mod x;`
//! and `#[path]`, skipping `#[cfg(test)]` and other-platform items), the paths it names (resolved
//! through its `use` declarations, also inside macro calls such as `tokio::select!`), and the
//! programs it runs (`Command::new("…")` with a literal).
//!
//! Used by the FROM-scratch checks ([`super::pid1`], [`super::programs`]).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::rc::Rc;

mod cfg;
mod read;
mod visit;

pub use cfg::cfg_enabled;

use super::findings::{Finding, Severity};
use syn::visit::Visit;
use visit::{FileVisitor, UseCollector};

/// A `Command::new("lit")` call: the program, where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProgramCall {
    pub program: String,
    pub file: PathBuf,
    pub line: usize,
}

/// What a set of source files names and runs.
#[derive(Debug, Default)]
pub struct Scan {
    /// Every path named, `::`-joined and resolved through the file's `use` items (`signal` after
    /// `use tokio::signal::unix::signal` is `tokio::signal::unix::signal`); use trees themselves too.
    pub paths: BTreeSet<String>,
    /// Names of the methods called (`disable_signals` of `server.disable_signals()`).
    pub methods: BTreeSet<String>,
    pub programs: Vec<ProgramCall>,
    /// Files read (for tests and `-v`).
    pub files: Vec<PathBuf>,
    /// Files that could not be read or parsed, and why (skipped: a compile error is cargo's to
    /// report; see [`skipped`]).
    pub unreadable: Vec<(PathBuf, String)>,
}

impl Scan {
    /// Whether a path starting with `prefix` (whole segments) is named.
    pub fn names(&self, prefix: &str) -> bool {
        self.paths
            .iter()
            .any(|p| p == prefix || p.starts_with(&format!("{prefix}::")))
    }

    /// Whether a path ending with the segment(s) `suffix` is named.
    pub fn names_suffix(&self, suffix: &str) -> bool {
        self.paths
            .iter()
            .any(|p| p == suffix || p.ends_with(&format!("::{suffix}")))
    }
}

/// Scans the module trees rooted at `roots` (crate root files: `src/main.rs`, `src/lib.rs`, …).
pub fn scan(roots: &[PathBuf]) -> Scan {
    let mut scan = Scan::default();
    let mut seen = BTreeSet::new();
    for root in roots {
        let dir = root.parent().unwrap_or(Path::new(".")).to_path_buf();
        scan_file(root, &dir, &mut scan, &mut seen);
    }
    scan
}

/// What one file names and runs, and the module files it declares (file, their module dir).
struct FileScan {
    paths: BTreeSet<String>,
    methods: BTreeSet<String>,
    programs: Vec<ProgramCall>,
    children: Vec<(PathBuf, PathBuf)>,
}

/// (file, module dir) → what it holds, or why it was not read.
type Parsed = HashMap<(PathBuf, PathBuf), Result<Rc<FileScan>, String>>;

thread_local! {
    /// Files parsed once per run: every check and every binary of a package reads the same modules.
    static PARSED: RefCell<Parsed> = RefCell::default();
}

fn parse_one(file: &Path, module_dir: &Path) -> Result<Rc<FileScan>, String> {
    let key = (file.to_path_buf(), module_dir.to_path_buf());
    if let Some(hit) = PARSED.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let result = read::text(file)
        .and_then(|text| {
            read::parse(&text, |ast| {
                let mut uses = UseCollector::default();
                uses.visit_file(ast);
                let mut local = Scan::default();
                local.paths.extend(uses.paths);
                let mut v = FileVisitor {
                    file,
                    module_dir: module_dir.to_path_buf(),
                    aliases: uses.aliases,
                    globs: uses.globs,
                    scan: &mut local,
                    children: Vec::new(),
                };
                v.visit_file(ast);
                let children = std::mem::take(&mut v.children);
                FileScan {
                    paths: local.paths,
                    methods: local.methods,
                    programs: local.programs,
                    children,
                }
            })
        })
        .map(Rc::new);
    PARSED.with(|c| c.borrow_mut().insert(key, result.clone()));
    result
}

/// One info line per file the source checks skipped (`source-skipped`): doctor goes on with the
/// rest.
pub fn findings() -> Vec<Finding> {
    skipped()
        .into_iter()
        .map(|(file, why)| Finding {
            code: "source-skipped",
            severity: Severity::Info,
            message: format!(
                "a source file {why}: the source checks (signal handlers, programs run, host \
                 files) skipped it and went on with the others"
            ),
            path: Vec::new(),
            fix: None,
            file: Some(file.display().to_string()),
            line: None,
            edit: None,
            verified: None,
        })
        .collect()
}

/// Every file this run could not read or parse, and why, once each (the checks share the files).
pub fn skipped() -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = PARSED.with(|c| {
        c.borrow()
            .iter()
            .filter_map(|((file, _), r)| r.as_ref().err().map(|why| (file.clone(), why.clone())))
            .collect()
    });
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn scan_file(file: &Path, module_dir: &Path, scan: &mut Scan, seen: &mut BTreeSet<PathBuf>) {
    if !seen.insert(file.to_path_buf()) {
        return;
    }
    let parsed = match parse_one(file, module_dir) {
        Ok(p) => p,
        Err(why) => {
            scan.unreadable.push((file.to_path_buf(), why));
            return;
        }
    };
    scan.files.push(file.to_path_buf());
    scan.paths.extend(parsed.paths.iter().cloned());
    scan.methods.extend(parsed.methods.iter().cloned());
    scan.programs.extend(parsed.programs.iter().cloned());
    for (child, dir) in &parsed.children {
        scan_file(child, dir, scan, seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_text(files: &[(&str, &str)]) -> Scan {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        scan(&[dir.path().join(files[0].0)])
    }

    #[test]
    fn resolves_uses_and_macro_tokens() {
        let s = scan_text(&[(
            "main.rs",
            "use tokio::signal::unix::{signal, SignalKind};\nuse tokio::signal as sig;\n\
             async fn f() { let mut t = signal(SignalKind::terminate()).unwrap();\n\
             tokio::select! { _ = sig::ctrl_c() => {}, _ = t.recv() => {} } }",
        )]);
        assert!(s.names("tokio::signal::unix::SignalKind::terminate"));
        assert!(s.names("tokio::signal::ctrl_c"), "{:?}", s.paths);
        assert!(s.methods.contains("recv") && s.methods.contains("unwrap"));
    }

    #[test]
    fn finds_literal_commands_with_lines_and_follows_modules() {
        let s = scan_text(&[
            ("src/main.rs", "mod net;\n#[cfg(test)]\nmod tests;\n#[cfg(windows)]\nfn w() { std::process::Command::new(\"cmd.exe\"); }\nfn main() {}\n"),
            ("src/net.rs", "use std::process::Command;\nmod inner;\npub fn p() {\n    let _ = Command::new(\"ping\").arg(\"-c1\");\n    let _ = Command::new(std::env::var(\"X\").unwrap());\n}\n"),
            ("src/net/inner.rs", "pub fn q() { tokio::process::Command::new(\"/bin/sh\"); }\n"),
            ("src/tests.rs", "fn t() { std::process::Command::new(\"never\"); }\n"),
        ]);
        let progs: Vec<(String, usize)> = s
            .programs
            .iter()
            .map(|p| (p.program.clone(), p.line))
            .collect();
        assert_eq!(
            progs,
            vec![("ping".to_string(), 4), ("/bin/sh".to_string(), 1)]
        );
        assert_eq!(s.files.len(), 3);
    }

    #[test]
    fn aliases_module_paths_and_macro_bodies() {
        let s = scan_text(&[(
            "main.rs",
            "use std::process;\nuse tokio::process::Command as Cmd;\nmod gone;\n\
             fn main() {\n    let _ = process::Command::new(\"git\");\n    let _ = Cmd::new(\"sh\");\n\
             let v = vec![std::process::Command::new(\"curl\")];\n}\n",
        )]);
        let progs: Vec<&str> = s.programs.iter().map(|p| p.program.as_str()).collect();
        assert_eq!(progs, ["git", "sh", "curl"]);
    }

    #[test]
    fn cfg_macro_branches_for_other_platforms_are_skipped() {
        let s = scan_text(&[(
            "main.rs",
            "fn main() {\n    let c = if cfg!(target_os = \"windows\") { std::process::Command::new(\"cmd\") }\n\
             else { std::process::Command::new(\"sh\") };\n\
             if !cfg!(unix) { std::process::Command::new(\"never\"); }\n}\n",
        )]);
        let progs: Vec<&str> = s.programs.iter().map(|p| p.program.as_str()).collect();
        assert_eq!(progs, ["sh"]);
    }

    #[test]
    fn unparsable_files_are_skipped_not_fatal() {
        let s = scan_text(&[
            (
                "main.rs",
                "mod broken;\nfn main() { std::process::Command::new(\"ok\"); }\n",
            ),
            ("broken.rs", "fn ( {"),
        ]);
        assert_eq!(s.programs.len(), 1);
        assert_eq!(s.unreadable.len(), 1);
    }

    #[test]
    fn module_cycles_and_non_utf8_files_end() {
        let s = scan_text(&[
            ("main.rs", "#[path = \"main.rs\"]\nmod again;\nmod bytes;\nfn main() { std::process::Command::new(\"x\"); }\n"),
            ("bytes.rs", "\u{0}"),
        ]);
        assert_eq!(s.programs.len(), 1);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("main.rs"), b"fn main() {}\n\xff\xfe").unwrap();
        assert_eq!(scan(&[dir.path().join("main.rs")]).unreadable.len(), 1);
    }

    #[test]
    fn a_type_named_command_elsewhere_is_not_a_program() {
        let s = scan_text(&[(
            "main.rs",
            "use clap::Command;\nfn main() { let _ = Command::new(\"app\"); }\n",
        )]);
        assert!(s.programs.is_empty());
    }
}
