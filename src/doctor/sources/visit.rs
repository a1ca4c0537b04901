//! The visitors: a file's `use` items (first pass), then the paths it names, the methods it calls,
//! the programs it runs and the modules it declares (second pass).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use proc_macro2::{TokenStream, TokenTree};
use syn::visit::Visit;

use super::cfg::{cfg_enabled, cfg_macro_value, item_enabled};
use super::{ProgramCall, Scan};

/// Types whose `new(program)` runs a program.
const COMMAND_TYPES: &[&str] = &[
    "std::process::Command",
    "tokio::process::Command",
    "async_process::Command",
    "async_std::process::Command",
    "smol::process::Command",
];

/// First pass over a file: its `use` items (aliases for path resolution) and their paths.
#[derive(Default)]
pub(super) struct UseCollector {
    /// Local name → full path.
    pub(super) aliases: HashMap<String, String>,
    /// Paths imported with `::*`.
    pub(super) globs: Vec<String>,
    pub(super) paths: Vec<String>,
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

pub(super) struct FileVisitor<'a> {
    pub(super) file: &'a Path,
    /// Where `mod x;` in the current module looks for `x.rs` / `x/mod.rs`.
    pub(super) module_dir: PathBuf,
    pub(super) aliases: HashMap<String, String>,
    pub(super) globs: Vec<String>,
    pub(super) scan: &'a mut Scan,
    /// Out-of-line modules to read: (file, its module dir).
    pub(super) children: Vec<(PathBuf, PathBuf)>,
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
