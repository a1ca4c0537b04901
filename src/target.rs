//! One build target (cargo's `CompileKind`): a Rust triple and everything derived from it — the OCI
//! platform (`linux/arm64`, variant `v8`), the ELF machine its binaries must carry, and the names of
//! the environment variables cc-rs and cargo read for its C compiler and linker.
//!
//! cargo-tiny builds static musl binaries for the platforms in [`SUPPORTED`]; everything else is a
//! one-line error listing them.

use anyhow::Result;
use object::elf;

use crate::error::Failure;

/// The target of a build that names none (and sets no `platforms`) on a host whose platform is not
/// supported; see [`default_triple`].
pub const DEFAULT_TARGET: &str = "x86_64-unknown-linux-musl";

/// The target of a build that names none (and sets no `platforms`): the host's platform when it is a
/// supported one, else [`DEFAULT_TARGET`].
pub fn default_triple() -> &'static str {
    host_triple().unwrap_or(DEFAULT_TARGET)
}

/// The supported triple of the machine cargo-tiny runs on.
fn host_triple() -> Option<&'static str> {
    let arch = std::env::consts::ARCH;
    SUPPORTED
        .iter()
        .find(|(_, t)| t.split('-').next() == Some(arch))
        .map(|(_, t)| *t)
}

/// `(OCI platform, Rust triple)`, in the fixed order images are listed in an index.
pub const SUPPORTED: &[(&str, &str)] = &[
    ("linux/amd64", "x86_64-unknown-linux-musl"),
    ("linux/arm64", "aarch64-unknown-linux-musl"),
];

/// A build target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    /// `aarch64-unknown-linux-musl`.
    pub triple: String,
}

impl Target {
    /// A supported Rust triple, or a one-line error listing the supported ones.
    pub fn from_triple(triple: &str) -> Result<Target> {
        if SUPPORTED.iter().any(|(_, t)| *t == triple) {
            return Ok(Target {
                triple: triple.to_string(),
            });
        }
        if !triple.contains("-linux-musl") {
            return Err(Failure::new(format!("target `{triple}` is not a musl Linux target"))
                .hint(format!(
                    "cargo tiny builds static musl binaries: use --target {} (or --platform linux/amd64,linux/arm64)",
                    list(|(_, t)| t).replace(", ", " or ")
                ))
                .into());
        }
        Err(Failure::new(format!(
            "target `{triple}` is not supported; supported targets: {}",
            list(|(_, t)| t)
        ))
        .hint("cargo tiny builds static musl binaries: pass one of the supported targets to --target (or --platform linux/amd64,linux/arm64)")
        .into())
    }

    /// A supported OCI platform (`linux/arm64`, also `linux/arm64/v8`), or a one-line error.
    pub fn from_platform(platform: &str) -> Result<Target> {
        let p = platform.trim();
        let p = p
            .strip_suffix("/v8")
            .filter(|p| *p == "linux/arm64")
            .unwrap_or(p);
        match SUPPORTED.iter().find(|(name, _)| *name == p) {
            Some((_, triple)) => Target::from_triple(triple),
            None => Err(Failure::new(format!(
                "platform `{platform}` is not supported; supported platforms: {}",
                list(|(p, _)| p)
            ))
            .hint("pass e.g. --platform linux/amd64,linux/arm64 (or platforms = [\"linux/amd64\", \"linux/arm64\"] in [package.metadata.tiny])")
            .into()),
        }
    }

    /// The platform of the machine cargo-tiny runs on, when it is a supported one.
    pub fn host() -> Option<Target> {
        host_triple().map(|t| Target {
            triple: t.to_string(),
        })
    }

    /// `aarch64`: the first part of the triple.
    pub fn arch(&self) -> &str {
        self.triple.split('-').next().unwrap_or_default()
    }

    /// Whether binaries of this target run natively here (no cross linker needed).
    pub fn is_host(&self) -> bool {
        self.arch() == std::env::consts::ARCH
    }

    /// The OCI `architecture` and `variant`.
    pub fn oci_arch(&self) -> (&'static str, Option<&'static str>) {
        match self.arch() {
            "aarch64" => ("arm64", Some("v8")),
            _ => ("amd64", None),
        }
    }

    /// `linux/arm64`.
    pub fn platform(&self) -> String {
        format!("linux/{}", self.oci_arch().0)
    }

