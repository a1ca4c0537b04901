//! `cargo tiny init`: write the size profile into the workspace root's Cargo.toml.
//!
//! [`patch`] is the pure edit (text in, text out); this module finds the manifest, validates the new
//! text (re-parse, non-profile items unchanged, cargo accepts the profile) and replaces the file.
//! The command line is turned into [`InitOptions`] by `command.rs`.

pub mod command;
pub mod patch;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::shell::Shell;
use crate::size_profile::SizeProfile;
use crate::workspace::{LoadOptions, Workspace};
use patch::{Change, Patch};

pub use command::run;

/// What `cargo tiny init` was asked to do, as plain values.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// `--manifest-path`.
    pub manifest_path: Option<PathBuf>,
    /// The profile to write (`--profile`, else `release`).
    pub profile: String,
    pub panic_abort: bool,
    pub force: bool,
    pub dry_run: bool,
}

/// Patches the workspace root's manifest as `opts` says.
pub fn patch_root(opts: &InitOptions, shell: &Shell) -> Result<()> {
    let ws = Workspace::load(&LoadOptions::new(opts.manifest_path.clone()).members_only())?;
    let root = PathBuf::from(ws.root_manifest().as_str());
    let root_member = ws
        .members()
        .into_iter()
        .find(|p| p.manifest_path == ws.root_manifest());
    // The manifest the user pointed at: --manifest-path, or the nearest Cargo.toml, as cargo finds it
    // (`Workspace::manifest_path` defaults to the root, which would hide a run from inside a member).
    let asked = match &opts.manifest_path {
        Some(p) => std::path::absolute(p).ok(),
        None => std::env::current_dir().ok().and_then(|d| {
            d.ancestors()
                .map(|a| a.join("Cargo.toml"))
                .find(|m| m.is_file())
        }),
    };
    let current = asked.and_then(|a| {
        ws.members()
            .into_iter()
            .find(|p| p.manifest_path.as_std_path() == a)
    });
    if let Some(member) = current {
        if root_member.map(|r| r.id != member.id).unwrap_or(true) {
            shell.note(
                "Note",
                format!(
                    "`{}` is a workspace member: patching the workspace root {} (cargo ignores profiles in members)",
                    member.name,
                    root.display()
                ),
            );
        }
    }
    for m in ws.members() {
        if m.manifest_path == ws.root_manifest() {
            continue;
        }
        if let Ok(text) = std::fs::read_to_string(&m.manifest_path) {
            if member_has_profile(&text) {
                shell.warn(format!(
                    "{} has a [profile] section: cargo ignores profiles in workspace members; move it to {}",
                    m.manifest_path,
                    root.display()
                ));
            }
        }
    }

    let sp = SizeProfile::new(opts.profile.clone(), opts.panic_abort);
    // The user's file, in the user's style: BOM, CRLF and a symlink are kept (crate::manifest_file).
    let file = read_manifest(&root, opts.dry_run)?;
    let text = file.text.clone();
    let patch = patch::patch(&text, &sp, opts.force)?;

    for k in &patch.kept {
        shell.warn(format!(
            "profile.{}.{} = {} kept (the size profile has {}); --force to replace",
            sp.profile, k.key, k.value, k.wanted
        ));
    }
    if patch.is_noop() {
        shell.status(
            "Fresh",
            format!(
                "[profile.{}] in {}: nothing to change",
                sp.profile,
                root.display()
            ),
        );
        return Ok(());
    }
    check(&text, &patch)?;
    check_with_cargo(&patch.new_text, &sp, !patch.kept.is_empty() && !opts.force)?;

    let display_name = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Cargo.toml".into());
    if sp.panic_abort {
        crate::doctor::pid1::note_panic_as_pid1(shell);
    }
    if opts.dry_run {
        shell.print_err(crate::shell::escape_lines(&crate::fsutil::unified_diff(
            &text,
            &patch.new_text,
            &crate::shell::escape(&display_name),
        )));
        shell.status(
            "Dry-run",
            format!("{} not written ({})", root.display(), summary(&patch)),
        );
        return Ok(());
    }
    file.write(&patch.new_text, "cargo tiny init")?;
    shell.status(
        "Patched",
        format!(
            "[profile.{}] in {}: {}",
            sp.profile,
            root.display(),
            summary(&patch)
        ),
    );
    if sp.profile != "release" {
        shell.note(
            "Build",
            format!("with `cargo tiny build --profile {}`", sp.profile),
        );
    }
    Ok(())
}

/// Replaces `path` with `new` (atomically) only if it still holds `original`.
pub fn write_if_unchanged(path: &Path, original: &str, new: &str) -> Result<()> {
    let now = std::fs::read(path).with_context(|| format!("cannot re-read {}", path.display()))?;
    if now != original.as_bytes() {
        crate::fail!(
            hint = "run `cargo tiny init` again",
            "{} changed on disk while it was being patched; nothing written",
            path.display()
        );
    }
    crate::fsutil::write_atomic(path, new.as_bytes())
}

