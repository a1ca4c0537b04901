//! The user's own rustflags, found the way cargo finds them, so that ours are added to them instead of
//! replacing them.
//!
//! Cargo takes the first of: `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, every matching `target.<triple>` /
//! `target.'cfg(..)'` `rustflags` (joined), `build.rustflags` — where each config key is itself merged
//! over the config files (from `$CARGO_HOME` up to the current directory) and `CARGO_*` environment
//! variables. Setting any of the environment variables ourselves would silently drop the config-file
//! flags, so we compute the user's effective list, append ours, and pass the whole list as
//! `CARGO_ENCODED_RUSTFLAGS`, which cargo then uses as is.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result};
use cargo_metadata::cargo_platform::{Cfg, Platform};

use crate::error::Failure;

/// Where the user's flags came from (for `-v` and error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFlags {
    pub flags: Vec<String>,
    pub origin: String,
}

/// Reads environment variables; a function so tests can pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The user's effective rustflags for `target`.
pub fn user_rustflags(env: Env, cwd: &Path, target: &str, target_cfg: &[Cfg]) -> Result<UserFlags> {
    if let Some(enc) = env("CARGO_ENCODED_RUSTFLAGS") {
        let flags = enc
            .split('\x1f')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        return Ok(UserFlags {
            flags,
            origin: "CARGO_ENCODED_RUSTFLAGS".into(),
        });
    }
    if let Some(plain) = env("RUSTFLAGS") {
        let flags = plain.split_whitespace().map(String::from).collect();
        return Ok(UserFlags {
            flags,
            origin: "RUSTFLAGS".into(),
        });
    }
    let files = config_files(env, cwd);
    let mut tables = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| {
            Failure::new(format!(
                "could not parse cargo config {}: {}",
                file.display(),
                e.message()
            ))
            .hint("fix the TOML in that file; cargo would refuse it too")
        })?;
        tables.push((file.clone(), table));
    }

    // target.<triple>.rustflags and every matching target.'cfg(..)'.rustflags, joined.
    let mut target_flags = Vec::new();
    let mut found_target = false;
    for (file, table) in &tables {
        let Some(targets) = table.get("target").and_then(|t| t.as_table()) else {
            continue;
        };
        for (key, value) in targets {
            let matches = if key == target {
                true
            } else if key.starts_with("cfg(") {
                Platform::from_str(key)
                    .map(|p| p.matches(target, target_cfg))
                    .unwrap_or(false)
            } else {
                false
            };
            if let (true, Some(flags)) = (matches, value.get("rustflags")) {
                found_target = true;
                target_flags.extend(flag_list(flags, file, &format!("target.{key}.rustflags"))?);
            }
        }
    }
    let env_target = format!(
        "CARGO_TARGET_{}_RUSTFLAGS",
        target.to_uppercase().replace(['-', '.'], "_")
    );
    if let Some(v) = env(&env_target) {
        found_target = true;
        target_flags.extend(v.split_whitespace().map(String::from));
    }
    if found_target {
        return Ok(UserFlags {
            flags: target_flags,
            origin: format!("target.{target}.rustflags"),
        });
    }

    let mut build_flags = Vec::new();
    let mut found_build = false;
    for (file, table) in &tables {
        if let Some(flags) = table.get("build").and_then(|b| b.get("rustflags")) {
            found_build = true;
            build_flags.extend(flag_list(flags, file, "build.rustflags")?);
        }
    }
    if let Some(v) = env("CARGO_BUILD_RUSTFLAGS") {
        found_build = true;
        build_flags.extend(v.split_whitespace().map(String::from));
    }
    let origin = if found_build {
        "build.rustflags"
    } else {
        "none"
    };
    Ok(UserFlags {
        flags: build_flags,
        origin: origin.into(),
    })
}

/// A `rustflags` value: a string split on whitespace, or an array of strings.
fn flag_list(value: &toml::Value, file: &Path, key: &str) -> Result<Vec<String>> {
    let bad = || {
        Failure::new(format!(
            "`{key}` in {} must be a string or an array of strings",
            file.display()
        ))
        .hint("write it as rustflags = [\"--cfg\", \"foo\"]")
    };
    match value {
        toml::Value::String(s) => Ok(s.split_whitespace().map(String::from).collect()),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(String::from).ok_or_else(|| bad().into()))
            .collect(),
        _ => Err(bad().into()),
    }
}

