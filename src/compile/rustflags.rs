//! The user's own rustflags, found the way cargo finds them, so that ours are added to them instead of
//! replacing them.
//!
//! Cargo takes the first of: `CARGO_ENCODED_RUSTFLAGS`, `RUSTFLAGS`, every matching `target.<triple>` /
//! `target.'cfg(..)'` `rustflags` (joined), `build.rustflags` — where each config key is itself merged
//! over the config files (from `$CARGO_HOME` up to the current directory) and `CARGO_*` environment
//! variables. Setting any of the environment variables ourselves would silently drop the config-file
//! flags, so we compute the user's effective list, append ours, and pass the whole list as
//! `CARGO_ENCODED_RUSTFLAGS`, which cargo then uses as is. The resolution itself is `cargo-config2`'s,
//! which emulates cargo's (file hierarchy, merging, environment overrides, `cfg(..)` keys).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::Result;
use cargo_metadata::cargo_platform::Cfg;

use crate::error::Failure;

/// Where the user's flags came from (for `-v` and error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFlags {
    pub flags: Vec<String>,
    pub origin: String,
}

/// Reads environment variables; a function so tests can pass their own.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// What the user's cargo configuration says about `target`: rustflags, linker, `[env]` keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserConfig {
    pub rustflags: UserFlags,
    /// The target's linker: `CARGO_TARGET_<TRIPLE>_LINKER` or `target.<triple>.linker`.
    pub linker: Option<String>,
    /// The names the `[env]` table sets (cargo passes them to build scripts, e.g. `CC_<triple>`).
    pub env: std::collections::BTreeSet<String>,
}

/// The user's effective rustflags for `target`.
///
/// `_target_cfg` (rustc's `--print cfg` for `target`) is not read: cargo-config2 evaluates
/// `target.'cfg(..)'` keys itself, asking the same rustc (only when such a key exists).
pub fn user_rustflags(
    env: Env,
    cwd: &Path,
    target: &str,
    _target_cfg: &[Cfg],
) -> Result<UserFlags> {
    Ok(user_config(env, cwd, target)?.rustflags)
}

