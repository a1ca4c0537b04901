//! Reading and parsing one source file without trusting it: only a regular file, up to
//! [`MAX_BYTES`] (a `#[path]` to `/dev/zero`, a FIFO or a device is refused before it is read, so
//! it neither hangs nor grows), and only text whose nesting [`too_deep`] accepts, parsed on a
//! thread with a stack of its own ([`STACK`]): `syn` parses (and drops) nested expressions
//! recursively, so a crafted file of deep nesting would otherwise overflow doctor's stack.
//!
//! Each refusal is a reason, reported by doctor as one info line (`source-skipped`).

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::str::FromStr;

use proc_macro2::{Delimiter, TokenStream, TokenTree};

/// The largest source file read (rustc itself reads any size; the largest hand-written or generated
/// Rust files in the crates of the corpus are a few hundred KiB).
pub const MAX_BYTES: u64 = 8 << 20;

/// Most delimiters (`(`, `[`, `{`) open at once.
pub const MAX_NESTING: usize = 256;

/// Most tokens on one path from the file's top to a token that are not separated by `;` or `,`
/// at their level, summed over the enclosing groups: a chain `a + a + … + a`, `!!!!x` or
/// `x.f().f()…` becomes a nesting of that depth in syn's tree.
pub const MAX_CHAIN: usize = 20_000;

/// The parse thread's stack: enough for [`MAX_NESTING`] and [`MAX_CHAIN`] in a debug build (the
/// memory is reserved, and used only as deep as the file goes).
pub const STACK: usize = 512 << 20;

/// The text of `file`, or why it was not read.
pub fn text(file: &Path) -> Result<String, String> {
    // O_NONBLOCK: opening a FIFO does not wait for a writer (it is refused just below).
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(file)
        .map_err(|e| format!("cannot be opened ({e})"))?;
    let meta = f.metadata().map_err(|e| format!("cannot be read ({e})"))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > MAX_BYTES {
        return Err(format!("is larger than {} MiB", MAX_BYTES >> 20));
    }
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!("is larger than {} MiB", MAX_BYTES >> 20));
    }
    String::from_utf8(bytes).map_err(|_| "is not UTF-8".to_string())
}

/// Why `tokens` nest too deeply to parse, if they do. Walks the token tree with a stack of its own.
pub fn too_deep(tokens: TokenStream) -> Option<String> {
    // (the group's tokens, the chain length of the enclosing levels)
    let mut stack: Vec<(proc_macro2::token_stream::IntoIter, usize)> =
        vec![(tokens.into_iter(), 0)];
    // Per level: the run since the last separator, and whether the last token was a `{…}` block
    // (a block followed by anything but an operator ends an item, a statement or a match arm:
    // `fn a() {} fn b() {}` is no chain, `{1} + {1}` is).
    let mut runs = vec![(0usize, false)];
    while let Some((iter, outer)) = stack.last_mut() {
        let outer = *outer;
        let Some(tt) = iter.next() else {
            stack.pop();
            runs.pop();
            continue;
        };
        let (here, after_block) = runs.last_mut().expect("one run per level");
        let operator = matches!(&tt, TokenTree::Punct(p) if p.as_char() != '#');
        if *after_block && !operator {
            *here = 0;
        }
        *after_block = matches!(&tt, TokenTree::Group(g) if g.delimiter() == Delimiter::Brace);
        match tt {
            TokenTree::Punct(p) if matches!(p.as_char(), ';' | ',') => *here = 0,
            TokenTree::Group(g) => {
                *here += 1;
                let chain = outer + *here;
                if stack.len() >= MAX_NESTING {
                    return Some(format!("nests more than {MAX_NESTING} delimiters deep"));
                }
                stack.push((g.stream().into_iter(), chain));
                runs.push((0, false));
            }
            _ => {
                *here += 1;
                if outer + *here > MAX_CHAIN {
                    return Some(format!(
                        "has an expression chain longer than {MAX_CHAIN} tokens"
                    ));
                }
            }
        }
    }
    None
}

