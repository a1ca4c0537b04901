//! `--config KEY=VALUE|PATH`, passed to cargo as is — except the keys cargo-tiny resolves or sets
//! itself, which cargo would then use behind its back: the rustflags and linkers (cargo-tiny
//! resolves them from the config files and hands cargo `CARGO_ENCODED_RUSTFLAGS`), the target
//! directory (read from `cargo metadata`, which never sees the flag), and the settings of the profile
//! the size profile sets (the `Profile` line would not be what was built).

use std::path::Path;

use anyhow::Result;
use toml_edit::{DocumentMut, Item, Table};

use crate::error::Failure;

/// A cargo config file larger than this is not read (they are a few KiB).
const CONFIG_MAX: u64 = 4 << 20;

/// Checks one `--config` value; refused keys end the build before anything runs.
pub fn check(arg: &str, profile: &str, size_profile: bool) -> Result<()> {
    let keys = keys_of(arg)?;
    for key in &keys {
        if let Some(why) = refused(key, profile, size_profile) {
            crate::fail!(hint = why.1, "--config {arg}: `{key}` {}", why.0);
        }
    }
    Ok(())
}

/// The dotted keys a `--config` value sets: a `KEY=VALUE` TOML line, else the file it names.
fn keys_of(arg: &str) -> Result<Vec<String>> {
    let path = Path::new(arg);
    let text = if !arg.contains('=') && path.is_file() {
        crate::fsutil::read_regular(path, CONFIG_MAX)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| {
                Failure::new(format!("--config {arg}: cannot read it: {e}"))
                    .hint("pass a readable cargo config file, or KEY=VALUE")
            })?
    } else {
        arg.to_string()
    };
    let doc: DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        Failure::new(format!(
            "--config {arg}: neither a KEY=VALUE TOML line nor a config file ({})",
            e.message().trim()
        ))
        .hint("e.g. --config 'net.git-fetch-with-cli=true' or --config .cargo/ci.toml")
    })?;
    let mut keys = Vec::new();
    leaves(doc.as_table(), "", &mut keys);
    Ok(keys)
}

fn leaves(table: &Table, prefix: &str, out: &mut Vec<String>) {
    for (k, item) in table.iter() {
        let key = if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        };
        match item {
            Item::Table(t) => leaves(t, &key, out),
            Item::Value(toml_edit::Value::InlineTable(t)) => {
                leaves(&t.clone().into_table(), &key, out)
            }
            _ => out.push(key),
        }
    }
}

/// Why cargo-tiny cannot pass `key` through, and what to do instead.
fn refused(key: &str, profile: &str, size_profile: bool) -> Option<(&'static str, String)> {
    let parts: Vec<&str> = key.split('.').collect();
    let flags = (
        "is resolved by cargo-tiny itself (it hands cargo the complete rustflags and linker)",
        "put it in .cargo/config.toml, where cargo-tiny reads it".to_string(),
    );
    match parts.as_slice() {
        ["build", "rustflags" | "target-dir" | "target"] | ["target", _, "rustflags" | "linker"] => {
            if parts[1] == "target-dir" {
                Some((
                    "decides where cargo-tiny finds the binaries",
                    "pass --target-dir instead".into(),
                ))
            } else if parts[1] == "target" {
                Some((
                    "is chosen by cargo-tiny",
                    "pass --target or --platform instead".into(),
                ))
            } else {
                Some(flags)
            }
        }
        ["profile", p, ..] if size_profile && *p == profile => Some((
            "is a setting of the profile the size profile sets",
            format!("pass --no-size-profile to build [profile.{profile}] as you define it, or --profile NAME for another"),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(arg: &str, size: bool) -> Option<String> {
        check(arg, "release", size).err().map(|e| format!("{e:#}"))
    }

    #[test]
    fn keys_cargo_tiny_resolves_are_refused() {
        assert_eq!(err("net.git-fetch-with-cli=true", true), None);
        assert_eq!(err("profile.dev.opt-level=1", true), None);
        assert_eq!(err("profile.release.lto=false", false), None);
        for (arg, size) in [
            ("build.rustflags=['-Ctarget-cpu=native']", true),
            ("target.x86_64-unknown-linux-musl.linker='cc'", true),
            ("'target.cfg(unix)'.rustflags=[]", true),
            ("build.target-dir='/tmp/t'", true),
            ("profile.release.lto=false", true),
            ("profile = { release = { lto = false } }", true),
        ] {
            let e = err(arg, size).unwrap_or_else(|| panic!("{arg} passed"));
            assert!(e.starts_with(&format!("--config {arg}: `")), "{e}");
        }
        // A device is no config file: refused at once, never read.
        let e = err("/dev/zero", true).unwrap();
        assert!(e.contains("neither a KEY=VALUE"), "{e}");
        let e = err("not toml at all", true).unwrap();
        assert!(e.contains("neither a KEY=VALUE"), "{e}");
    }

    #[test]
    fn a_config_file_is_read_for_its_keys() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ci.toml");
        std::fs::write(&f, "[net]\nretry = 5\n[build]\nrustflags = []\n").unwrap();
        let e = err(f.to_str().unwrap(), true).unwrap();
        assert!(e.contains("`build.rustflags`"), "{e}");
        std::fs::write(&f, "[net]\nretry = 5\n").unwrap();
        assert_eq!(err(f.to_str().unwrap(), true), None);
    }
}