    /// The OCI `platform` object of an index entry.
    pub fn platform_json(&self) -> serde_json::Value {
        let (arch, variant) = self.oci_arch();
        let mut p = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            p["variant"] = serde_json::json!(v);
        }
        p
    }

    /// The ELF `e_machine` its binaries carry.
    pub fn machine(&self) -> u16 {
        match self.arch() {
            "aarch64" => elf::EM_AARCH64,
            _ => elf::EM_X86_64,
        }
    }

    /// `CC_aarch64_unknown_linux_musl`: the variable cc-rs reads for the target's C compiler.
    pub fn cc_var(&self) -> String {
        format!("CC_{}", self.triple.replace(['-', '.'], "_"))
    }

    /// `AR_aarch64_unknown_linux_musl`: cc-rs's archiver for the target.
    pub fn ar_var(&self) -> String {
        format!("AR_{}", self.triple.replace(['-', '.'], "_"))
    }

    /// `CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER`.
    pub fn linker_var(&self) -> String {
        format!(
            "CARGO_TARGET_{}_LINKER",
            self.triple.to_uppercase().replace(['-', '.'], "_")
        )
    }

    /// zig's name of the target (`aarch64-linux-musl`).
    pub fn zig_target(&self) -> String {
        format!("{}-linux-musl", self.arch())
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.triple)
    }
}

fn list(pick: impl Fn(&(&'static str, &'static str)) -> &'static str) -> String {
    SUPPORTED.iter().map(pick).collect::<Vec<_>>().join(", ")
}

/// The targets of a build: `--target` triples and `--platform` lists from the command line win over
/// `platforms = [...]` from the metadata, which wins over the default triple. Duplicates are dropped
/// and the result is in [`SUPPORTED`]'s order, so the index is the same whatever order they were
/// asked in.
pub fn resolve(
    cli_targets: &[String],
    cli_platforms: &[String],
    config_platforms: Option<&[String]>,
    default: &str,
) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    for t in cli_targets {
        out.push(Target::from_triple(t)?);
    }
    for p in cli_platforms {
        for one in p.split(',').filter(|s| !s.trim().is_empty()) {
            out.push(Target::from_platform(one)?);
        }
    }
    if out.is_empty() && !cli_platforms.is_empty() {
        return Err(Failure::new("--platform names no platform")
            .hint("pass e.g. --platform linux/amd64,linux/arm64")
            .into());
    }
    if out.is_empty() {
        match config_platforms {
            Some(ps) if !ps.is_empty() => {
                for p in ps {
                    out.push(Target::from_platform(p)?);
                }
            }
            _ => out.push(Target::from_triple(default)?),
        }
    }
    out.sort_by_key(|t| SUPPORTED.iter().position(|(_, s)| *s == t.triple));
    out.dedup();
    Ok(out)
}

