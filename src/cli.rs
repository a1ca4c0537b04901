//! The command line: `cargo tiny build | size | doctor | init | setup | push`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::cargo_flags::{FeatureArgs, ResolveArgs};
use crate::shell::{Color, Verbosity};

/// The default target: static musl for x86_64.

#[derive(Debug, Parser)]
#[command(
    name = "cargo-tiny",
    bin_name = "cargo tiny",
    version,
    about = "Static, auditable, size-optimized Rust binaries in reproducible FROM-scratch images — no Docker",
    long_about = None,
    propagate_version = true,
    after_help = "Examples:\n  cargo tiny setup                 install the musl target and cargo-auditable\n  cargo tiny build                 build every binary of the workspace into an image tarball\n  cargo tiny size                  what each crate and file costs in the binaries and images\n  cargo tiny doctor                find what pulls OpenSSL or other C libraries into the build\n  cargo tiny init                  commit the size profile to the workspace's Cargo.toml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the build arguments does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build static musl binaries with cargo-auditable and write a FROM-scratch image tarball for each
    #[command(after_help = BUILD_EXAMPLES)]
    Build(BuildArgs),
    /// Find what pulls OpenSSL / native C libraries into the build, and the Cargo.toml change that fixes it
    #[command(after_help = DOCTOR_EXAMPLES)]
    Doctor(DoctorArgs),
    /// Write the size profile into the workspace root Cargo.toml, keeping its formatting
    #[command(after_help = INIT_EXAMPLES)]
    Init(InitArgs),
    /// Install what `cargo tiny build` needs on the Rust side (musl target, cargo-auditable)
    #[command(after_help = SETUP_EXAMPLES)]
    Setup(SetupArgs),
    /// Push an image tarball written by `cargo tiny build` to a registry, with its SBOM as a referrer
    #[command(after_help = PUSH_EXAMPLES)]
    Push(PushArgs),
    /// Verify the signature, SLSA provenance and SBOM attestations of an image signed by `build --sign` or `--sign-key`, in its tarball or in a registry
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(crate::verify::VerifyArgs),
    /// Build, then show what makes each binary and image big: crates, symbols, files, a treemap page
    #[command(after_help = SIZE_EXAMPLES)]
    Size(SizeArgs),
}

const SIZE_EXAMPLES: &str = "Examples:
  cargo tiny size                           every crate's share of each binary, each file's of each layer
  cargo tiny size --message-format json     the report as one JSON message (after the build's)
  cargo tiny size --baseline old.json       what grew and shrank since an earlier report (or a tarball)
  cargo tiny size --size-budget layer=2MiB,binary=4MiB   fail past the budget

The report is also written to <target-dir>/tiny/size-report.json and size-report.html (a treemap).";

/// `cargo tiny size`: the build's arguments, and what to compare with.
#[derive(Debug, Args)]
pub struct SizeArgs {
    #[command(flatten)]
    pub build: BuildArgs,
    /// An earlier report (size-report.json) or image tarball: show what grew and shrank since
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
}

const VERIFY_EXAMPLES: &str = "Examples:
  cargo tiny verify target/tiny/api.tar --key tiny.pub
  cargo tiny verify target/tiny/api.tar \\
    --certificate-identity https://github.com/OWNER/REPO/.github/workflows/release.yml@refs/heads/main \\
    --certificate-oidc-issuer https://token.actions.githubusercontent.com
  cargo tiny verify target/tiny/api.tar --key tiny.pub --message-format json
  cargo tiny verify ghcr.io/acme/api:1.2.0 --key tiny.pub        in a registry (by tag or @sha256:…)
  cargo tiny verify localhost:5000/api:1.2.0 --key tiny.pub --registry-ca ca.pem";

const PUSH_EXAMPLES: &str = "Examples:
  cargo tiny push target/tiny/api.tar                     to the name:tag it was built as
  cargo tiny push target/tiny/api.tar ghcr.io/acme/api:1.2 --tag latest
  cargo tiny push api.tar localhost:5000/api              plain HTTP: loopback registries only
  cargo tiny push api.tar registry.lan/api --registry-ca ca.pem";

/// How to reach registries (`build --push` and `push`).
#[derive(Debug, Args, Clone, Default)]
pub struct RegistryArgs {
    /// Another tag (repeatable; adds to `tags = [...]` in [package.metadata.tiny]): `build` tags the local image with it too (docker load), --push and `push` push it
    #[arg(short = 't', long = "tag", value_name = "TAG")]
    pub tag: Vec<String>,
    /// Trust this PEM CA for registry TLS, besides the system roots (repeatable)
    #[arg(long, value_name = "FILE")]
    pub registry_ca: Vec<PathBuf>,
    /// Reach this registry host[:port] over plain HTTP (loopback hosts may use HTTP without it)
    #[arg(long, value_name = "HOST")]
    pub insecure_registry: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The image tarball an earlier `cargo tiny build` wrote
    #[arg(value_name = "TARBALL")]
    pub tarball: PathBuf,
    /// Where to push: HOST/NAME[:TAG] (default: the name:tag the image was built as)
    #[arg(value_name = "REFERENCE")]
    pub reference: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// Output format for machine-readable results on stdout
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human)]
    pub message_format: MessageFormat,
}

