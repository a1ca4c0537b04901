//! Findings: what a check reports.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

/// Every code a finding can have, in the order of the findings reference, which has one section per
/// code (`docs/src/reference/doctor-findings.md`; `tests/docs.rs` checks the two lists and the
/// codes the checks write against each other).
pub const CODES: &[&str] = &[
    "tls-native",
    "tls-native-unknown",
    "native-static",
    "native-system",
    "native-unknown",
    "native-build",
    "build-check",
    "crypto-two-providers",
    "certs-system-store",
    "profile-size",
    "profile-ignored",
    "toolchain-target",
    "toolchain-auditable",
    "toolchain-cc",
    "toolchain-cmake",
    "toolchain-cxx",
    "pid1-signals",
    "missing-program",
    "size-budget",
    "host-files",
    "source-skipped",
];

/// The findings reference as the repository shows it; a code's section is `#<code>`.
pub const REFERENCE_URL: &str =
    "https://github.com/cargo-tiny/cargo-tiny/blob/main/docs/src/reference/doctor-findings.md";

/// One problem (or note) with its fix and where to apply it.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable code: `tls-native`, `tls-native-unknown`, `native-static`, `native-system`,
    /// `native-unknown`, `native-build`, `build-check`, `crypto-two-providers`,
    /// `certs-system-store`, `profile-size`, `profile-ignored`, `toolchain-target`,
    /// `toolchain-auditable`, `toolchain-cc`, `toolchain-cmake`, `toolchain-cxx`, `pid1-signals`,
    /// `missing-program`, `host-files`, `source-skipped`, `size-budget`.
    pub code: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The chain from the workspace member, feature-annotated: `app → reqwest [default → default-tls] → native-tls → openssl-sys`.
    pub path: Vec<String>,
    /// Replacement line for the dependency, or advice.
    pub fix: Option<String>,
    /// Manifest to change (absolute).
    pub file: Option<String>,
    /// 1-based line of the dependency declaration.
    pub line: Option<usize>,
    /// The machine-applicable edit behind `fix` (used by `--fix`).
    #[serde(skip)]
    pub edit: Option<Edit>,
    /// How the fix was verified: `cargo-check` (the musl check of the fixed copy passed) or
    /// `graph` (cargo's re-resolved graph of the fixed copy no longer has the problem).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<&'static str>,
}

/// A manifest edit `--fix` can apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Merge the inline table `value` into the declaration of `key` in the dependency table at
    /// `table`: `["dependencies"]`, `["target", "cfg(unix)", "dependencies"]`, or the root's
    /// `["workspace", "dependencies"]` (when the member says `workspace = true`).
    Dependency {
        table: Vec<String>,
        key: String,
        value: String,
    },
    /// In `[features]`, replace `old` by `new` in the list of feature `feature`.
    FeatureValue {
        feature: String,
        old: String,
        new: String,
    },
    /// In `[features]`, append `value` to the list of feature `feature` (created if absent).
    AddFeatureValue { feature: String, value: String },
    /// In `[features]`, remove `values` from the list of feature `feature`.
    RemoveFeatureValues {
        feature: String,
        values: Vec<String>,
    },
    /// As [`Edit::Dependency`], and the declaration's `version` becomes `value`'s (an upgrade to a
    /// version that has the feature).
    Upgrade {
        table: Vec<String>,
        key: String,
        value: String,
    },
    /// Declare `key = value` in the dependency table at `table` (created if absent); a `key`
    /// already declared there is merged as [`Edit::Dependency`] does.
    AddDependency {
        table: Vec<String>,
        key: String,
        value: String,
    },
}

impl Finding {
    /// Where the finding's code is explained: its section of the findings reference.
    pub fn help_url(&self) -> String {
        format!("{REFERENCE_URL}#{}", self.code)
    }
}
