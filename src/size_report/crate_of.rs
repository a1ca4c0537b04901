//! Which crate a Rust symbol belongs to, from its demangled path.
//!
//! Legacy mangling (what stable rustc emits) names the path of the item, not the crate that
//! instantiated it, so the rules are the ones cargo-bloat uses, written down:
//! - `a::b::c` belongs to `a`;
//! - `<T as Trait>::f` to the crate of `T`, unless `T` is the standard library's (or a primitive) and
//!   the trait is not: then to the trait's crate (`<String as serde::Serialize>` is serde's code);
//! - `<T>::f` and `core::ptr::drop_in_place<T>` (drop glue) to the crate of `T`.
//!
//! Generic code of the standard library instantiated for your types (`Vec<T>::push`) counts as the
//! standard library's.

/// The standard library's own crates.
pub const STD: &[&str] = &[
    "std",
    "core",
    "alloc",
    "compiler_builtins",
    "panic_unwind",
    "panic_abort",
    "unwind",
    "std_detect",
    "proc_macro",
    "rustc_std_workspace_core",
    "rustc_std_workspace_alloc",
];

/// Crates std depends on: std's own copy when the graph does not have them.
pub const STD_DEPS: &[&str] = &[
    "hashbrown",
    "addr2line",
    "gimli",
    "object",
    "miniz_oxide",
    "adler2",
    "adler",
    "rustc_demangle",
    "memchr",
    "cfg_if",
    "libc",
];

const PRIMITIVES: &[&str] = &[
    "u8", "u16", "u32", "u64", "u128", "usize", "i8", "i16", "i32", "i64", "i128", "isize", "f32",
    "f64", "bool", "char", "str", "!", "()",
];

/// The crate of a demangled Rust path (without the hash).
pub fn crate_of(path: &str) -> String {
    let path = path.trim();
    if let Some(inner) = path.strip_prefix('<').and_then(bracketed) {
        return match split_as(inner) {
            Some((ty, tr)) => {
                let (a, b) = (crate_of_type(ty), crate_of(tr));
                if is_std(&a) && !is_std(&b) {
                    b
                } else {
                    a
                }
            }
            None => crate_of_type(inner),
        };
    }
    if let Some(rest) = path.strip_prefix("core::ptr::drop_in_place<") {
        if let Some(inner) = bracketed(rest) {
            return crate_of_type(inner);
        }
    }
    first_segment(path)
}

fn is_std(c: &str) -> bool {
    STD.contains(&c)
}

/// The text up to the `>` that closes an already opened `<`.
fn bracketed(s: &str) -> Option<&str> {
    let mut depth = 1usize;
    for (i, ch) in s.char_indices() {
        match ch {
            '<' => depth += 1,
            '>' if i > 0 && s.as_bytes()[i - 1] == b'-' => {} // `->` in fn types
            '>' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&s[..i]);
                }
            }
            _ => {}
        }
    }
    None
}

/// `T as Trait` split at the ` as ` outside any brackets.
fn split_as(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let b = s.as_bytes();
    for i in 0..b.len() {
        match b[i] {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if i == 0 || b[i - 1] != b'-' => depth -= 1,
            b')' | b']' => depth -= 1,
            b' ' if depth == 0 && s[i..].starts_with(" as ") => {
                return Some((&s[..i], &s[i + 4..]));
            }
            _ => {}
        }
    }
    None
}

/// The crate of a type: references, pointers, slices, tuples and trait objects look inside.
fn crate_of_type(t: &str) -> String {
    let mut t = t.trim();
    loop {
        let before = t;
        for p in [
            "&mut ", "&", "*const ", "*mut ", "dyn ", "impl ", "[", "(", "mut ",
        ] {
            t = t.strip_prefix(p).unwrap_or(t).trim_start();
        }
        if t == before {
            break;
        }
    }
    if t.starts_with('<') {
        return crate_of(t);
    }
    let seg = first_segment(t);
    // A primitive, a fn pointer, or a generic parameter (`T`: no path) is nobody's in particular.
    let param = !t.contains("::");
    if seg.is_empty() || param || PRIMITIVES.contains(&seg.as_str()) {
        return "core".into();
    }
    seg
}

fn first_segment(s: &str) -> String {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    s[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::crate_of;

    #[test]
    fn paths_impls_and_drop_glue() {
        for (sym, want) in [
            ("reqwest::blocking::client::Client::new", "reqwest"),
            ("core::fmt::write", "core"),
            (
                "<alloc::string::String as core::fmt::Write>::write_str",
                "alloc",
            ),
            (
                "<alloc::string::String as serde::ser::Serialize>::serialize",
                "serde",
            ),
            (
                "<hyper::proto::h1::Conn<I,B,T> as core::fmt::Debug>::fmt",
                "hyper",
            ),
            ("core::ptr::drop_in_place<h2::proto::streams::Inner>", "h2"),
            ("core::ptr::drop_in_place<&mut rustls::conn::Foo>", "rustls"),
            ("<&T as core::fmt::Display>::fmt", "core"),
            ("<[u8] as rustls::Codec>::encode", "rustls"),
            ("<http::uri::Uri>::path", "http"),
            ("<(A,B) as tokio::Stuff>::go", "tokio"),
            ("http_service::handle", "http_service"),
            ("std::rt::lang_start::{{closure}}", "std"),
            ("<core::pin::Pin<P> as core::future::Future>::poll", "core"),
            ("<fn() -> u8 as serde::Thing>::x", "serde"),
        ] {
            assert_eq!(crate_of(sym), want, "{sym}");
        }
    }
}
