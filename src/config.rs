//! `[package.metadata.tiny]`: what goes into each image, validated.
//!
//! Layers, later wins: `[workspace.metadata.tiny]` < `[package.metadata.tiny]` < command-line flags.
//! Every error names the key and the manifest it came from.
//! Every rule a user meets in `[*.metadata.tiny]` is here; names and tags follow the reference
//! grammar of [`crate::reference`].

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use cargo_metadata::camino::Utf8Path;
use serde_json::Value;

use crate::error::Failure;
use crate::reference::{check_name, check_tag, NAME_HINT, TAG_HINT};
pub use crate::settings::{
    check_image_path, CaCertificates, Compression, ExtraFile, LoadInto, TinyConfig, VexFile,
    NONROOT,
};
use crate::target::Target;

/// The keys `[package.metadata.tiny]` accepts.
pub const KEYS: &[&str] = &[
    "name",
    "tag",
    "tags",
    "cmd",
    "env",
    "ports",
    "labels",
    "user",
    "workdir",
    "stop-signal",
    "ca-certificates",
    "files",
    "compression",
    "platforms",
    "load",
    "sbom",
    "vex",
    "sign",
    "size-budget",
    "repository",
];

const SBOM_HINT: &str =
    "use sbom = [\"cyclonedx\"] (the default, CycloneDX 1.6), [\"spdx\"] or [\"cyclonedx\", \"spdx\"]";
const VEX_HINT: &str =
    "point it at an OpenVEX v0.2.0 JSON document (see https://github.com/openvex/spec)";

/// What the command line sets; `None` leaves the manifests' value.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub name: Option<String>,
    pub tag: Option<String>,
    pub user: Option<String>,
    pub ca_certificates: Option<CaCertificates>,
    pub compression: Option<Compression>,
    /// `--load`.
    pub load: Option<LoadInto>,
    /// `--sbom cyclonedx,spdx`: the names as given (checked in [`resolve`]).
    pub sbom: Vec<String>,
    /// `--vex FILE` (relative to the working directory).
    pub vex: Option<std::path::PathBuf>,
    /// `-t/--tag`: more tags, after `tags = [...]`.
    pub tags: Vec<String>,
    /// `--repository`, else `CARGO_TINY_REPOSITORY`: the prefix and where it came from.
    pub repository: Option<(String, &'static str)>,
}

/// One `[*.metadata.tiny]` table and where it came from.
pub struct Source<'a> {
    /// `[workspace.metadata.tiny]` or `[package.metadata.tiny]`.
    pub section: &'static str,
    pub manifest: &'a Utf8Path,
    /// The `metadata` value of the workspace or package (the table holding `tiny`).
    pub metadata: &'a Value,
}

impl Source<'_> {
    /// `[package.metadata.tiny] of /p/Cargo.toml`, as error messages name it.
    pub fn origin(&self) -> String {
        format!("{} of {}", self.section, self.manifest)
    }

    /// The two tables of `pkg`'s images, in the order they apply: the workspace's, then the package's.
    pub fn of_package<'a>(
        ws: &'a crate::workspace::Workspace,
        pkg: &'a cargo_metadata::Package,
        root_manifest: &'a Utf8Path,
    ) -> [Source<'a>; 2] {
        [
            Source {
                section: "[workspace.metadata.tiny]",
                manifest: root_manifest,
                metadata: &ws.metadata.workspace_metadata,
            },
            Source {
                section: "[package.metadata.tiny]",
                manifest: &pkg.manifest_path,
                metadata: &pkg.metadata,
            },
        ]
    }

    fn dir(&self) -> &Utf8Path {
        self.manifest.parent().unwrap_or(Utf8Path::new("."))
    }

    /// `` `key` in [package.metadata.tiny] of /p/Cargo.toml:12: what``, with the line the key is
    /// on when the manifest can be read again.
    fn err(
        &self,
        key: &str,
        what: impl std::fmt::Display,
        hint: impl Into<String>,
    ) -> anyhow::Error {
        let at = self.line(key).map(|l| format!(":{l}")).unwrap_or_default();
        Failure::new(format!(
            "`{key}` in {} of {}{at}: {what}",
            self.section, self.manifest
        ))
        .hint(hint)
        .into()
    }

    /// The 1-based line of `key` (as errors name it: `tags`, `env.RUST_LOG`, `files."/etc/x"`)
    /// in this table of the manifest (toml_edit's spans, however the manifest spells it).
    fn line(&self, key: &str) -> Option<usize> {
        // Only to name a line in an error: a manifest that is no regular file, or a huge one, gets
        // the error without it.
        let bytes = crate::fsutil::read_regular(self.manifest.as_std_path(), 16 << 20).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut path: Vec<String> = self
            .section
            .trim_matches(['[', ']'])
            .split('.')
            .map(str::to_owned)
            .collect();
        if key != "tiny" {
            let keys = toml_edit::Key::parse(key).ok()?;
            path.extend(keys.iter().map(|k| k.get().to_owned()));
        }
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        crate::manifest_spans::key_line(&text, &path)
    }
}

