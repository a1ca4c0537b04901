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
    SUPPORTED
        .iter()
        .find(|s| s.cpu == std::env::consts::ARCH)
        .map(|s| s.triple)
}

/// Everything cargo-tiny derives from one supported triple.
#[derive(Debug, PartialEq, Eq)]
pub struct Spec {
    /// `aarch64-unknown-linux-musl`.
    pub triple: &'static str,
    /// The OCI `os`, `architecture` and `variant`.
    pub os: &'static str,
    pub arch: &'static str,
    pub variant: Option<&'static str>,
    /// The ELF `e_machine` its binaries carry.
    pub machine: u16,
    /// The triple's first part (`aarch64`): Rust's `target_arch`, and the prefix of the GNU/musl tool
    /// names (`aarch64-linux-musl-gcc`).
    pub cpu: &'static str,
    /// zig's name of the target.
    pub zig: &'static str,
}

/// One row per supported triple, in the fixed order images are listed in an index. A new platform
/// is a new row (and its C cross compiler in `crate::cross`).
pub const SUPPORTED: &[Spec] = &[
    Spec {
        triple: "x86_64-unknown-linux-musl",
        os: "linux",
        arch: "amd64",
        variant: None,
        machine: elf::EM_X86_64,
        cpu: "x86_64",
        zig: "x86_64-linux-musl",
    },
    Spec {
        triple: "aarch64-unknown-linux-musl",
        os: "linux",
        arch: "arm64",
        variant: Some("v8"),
        machine: elf::EM_AARCH64,
        cpu: "aarch64",
        zig: "aarch64-linux-musl",
    },
];

/// A build target: one row of [`SUPPORTED`]. Ordered as the table is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Target {
    row: usize,
    /// `aarch64-unknown-linux-musl` (the row's, as a `String` for the callers that keep it).
    pub triple: String,
}

impl Target {
    fn of_row(row: usize) -> Target {
        Target {
            row,
            triple: SUPPORTED[row].triple.to_string(),
        }
    }

    /// Every supported target, in the table's order.
    pub fn all() -> impl Iterator<Item = Target> {
        (0..SUPPORTED.len()).map(Target::of_row)
    }

    /// This target's row.
    pub fn spec(&self) -> &'static Spec {
        &SUPPORTED[self.row]
    }

    /// A supported Rust triple, or a one-line error listing the supported ones.
    pub fn from_triple(triple: &str) -> Result<Target> {
        if let Some(row) = SUPPORTED.iter().position(|s| s.triple == triple) {
            return Ok(Target::of_row(row));
        }
        if !triple.contains("-linux-musl") {
            return Err(
                Failure::new(format!("target `{triple}` is not a musl Linux target"))
                    .hint(format!(
                    "cargo tiny builds static musl binaries: use --target {} (or --platform {})",
                    list(|s| s.triple.to_string()).replace(", ", " or "),
                    list(platform_of).replace(", ", ",")
                ))
                    .into(),
            );
        }
        Err(Failure::new(format!(
            "target `{triple}` is not supported; supported targets: {}",
            list(|s| s.triple.to_string())
        ))
        .hint(format!("cargo tiny builds static musl binaries: pass one of the supported targets to --target (or --platform {})", list(platform_of).replace(", ", ",")))
        .into())
    }

    /// A supported OCI platform (`linux/arm64`, also with its variant: `linux/arm64/v8`), or a
    /// one-line error.
    pub fn from_platform(platform: &str) -> Result<Target> {
        let p = platform.trim();
        let row = SUPPORTED.iter().position(|s| {
            p == platform_of(s)
                || s.variant
                    .is_some_and(|v| p == format!("{}/{v}", platform_of(s)))
        });
        match row {
            Some(row) => Ok(Target::of_row(row)),
            None => Err(Failure::new(format!(
                "platform `{platform}` is not supported; supported platforms: {}",
                list(platform_of)
            ))
            .hint(format!(
                "pass e.g. --platform {} (or platforms = [{}] in [package.metadata.tiny])",
                list(platform_of).replace(", ", ","),
                list(|s| format!("\"{}\"", platform_of(s)))
            ))
            .into()),
        }
    }

    /// The platform of the machine cargo-tiny runs on, when it is a supported one.
    pub fn host() -> Option<Target> {
        host_triple().and_then(|t| Target::from_triple(t).ok())
    }

    /// `aarch64`: the first part of the triple (Rust's `target_arch`).
    pub fn cpu(&self) -> &'static str {
        self.spec().cpu
    }

    /// Whether binaries of this target run natively here (no cross linker needed).
    pub fn is_host(&self) -> bool {
        self.cpu() == std::env::consts::ARCH
    }

    /// The OCI `architecture` and `variant`.
    pub fn oci_arch(&self) -> (&'static str, Option<&'static str>) {
        (self.spec().arch, self.spec().variant)
    }

    /// `linux/arm64`.
    pub fn platform(&self) -> String {
        platform_of(self.spec())
    }

    /// The OCI `platform` object of an index entry.
    pub fn platform_json(&self) -> serde_json::Value {
        let s = self.spec();
        let mut p = serde_json::json!({"architecture": s.arch, "os": s.os});
        if let Some(v) = s.variant {
            p["variant"] = serde_json::json!(v);
        }
        p
    }

    /// The ELF `e_machine` its binaries carry.
    pub fn machine(&self) -> u16 {
        self.spec().machine
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
    pub fn zig_target(&self) -> &'static str {
        self.spec().zig
    }
}

