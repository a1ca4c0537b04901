//! What a build tells: the status lines on stderr and the `--message-format json` lines on stdout
//! (schema in docs/src/reference/json-output.md) for each binary ([`binary`]), each built result and what its
//! publishers did ([`result`]), each push ([`push`]), and the size report and budget ([`size`]), in
//! one place. It reads plain values only:
//! what the compile found, the image stage's [`crate::image::Summary`], and the publishers'
//! [`crate::publish::Published`] receipts.

mod push;
mod result;
mod size;

pub use push::{push_message, pushed, retry, retry_command};
pub use result::{result, PlatformFacts, ResultReport};
pub use size::{budget as size_budget, size_report};

use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::image;
use crate::shell::{human_size, Shell};

/// One line of `--message-format json` per binary (schema in docs/src/reference/json-output.md).
#[derive(Debug, Serialize)]
pub struct BinaryMessage<'a> {
    pub reason: &'static str,
    pub package: &'a str,
    pub version: &'a str,
    pub bin: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub path: &'a str,
    pub size: u64,
    #[serde(rename = "static")]
    pub is_static: bool,
    pub audited_packages: usize,
    /// Packages in the audit data that the build never compiled (left out of the SBOM).
    pub uncompiled_packages: Vec<UncompiledPackage<'a>>,
}

/// A package of the audit data that was never compiled.
#[derive(Debug, Serialize)]
pub struct UncompiledPackage<'a> {
    pub name: &'a str,
    pub version: String,
    pub source: String,
}

/// A verified binary, as the compile found it.
pub struct BinaryFacts<'a> {
    pub package: &'a str,
    pub version: &'a str,
    pub bin: &'a str,
    pub target: &'a str,
    pub profile: &'a str,
    pub path: &'a Path,
    pub size: u64,
    pub audited_packages: usize,
    pub uncompiled: &'a [auditable_serde::Package],
}

/// Human summary line or JSON object for one binary.
pub fn binary(b: &BinaryFacts<'_>, shell: &Shell, json: bool) -> Result<()> {
    let shown = crate::fsutil::shown_path(b.path);
    if json {
        let msg = BinaryMessage {
            reason: "binary",
            package: b.package,
            version: b.version,
            bin: b.bin,
            target: b.target,
            profile: b.profile,
            path: &b.path.to_string_lossy(),
            size: b.size,
            is_static: true,
            audited_packages: b.audited_packages,
            uncompiled_packages: b
                .uncompiled
                .iter()
                .map(|p| UncompiledPackage {
                    name: &p.name,
                    version: p.version.to_string(),
                    source: serde_json::to_value(&p.source)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                })
                .collect(),
        };
        println!("{}", serde_json::to_string(&msg)?);
    }
    let n = b.audited_packages;
    shell.status(
        "Binary",
        format!(
            "{} {} ({} bytes, {}), static, {} audited package{}",
            b.bin,
            shown.display(),
            b.size,
            human_size(b.size),
            n,
            if n == 1 { "" } else { "s" }
        ),
    );
    if !b.uncompiled.is_empty() {
        shell.note(
            "Audit",
            format!("{} (left out of the SBOM)", uncompiled_line(b.uncompiled)),
        );
    }
    Ok(())
}

/// `2 packages in the binary's audit data were never compiled: opt 0.1.0, quinn 0.11.5`.
pub fn uncompiled_line(uncompiled: &[auditable_serde::Package]) -> String {
    let names: Vec<String> = uncompiled
        .iter()
        .map(|p| format!("{} {}", p.name, p.version))
        .collect();
    format!(
        "{} package{} in the binary's audit data {} never compiled: {}",
        uncompiled.len(),
        if uncompiled.len() == 1 { "" } else { "s" },
        if uncompiled.len() == 1 { "was" } else { "were" },
        names.join(", ")
    )
}

/// The status line of a non-default compression: its encoder, its time and its size, each against
/// gzip -9 of the same tar; `platform` prefixes it in a multi-platform build.
pub fn compressed(c: &image::CompressionCost, platform: Option<&str>, shell: &Shell) {
    let change = 100.0 * (c.size as f64 - c.gzip_size as f64) / c.gzip_size.max(1) as f64;
    shell.status(
        "Compressed",
        format!(
            "{}layer with {} ({}) in {:.1} s, {:+.1} s against gzip; {} ({} bytes), {change:+.1} % against gzip's {} ({} bytes)",
            platform.map(|p| format!("{p} ")).unwrap_or_default(),
            c.compression,
            c.compression.encoder(),
            c.took.as_secs_f64(),
            c.took.as_secs_f64() - c.gzip_took.as_secs_f64(),
            human_size(c.size),
            c.size,
            human_size(c.gzip_size),
            c.gzip_size,
        ),
    );
}

/// A digest as status lines show it: `sha256:` and 12 hex digits (as `docker images` shows ids), the
/// whole digest with `-v` (and always in JSON).
fn digest_shown(shell: &crate::shell::Shell, digest: &str) -> String {
    if shell.verbosity() >= crate::shell::Verbosity::Verbose {
        return digest.to_string();
    }
    match digest.split_once(':') {
        Some((alg, hex)) if hex.len() > 12 && hex.is_ascii() => format!("{alg}:{}…", &hex[..12]),
        _ => digest.to_string(),
    }
}

/// A path as status lines show it, as a shell word.
fn shown(path: &Path) -> String {
    shell_word(&crate::fsutil::shown_path(path).display().to_string())
}

/// A word for a POSIX shell: quoted when it holds anything but safe characters.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn paths_in_commands_are_quoted_when_needed() {
        assert_eq!(
            super::shell_word("target/tiny/api.tar"),
            "target/tiny/api.tar"
        );
        assert_eq!(
            super::shell_word("my dir/it's.tar"),
            r"'my dir/it'\''s.tar'"
        );
    }
}
