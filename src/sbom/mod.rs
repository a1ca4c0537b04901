//! The SBOM: CycloneDX 1.5 JSON built from the dependency list read back out of the binary, enriched
//! with what `cargo metadata` and `Cargo.lock` know (descriptions, licences, checksums).
//!
//! Deterministic: the timestamp is the build's source date, the serial number a UUID derived from the
//! document's own content. Nothing random, nothing from the clock.
//!
//! Over 400 lines: ~290 of code (components, purls, hashes, the dependency graph, the deterministic
//! serial) and ~135 of tests.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use auditable_serde::{DependencyKind, Source, VersionInfo};
use cargo_metadata::camino::Utf8Path;
use cargo_metadata::Package;
use packageurl::PackageUrl;
use serde_json::{json, Map, Value};

/// Everything the SBOM is made from.
pub struct SbomInput<'a> {
    pub audit: &'a VersionInfo,
    /// `cargo metadata`'s packages.
    pub packages: &'a [Package],
    /// The workspace root (local paths in purls are relative to it).
    pub root: &'a Utf8Path,
    /// The text of the workspace's Cargo.lock, when there is one.
    pub lockfile: Option<&'a str>,
    pub bin: &'a str,
    /// `sha256:…` of the binary.
    pub binary_digest: &'a str,
    pub created: &'a str,
}

/// The document, pretty-printed with a trailing newline, and the number of packages it lists.
pub struct Sbom {
    pub json: Vec<u8>,
    pub packages: usize,
}

const CRATES_IO: &[&str] = &[
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Builds the CycloneDX document.
///
/// Assembled as JSON here rather than with `cyclonedx-bom`'s model (a dev-dependency: the tests read
/// and validate this document with it). Its serial number and timestamp can be set explicitly, so
/// determinism is not the obstacle; what we emit is:
/// - its only public constructor for text (`NormalizedString::new`) turns newlines and tabs into
///   spaces, so the multi-line descriptions copied from `cargo metadata` would be rewritten (eight
///   in the http-service example alone);
/// - its writer drops empty `dependsOn` lists and orders keys its own way: every SBOM, and with it
///   every image digest, would change for no change in content;
/// - it would add 19 crates to the build (time, uuid with its random generator, spdx, xml-rs,
///   fluent-uri, a second strum, …) for a document this function writes in 100 lines.
pub fn build(input: &SbomInput<'_>) -> Result<Sbom> {
    let checksums = lock_checksums(input.lockfile);
    let pkgs = &input.audit.packages;
    let meta: Vec<Option<&Package>> = pkgs.iter().map(|p| find(input.packages, p)).collect();

    let mut refs: Vec<String> = Vec::with_capacity(pkgs.len());
    let mut seen = BTreeSet::new();
    for (i, p) in pkgs.iter().enumerate() {
        let mut r = purl(p, meta[i], input.root)?;
        if !seen.insert(r.clone()) {
            r = format!("{r}#{i}");
            seen.insert(r.clone());
        }
        refs.push(r);
    }

    let component = |i: usize, kind: &str| -> Value {
        let p = &pkgs[i];
        let m = meta[i];
        let mut c = Map::new();
        c.insert("type".into(), json!(kind));
        c.insert("bom-ref".into(), json!(refs[i]));
        c.insert("name".into(), json!(p.name));
        c.insert("version".into(), json!(p.version.to_string()));
        if let Some(d) = m.and_then(|m| m.description.as_deref()) {
            c.insert("description".into(), json!(d.trim()));
        }
        if !p.root {
            let scope = match p.kind {
                DependencyKind::Build => "excluded",
                _ => "required",
            };
            c.insert("scope".into(), json!(scope));
        }
        let sum = m.and_then(|m| {
            let src = m.source.as_ref()?.repr.as_str();
            checksums.get(&(p.name.clone(), p.version.to_string(), src.to_string()))
        });
        if let Some(sum) = sum {
            c.insert("hashes".into(), json!([{"alg": "SHA-256", "content": sum}]));
        }
        if let Some(l) = m.and_then(|m| m.license.as_deref()) {
            c.insert(
                "licenses".into(),
                json!([{"expression": l.replace('/', " OR ")}]),
            );
        }
        c.insert(
            "purl".into(),
            json!(refs[i].split('#').next().unwrap_or(&refs[i])),
        );
        Value::Object(c)
    };

    let root = pkgs.iter().position(|p| p.root).unwrap_or(0);
    let mut main = component(root, "application");
    main["components"] = json!([{
        "type": "application",
        "bom-ref": format!("{}#bin:{}", refs[root], input.bin),
        "name": input.bin,
        "version": pkgs[root].version.to_string(),
        "hashes": [{"alg": "SHA-256", "content": input.binary_digest.trim_start_matches("sha256:")}],
    }]);
    let components: Vec<Value> = (0..pkgs.len())
        .filter(|i| *i != root)
        .map(|i| component(i, "library"))
        .collect();
    let dependencies: Vec<Value> = pkgs
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let on: BTreeSet<&str> = p
                .dependencies
                .iter()
                .filter_map(|d| refs.get(*d).map(String::as_str))
                .collect();
            json!({"ref": refs[i], "dependsOn": on})
        })
        .collect();

    let mut bom = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": "",
        "version": 1,
        "metadata": {
            "timestamp": input.created,
            "tools": {"components": [{
                "type": "application",
                "name": "cargo-tiny",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": main,
        },
        "components": components,
        "dependencies": dependencies,
    });
    let digest = crate::image::sha256(&serde_json::to_vec(&bom)?);
    bom["serialNumber"] = json!(format!("urn:uuid:{}", uuid_from(&digest)));
    let mut out = serde_json::to_vec_pretty(&bom)?;
    out.push(b'\n');
    Ok(Sbom {
        json: out,
        packages: pkgs.len(),
    })
}