/// Merges the sources (in order, later wins key by key) and the overrides.
pub fn resolve(sources: &[Source<'_>], cli: &Overrides) -> Result<TinyConfig> {
    let mut cfg = TinyConfig::default();
    for src in sources {
        apply(&mut cfg, src)?;
    }
    let flag = |key: &str, what: String, hint: &str| -> anyhow::Error {
        Failure::new(format!("{key}: {what}"))
            .hint(hint.to_string())
            .into()
    };
    if let Some(n) = &cli.name {
        check_name(n).map_err(|w| flag("--image", w, NAME_HINT))?;
        cfg.name = Some(n.clone());
    }
    if let Some(t) = &cli.tag {
        check_tag(t).map_err(|w| flag("--image", w, TAG_HINT))?;
        cfg.tag = Some(t.clone());
    }
    if let Some(u) = &cli.user {
        cfg.user = parse_user(u).map_err(|w| flag("--user", w, USER_HINT))?;
    }
    if let Some(c) = cli.ca_certificates {
        cfg.ca_certificates = c;
    }
    if let Some(c) = cli.compression {
        cfg.compression = c;
    }
    if let Some(l) = cli.load {
        cfg.load = Some(l);
    }
    if !cli.sbom.is_empty() {
        let names: Vec<&str> = cli.sbom.iter().map(String::as_str).collect();
        cfg.sbom =
            crate::sbom::Format::parse_list(&names).map_err(|w| flag("--sbom", w, SBOM_HINT))?;
    }
    if let Some(v) = &cli.vex {
        cfg.vex = Some(VexFile::read(v).map_err(|w| {
            anyhow::Error::from(Failure::new(format!("--vex: {w}")).hint(VEX_HINT))
        })?);
    }
    for t in &cli.tags {
        check_tag(t).map_err(|w| flag("--tag", w, TAG_HINT))?;
        if !cfg.tags.contains(t) {
            cfg.tags.push(t.clone());
        }
    }
    if let Some((prefix, origin)) = &cli.repository {
        check_repository(prefix).map_err(|(w, h)| flag(origin, w, &h))?;
        cfg.repository = Some(prefix.clone());
    }
    Ok(cfg)
}

/// A repository prefix: a valid image name by itself (lowercase, the reference grammar), without
/// a tag, digest or trailing `/`.
fn check_repository(prefix: &str) -> Result<(), (String, String)> {
    let hint =
        "give a registry host and path in lowercase, e.g. ghcr.io/acme or localhost:5000/team";
    let bad = |w: String| Err((w, hint.to_string()));
    if prefix.ends_with('/') {
        return bad(format!("`{prefix}` ends with `/`"));
    }
    if prefix.contains('@') {
        return bad(format!("`{prefix}` holds a digest; a prefix is a name"));
    }
    if let Err(w) = check_name(prefix) {
        let lower = prefix.to_ascii_lowercase();
        if lower != prefix && check_name(&lower).is_ok() {
            return Err((
                format!("`{prefix}` has uppercase letters, which image names cannot hold"),
                format!("use `{lower}` (in GitHub Actions: ${{{{ github.repository_owner }}}} lowercased)"),
            ));
        }
        return bad(w);
    }
    Ok(())
}

const USER_HINT: &str =
    "use \"nonroot\" (65532, the default), \"root\", or numeric \"uid\" / \"uid:gid\"";
const PATH_HINT: &str = "use an absolute path without `..`, e.g. \"/etc/app/config.toml\"";

fn apply(cfg: &mut TinyConfig, src: &Source<'_>) -> Result<()> {
    let Some(tiny) = src.metadata.get("tiny") else {
        return Ok(());
    };
    let Some(table) = tiny.as_object() else {
        return Err(src.err(
            "tiny",
            "expected a table",
            "write it as a [..metadata.tiny] table",
        ));
    };
    for (key, value) in table {
        let k = key.as_str();
        match k {
            "name" => {
                let s = string(src, k, value)?;
                check_name(&s).map_err(|w| src.err(k, w, NAME_HINT))?;
                cfg.name = Some(s);
            }
            "tag" => {
                let s = string(src, k, value)?;
                check_tag(&s).map_err(|w| src.err(k, w, TAG_HINT))?;
                cfg.tag = Some(s);
            }
            "tags" => {
                let Some(items) = value.as_array() else {
                    return Err(src.err(
                        k,
                        format!("expected an array of strings, found {value}"),
                        match value.as_str() {
                            Some(t) => format!("write it as an array: tags = [{t:?}]"),
                            None => "e.g. tags = [\"latest\", \"1.2\"]".into(),
                        },
                    ));
                };
                cfg.tags = Vec::new();
                for v in items {
                    let t = string(src, k, v)?;
                    check_tag(&t).map_err(|w| src.err(k, w, TAG_HINT))?;
                    cfg.tags.push(t);
                }
            }
            "cmd" => {
                let Some(items) = value.as_array() else {
                    return Err(src.err(
                        k,
                        "expected an array of strings",
                        "e.g. cmd = [\"--port\", \"8080\"]",
                    ));
                };
                cfg.cmd = items
                    .iter()
                    .map(|v| string(src, k, v))
                    .collect::<Result<_>>()?;
            }
            "env" => {
                let env = string_table(src, k, value)?;
                for name in env.keys() {
                    if name.is_empty() || name.contains('=') || name.contains('\0') {
                        return Err(src.err(
                            k,
                            format!("`{name}` is not an environment variable name"),
                            "use names without `=`, e.g. env = { RUST_LOG = \"info\" }",
                        ));
                    }
                }
                cfg.env = env;
            }
            "ports" => {
                let Some(items) = value.as_array() else {
                    return Err(src.err(k, "expected an array", "e.g. ports = [8080, \"53/udp\"]"));
                };
                cfg.ports = items
                    .iter()
                    .map(|v| parse_port(v).map_err(|w| src.err(k, w, "use ports from 1 to 65535, optionally with /tcp or /udp, e.g. ports = [8080, \"53/udp\"]")))
                    .collect::<Result<_>>()?;
                cfg.ports.sort();
                cfg.ports.dedup();
            }
            "labels" => cfg.labels = string_table(src, k, value)?,
            "user" => {
                let s = string(src, k, value)?;
                cfg.user = parse_user(&s).map_err(|w| src.err(k, w, USER_HINT))?;
            }
            "workdir" => {
                let s = string(src, k, value)?;
                if s != "/" {
                    check_image_path(&s).map_err(|w| src.err(k, w, PATH_HINT))?;
                }
                cfg.workdir = Some(s);
            }
            "stop-signal" => {
                let s = string(src, k, value)?;
                check_signal(&s).map_err(|w| {
                    src.err(
                        k,
                        w,
                        "use a signal name such as \"SIGTERM\" or \"SIGINT\", or its number",
                    )
                })?;
                cfg.stop_signal = Some(s);
            }
            "ca-certificates" => {
                let s = string(src, k, value)?;
                cfg.ca_certificates = match s.as_str() {
                    "auto" => CaCertificates::Auto,
                    "always" => CaCertificates::Always,
                    "never" => CaCertificates::Never,
                    _ => {
                        return Err(src.err(
                            k,
                            format!("`{s}` is not one of auto, always, never"),
                            "use \"auto\" (the default), \"always\" or \"never\"",
                        ))
                    }
                };
            }
            "files" => {
                cfg.files = files(src, value)?;
                cfg.files_from = src.origin();
            }
            "compression" => {
                let s = string(src, k, value)?;
                cfg.compression = Compression::parse(&s).ok_or_else(|| {
                    src.err(
                        k,
                        format!("`{s}` is not one of gzip, gzip-max, zstd"),
                        "use \"gzip\" (the default), \"gzip-max\" or \"zstd\"",
                    )
                })?;
            }
            "platforms" => cfg.platforms = Some(platforms(src, value)?),
            "sbom" => {
                let names: Vec<String> = match value {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|v| string(src, k, v))
                        .collect::<Result<_>>()?,
                    other => {
                        return Err(src.err(
                            k,
                            format!("expected an array of format names, found {other}"),
                            SBOM_HINT,
                        ))
                    }
                };
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                cfg.sbom = crate::sbom::Format::parse_list(&names)
                    .map_err(|w| src.err(k, w, SBOM_HINT))?;
            }
            "vex" => {
                let s = string(src, k, value)?;
                let path = src.dir().as_std_path().join(&s);
                cfg.vex = Some(VexFile::read(&path).map_err(|w| src.err(k, w, VEX_HINT))?);
            }
            "sign" => {
                cfg.sign = value.as_bool().ok_or_else(|| {
                    src.err(
                        k,
                        format!("expected true or false, found {value}"),
                        "use sign = true (keyless in CI; `--sign-key KEY` signs with a key)",
                    )
                })?;
            }
            "repository" => {
                let s = string(src, k, value)?;
                check_repository(&s).map_err(|(w, h)| src.err(k, w, h))?;
                cfg.repository = Some(s);
            }
            "load" => {
                let hint = "use load = true (docker, else podman), false, \"docker\" or \"podman\"";
                cfg.load = match value {
                    Value::Bool(true) => Some(LoadInto::Auto),
                    Value::Bool(false) => None,
                    Value::String(s) => Some(
                        LoadInto::ALL
                            .into_iter()
                            .find(|l| l.as_str() == s)
                            .ok_or_else(|| {
                                src.err(
                                    k,
                                    format!("`{s}` is not one of auto, docker, podman"),
                                    hint,
                                )
                            })?,
                    ),
                    other => {
                        return Err(src.err(
                            k,
                            format!("expected true, false or an engine, found {other}"),
                            hint,
                        ))
                    }
                };
            }
            "size-budget" => {
                let b = crate::settings::SizeBudget::from_value(value)
                    .map_err(|w| src.err(k, w, crate::settings::size_budget::HINT))?;
                cfg.size_budget = cfg.size_budget.merged(b);
            }
            _ => {
                let hint = match nearest_key(k) {
                    Some(near) => {
                        format!("did you mean `{near}`? The keys are: {}", KEYS.join(", "))
                    }
                    None => format!("the keys are: {}", KEYS.join(", ")),
                };
                return Err(src.err(k, "unknown key", hint));
            }
        }
    }
    Ok(())
}

