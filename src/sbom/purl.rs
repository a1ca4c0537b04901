//! Package URLs (`pkg:cargo/name@version`, with the source as a qualifier) and the match between an
//! audit-data entry and a `cargo metadata` package.

use anyhow::Result;
use auditable_serde::Source;
use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;
use packageurl::PackageUrl;

pub(crate) const CRATES_IO: &[&str] = &[
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// The metadata package an audit entry stands for: same name, version and kind of source.
pub(crate) fn find<'a>(
    packages: &'a [Package],
    p: &auditable_serde::Package,
) -> Option<&'a Package> {
    packages.iter().find(|m| same_package(m, p))
}

/// Whether a metadata package and an audit entry are the same: name, version and kind of source.
pub fn same_package(m: &Package, p: &auditable_serde::Package) -> bool {
    m.name.as_str() == p.name
        && m.version == p.version
        && source_kind(m.source.as_ref().map(|s| s.repr.as_str())) == p.source
}

pub(crate) fn source_kind(repr: Option<&str>) -> Source {
    match repr {
        None => Source::Local,
        Some(s) if CRATES_IO.contains(&s) => Source::CratesIo,
        Some(s) if s.starts_with("git+") => Source::Git,
        Some(_) => Source::Registry,
    }
}

/// `pkg:cargo/name@version`, with `vcs_url`, `repository_url` or `download_url` for other sources.
pub fn purl(p: &auditable_serde::Package, m: Option<&Package>, root: &Utf8Path) -> Result<String> {
    let repr = m.and_then(|m| m.source.as_ref()).map(|s| s.repr.as_str());
    let dir = m.and_then(|m| m.manifest_path.parent());
    purl_of(p, repr, dir, root)
}

/// The purl from the audit entry, cargo's source id (`git+…`, `registry+…`) and a local package's
/// directory (made relative to the workspace root, so that no checkout path leaks in). Written by
/// `packageurl` in the spec's canonical form: `/`, `@` and `+` inside a component are
/// percent-encoded, `:` is not.
fn purl_of(
    p: &auditable_serde::Package,
    repr: Option<&str>,
    dir: Option<&Utf8Path>,
    root: &Utf8Path,
) -> Result<String> {
    let qualifier = match (&p.source, repr) {
        (Source::CratesIo, _) => None,
        (Source::Git, Some(r)) => {
            let url = r.trim_start_matches("git+");
            let (url, rev) = url.split_once('#').unwrap_or((url, ""));
            let url = url.split('?').next().unwrap_or(url);
            let vcs = if rev.is_empty() {
                format!("git+{url}")
            } else {
                format!("git+{url}@{rev}")
            };
            Some(("vcs_url", vcs))
        }
        (Source::Registry, Some(r)) => {
            let url = r
                .trim_start_matches("registry+")
                .trim_start_matches("sparse+");
            Some(("repository_url", url.to_string()))
        }
        (Source::Local, _) => {
            let rel = dir
                .map(|d| relative_to(d, root))
                .unwrap_or_else(|| ".".into());
            Some(("download_url", format!("file:{rel}")))
        }
        _ => None,
    };
    let bad = |e: packageurl::Error| anyhow::anyhow!("the purl of {} {}: {e}", p.name, p.version);
    let mut purl = PackageUrl::new("cargo", p.name.as_str()).map_err(bad)?;
    purl.with_version(p.version.to_string()).map_err(bad)?;
    if let Some((k, v)) = qualifier {
        purl.add_qualifier(k, v).map_err(bad)?;
    }
    Ok(purl.to_string())
}

/// `dir` relative to `root`, with `..` for a directory outside it (a path dependency next to the
/// workspace is `../outer`): never an absolute path of this machine.
fn relative_to(dir: &Utf8Path, root: &Utf8Path) -> String {
    use cargo_metadata::camino::Utf8Component;
    let d: Vec<Utf8Component> = dir.components().collect();
    let r: Vec<Utf8Component> = root.components().collect();
    let common = d.iter().zip(&r).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<&str> = vec![".."; r.len() - common];
    parts.extend(d[common..].iter().map(|c| c.as_str()));
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn purls_mark_git_registry_and_path_sources() {
        let pkg = |source: &str, version: &str| -> auditable_serde::Package {
            serde_json::from_str(&format!(
                r#"{{"name":"x","version":"{version}","source":"{source}"}}"#
            ))
            .unwrap()
        };
        let root = Utf8Path::new("/w");
        let purl = |source: &str, repr: Option<&str>, dir: Option<&str>| {
            purl_of(&pkg(source, "0.1.0"), repr, dir.map(Utf8Path::new), root).unwrap()
        };
        // Canonical encoding: `/`, `@` and `+` inside a value are percent-encoded, `:` is not.
        let git = purl(
            "git",
            Some("git+https://github.com/o/x?branch=main#0123abc"),
            None,
        );
        assert_eq!(
            git,
            "pkg:cargo/x@0.1.0?vcs_url=git%2Bhttps:%2F%2Fgithub.com%2Fo%2Fx%400123abc"
        );
        assert_eq!(
            purl("registry", Some("sparse+https://r.example/index/"), None),
            "pkg:cargo/x@0.1.0?repository_url=https:%2F%2Fr.example%2Findex%2F"
        );
        assert_eq!(
            purl("local", None, Some("/w/crates/x")),
            "pkg:cargo/x@0.1.0?download_url=file:crates%2Fx"
        );
        // A path dependency outside the workspace: relative with `..`, never `file:.`.
        assert_eq!(
            purl("local", None, Some("/outer/x")),
            "pkg:cargo/x@0.1.0?download_url=file:..%2Fouter%2Fx"
        );
        assert_eq!(
            purl("local", None, Some("/w")),
            "pkg:cargo/x@0.1.0?download_url=file:."
        );
        assert_eq!(purl("crates.io", None, None), "pkg:cargo/x@0.1.0");
        // Build metadata in a version (openssl-src's `300.3.1+3.3.1`).
        let meta = purl_of(&pkg("crates.io", "300.3.1+3.3.1"), None, None, root).unwrap();
        assert_eq!(meta, "pkg:cargo/x@300.3.1%2B3.3.1");

        // A purl parser reads back what was put in.
        let back = PackageUrl::from_str(&git).unwrap();
        assert_eq!(back.version(), Some("0.1.0"));
        assert_eq!(
            back.qualifiers()["vcs_url"],
            "git+https://github.com/o/x@0123abc"
        );
        let back = PackageUrl::from_str(&meta).unwrap();
        assert_eq!(back.version(), Some("300.3.1+3.3.1"));
    }
}