/// A version-5-shaped UUID from the first 16 bytes of a `sha256:` digest.
fn uuid_from(digest: &str) -> String {
    let hex = digest.trim_start_matches("sha256:");
    let mut b: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect();
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The metadata package an audit entry stands for: same name, version and kind of source.
fn find<'a>(packages: &'a [Package], p: &auditable_serde::Package) -> Option<&'a Package> {
    packages.iter().find(|m| same_package(m, p))
}

/// Whether a metadata package and an audit entry are the same: name, version and kind of source.
pub fn same_package(m: &Package, p: &auditable_serde::Package) -> bool {
    m.name.as_str() == p.name
        && m.version == p.version
        && source_kind(m.source.as_ref().map(|s| s.repr.as_str())) == p.source
}

fn source_kind(repr: Option<&str>) -> Source {
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

/// `(name, version, source) → checksum` from Cargo.lock (v3/v4 keep them per package).
fn lock_checksums(text: Option<&str>) -> HashMap<(String, String, String), String> {
    let Some(lock) = text.and_then(|t| t.parse::<toml::Table>().ok()) else {
        return HashMap::new();
    };
    lock.get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let s = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_owned);
            Some(((s("name")?, s("version")?, s("source")?), s("checksum")?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn audit() -> VersionInfo {
        serde_json::from_str(
            r#"{"packages":[
                {"name":"app","version":"1.2.0","source":"local","dependencies":[1,2],"root":true},
                {"name":"serde","version":"1.0.200","source":"crates.io"},
                {"name":"cc","version":"1.1.0","source":"crates.io","kind":"build"}
            ]}"#,
        )
        .unwrap()
    }

    fn sbom(created: &str) -> Value {
        let audit = audit();
        let digest = format!("sha256:{}", "ab".repeat(32));
        let s = build(&SbomInput {
            audit: &audit,
            packages: &[],
            root: Utf8Path::new("/w"),
            lockfile: None,
            bin: "app",
            binary_digest: &digest,
            created,
        })
        .unwrap();
        assert_eq!(s.packages, 3);
        serde_json::from_slice(&s.json).unwrap()
    }

    #[test]
    fn lists_every_audited_package_with_its_graph() {
        let v = sbom("1970-01-01T00:00:00Z");
        assert_eq!(v["metadata"]["component"]["name"], "app");
        let comps = v["components"].as_array().unwrap();
        assert_eq!(comps.len(), 2);
        assert_eq!(comps[0]["purl"], "pkg:cargo/serde@1.0.200");
        assert_eq!(comps[0]["scope"], "required");
        assert_eq!(
            comps[1]["scope"], "excluded",
            "build dependencies are not in the binary"
        );
        assert_eq!(
            v["dependencies"][0]["dependsOn"],
            json!(["pkg:cargo/cc@1.1.0", "pkg:cargo/serde@1.0.200"])
        );
    }

    #[test]
    fn serial_and_timestamp_are_derived_not_random() {
        let a = sbom("1970-01-01T00:00:00Z");
        assert_eq!(a, sbom("1970-01-01T00:00:00Z"));
        let b = sbom("2023-11-14T22:13:20Z");
        assert_ne!(a["serialNumber"], b["serialNumber"]);
        assert_eq!(b["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
        let serial = a["serialNumber"].as_str().unwrap();
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "5", "version nibble");
    }

    #[test]
    fn cyclonedx_bom_reads_and_validates_it() {
        use cyclonedx_bom::models::bom::Bom;
        use cyclonedx_bom::validation::Validate;
        let v = sbom("1970-01-01T00:00:00Z");
        let bom = Bom::parse_from_json_v1_5(serde_json::to_vec(&v).unwrap().as_slice()).unwrap();
        let result = bom.validate_version(cyclonedx_bom::models::bom::SpecVersion::V1_5);
        assert!(result.passed(), "{result:?}");
    }

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

    #[test]
    fn checksums_come_from_the_lockfile() {
        let lock = "version = 4\n[[package]]\nname = \"serde\"\nversion = \"1.0.200\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"abc\"\n";
        let sums = lock_checksums(Some(lock));
        assert_eq!(
            sums[&(
                "serde".to_string(),
                "1.0.200".to_string(),
                CRATES_IO[0].to_string()
            )],
            "abc"
        );
    }
}