const BUILD_EXAMPLES: &str = "Examples:
  cargo tiny build                          every binary of the default members
  cargo tiny build -p api --bin server      one binary
  cargo tiny build --no-image               only the static binaries, no tarball
  cargo tiny build --bin api --image ghcr.io/me/api:1.2 -o api.tar
  cargo tiny build --message-format json    one JSON object per binary/image on stdout
  cargo tiny build --target aarch64-unknown-linux-musl
  cargo tiny build --platform linux/amd64,linux/arm64   both in one tarball, under one index
  cargo tiny build --compression zstd       smaller layer for podman/containerd (not docker 20.10)
  cargo tiny build --sbom cyclonedx,spdx    both SBOM formats beside the tarball, each attached
  cargo tiny build --vex app.openvex.json   attach VEX statements to the image
  cargo tiny build --sign                   keyless (CI's OIDC token): signature, SLSA provenance, SBOM attestations
  cargo tiny build --sign-key tiny.key      the same with a key
  cargo tiny build --size max               nightly: rebuild std for size, immediate-abort panics
  cargo tiny build --push --image ghcr.io/acme/api --tag latest
  cargo tiny build --load                   also into the local docker (or podman)";

const DOCTOR_EXAMPLES: &str = "Examples:
  cargo tiny doctor                         human report, exit 1 when a build would fail
  cargo tiny doctor --message-format github annotations on the Cargo.toml lines to change
  cargo tiny doctor --fix --dry-run         show the Cargo.toml diff, verified by `cargo check` on a copy
  cargo tiny doctor --fix --no-check        fix by the dependency graph only (fast, unverified build)
  cargo tiny doctor --check                 also build-check (cargo check --target) without fixing";

const INIT_EXAMPLES: &str = "Examples:
  cargo tiny init                           patch [profile.release] of the workspace root
  cargo tiny init --dry-run                 show the diff, write nothing
  cargo tiny init --profile tiny            add [profile.tiny] (inherits release) instead";

const SETUP_EXAMPLES: &str = "Examples:
  cargo tiny setup                          rustup target add + cargo install cargo-auditable
  cargo tiny setup --target aarch64-unknown-linux-musl
  cargo tiny setup --platform linux/arm64   the arm64 target, and zig for crates that compile C
  cargo tiny setup --size max               also nightly + rust-src for `build --size max`";

/// Flags every subcommand shares.
#[derive(Debug, Args, Clone)]
pub struct CommonArgs {
    /// Path to Cargo.toml
    #[arg(
        long,
        value_name = "PATH",
        global = true,
        help_heading = "Manifest Options"
    )]
    pub manifest_path: Option<PathBuf>,
    /// Use verbose output (-vv very verbose: also passed to cargo)
    #[arg(short, long, action = clap::ArgAction::Count, global = true, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Do not print cargo-tiny's status lines (passed to cargo too)
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Coloring
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = Color::Auto, global = true)]
    pub color: Color,
}

