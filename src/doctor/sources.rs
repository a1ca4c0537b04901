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

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

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
    /// Files that could not be read or parsed (skipped: a compile error is cargo's to report).
    pub unreadable: Vec<PathBuf>,
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

/// Types whose `new(program)` runs a program.
const COMMAND_TYPES: &[&str] = &[
    "std::process::Command",
    "tokio::process::Command",
    "async_process::Command",
    "async_std::process::Command",
    "smol::process::Command",
];

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

/// (file, module dir) → what it holds (`None`: unreadable).
type Parsed = HashMap<(PathBuf, PathBuf), Option<Rc<FileScan>>>;

thread_local! {
    /// Files parsed once per run: every check and every binary of a package reads the same modules.
    static PARSED: RefCell<Parsed> = RefCell::default();
}

fn parse_one(file: &Path, module_dir: &Path) -> Option<Rc<FileScan>> {
    let key = (file.to_path_buf(), module_dir.to_path_buf());
    if let Some(hit) = PARSED.with(|c| c.borrow().get(&key).cloned()) {
        return hit;
    }
    let result = std::fs::read_to_string(file)
        .ok()
        .and_then(|text| syn::parse_file(&text).ok())
        .map(|ast| {
            let mut uses = UseCollector::default();
            uses.visit_file(&ast);
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
            v.visit_file(&ast);
            let children = std::mem::take(&mut v.children);
            Rc::new(FileScan {
                paths: local.paths,
                methods: local.methods,
                programs: local.programs,
                children,
            })
        });
    PARSED.with(|c| c.borrow_mut().insert(key, result.clone()));
    result
}

fn scan_file(file: &Path, module_dir: &Path, scan: &mut Scan, seen: &mut BTreeSet<PathBuf>) {
    if !seen.insert(file.to_path_buf()) {
        return;
    }
    let Some(parsed) = parse_one(file, module_dir) else {
        scan.unreadable.push(file.to_path_buf());
        return;
    };
    scan.files.push(file.to_path_buf());
    scan.paths.extend(parsed.paths.iter().cloned());
    scan.methods.extend(parsed.methods.iter().cloned());
    scan.programs.extend(parsed.programs.iter().cloned());
    for (child, dir) in &parsed.children {
        scan_file(child, dir, scan, seen);
    }
}

/// Whether `#[cfg(…)]` attributes keep an item for a Linux (musl) non-test build. Unknown
/// predicates (features, custom cfgs) count as true: the item may be compiled.
pub fn cfg_enabled(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().all(|a| {
        if a.path().is_ident("test") {
            return false;
        }
        if !a.path().is_ident("cfg") {
            return true;
        }
        match a.parse_args::<syn::Meta>() {
            Ok(m) => eval_cfg(&m),
            Err(_) => true,
        }
    })
}

fn eval_cfg(m: &syn::Meta) -> bool {
    match m {
        syn::Meta::Path(p) => {
            let id = p.get_ident().map(|i| i.to_string()).unwrap_or_default();
            !matches!(id.as_str(), "test" | "windows" | "miri")
        }
        syn::Meta::NameValue(nv) => {
            let key = nv
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) = &nv.value
            else {
                return true;
            };
            let v = s.value();
            match key.as_str() {
                "target_os" => v == "linux",
                "target_family" => v == "unix",
                "target_env" => v == "musl",
                "target_vendor" => v == "unknown",
                _ => true,
            }
        }
        syn::Meta::List(l) => {
            let name = l
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_default();
            let args = l
                .parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                )
                .map(|p| p.into_iter().collect::<Vec<_>>());
            let Ok(args) = args else { return true };
            match name.as_str() {
                "not" => args.first().is_none_or(|a| !eval_cfg(a)),
                "all" => args.iter().all(eval_cfg),
                "any" => args.iter().any(eval_cfg),
                _ => true,
            }
        }
    }
}

/// First pass over a file: its `use` items (aliases for path resolution) and their paths.
#[derive(Default)]
struct UseCollector {
    /// Local name → full path.
    aliases: HashMap<String, String>,
    /// Paths imported with `::*`.
    globs: Vec<String>,
    paths: Vec<String>,
}