/// The known key an unknown one most likely meant: `ca_certificates` → `ca-certificates`,
/// `comression` → `compression` (edit distance at most 2, or a third of the key, and under half of
/// it: `x` is no typo of `vex`).
fn nearest_key(k: &str) -> Option<&'static str> {
    let k = k.to_ascii_lowercase().replace('_', "-");
    KEYS.iter()
        .map(|known| (strsim::levenshtein(&k, known), *known))
        .filter(|(d, known)| *d <= 2.max(known.len() / 3) && d * 2 < known.len())
        .min()
        .map(|(_, known)| known)
}

/// `platforms = [...]` of one table alone, when set: the build's targets are resolved from it before
/// the rest of the image settings are (those are not read at all with `--no-image`).
pub fn configured_platforms(src: &Source<'_>) -> Result<Option<Vec<Target>>> {
    match src.metadata.get("tiny").and_then(|t| t.get("platforms")) {
        Some(v) => platforms(src, v).map(Some),
        None => Ok(None),
    }
}

fn platforms(src: &Source<'_>, value: &Value) -> Result<Vec<Target>> {
    let k = "platforms";
    let hint = "e.g. platforms = [\"linux/amd64\", \"linux/arm64\"]";
    let Some(items) = value.as_array() else {
        return Err(src.err(k, "expected an array of strings", hint));
    };
    let supported = Target::all()
        .map(|t| t.platform())
        .collect::<Vec<_>>()
        .join(", ");
    items
        .iter()
        .map(|v| {
            let p = string(src, k, v)?;
            Target::from_platform(&p).map_err(|_| {
                src.err(
                    k,
                    format!("`{p}` is not a supported platform"),
                    format!("supported platforms: {supported}"),
                )
            })
        })
        .collect()
}