impl CommonArgs {
    pub fn verbosity(&self) -> Verbosity {
        if self.quiet {
            Verbosity::Quiet
        } else if self.verbose > 0 {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum MessageFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Package(s) to build (see `cargo help pkgid`)
    #[arg(
        short,
        long = "package",
        value_name = "SPEC",
        help_heading = "Package Selection"
    )]
    pub package: Vec<String>,
    /// Build every member of the workspace
    #[arg(long, conflicts_with = "package", help_heading = "Package Selection")]
    pub workspace: bool,
    /// Exclude packages from --workspace (repeatable)
    #[arg(
        long,
        value_name = "SPEC",
        requires = "workspace",
        help_heading = "Package Selection"
    )]
    pub exclude: Vec<String>,
    /// Build only the named binary (repeatable)
    #[arg(long = "bin", value_name = "NAME", help_heading = "Target Selection")]
    pub bin: Vec<String>,
    #[command(flatten, next_help_heading = "Feature Selection")]
    pub features: FeatureArgs,
    #[command(flatten, next_help_heading = "Manifest Options")]
    pub resolve: ResolveArgs,
    /// Directory for all generated artifacts
    #[arg(long, value_name = "DIRECTORY", help_heading = "Compilation Options")]
    pub target_dir: Option<PathBuf>,
    /// Target triple (repeatable): x86_64-unknown-linux-musl or aarch64-unknown-linux-musl (default: the host's)
    #[arg(
        long = "target",
        value_name = "TRIPLE",
        help_heading = "Compilation Options"
    )]
    pub target: Vec<String>,
    /// Platforms to build, one image per platform under one index: linux/amd64,linux/arm64
    #[arg(
        long,
        value_name = "OS/ARCH,...",
        value_delimiter = ',',
        help_heading = "Compilation Options"
    )]
    pub platform: Vec<String>,
    /// With several platforms: the one `docker load` gets from the tarball (default: the host's)
    #[arg(long, value_name = "OS/ARCH", help_heading = "Compilation Options")]
    pub docker_platform: Option<String>,
    /// Cargo profile to build with
    #[arg(
        long,
        value_name = "PROFILE-NAME",
        default_value = "release",
        help_heading = "Compilation Options"
    )]
    pub profile: String,
    /// Build with the release profile: the default, accepted as cargo takes it
    #[arg(short, long, help_heading = "Compilation Options")]
    pub release: bool,
    /// Number of parallel jobs (passed to cargo; default: the number of CPUs)
    #[arg(
        short,
        long,
        value_name = "N",
        allow_hyphen_values = true,
        help_heading = "Compilation Options"
    )]
    pub jobs: Option<String>,
    /// Write cargo's timing report of the compile (passed to cargo: target/cargo-timings/)
    #[arg(long, help_heading = "Compilation Options")]
    pub timings: bool,
    /// Override a cargo configuration value, KEY=VALUE or a config file PATH (passed to cargo)
    #[arg(
        long,
        value_name = "KEY=VALUE|PATH",
        help_heading = "Compilation Options"
    )]
    pub config: Vec<String>,
    /// Also set `panic = "abort"` in the size profile
    #[arg(
        long,
        conflicts_with = "no_size_profile",
        help_heading = "Compilation Options"
    )]
    pub panic_abort: bool,
    /// Build with the profile exactly as the manifest defines it
    #[arg(long, help_heading = "Compilation Options")]
    pub no_size_profile: bool,
    /// How far to go for size: profile (default) or max (nightly: rebuild std for size, immediate-abort panics)
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = crate::size_max::Size::Profile, conflicts_with = "no_size_profile", help_heading = "Compilation Options")]
    pub size: crate::size_max::Size,
    /// Output format for machine-readable results on stdout
    #[arg(long, value_enum, value_name = "FMT", default_value_t = MessageFormat::Human, help_heading = "Output")]
    pub message_format: MessageFormat,
    /// Stop after the verified binaries: write no image tarball
    #[arg(long, help_heading = "Image")]
    pub no_image: bool,
    /// Where to write the image tarball (only with a single image)
    #[arg(
        short,
        long,
        value_name = "PATH",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub output: Option<PathBuf>,
    /// Image name and tag (default: the bin name and the package version; only with a single image)
    #[arg(
        long,
        value_name = "NAME[:TAG]",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub image: Option<String>,
    /// Put every image name without a registry host under this prefix: ghcr.io/acme/api for bin api (also CARGO_TINY_REPOSITORY, or repository = "…" in [workspace.metadata.tiny])
    #[arg(
        long,
        value_name = "PREFIX",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub repository: Option<String>,
    /// CA bundle in the image: auto (when the binary reads the system trust store), always, never
    #[arg(
        long,
        value_enum,
        value_name = "WHEN",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub ca_certificates: Option<crate::config::CaCertificates>,
    /// User the image runs as: nonroot (65532, the default), root, or UID[:GID]
    #[arg(
        long,
        value_name = "USER",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub user: Option<String>,
    /// Push every image to its registry (the image name must carry a host, e.g. ghcr.io/acme/api)
    #[arg(long, conflicts_with = "no_image", help_heading = "Registry")]
    pub push: bool,
    #[command(flatten, next_help_heading = "Registry")]
    pub registry: RegistryArgs,
    /// Also load the image into the local engine: docker (its socket; DOCKER_HOST), else podman (its socket, else `podman load`); with several platforms, the --docker-platform one
    #[arg(long, value_enum, value_name = "ENGINE", num_args = 0..=1, require_equals = true, default_missing_value = "auto", conflicts_with = "no_image", help_heading = "Image")]
    pub load: Option<crate::settings::LoadInto>,
    /// Layer compression: gzip (default, level 9), gzip-max (zopfli, slower, smaller), zstd (podman/skopeo/containerd; not docker 20.10)
    #[arg(
        long,
        value_enum,
        value_name = "ALGO",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub compression: Option<crate::settings::Compression>,
    /// SBOM formats written beside the tarball and attached: cyclonedx (default, 1.6), spdx (2.3), or both: cyclonedx,spdx (also cyclonedx-1.5, cyclonedx-1.7, spdx-3.0.1)
    #[arg(
        long,
        value_name = "FORMAT,...",
        value_delimiter = ',',
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub sbom: Vec<String>,
    /// OpenVEX document attached to every image manifest (checked before compiling)
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub vex: Option<PathBuf>,
    /// Sign each image manifest with this key (PKCS#8 PEM ECDSA P-256): a signature, the SLSA v1 provenance and each SBOM/VEX attestation, as Sigstore bundle referrers
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with = "no_image",
        help_heading = "Image"
    )]
    pub sign_key: Option<PathBuf>,
    /// Sign each image manifest (and the index): keyless with an OIDC token (GitHub Actions' with `id-token: write`, or SIGSTORE_ID_TOKEN), a Fulcio certificate and a Rekor entry; with --sign-key, with that key
    #[arg(long, conflicts_with = "no_image", help_heading = "Image")]
    pub sign: bool,
    /// Do not sign, whatever `sign = true` in [*.metadata.tiny] says (a local build without an OIDC token)
    #[arg(long, conflicts_with_all = ["sign", "sign_key"], help_heading = "Image")]
    pub no_sign: bool,
    /// Keyless: the Fulcio instance that certifies the signing key [env: CARGO_TINY_FULCIO_URL] [default: https://fulcio.sigstore.dev]
    #[arg(long, value_name = "URL", conflicts_with_all = ["sign_key", "no_sign", "no_image"], help_heading = "Image")]
    pub fulcio_url: Option<String>,
    /// Keyless: the Rekor log that records each signature [env: CARGO_TINY_REKOR_URL] [default: https://rekor.sigstore.dev]
    #[arg(long, value_name = "URL", conflicts_with_all = ["sign_key", "no_sign", "no_image"], help_heading = "Image")]
    pub rekor_url: Option<String>,
    /// Keyless: an RFC 3161 timestamp authority (…/api/v1/timestamp) that timestamps each signature [env: CARGO_TINY_TSA_URL]
    #[arg(long, value_name = "URL", conflicts_with_all = ["sign_key", "no_sign", "no_image"], help_heading = "Image")]
    pub timestamp_server_url: Option<String>,
    /// Keyless: trust this PEM CA for the Sigstore services' TLS, besides the system roots [env: CARGO_TINY_SIGSTORE_CA]
    #[arg(long, value_name = "FILE", conflicts_with_all = ["sign_key", "no_sign", "no_image"], help_heading = "Image")]
    pub sigstore_ca: Option<PathBuf>,
    /// Fail past these sizes: layer=SIZE,binary=SIZE (e.g. layer=2MiB; over `size-budget` in [package.metadata.tiny])
    #[arg(long, value_name = "LIMITS", value_parser = crate::settings::SizeBudget::from_flag, help_heading = "Image")]
    pub size_budget: Option<crate::settings::SizeBudget>,
}

