//! Copying the workspace: which directories (the root's, and local packages outside it), and the
//! copy itself — changed files only, with the user's mtimes; what the user removed goes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_metadata::camino::Utf8Path;

use crate::workspace::Workspace;

/// Directories never copied: version control, JavaScript packages, build output.
fn skipped(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    matches!(name, ".git" | "node_modules") || dir.join("CACHEDIR.TAG").is_file()
}

/// Copies `from` into `to`: files whose size or mtime differ, with the user's mtime; symlinks as
/// symlinks; directories `leave_out` names, and version control, JavaScript packages and build
/// output, not at all. Every path kept is added to `kept`.
pub fn sync(
    from: &Path,
    to: &Path,
    leave_out: &dyn Fn(&Path) -> bool,
    kept: &mut BTreeSet<PathBuf>,
) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    kept.insert(to.to_path_buf());
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let ft = e.file_type()?;
        if ft.is_dir() {
            if leave_out(&src) || skipped(&src) {
                continue;
            }
            sync(&src, &dst, leave_out, kept)?;
        } else if ft.is_symlink() {
            let link = std::fs::read_link(&src)?;
            if std::fs::read_link(&dst).ok().as_ref() != Some(&link) {
                let _ = std::fs::remove_file(&dst);
                let _ = std::fs::remove_dir_all(&dst);
                std::os::unix::fs::symlink(&link, &dst)?;
            }
            kept.insert(dst);
        } else if ft.is_file() {
            copy_if_changed(&src, &dst)?;
            kept.insert(dst);
        }
    }
    Ok(())
}

/// Copies `src` to `dst` unless `dst` has its size and mtime; `dst` gets `src`'s mtime.
fn copy_if_changed(src: &Path, dst: &Path) -> Result<()> {
    let meta = std::fs::metadata(src)?;
    let mtime = meta.modified()?;
    if let Ok(d) = std::fs::symlink_metadata(dst) {
        if d.is_file() && d.len() == meta.len() && d.modified().ok() == Some(mtime) {
            return Ok(());
        }
        if d.is_dir() {
            std::fs::remove_dir_all(dst)?;
        } else {
            std::fs::remove_file(dst)?;
        }
    }
    std::fs::copy(src, dst).with_context(|| format!("copying {}", src.display()))?;
    let f = std::fs::OpenOptions::new().append(true).open(dst)?;
    f.set_modified(mtime)?;
    Ok(())
}