/// `text` parsed, checked by [`too_deep`] first, then given to `work` on a thread with a
/// [`STACK`]-sized stack (where the syntax tree is also dropped).
pub fn parse<T: Send>(text: &str, work: impl FnOnce(&syn::File) -> T + Send) -> Result<T, String> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("doctor-parse".into())
            .stack_size(STACK)
            .spawn_scoped(s, move || {
                let text = without_shebang(text);
                let tokens =
                    TokenStream::from_str(text).map_err(|_| "does not parse".to_string())?;
                if let Some(why) = too_deep(tokens.clone()) {
                    return Err(why);
                }
                let ast: syn::File =
                    syn::parse2(tokens).map_err(|_| "does not parse".to_string())?;
                Ok(work(&ast))
            })
            .map_err(|e| format!("cannot be parsed here ({e})"))?
            .join()
            .unwrap_or_else(|_| Err("does not parse".to_string()))
    })
}

/// `text` as `syn::parse_file` reads it: without a byte-order mark, and without a `#!` first line
/// (its line end kept, so lines keep their numbers) unless it starts an inner attribute `#![…]`.
fn without_shebang(text: &str) -> &str {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match text.strip_prefix("#!") {
        Some(rest) if !rest.trim_start().starts_with('[') => {
            &text[text.find('\n').unwrap_or(text.len())..]
        }
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(text: &str) -> Option<String> {
        too_deep(TokenStream::from_str(text).unwrap())
    }

    #[test]
    fn ordinary_code_is_not_too_deep() {
        let src =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
        assert_eq!(deep(&src), None);
        let long_array = format!("const A: &[u8] = &[{}];", "1, ".repeat(100_000));
        assert_eq!(deep(&long_array), None);
        // Items and match arms end with a block, not a separator.
        let items = "#[inline]\npub fn f() -> u8 { 1 }\n".repeat(10_000);
        assert_eq!(deep(&items), None);
        let arms = format!(
            "fn f(x: u32) {{ match x {{ {} _ => {{}} }} }}",
            "1 => {} ".repeat(10_000)
        );
        assert_eq!(deep(&arms), None);
    }

    #[test]
    fn deep_nesting_and_long_chains_are_refused() {
        let parens = format!("fn f() {{ {}1{} }}", "(".repeat(300), ")".repeat(300));
        assert!(deep(&parens).unwrap().contains("256 delimiters"));
        let chain = format!("fn f() {{ 1{} }}", " + 1".repeat(MAX_CHAIN));
        assert!(deep(&chain).unwrap().contains("chain"));
        let nots = format!("fn f() {{ {}x }}", "!".repeat(MAX_CHAIN + 1));
        assert!(deep(&nots).unwrap().contains("chain"));
        let blocks = format!("fn f() -> u8 {{ {{1}}{} }}", " + {1}".repeat(MAX_CHAIN));
        assert!(deep(&blocks).unwrap().contains("chain"));
    }

    #[test]
    fn a_shebang_line_is_skipped_and_lines_keep_their_numbers() {
        assert_eq!(
            without_shebang("#!/usr/bin/env run-cargo-script\nfn main() {}"),
            "\nfn main() {}"
        );
        assert_eq!(
            without_shebang("#![allow(x)]\nfn main() {}"),
            "#![allow(x)]\nfn main() {}"
        );
        assert_eq!(parse("#!/bin/x\nfn main() {}", |f| f.items.len()), Ok(1));
    }

    #[test]
    fn only_regular_files_are_read() {
        assert_eq!(
            text(Path::new("/dev/zero")).unwrap_err(),
            "is not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.rs");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert_eq!(text(&fifo).unwrap_err(), "is not a regular file");
        let big = dir.path().join("big.rs");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_BYTES + 1)
            .unwrap();
        assert_eq!(text(&big).unwrap_err(), "is larger than 8 MiB");
    }
}