impl BuildArgs {
    /// The Sigstore endpoints the command line names.
    pub fn endpoints(&self) -> crate::sign::keyless::Endpoints {
        crate::sign::keyless::Endpoints {
            fulcio: self.fulcio_url.clone(),
            rekor: self.rekor_url.clone(),
            tsa: self.timestamp_server_url.clone(),
            ca: self.sigstore_ca.clone(),
        }
    }
}

/// doctor's report formats (defined with the report renderers).
pub use crate::doctor::report::Format as ReportFormat;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Deny {
    Warnings,
}

#[derive(Debug, Args, Clone)]
pub struct DoctorArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Package(s) whose dependency graph to check (default: the default members, which `cargo tiny build` builds)
    #[arg(short, long = "package", value_name = "SPEC")]
    pub package: Vec<String>,
    /// Check every member of the workspace
    #[arg(long, conflicts_with = "package")]
    pub workspace: bool,
    #[command(flatten)]
    pub features: FeatureArgs,
    #[command(flatten)]
    pub resolve: ResolveArgs,
    /// Target triple the graph is resolved for
    #[arg(long, value_name = "TRIPLE", default_value = crate::target::default_triple())]
    pub target: String,
    /// Report format: human, json (one finding per line on stdout) or github (annotations)
    #[arg(long = "message-format", visible_alias = "format", value_enum, value_name = "FMT", default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Treat warnings as errors for the exit code
    #[arg(long, value_enum, value_name = "LEVEL")]
    pub deny: Option<Deny>,
    /// Apply the fixes to the manifests, each verified by `cargo check --target <TRIPLE>` on a copy
    #[arg(long)]
    pub fix: bool,
    /// With --fix: print the diff, write nothing
    #[arg(long, requires = "fix")]
    pub dry_run: bool,
    /// Also verify by building without fixing: `cargo check --target <TRIPLE>` on a copy
    #[arg(long, conflicts_with = "fix")]
    pub check: bool,
    /// With --fix: verify the fixes by the dependency graph only, not by `cargo check`
    #[arg(long, requires = "fix")]
    pub no_check: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Write `[profile.NAME]` (inherits = "release") instead of patching [profile.release]
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Also write `panic = "abort"`
    #[arg(long)]
    pub panic_abort: bool,
    /// Replace keys the manifest already sets to other values
    #[arg(long)]
    pub force: bool,
    /// Print the diff, write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct SetupArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Target triple(s) to install
    #[arg(long, value_name = "TRIPLE", default_values_t = [crate::target::default_triple().to_string()])]
    pub target: Vec<String>,
    /// Also the platforms' targets and, for another architecture, zig as the C cross compiler
    #[arg(long, value_name = "OS/ARCH,...", value_delimiter = ',')]
    pub platform: Vec<String>,
    /// With max: also the nightly toolchain with rust-src and the targets, for `build --size max`
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = crate::size_max::Size::Profile)]
    pub size: crate::size_max::Size,
    /// Print the commands, run nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn features_split_on_commas_and_spaces() {
        let f = FeatureArgs {
            features: vec!["a,b".into(), "c d".into()],
            ..Default::default()
        };
        assert_eq!(f.list(), ["a", "b", "c", "d"]);
        assert_eq!(f.cargo_args(), ["--features", "a,b,c,d"]);
    }
}