/// What each string key takes, for the help of a value of the wrong type (`ca-certificates = true`
/// wants one of its values, not just quotes).
const STRING_HELP: &[(&str, &str)] = &[
    (
        "ca-certificates",
        "use one of \"auto\", \"always\", \"never\", e.g. ca-certificates = \"always\"",
    ),
    (
        "compression",
        "use one of \"gzip\", \"gzip-max\", \"zstd\", e.g. compression = \"zstd\"",
    ),
    (
        "name",
        "quote the image name, e.g. name = \"ghcr.io/acme/app\"",
    ),
    ("tag", "quote the tag, e.g. tag = \"1.2.3\""),
    ("tags", "quote each tag, e.g. tags = [\"latest\", \"1.2\"]"),
    ("user", USER_HINT),
    ("workdir", "quote the path, e.g. workdir = \"/data\""),
    (
        "stop-signal",
        "quote the signal, e.g. stop-signal = \"SIGINT\"",
    ),
    (
        "cmd",
        "quote each argument, e.g. cmd = [\"--port\", \"8080\"]",
    ),
    (
        "platforms",
        "quote each platform, e.g. platforms = [\"linux/amd64\", \"linux/arm64\"]",
    ),
    (
        "repository",
        "quote the prefix, e.g. repository = \"ghcr.io/acme\"",
    ),
];