/// Cargo's config files, lowest precedence first: `$CARGO_HOME/config.toml`, then from `/` down to `cwd`.
pub fn config_files(env: Env, cwd: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let home = cargo_home(env);
    let pick = |dir: &Path| -> Option<PathBuf> {
        // Cargo prefers the extension-less `config` when both exist.
        ["config", "config.toml"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    };
    let mut seen_home = false;
    let mut chain: Vec<PathBuf> = cwd.ancestors().map(|d| d.join(".cargo")).collect();
    chain.reverse();
    for dir in &chain {
        if home.as_deref() == Some(dir.as_path()) {
            seen_home = true;
        }
        if let Some(f) = pick(dir) {
            files.push(f);
        }
    }
    if !seen_home {
        if let Some(f) = home.as_deref().and_then(pick) {
            files.insert(0, f);
        }
    }
    files
}

/// `$CARGO_HOME`, or `~/.cargo`.
pub fn cargo_home(env: Env) -> Option<PathBuf> {
    env("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

/// `rustc --print cfg` lines, parsed.
pub fn parse_cfgs(print_cfg: &str) -> Vec<Cfg> {
    print_cfg
        .lines()
        .filter_map(|l| Cfg::from_str(l.trim()).ok())
        .collect()
}

/// Joins flags the way `CARGO_ENCODED_RUSTFLAGS` wants them.
pub fn encode(flags: &[String]) -> String {
    flags.join("\x1f")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn cfgs() -> Vec<Cfg> {
        parse_cfgs("target_os=\"linux\"\ntarget_env=\"musl\"\nunix\ntarget_arch=\"x86_64\"\n")
    }

    const T: &str = "x86_64-unknown-linux-musl";

    #[test]
    fn encoded_wins_over_plain() {
        let dir = tempfile::tempdir().unwrap();
        let env = env_of(&[
            ("CARGO_ENCODED_RUSTFLAGS", "--cfg\x1fa b"),
            ("RUSTFLAGS", "--cfg x"),
        ]);
        let f = user_rustflags(&env, dir.path(), T, &cfgs()).unwrap();
        assert_eq!(f.flags, ["--cfg", "a b"]);
        let env = env_of(&[("RUSTFLAGS", " --cfg  x ")]);
        assert_eq!(
            user_rustflags(&env, dir.path(), T, &cfgs()).unwrap().flags,
            ["--cfg", "x"]
        );
    }

    #[test]
    fn config_files_merge_and_target_beats_build() {
        let root = tempfile::tempdir().unwrap();
        let home = root.path().join("home");
        let proj = root.path().join("proj/sub");
        std::fs::create_dir_all(home.join(".cargo")).unwrap();
        std::fs::create_dir_all(proj.join(".cargo")).unwrap();
        let env = env_of(&[("CARGO_HOME", home.join(".cargo").to_str().unwrap())]);
        std::fs::write(
            home.join(".cargo/config.toml"),
            "[build]\nrustflags = \"--cfg home\"\n",
        )
        .unwrap();
        std::fs::write(
            proj.join(".cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"proj\"]\n",
        )
        .unwrap();
        let f = user_rustflags(&env, &proj, T, &cfgs()).unwrap();
        assert_eq!(f.flags, ["--cfg", "home", "--cfg", "proj"]);
        assert_eq!(f.origin, "build.rustflags");

        std::fs::write(
            proj.join(".cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"proj\"]\n[target.'cfg(target_env = \"musl\")']\nrustflags = [\"--cfg\", \"musl\"]\n[target.'cfg(windows)']\nrustflags = [\"--cfg\", \"win\"]\n",
        )
        .unwrap();
        let f = user_rustflags(&env, &proj, T, &cfgs()).unwrap();
        assert_eq!(f.flags, ["--cfg", "musl"]);
    }

    #[test]
    fn a_bad_config_is_a_user_error() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join(".cargo")).unwrap();
        std::fs::write(
            root.path().join(".cargo/config.toml"),
            "[build]\nrustflags = 3\n",
        )
        .unwrap();
        let env = env_of(&[("CARGO_HOME", "/nonexistent")]);
        let err = user_rustflags(&env, root.path(), T, &cfgs()).unwrap_err();
        assert!(err.to_string().contains("build.rustflags"), "{err}");
    }
}