impl UseCollector {
    fn tree(&mut self, prefix: &str, t: &syn::UseTree) {
        let join = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_string()
            } else {
                format!("{a}::{b}")
            }
        };
        match t {
            syn::UseTree::Path(p) => self.tree(&join(prefix, &p.ident.to_string()), &p.tree),
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    if let Some(last) = prefix.rsplit("::").next() {
                        self.aliases.insert(last.to_string(), prefix.to_string());
                    }
                    self.paths.push(prefix.to_string());
                } else {
                    let full = join(prefix, &name);
                    self.aliases.insert(name, full.clone());
                    self.paths.push(full);
                }
            }
            syn::UseTree::Rename(r) => {
                let full = join(prefix, &r.ident.to_string());
                self.aliases.insert(r.rename.to_string(), full.clone());
                self.paths.push(full);
            }
            syn::UseTree::Glob(_) => {
                self.globs.push(prefix.to_string());
                self.paths.push(prefix.to_string());
            }
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for UseCollector {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        if cfg_enabled(&u.attrs) {
            self.tree("", &u.tree);
        }
    }
    fn visit_item(&mut self, i: &'ast syn::Item) {
        if item_enabled(i) {
            syn::visit::visit_item(self, i);
        }
    }
}

fn item_attrs(i: &syn::Item) -> &[syn::Attribute] {
    match i {
        syn::Item::Const(x) => &x.attrs,
        syn::Item::Enum(x) => &x.attrs,
        syn::Item::ExternCrate(x) => &x.attrs,
        syn::Item::Fn(x) => &x.attrs,
        syn::Item::ForeignMod(x) => &x.attrs,
        syn::Item::Impl(x) => &x.attrs,
        syn::Item::Macro(x) => &x.attrs,
        syn::Item::Mod(x) => &x.attrs,
        syn::Item::Static(x) => &x.attrs,
        syn::Item::Struct(x) => &x.attrs,
        syn::Item::Trait(x) => &x.attrs,
        syn::Item::TraitAlias(x) => &x.attrs,
        syn::Item::Type(x) => &x.attrs,
        syn::Item::Union(x) => &x.attrs,
        syn::Item::Use(x) => &x.attrs,
        _ => &[],
    }
}

fn item_enabled(i: &syn::Item) -> bool {
    cfg_enabled(item_attrs(i))
}

struct FileVisitor<'a> {
    file: &'a Path,
    /// Where `mod x;` in the current module looks for `x.rs` / `x/mod.rs`.
    module_dir: PathBuf,
    aliases: HashMap<String, String>,
    globs: Vec<String>,
    scan: &'a mut Scan,
    /// Out-of-line modules to read: (file, its module dir).
    children: Vec<(PathBuf, PathBuf)>,
}

impl FileVisitor<'_> {
    /// `a::b::c` with the first segment resolved through the file's aliases.
    fn resolve(&self, segments: &[String]) -> String {
        let Some(first) = segments.first() else {
            return String::new();
        };
        let head = match first.as_str() {
            "crate" | "self" | "super" => return segments.join("::"),
            f => self
                .aliases
                .get(f)
                .cloned()
                .unwrap_or_else(|| f.to_string()),
        };
        std::iter::once(head)
            .chain(segments[1..].iter().cloned())
            .collect::<Vec<_>>()
            .join("::")
    }

    fn is_command_new(&self, segments: &[String]) -> bool {
        if segments.last().map(String::as_str) != Some("new") || segments.len() < 2 {
            return false;
        }
        let ty = &segments[..segments.len() - 1];
        let resolved = self.resolve(ty);
        let resolved = resolved.trim_start_matches("::");
        if COMMAND_TYPES.contains(&resolved) {
            return true;
        }
        // `Command` unresolved, with `use std::process::*` (or tokio's) in the file.
        ty.len() == 1
            && ty[0] == "Command"
            && !self.aliases.contains_key("Command")
            && self.globs.iter().any(|g| {
                COMMAND_TYPES
                    .iter()
                    .any(|c| c.strip_suffix("::Command") == Some(g.as_str()))
            })
    }

    /// Paths written inside a macro call's tokens (`tokio::select! { _ = signal::ctrl_c() => … }`).
    fn macro_paths(&mut self, tokens: TokenStream) {
        let mut current: Vec<String> = Vec::new();
        let mut colons = 0;
        let flush = |v: &mut Self, current: &mut Vec<String>| {
            if !current.is_empty() {
                let p = v.resolve(current);
                v.scan.paths.insert(p);
                current.clear();
            }
        };
        // After a `.`: a method (or field) name, `t.recv()`.
        let mut dot = false;
        for tt in tokens {
            match tt {
                TokenTree::Ident(i) if dot => {
                    flush(self, &mut current);
                    self.scan.methods.insert(i.to_string());
                    dot = false;
                    colons = 0;
                }
                TokenTree::Ident(i) => {
                    if colons != 2 {
                        flush(self, &mut current);
                    }
                    current.push(i.to_string());
                    colons = 0;
                }
                TokenTree::Punct(p) if p.as_char() == ':' => colons += 1,
                TokenTree::Punct(p) if p.as_char() == '.' => {
                    flush(self, &mut current);
                    colons = 0;
                    dot = true;
                }
                TokenTree::Group(g) => {
                    flush(self, &mut current);
                    colons = 0;
                    dot = false;
                    self.macro_paths(g.stream());
                }
                _ => {
                    flush(self, &mut current);
                    colons = 0;
                    dot = false;
                }
            }
        }
        flush(self, &mut current);
    }
}