fn string(src: &Source<'_>, key: &str, v: &Value) -> Result<String> {
    let s = v.as_str().map(str::to_owned).ok_or_else(|| {
        let top = key.split('.').next().unwrap_or(key);
        let help = STRING_HELP
            .iter()
            .find(|(k, _)| *k == top)
            .map_or("quote the value", |(_, h)| h);
        src.err(key, format!("expected a string, found {v}"), help)
    })?;
    no_nul(src, key, &s)?;
    Ok(s)
}

/// NUL cannot pass through the engines' C strings (env, labels, argv): refused everywhere.
fn no_nul(src: &Source<'_>, key: &str, s: &str) -> Result<()> {
    if s.contains('\0') {
        return Err(src.err(
            key,
            format!("{s:?} contains a NUL character"),
            "remove the \\u0000 escape",
        ));
    }
    Ok(())
}

fn string_table(src: &Source<'_>, key: &str, v: &Value) -> Result<BTreeMap<String, String>> {
    let Some(t) = v.as_object() else {
        return Err(src.err(
            key,
            "expected a table of strings",
            format!("e.g. {key} = {{ KEY = \"value\" }}"),
        ));
    };
    t.iter()
        .map(|(k, v)| {
            no_nul(src, key, k)?;
            Ok((k.clone(), string(src, &format!("{key}.{k}"), v)?))
        })
        .collect()
}

fn files(src: &Source<'_>, v: &Value) -> Result<Vec<ExtraFile>> {
    let table = string_table(src, "files", v)?;
    let dir = src.dir().as_std_path();
    let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut out = Vec::new();
    for (dest, source) in table {
        let key = format!("files.\"{dest}\"");
        check_image_path(&dest).map_err(|w| src.err(&key, w, PATH_HINT))?;
        if Path::new(&source).is_absolute() {
            return Err(src.err(
                &key,
                format!("source {source} is an absolute path"),
                format!("give the source relative to {dir}", dir = dir.display()),
            ));
        }
        let joined = base.join(&source);
        let real = match std::fs::canonicalize(&joined) {
            Ok(p) => p,
            Err(_) => {
                return Err(src.err(
                    &key,
                    format!("source {} does not exist", joined.display()),
                    "check the path; sources are relative to the manifest's directory",
                ))
            }
        };
        if !real.starts_with(&base) {
            return Err(src.err(
                &key,
                format!(
                    "source {source} is outside the package ({})",
                    base.display()
                ),
                "copy the file into the package directory",
            ));
        }
        if !real.is_file() {
            return Err(src.err(
                &key,
                format!("source {source} is not a regular file"),
                "list each file separately; directories are not copied",
            ));
        }
        let opened = crate::settings::source::OpenedSource::open(&real)
            .map_err(|w| src.err(&key, format!("source {source}: {w}"), "check the file"))?;
        out.push(ExtraFile {
            source: real,
            dest,
            opened,
        });
    }
    // A file cannot also be a directory of another file.
    for a in &out {
        if let Some(b) = out
            .iter()
            .find(|b| b.dest.starts_with(&format!("{}/", a.dest)))
        {
            return Err(src.err(
                &format!("files.\"{}\"", a.dest),
                format!("{} is a file, but {} puts a file under it", a.dest, b.dest),
                "pick paths where no file is another's directory",
            ));
        }
    }
    Ok(out)
}