/// `os/arch` of a row.
fn platform_of(s: &Spec) -> String {
    format!("{}/{}", s.os, s.arch)
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.triple)
    }
}

fn list(pick: impl Fn(&Spec) -> String) -> String {
    SUPPORTED.iter().map(pick).collect::<Vec<_>>().join(", ")
}

/// The targets named on the command line: `--target` triples and `--platform` lists (each
/// comma-separated), checked; `None` when neither is given.
pub fn from_cli(triples: &[String], platforms: &[String]) -> Result<Option<Vec<Target>>> {
    let mut out = Vec::new();
    for t in triples {
        out.push(Target::from_triple(t)?);
    }
    for p in platforms {
        for one in p.split(',').filter(|s| !s.trim().is_empty()) {
            out.push(Target::from_platform(one)?);
        }
    }
    if out.is_empty() && !platforms.is_empty() {
        return Err(Failure::new("--platform names no platform")
            .hint(format!(
                "pass e.g. --platform {}",
                list(platform_of).replace(", ", ",")
            ))
            .into());
    }
    Ok((!out.is_empty()).then(|| sorted(out)))
}

/// The targets of a build: the command line's win over `platforms = [...]` from the metadata, which
/// win over the default triple. Duplicates are dropped and the result is in [`SUPPORTED`]'s order,
/// so the index is the same whatever order they were asked in.
pub fn resolve(
    cli: Option<&[Target]>,
    configured: Option<&[Target]>,
    default: &str,
) -> Result<Vec<Target>> {
    Ok(match (cli, configured) {
        (Some(c), _) if !c.is_empty() => sorted(c.to_vec()),
        (_, Some(c)) if !c.is_empty() => sorted(c.to_vec()),
        _ => vec![Target::from_triple(default)?],
    })
}

fn sorted(mut v: Vec<Target>) -> Vec<Target> {
    v.sort();
    v.dedup();
    v
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
        let both = from_cli(&[], &["linux/arm64,linux/amd64".into()])
            .unwrap()
            .unwrap();
        assert_eq!(t(&both), ["linux/amd64", "linux/arm64"]);
        let again = from_cli(
            &["aarch64-unknown-linux-musl".into()],
            &["linux/amd64".into(), "linux/arm64".into()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(again, both);
        assert_eq!(from_cli(&[], &[]).unwrap(), None);
        let arm = [Target::from_platform("linux/arm64").unwrap()];
        let amd = [Target::from_platform("linux/amd64").unwrap()];
        assert_eq!(t(&resolve(None, Some(&arm), d).unwrap()), ["linux/arm64"]);
        assert_eq!(
            t(&resolve(Some(&amd), Some(&arm), d).unwrap()),
            ["linux/amd64"]
        );
        assert_eq!(t(&resolve(None, None, d).unwrap()), ["linux/amd64"]);
        assert!(from_cli(&[], &["linux/s390x".into()]).is_err());
        assert!(from_cli(&[], &["".into()]).is_err());
        assert!(from_cli(&[], &[" , ".into()]).is_err());
    }

    /// Every row is whole and unique: a triple, platform or ELF machine is never two targets.
    #[test]
    fn the_table_has_one_row_per_triple() {
        for (k, s) in SUPPORTED.iter().enumerate() {
            let t = Target::from_triple(s.triple).unwrap();
            assert_eq!(t.spec(), s);
            assert_eq!(Target::from_platform(&t.platform()).unwrap(), t);
            assert!(s.triple.starts_with(&format!("{}-", s.cpu)), "{}", s.triple);
            assert!(s.zig.starts_with(s.cpu) && s.zig.ends_with("-linux-musl"));
            for other in &SUPPORTED[k + 1..] {
                assert_ne!(s.triple, other.triple);
                assert_ne!((s.os, s.arch), (other.os, other.arch));
                assert_ne!(s.machine, other.machine);
            }
        }
        assert_eq!(Target::all().count(), SUPPORTED.len());
    }
}