/// The user's cargo configuration for `target`, resolved the way cargo resolves it.
pub fn user_config(env: Env, cwd: &Path, target: &str) -> Result<UserConfig> {
    // The variables cargo's resolution of these keys (and finding rustc for `cfg(..)`) reads.
    let upper = target.to_uppercase().replace(['-', '.'], "_");
    let target_var = format!("CARGO_TARGET_{upper}_RUSTFLAGS");
    let linker_var = format!("CARGO_TARGET_{upper}_LINKER");
    let names = [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        target_var.as_str(),
        linker_var.as_str(),
        "CARGO",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTC",
        "CARGO_BUILD_RUSTC_WRAPPER",
        "CARGO_BUILD_RUSTC_WORKSPACE_WRAPPER",
    ];
    let vars: Vec<(&str, String)> = names.iter().filter_map(|n| Some((*n, env(n)?))).collect();
    let options = cargo_config2::ResolveOptions::default()
        .env(vars)
        .cargo_home(cargo_home(env));
    let bad = |e: cargo_config2::Error| {
        // The error's own text names the file; its sources say what is wrong in it.
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text = format!("{text}: {s}");
            source = s.source();
        }
        // One line: TOML errors quote the offending line under a `|` gutter; their position and
        // reason are kept.
        let gutter = |l: &&str| {
            let l = l.trim_start();
            l.starts_with('|')
                || l.split_once(" |")
                    .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        };
        let text: Vec<&str> = text.lines().filter(|l| !gutter(l)).map(str::trim).collect();
        Failure::new(format!(
            "could not read cargo's configuration: {}",
            text.join(": ")
        ))
        .hint("fix it in .cargo/config.toml or the CARGO_*/RUSTFLAGS variable it names")
    };
    // Known gap: cargo-config2 0.1.45 reads every key, and types `build.jobs` as a number, so the
    // `jobs = "default"` that cargo accepts is refused (docs/src/guide/troubleshooting.md).
    let config = cargo_config2::Config::load_with_options(cwd, options).map_err(bad)?;
    let flags = config.rustflags(target).map_err(bad)?.map(|f| f.flags);
    let origin = if env("CARGO_ENCODED_RUSTFLAGS").is_some() {
        "CARGO_ENCODED_RUSTFLAGS".to_string()
    } else if env("RUSTFLAGS").is_some() {
        "RUSTFLAGS".to_string()
    } else if flags.is_none() {
        "none".to_string()
    } else if flags == config.build.rustflags.as_ref().map(|f| f.flags.clone()) {
        "build.rustflags".to_string()
    } else {
        format!("target.{target}.rustflags")
    };
    let linker = config
        .linker(target)
        .map_err(bad)?
        .map(|p| p.display().to_string());
    Ok(UserConfig {
        rustflags: UserFlags {
            flags: flags.unwrap_or_default(),
            origin,
        },
        linker,
        env: config.env.keys().cloned().collect(),
    })
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
    fn the_targets_linker_and_the_env_table_are_read() {
        let root = tempfile::tempdir().unwrap();
        let proj = root.path().join("proj");
        std::fs::create_dir_all(proj.join(".cargo")).unwrap();
        std::fs::write(
            proj.join(".cargo/config.toml"),
            "[target.aarch64-unknown-linux-musl]\nlinker = \"/opt/lld-wrap\"\n[env]\nCC_aarch64_unknown_linux_musl = \"/opt/cc\"\nAR_aarch64_unknown_linux_musl = { value = \"/opt/ar\", force = true }\n",
        )
        .unwrap();
        let home = root.path().join("home");
        let env = env_of(&[("CARGO_HOME", home.to_str().unwrap())]);
        let c = user_config(&env, &proj, "aarch64-unknown-linux-musl").unwrap();
        assert_eq!(c.linker.as_deref(), Some("/opt/lld-wrap"));
        let keys: Vec<&str> = c.env.iter().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "AR_aarch64_unknown_linux_musl",
                "CC_aarch64_unknown_linux_musl"
            ]
        );
        let x86 = user_config(&env, &proj, T).unwrap();
        assert_eq!(x86.linker, None);
        // The environment variable is the linker too (it beats the file).
        let env = env_of(&[
            ("CARGO_HOME", home.to_str().unwrap()),
            ("CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER", "/env/lld"),
        ]);
        let c = user_config(&env, &proj, "aarch64-unknown-linux-musl").unwrap();
        assert_eq!(c.linker.as_deref(), Some("/env/lld"));
    }

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
            "[build]\nrustflags = [\"--cfg\", \"home\"]\n",
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
        assert_eq!(f.origin, format!("target.{T}.rustflags"));

        // The per-target variable is `target.<triple>.rustflags`, which cargo puts before the
        // `cfg(..)` matches; RUSTFLAGS replaces them all.
        let cargo_home = home.join(".cargo");
        let vars = [
            ("CARGO_HOME", cargo_home.to_str().unwrap()),
            (
                "CARGO_TARGET_X86_64_UNKNOWN_LINUX_MUSL_RUSTFLAGS",
                "--cfg env",
            ),
        ];
        let f = user_rustflags(&env_of(&vars), &proj, T, &cfgs()).unwrap();
        assert_eq!(f.flags, ["--cfg", "env", "--cfg", "musl"]);
        let vars = [vars[0], vars[1], ("RUSTFLAGS", "--cfg plain")];
        let f = user_rustflags(&env_of(&vars), &proj, T, &cfgs()).unwrap();
        assert_eq!(f.flags, ["--cfg", "plain"]);
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
        let text = err.to_string();
        assert!(err.downcast_ref::<Failure>().is_some(), "{err:?}");
        assert!(
            text.contains("config.toml") && text.contains("line 2"),
            "{text}"
        );
        assert!(!text.contains('\n'), "one line: {text}");

        // A string in one file and an array in another: cargo refuses to merge them, so do we.
        let home = root.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::write(
            home.join("config.toml"),
            "[build]\nrustflags = \"--cfg home\"\n",
        )
        .unwrap();
        std::fs::write(
            root.path().join(".cargo/config.toml"),
            "[build]\nrustflags = [\"--cfg\", \"proj\"]\n",
        )
        .unwrap();
        let env = env_of(&[("CARGO_HOME", home.to_str().unwrap())]);
        let err = user_rustflags(&env, root.path(), T, &cfgs()).unwrap_err();
        assert!(err.to_string().contains("expected array"), "{err}");
    }
}