pub fn parse_user(u: &str) -> Result<String, String> {
    match u {
        "nonroot" => return Ok(NONROOT.into()),
        "root" => return Ok("0:0".into()),
        _ => {}
    }
    let (uid, gid) = u.split_once(':').unwrap_or((u, u));
    // runc and the kernel's uid_t take at most 2^31-1 (a larger one wraps to a negative id).
    let id = |s: &str| s.parse::<u32>().ok().filter(|n| *n <= i32::MAX as u32);
    match (id(uid), id(gid)) {
        (Some(uid), Some(gid)) => Ok(format!("{uid}:{gid}")),
        _ => Err(format!(
            "`{u}` is not a user (numeric ids go from 0 to 2147483647)"
        )),
    }
}

fn parse_port(v: &Value) -> Result<String, String> {
    let (num, proto) = match v {
        Value::Number(n) => (n.to_string(), "tcp"),
        Value::String(s) => match s.split_once('/') {
            Some((n, p)) => (n.to_string(), p),
            None => (s.clone(), "tcp"),
        },
        other => return Err(format!("{other} is not a port")),
    };
    if !["tcp", "udp", "sctp"].contains(&proto) {
        return Err(format!("`{proto}` is not a protocol (tcp, udp, sctp)"));
    }
    match num.parse::<u32>() {
        Ok(n @ 1..=65535) => Ok(format!("{n}/{proto}")),
        _ => Err(format!("{num} is not a port (1-65535)")),
    }
}