/// The value of a `cfg!(…)` condition (also negated with `!`) for a Linux non-test build.
fn cfg_macro_value(cond: &syn::Expr) -> Option<bool> {
    match cond {
        syn::Expr::Macro(m) if m.mac.path.is_ident("cfg") => m
            .mac
            .parse_body::<syn::Meta>()
            .ok()
            .map(|meta| eval_cfg(&meta)),
        syn::Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Not(_),
            expr,
            ..
        }) => cfg_macro_value(expr).map(|v| !v),
        syn::Expr::Paren(p) => cfg_macro_value(&p.expr),
        _ => None,
    }
}

fn segments(p: &syn::Path) -> Vec<String> {
    p.segments.iter().map(|s| s.ident.to_string()).collect()
}

fn path_attr(attrs: &[syn::Attribute]) -> Option<String> {
    attrs.iter().find_map(|a| match &a.meta {
        syn::Meta::NameValue(nv) if nv.path.is_ident("path") => match &nv.value {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(s),
                ..
            }) => Some(s.value()),
            _ => None,
        },
        _ => None,
    })
}

impl<'ast> Visit<'ast> for FileVisitor<'_> {
    fn visit_item(&mut self, i: &'ast syn::Item) {
        if item_enabled(i) {
            syn::visit::visit_item(self, i);
        }
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        if cfg_enabled(&f.attrs) {
            syn::visit::visit_impl_item_fn(self, f);
        }
    }

    fn visit_stmt(&mut self, s: &'ast syn::Stmt) {
        let attrs: &[syn::Attribute] = match s {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            _ => &[],
        };
        if cfg_enabled(attrs) {
            syn::visit::visit_stmt(self, s);
        }
    }

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        let name = m.ident.to_string();
        let here = self.file.parent().unwrap_or(Path::new(".")).to_path_buf();
        match &m.content {
            Some(_) => {
                let saved = self.module_dir.clone();
                self.module_dir = match path_attr(&m.attrs) {
                    Some(p) => here.join(p),
                    None => saved.join(&name),
                };
                syn::visit::visit_item_mod(self, m);
                self.module_dir = saved;
            }
            None => {
                let found = match path_attr(&m.attrs) {
                    Some(p) => {
                        let f = here.join(p);
                        let dir = f.parent().unwrap_or(Path::new(".")).to_path_buf();
                        Some((f, dir))
                    }
                    None => {
                        let flat = self.module_dir.join(format!("{name}.rs"));
                        let nested = self.module_dir.join(&name).join("mod.rs");
                        let dir = self.module_dir.join(&name);
                        if flat.is_file() {
                            Some((flat, dir))
                        } else if nested.is_file() {
                            Some((nested, dir))
                        } else {
                            None
                        }
                    }
                };
                if let Some(child) = found {
                    self.children.push(child);
                }
            }
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let s = segments(p);
        let resolved = self.resolve(&s);
        self.scan.paths.insert(resolved);
        syn::visit::visit_path(self, p);
    }

    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        self.macro_paths(m.tokens.clone());
        // Macros whose body is expressions (`vec![…]`, `println!("…", …)`, `assert!(…)`): visited
        // as code, so that a `Command::new("…")` in them counts.
        let exprs = m.parse_body_with(
            syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
        );
        if let Ok(exprs) = exprs {
            for e in &exprs {
                self.visit_expr(e);
            }
        }
        syn::visit::visit_macro(self, m);
    }

    /// `if cfg!(windows) { Command::new("cmd") } else { … }`: only the branch a Linux build keeps.
    fn visit_expr_if(&mut self, e: &'ast syn::ExprIf) {
        match cfg_macro_value(&e.cond) {
            Some(true) => self.visit_block(&e.then_branch),
            Some(false) => {
                if let Some((_, other)) = &e.else_branch {
                    self.visit_expr(other);
                }
            }
            None => syn::visit::visit_expr_if(self, e),
        }
    }

    fn visit_expr_method_call(&mut self, c: &'ast syn::ExprMethodCall) {
        self.scan.methods.insert(c.method.to_string());
        syn::visit::visit_expr_method_call(self, c);
    }

    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(f) = &*c.func {
            if self.is_command_new(&segments(&f.path)) {
                if let Some(syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                })) = c.args.first()
                {
                    self.scan.programs.push(ProgramCall {
                        program: s.value(),
                        file: self.file.to_path_buf(),
                        line: s.span().start().line,
                    });
                }
            }
        }
        syn::visit::visit_expr_call(self, c);
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