/// `platforms = [...]` of the selected binaries' packages (`[package.metadata.tiny]` over
/// `[workspace.metadata.tiny]`), validated; `None` when none sets it. Packages that ask for different
/// platforms are an error (one cargo run per target builds them all).
pub fn configured_platforms(
    ws: &crate::workspace::Workspace,
    bins: &[crate::compile::plan::BinTarget],
) -> Result<Option<Vec<String>>> {
    use crate::config::{self, Overrides, Source};
    // Only the `platforms` key: the rest is checked by the image stage (not at all with --no-image).
    let only = |m: &serde_json::Value| {
        let mut v = serde_json::json!({});
        if let Some(p) = m.get("tiny").and_then(|t| t.get("platforms")) {
            v["tiny"] = serde_json::json!({ "platforms": p });
        }
        v
    };
    let root_manifest = ws.root_manifest();
    let ws_meta = only(&ws.metadata.workspace_metadata);
    let mut found: Option<(String, Vec<String>)> = None;
    let mut seen = Vec::new();
    for b in bins {
        if seen.contains(&&b.package_id) {
            continue;
        }
        seen.push(&b.package_id);
        let pkg = ws.package(&b.package_id);
        let pkg_meta = only(&pkg.metadata);
        let sources = [
            Source {
                section: "[workspace.metadata.tiny]",
                manifest: &root_manifest,
                metadata: &ws_meta,
            },
            Source {
                section: "[package.metadata.tiny]",
                manifest: &pkg.manifest_path,
                metadata: &pkg_meta,
            },
        ];
        let Some(mut ps) = config::resolve(&sources, &Overrides::default())?.platforms else {
            continue;
        };
        ps.sort();
        ps.dedup();
        match &found {
            Some((other, theirs)) if *theirs != ps => {
                return Err(Failure::new(format!(
                    "packages `{other}` and `{}` set different `platforms` ({} and {})",
                    pkg.name,
                    theirs.join(", "),
                    ps.join(", ")
                ))
                .hint("build them separately with -p, or pass --platform to build both for the same platforms")
                .into());
            }
            Some(_) => {}
            None => found = Some((pkg.name.to_string(), ps)),
        }
    }
    Ok(found.map(|(_, ps)| ps))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triples_map_to_platforms_machines_and_variables() {
        let arm = Target::from_triple("aarch64-unknown-linux-musl").unwrap();
        assert_eq!(arm.platform(), "linux/arm64");
        assert_eq!(arm.oci_arch(), ("arm64", Some("v8")));
        assert_eq!(arm.machine(), elf::EM_AARCH64);
        assert_eq!(
            arm.linker_var(),
            "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER"
        );
        assert_eq!(arm.cc_var(), "CC_aarch64_unknown_linux_musl");
        assert_eq!(arm.zig_target(), "aarch64-linux-musl");
        let x86 = Target::from_platform("linux/amd64").unwrap();
        assert_eq!(x86.triple, "x86_64-unknown-linux-musl");
        assert_eq!(x86.oci_arch(), ("amd64", None));
        assert_eq!(x86.machine(), elf::EM_X86_64);
        assert_eq!(Target::from_platform("linux/arm64/v8").unwrap(), arm);
    }

    #[test]
    fn the_default_target_is_the_hosts_when_supported() {
        let host = Target::host().map(|t| t.triple);
        assert_eq!(default_triple(), host.as_deref().unwrap_or(DEFAULT_TARGET));
        assert!(Target::from_triple(default_triple()).is_ok());
        if std::env::consts::ARCH == "x86_64" {
            assert_eq!(default_triple(), "x86_64-unknown-linux-musl");
        }
    }

    #[test]
    fn unsupported_triples_and_platforms_list_the_supported_ones() {
        let e = Target::from_triple("riscv64gc-unknown-linux-musl")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not supported"), "{e}");
        assert!(
            e.contains("x86_64-unknown-linux-musl, aarch64-unknown-linux-musl"),
            "{e}"
        );
        let e = Target::from_triple("x86_64-unknown-linux-gnu")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a musl Linux target"), "{e}");
        let e = Target::from_platform("windows/amd64")
            .unwrap_err()
            .to_string();
        assert!(e.contains("linux/amd64, linux/arm64"), "{e}");
        assert!(Target::from_platform("linux/arm/v7").is_err());
    }

    #[test]
    fn targets_are_deduplicated_in_a_fixed_order_and_the_command_line_wins() {
        let t = |v: &[Target]| v.iter().map(|t| t.platform()).collect::<Vec<_>>();
        let d = "x86_64-unknown-linux-musl";
        let both = resolve(&[], &["linux/arm64,linux/amd64".into()], None, d).unwrap();
        assert_eq!(t(&both), ["linux/amd64", "linux/arm64"]);
        let again = resolve(
            &["aarch64-unknown-linux-musl".into()],
            &["linux/amd64".into(), "linux/arm64".into()],
            None,
            d,
        )
        .unwrap();
        assert_eq!(again, both);
        let cfg = vec!["linux/arm64".to_string()];
        assert_eq!(
            t(&resolve(&[], &[], Some(&cfg), d).unwrap()),
            ["linux/arm64"]
        );
        assert_eq!(
            t(&resolve(&[], &["linux/amd64".into()], Some(&cfg), d).unwrap()),
            ["linux/amd64"]
        );
        assert_eq!(t(&resolve(&[], &[], None, d).unwrap()), ["linux/amd64"]);
        assert!(resolve(&[], &["linux/s390x".into()], None, d).is_err());
        assert!(resolve(&[], &["".into()], None, d).is_err());
        assert!(resolve(&[], &[" , ".into()], None, d).is_err());
    }
}