fn summary(p: &Patch) -> String {
    p.changes
        .iter()
        .map(|c| match c {
            Change::Added { key, value } => format!("{key} = {value}"),
            Change::Replaced { key, old, value } => format!("{key} = {value} (was {old})"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn member_has_profile(text: &str) -> bool {
    text.replace("\r\n", "\n")
        .parse::<toml_edit::DocumentMut>()
        .map(|d| d.get("profile").is_some())
        .unwrap_or(false)
}

/// Reads the manifest, refusing what is not a writable Cargo manifest.
fn read_manifest(path: &Path, dry_run: bool) -> Result<crate::manifest_file::ManifestFile> {
    let file = crate::manifest_file::ManifestFile::read(path, false)?;
    let doc: toml_edit::DocumentMut = match file.text.replace("\r\n", "\n").parse() {
        Ok(d) => d,
        Err(_) => crate::fail!(
            hint = "fix the TOML syntax first (`cargo metadata` shows the error)",
            "{} is not valid TOML",
            path.display()
        ),
    };
    if doc.get("package").is_none() && doc.get("workspace").is_none() {
        crate::fail!(
            hint = "point --manifest-path at a Cargo.toml",
            "{} is not a Cargo manifest (no [package] or [workspace])",
            path.display()
        );
    }
    if !dry_run {
        file.check_writable()?;
    }
    Ok(file)
}

/// The new text re-parses and every item outside `[profile]` is unchanged.
pub fn check(old: &str, p: &Patch) -> Result<()> {
    let before = patch::non_profile_items(old);
    let after = patch::non_profile_items(&p.new_text);
    if after.is_none() {
        anyhow::bail!("internal error: the patched manifest does not re-parse; nothing written");
    }
    if before != after {
        anyhow::bail!("internal error: the patch changed items outside [profile]; nothing written");
    }
    Ok(())
}

/// Cargo accepts the patched profiles: `cargo check --offline` (which validates profiles; `cargo
/// metadata` does not, e.g. `inherits` in `dev`) on a scratch package with the new `[profile]` table. A scratch package in its own directory, not a copy of the manifest: a copy
/// next to the real one would be found by (or break) workspace discovery, and a copy elsewhere would
/// lose its members and path dependencies. The rest of the manifest is unchanged (see [`check`]).
fn check_with_cargo(new_text: &str, sp: &SizeProfile, force_would_help: bool) -> Result<()> {
    let doc: toml_edit::DocumentMut = new_text.replace("\r\n", "\n").parse()?;
    let mut scratch = toml_edit::DocumentMut::new();
    let mut pkg = toml_edit::Table::new();
    pkg.insert("name", toml_edit::value("cargo-tiny-init-check"));
    pkg.insert("version", toml_edit::value("0.0.0"));
    pkg.insert("edition", toml_edit::value("2021"));
    scratch.insert("package", toml_edit::Item::Table(pkg));
    scratch.insert("workspace", toml_edit::Item::Table(toml_edit::Table::new()));
    if let Some(p) = doc.get("profile") {
        let mut p = p.clone();
        if let toml_edit::Item::Value(v) = p {
            // inline `profile = { … }`: as a table for the scratch manifest
            p = match v {
                toml_edit::Value::InlineTable(t) => toml_edit::Item::Table(t.into_table()),
                other => toml_edit::Item::Value(other),
            };
        }
        scratch.insert("profile", p);
    }
    let dir = tempfile::tempdir()?;
    std::fs::create_dir(dir.path().join("src"))?;
    std::fs::write(dir.path().join("src/lib.rs"), "")?;
    std::fs::write(dir.path().join("Cargo.toml"), scratch.to_string())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = crate::process::output(
        std::process::Command::new(cargo)
            .args(["check", "--offline", "--quiet", "--manifest-path"])
            .arg(dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", dir.path().join("target"))
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_RUSTFLAGS")
            .env_remove("RUSTC_WRAPPER"),
        "make sure cargo is on PATH (it checks the patched manifest)",
    )?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // --force only helps when a value of the user's was kept (it would be replaced).
        let hint = if force_would_help {
            format!(
                "fix [profile.{}] by hand, or rerun with --force",
                sp.profile
            )
        } else {
            format!("fix [profile.{}] by hand", sp.profile)
        };
        crate::fail!(
            hint = hint,
            "cargo rejects the patched profile ({}); nothing written",
            crate::workspace::cargo_error_line(&stderr)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_file_changed_since_it_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("Cargo.toml");
        std::fs::write(&p, "[package]\nname = \"b\"\n").unwrap();
        let err = write_if_unchanged(&p, "[package]\nname = \"a\"\n", "new").unwrap_err();
        assert!(err.to_string().contains("changed on disk"), "{err}");
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            "[package]\nname = \"b\"\n"
        );
        write_if_unchanged(&p, "[package]\nname = \"b\"\n", "new").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
    }

    #[test]
    fn cargo_rejects_an_invalid_profile() {
        let sp = SizeProfile::new("release", false);
        let err =
            check_with_cargo("[profile.release]\nopt-level = \"q\"\n", &sp, false).unwrap_err();
        assert!(err.to_string().contains("cargo rejects"), "{err}");
        check_with_cargo("profile = { release = { lto = true } }\n", &sp, false).unwrap();
        // `cargo metadata` accepts this one; cargo check (and so a build) does not.
        let err =
            check_with_cargo("[profile.dev]\ninherits = \"release\"\n", &sp, false).unwrap_err();
        assert!(format!("{err:#}").contains("inherits"), "{err:#}");
    }
}