/// Removes what is below `dir` and not in `kept` (files the user deleted since the last run).
pub fn prune(dir: &Path, kept: &BTreeSet<PathBuf>) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in rd {
        let p = e?.path();
        if kept.contains(&p) {
            if p.is_dir() && !p.is_symlink() {
                prune(&p, kept)?;
            }
        } else if p.is_dir() && !p.is_symlink() {
            std::fs::remove_dir_all(&p)?;
        } else {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// The directories of local packages outside the workspace root: path dependencies (followed
/// through their own manifests) and `[patch]` paths of the root manifest.
pub fn outside_packages(ws: &Workspace, root: &Path) -> Result<Vec<PathBuf>> {
    let mut todo: Vec<PathBuf> = Vec::new();
    for p in ws.members() {
        for d in &p.dependencies {
            if let Some(path) = &d.path {
                todo.push(path.as_std_path().to_path_buf());
            }
        }
    }
    todo.extend(patch_paths(&ws.root_manifest()));
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut out = Vec::new();
    while let Some(dir) = todo.pop() {
        // `path = "../"` in a package outside the root: `dir/..`, read as cargo reads it.
        let dir = normalize(&std::path::absolute(&dir)?);
        if dir.starts_with(root) || !seen.insert(dir.clone()) || seen.len() > 500 {
            continue;
        }
        let manifest = dir.join("Cargo.toml");
        if !manifest.is_file() {
            continue;
        }
        out.push(dir.clone());
        let text = std::fs::read_to_string(&manifest).unwrap_or_default();
        todo.extend(dependency_paths(&text).into_iter().map(|p| dir.join(p)));
    }
    Ok(out)
}

/// `path` with `.` and `..` taken out lexically, as cargo resolves a path dependency (cargo's
/// `paths::normalize_path`): `/ws/codegen/..` is `/ws`.
pub fn normalize(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// `path = "…"` of every dependency table of a manifest (and of `[workspace.dependencies]`).
fn dependency_paths(text: &str) -> Vec<PathBuf> {
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    let mut tables: Vec<&toml_edit::Item> = Vec::new();
    for key in ["dependencies", "build-dependencies", "dev-dependencies"] {
        tables.extend(doc.get(key));
        tables.extend(doc.get("workspace").and_then(|w| w.get(key)));
        if let Some(t) = doc.get("target").and_then(toml_edit::Item::as_table_like) {
            tables.extend(t.iter().filter_map(|(_, v)| v.get(key)));
        }
    }
    tables
        .into_iter()
        .filter_map(toml_edit::Item::as_table_like)
        .flat_map(|t| t.iter().filter_map(|(_, d)| d.get("path")?.as_str()))
        .map(PathBuf::from)
        .collect()
}

/// `[patch.<source>] x = { path = "…" }` of the root manifest, made absolute.
fn patch_paths(root_manifest: &Utf8Path) -> Vec<PathBuf> {
    let dir = root_manifest
        .parent()
        .map(|d| d.as_std_path())
        .unwrap_or(Path::new("."));
    let text = std::fs::read_to_string(root_manifest).unwrap_or_default();
    let Ok(doc) = text.parse::<toml_edit::DocumentMut>() else {
        return Vec::new();
    };
    doc.get("patch")
        .and_then(toml_edit::Item::as_table_like)
        .into_iter()
        .flat_map(|p| p.iter())
        .filter_map(|(_, src)| src.as_table_like())
        .flat_map(|t| t.iter().filter_map(|(_, d)| d.get("path")?.as_str()))
        .map(|p| dir.join(p))
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn paths_are_normalized_as_cargo_does() {
        assert_eq!(
            normalize(Path::new("/ws/sea-orm-codegen/../")),
            PathBuf::from("/ws")
        );
        assert_eq!(normalize(Path::new("/ws/./a/../b")), PathBuf::from("/ws/b"));
        assert_eq!(normalize(Path::new("/ws/a")), PathBuf::from("/ws/a"));
    }

    use super::*;

    /// Writes `text` into a fresh file of the copy (for tests of the mapping).
    fn touch(path: &Path, text: &str) {
        use std::io::Write;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::File::create(path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
    }

    #[test]
    fn sync_copies_changes_keeps_mtimes_and_prunes() {
        let user = tempfile::tempdir().unwrap();
        let copy = tempfile::tempdir().unwrap();
        let u = user.path();
        touch(&u.join("Cargo.toml"), "[package]\n");
        touch(&u.join("src/main.rs"), "fn main() {}\n");
        touch(&u.join("target/CACHEDIR.TAG"), "x");
        touch(&u.join("target/debug/big"), "x");
        touch(&u.join(".git/HEAD"), "x");
        touch(&u.join("out/x"), "x");
        let c = copy.path().join("ws");
        let run = || {
            let mut kept = BTreeSet::new();
            sync(u, &c, &|p: &Path| p.ends_with("out"), &mut kept).unwrap();
            prune(&c, &kept).unwrap();
        };
        run();
        assert_eq!(
            std::fs::read_to_string(c.join("src/main.rs")).unwrap(),
            "fn main() {}\n"
        );
        for left_out in ["target", ".git", "out"] {
            assert!(!c.join(left_out).exists(), "{left_out}");
        }
        let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
        assert_eq!(mtime(&c.join("src/main.rs")), mtime(&u.join("src/main.rs")));
        // A file the user removed goes; one they changed is copied again.
        std::fs::remove_file(u.join("src/main.rs")).unwrap();
        touch(&u.join("src/lib.rs"), "pub fn f() {}\n");
        run();
        assert!(!c.join("src/main.rs").exists());
        assert!(c.join("src/lib.rs").exists());
    }

    #[test]
    fn path_dependencies_of_a_manifest() {
        let text = "[dependencies]\na = { path = \"../a\" }\nb = \"1\"\n[target.'cfg(unix)'.dependencies]\nc = { path = \"c\", version = \"1\" }\n[workspace.dependencies]\nd.path = \"/abs/d\"\n";
        let mut got: Vec<String> = dependency_paths(text)
            .into_iter()
            .map(|p| p.display().to_string())
            .collect();
        got.sort();
        assert_eq!(got, ["../a", "/abs/d", "c"]);
    }
}