fn check_signal(s: &str) -> Result<(), String> {
    let ok = match s.parse::<u32>() {
        Ok(n) => (1..=64).contains(&n),
        Err(_) => {
            s.len() > 3
                && s.starts_with("SIG")
                && s[3..]
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-')
        }
    };
    if ok {
        Ok(())
    } else {
        Err(format!("`{s}` is not a signal"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(tiny: Value) -> Result<TinyConfig> {
        let meta = json!({ "tiny": tiny });
        resolve(
            &[Source {
                section: "[package.metadata.tiny]",
                manifest: Utf8Path::new("/nowhere/pkg/Cargo.toml"),
                metadata: &meta,
            }],
            &Overrides::default(),
        )
    }

    fn message(tiny: Value) -> String {
        format!("{:#}", load(tiny).unwrap_err())
    }

    #[test]
    fn sign_is_true_or_false() {
        assert!(load(json!({"sign": true})).unwrap().sign);
        assert!(!load(json!({})).unwrap().sign);
        let e = message(json!({"sign": "yes"}));
        assert!(
            e.contains("`sign` in [package.metadata.tiny]") && e.contains("expected true or false"),
            "{e}"
        );
    }

    #[test]
    fn sbom_formats_and_the_vex_document_are_read_and_checked() {
        use crate::sbom::Format;
        assert_eq!(load(json!({})).unwrap().sbom, [Format::DEFAULT]);
        assert_eq!(
            load(json!({"sbom": ["cyclonedx", "spdx"]})).unwrap().sbom,
            [Format::DEFAULT, Format::Spdx2]
        );
        assert_eq!(load(json!({"sbom": "spdx"})).unwrap().sbom, [Format::Spdx2]);
        let m = message(json!({"sbom": ["swid"]}));
        assert!(
            m.starts_with("`sbom` in [package.metadata.tiny] of /nowhere/pkg/Cargo.toml: unknown SBOM format `swid`"),
            "{m}"
        );
        assert!(message(json!({"sbom": 1})).contains("expected an array"));
        assert!(message(json!({"sbom": []})).contains("no SBOM format selected"));

        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        let from = |tiny: Value| {
            let meta = json!({ "tiny": tiny });
            resolve(
                &[Source {
                    section: "[package.metadata.tiny]",
                    manifest: Utf8Path::from_path(&manifest).unwrap(),
                    metadata: &meta,
                }],
                &Overrides::default(),
            )
        };
        let e = format!("{:#}", from(json!({"vex": "none.json"})).unwrap_err());
        assert!(
            e.contains("`vex` in [package.metadata.tiny]") && e.contains("VEX document"),
            "{e}"
        );
        assert!(e.contains("none.json: No such file"), "{e}");
        std::fs::write(dir.path().join("bad.json"), r#"{"@context":"x"}"#).unwrap();
        let e = format!("{:#}", from(json!({"vex": "bad.json"})).unwrap_err());
        assert!(e.contains("not an OpenVEX v0.2.0 document"), "{e}");
        std::fs::write(
            dir.path().join("ok.json"),
            r#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1",
                "author":"A","timestamp":"2024-05-01T12:00:00Z","version":1,
                "statements":[{"vulnerability":{"name":"CVE-2024-1"},
                  "products":[{"@id":"pkg:cargo/serde@1.0.200"}],"status":"fixed"}]}"#,
        )
        .unwrap();
        let c = from(json!({"vex": "ok.json"})).unwrap();
        let v = c.vex.unwrap();
        assert_eq!(v.path, dir.path().join("ok.json"));
        assert_eq!(v.vex.statements, 1);

        let cli = Overrides {
            sbom: vec!["spdx-3.0.1,cyclonedx-1.5".into()],
            ..Default::default()
        };
        let c = resolve(&[], &cli).unwrap();
        assert_eq!(
            c.sbom,
            [
                Format::Spdx3,
                Format::CycloneDx(crate::sbom::cyclonedx::Version::V1_5)
            ]
        );
        let cli = Overrides {
            sbom: vec!["cyclonedx".into(), "cyclonedx-1.7".into()],
            ..Default::default()
        };
        let e = format!("{:#}", resolve(&[], &cli).unwrap_err());
        assert!(
            e.starts_with("--sbom: SBOM formats CycloneDX 1.6 and CycloneDX 1.7"),
            "{e}"
        );
    }

    #[test]
    fn a_repository_prefix_is_a_lowercase_name() {
        let c = load(json!({ "repository": "ghcr.io/acme" })).unwrap();
        assert_eq!(c.repository.as_deref(), Some("ghcr.io/acme"));
        let m = message(json!({ "repository": "ghcr.io/Acme" }));
        assert!(m.contains("`ghcr.io/Acme` has uppercase letters"), "{m}");
        for bad in ["ghcr.io/acme/", "ghcr.io/acme@sha256:00", "ghcr.io/a b"] {
            let m = message(json!({ "repository": bad }));
            assert!(m.contains("`repository`"), "{bad}: {m}");
        }
    }

    #[test]
    fn unknown_keys_get_the_nearest_known_one() {
        assert_eq!(nearest_key("ca_certificates"), Some("ca-certificates"));
        assert_eq!(nearest_key("Compresion"), Some("compression"));
        assert_eq!(nearest_key("tag"), Some("tag"));
        assert_eq!(nearest_key("stopsignal"), Some("stop-signal"));
        assert_eq!(nearest_key("colour"), None);
        assert_eq!(nearest_key("x"), None);
        assert_eq!(nearest_key("sbon"), Some("sbom"));
    }

    #[test]
    fn defaults_run_as_nonroot_with_auto_certificates() {
        let c = load(json!({})).unwrap();
        assert_eq!(c.user, "65532:65532");
        assert_eq!(c.ca_certificates, CaCertificates::Auto);
    }

    #[test]
    fn values_are_parsed() {
        let c = load(json!({
            "ports": [8080, "53/udp", "8080/tcp"],
            "user": "root",
            "env": {"RUST_LOG": "info"},
            "stop-signal": "SIGINT",
            "workdir": "/data",
            "cmd": ["--port", "8080"],
        }))
        .unwrap();
        assert_eq!(c.ports, ["53/udp", "8080/tcp"]);
        assert_eq!(c.user, "0:0");
        assert_eq!(c.cmd, ["--port", "8080"]);
    }

    #[test]
    fn extra_push_tags_are_validated_tags() {
        let c = load(json!({"tags": ["latest", "1.4"]})).unwrap();
        assert_eq!(c.tags, ["latest", "1.4"]);
        assert!(message(json!({"tags": ["-bad"]})).contains("`tags`"));
        assert!(message(json!({"tags": "latest"})).contains("expected an array"));
    }

    #[test]
    fn errors_name_the_key_and_the_manifest() {
        let m = message(json!({"ports": [70000]}));
        assert!(
            m.contains("`ports`") && m.contains("/nowhere/pkg/Cargo.toml") && m.contains("70000"),
            "{m}"
        );
        assert!(message(json!({"colour": "red"})).contains("`colour`"));
        assert!(message(json!({"workdir": "/a/../b"})).contains("`workdir`"));
        assert!(message(json!({"user": "bob"})).contains("`user`"));
        assert!(message(json!({"ca-certificates": "sometimes"})).contains("`ca-certificates`"));
        let m = message(json!({"compression": "xz"}));
        assert!(m.contains("`compression`") && m.contains("gzip-max"), "{m}");
        assert!(message(json!({"compression": 9})).contains("`compression`"));
        assert!(message(json!({"stop-signal": "TERM"})).contains("`stop-signal`"));
        assert!(message(json!({"name": "Api"})).contains("`name`"));
        assert!(message(json!({"files": {"/etc/x/../y": "a"}})).contains("files"));
        // Destinations against the image's own tree: image/paths.rs (it knows the bin name).
    }

    #[test]
    fn files_resolve_inside_the_package() {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("pkg");
        std::fs::create_dir_all(pkg.join("conf")).unwrap();
        std::fs::write(pkg.join("conf/a.toml"), "").unwrap();
        std::fs::write(dir.path().join("outside.txt"), "").unwrap();
        let manifest =
            cargo_metadata::camino::Utf8PathBuf::from_path_buf(pkg.join("Cargo.toml")).unwrap();
        let load = |files: Value| {
            let meta = json!({"tiny": {"files": files}});
            resolve(
                &[Source {
                    section: "[package.metadata.tiny]",
                    manifest: &manifest,
                    metadata: &meta,
                }],
                &Overrides::default(),
            )
        };
        let c = load(json!({"/etc/app/a.toml": "conf/a.toml"})).unwrap();
        assert_eq!(c.files[0].dest, "/etc/app/a.toml");
        assert!(c.files[0].source.ends_with("conf/a.toml"));
        let e = |f: Value| format!("{:#}", load(f).unwrap_err());
        assert!(e(json!({"/x": "../outside.txt"})).contains("outside the package"));
        assert!(e(json!({"/x": "nope.txt"})).contains("does not exist"));
        assert!(e(json!({"/x": "conf"})).contains("not a regular file"));
        assert!(
            e(json!({"/x": "conf/a.toml", "/x/y": "conf/a.toml"})).contains("puts a file under it")
        );
    }

    #[test]
    fn engine_limits_are_refused_up_front() {
        assert!(message(json!({"tag": "a".repeat(129)})).contains("`tag`"));
        assert!(load(json!({"tag": "_x.Y-1"})).is_ok());
        assert!(message(json!({"tag": ".x"})).contains("`tag`"));
        assert!(message(json!({"tag": "1+2"})).contains("`tag`"));
        assert!(load(json!({"user": "2147483647:0"})).is_ok());
        for u in ["2147483648", "0:2147483648", "4294967295"] {
            assert!(message(json!({"user": u})).contains("`user`"), "{u}");
        }
        for (key, v) in [
            ("env", json!({"A": "x\u{0}y"})),
            ("env", json!({"A\u{0}B": "x"})),
            ("labels", json!({"k": "\u{0}"})),
            ("labels", json!({"k\u{0}": "v"})),
            ("cmd", json!(["a\u{0}b"])),
        ] {
            let m = message(json!({ key: v }));
            assert!(
                m.contains(&format!("`{key}"))
                    && m.contains("NUL")
                    && m.contains("/nowhere/pkg/Cargo.toml"),
                "{m}"
            );
        }
        assert_eq!(
            load(json!({"workdir": "/"})).unwrap().workdir.as_deref(),
            Some("/")
        );
        assert!(
            message(json!({"workdir": format!("/{}", "d".repeat(101))})).contains("at most 100")
        );
    }

    #[test]
    fn cli_overrides_win() {
        let meta =
            json!({"tiny": {"user": "root", "ca-certificates": "never", "compression": "zstd"}});
        let sources = [Source {
            section: "[package.metadata.tiny]",
            manifest: Utf8Path::new("/p/Cargo.toml"),
            metadata: &meta,
        }];
        let c = resolve(
            &sources,
            &Overrides {
                user: Some("nonroot".into()),
                ca_certificates: Some(CaCertificates::Always),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.user, NONROOT);
        assert_eq!(c.ca_certificates, CaCertificates::Always);
        assert_eq!(c.compression, Compression::Zstd, "kept from the manifest");
        let c = resolve(
            &sources,
            &Overrides {
                compression: Some(Compression::GzipMax),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.compression, Compression::GzipMax);
    }
}
