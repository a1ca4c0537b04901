//! Crate knowledge as data: what doctor and the image know about individual crates, compiled in
//! from the `.toml` files next to this module, parsed once, typed with serde.
//!
//! - `tls.toml`: crates that bring native-tls / OpenSSL and their rustls (or vendored) replacement;
//! - `host_files.toml`: crates that read files of the host at run time;
//! - `crates.toml`: the native TLS crates, the trust-store crates (the image's CA decision and
//!   doctor's certs check), the crates that compile or link a C library (how they build for musl,
//!   and which of their features build it from source), and the packages doctor's graph completes;
//! - `size.toml`: lighter alternatives and heavy default features `cargo tiny size` may advise.
//!
//! `tests/knowledge.rs` checks every crate and feature named here against the real crates.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// Everything the data files say.
#[derive(Debug)]
pub struct Knowledge {
    pub tls: KnowledgeBase,
    pub host_files: HostFiles,
    pub crates: Crates,
    pub size: SizeAdvice,
}

/// The compiled-in knowledge, parsed on first use.
pub fn get() -> &'static Knowledge {
    static K: OnceLock<Knowledge> = OnceLock::new();
    K.get_or_init(|| Knowledge {
        tls: parse("tls.toml", include_str!("tls.toml")),
        host_files: parse("host_files.toml", include_str!("host_files.toml")),
        crates: parse("crates.toml", include_str!("crates.toml")),
        size: parse("size.toml", include_str!("size.toml")),
    })
}

/// The data files are part of the source, and `knowledge::tests` parses each of them: a parse
/// error is a bug in this build, not a user error.
fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> T {
    toml::from_str(text).unwrap_or_else(|e| panic!("src/knowledge/{file} is invalid: {e}"))
}

/// One crate and major version of `tls.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsEntry {
    pub name: String,
    pub major: String,
    pub native: Vec<String>,
    pub rustls: Vec<String>,
    pub rustls_native_roots: Vec<String>,
    pub default_native: bool,
    pub other_defaults: Vec<String>,
    /// Native feature → what replaces it besides the rustls features (e.g. the runtime part of sqlx's combined features).
    #[serde(default)]
    pub replace: BTreeMap<String, Vec<String>>,
    /// The crate's feature that vendors OpenSSL (for crates with no rustls option).
    #[serde(default)]
    pub vendored: Option<String>,
}

impl TlsEntry {
    /// Whether the entry knows a rustls switch (else only, perhaps, a vendored feature).
    pub fn has_rustls(&self) -> bool {
        !self.rustls.is_empty() || !self.replace.is_empty()
    }

    /// Every feature name the entry holds.
    pub fn features(&self) -> impl Iterator<Item = &String> {
        [
            &self.native,
            &self.rustls,
            &self.rustls_native_roots,
            &self.other_defaults,
        ]
        .into_iter()
        .flatten()
        .chain(
            self.replace
                .iter()
                .flat_map(|(k, vs)| std::iter::once(k).chain(vs)),
        )
        .chain(self.vendored.iter())
    }
}

/// `tls.toml`: the TLS knowledge base.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnowledgeBase {
    #[serde(rename = "crate")]
    pub crates: Vec<TlsEntry>,
}

impl KnowledgeBase {
    /// The entry for `name` at `version` (its [`major`]).
    pub fn get(&self, name: &str, version: &str) -> Option<&TlsEntry> {
        let major = major(version);
        self.crates
            .iter()
            .find(|e| e.name == name && e.major == major)
    }
}

/// The semver-compatible series of a version, as `tls.toml` names it: `0.12` for 0.12.x, `0.0.3`
/// for 0.0.3, `1` for 1.x. Not a version (cargo never prints one): itself.
pub fn major(version: &str) -> String {
    match cargo_metadata::semver::Version::parse(version) {
        Ok(v) if v.major > 0 => v.major.to_string(),
        Ok(v) if v.minor > 0 => format!("0.{}", v.minor),
        Ok(v) => format!("0.0.{}", v.patch),
        Err(_) => version.to_string(),
    }
}

/// One crate of `host_files.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFile {
    pub name: String,
    /// Reported only when this feature is on.
    pub feature: Option<String>,
    /// Not reported when one of these features is on.
    #[serde(default)]
    pub unless: Vec<String>,
    /// Not reported when one of these crates is reported.
    #[serde(default)]
    pub reported_by: Vec<String>,
    /// Paths of the APIs that read the files: named by the workspace's own code → warning, else info.
    #[serde(default)]
    pub calls: Vec<String>,
    pub reads: Vec<String>,
    pub symptom: String,
    pub fix: String,
}

/// `host_files.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostFiles {
    #[serde(rename = "crate")]
    pub crates: Vec<HostFile>,
}

/// `crates.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Crates {
    /// Crates whose presence means native TLS / OpenSSL in the binary.
    pub native_tls: Vec<String>,
    /// Packages doctor's graph completes with an inverted tree (besides native TLS and `links` crates).
    pub graph_inverted: Vec<String>,
    pub trust_store: TrustStore,
    /// Crates that compile or link a C/C++ library.
    pub native: Vec<Native>,
}

impl Crates {
    pub fn is_native_tls(&self, name: &str) -> bool {
        self.native_tls.iter().any(|c| c == name)
    }

    /// What the data says of native crate `name`.
    pub fn native(&self, name: &str) -> Option<&Native> {
        self.native.iter().find(|n| n.name == name)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustStore {
    /// Crates that read the system trust store at run time.
    pub system: Vec<String>,
    /// The OpenSSL stack's share of `system` (doctor's tls check reports it).
    pub openssl_stack: Vec<String>,
    /// Crates that compile the roots into the binary.
    pub built_in: Vec<String>,
}

/// One crate of `crates.toml`'s `[[native]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Native {
    pub name: String,
    /// The library as users know it (`libpq (PostgreSQL client)`).
    pub library: String,
    /// What the crate does for musl with none of `static_features` on.
    pub default: NativeDefault,
    /// Features that build the library from source, in order of preference.
    #[serde(default, rename = "static")]
    pub static_features: Vec<String>,
    /// The first version with one of them.
    #[serde(default)]
    pub static_since: Option<String>,
    /// Features that make a crate which builds its library from source link the system's instead
    /// (zstd-sys's `pkg-config`): on for a musl target, the build script asks pkg-config, which
    /// does not answer for another target.
    #[serde(default, rename = "system")]
    pub system_features: Vec<String>,
    /// Tools a build from source needs besides a musl C compiler: `cmake`, `c++`.
    #[serde(default)]
    pub needs: Vec<String>,
    /// What a FROM-scratch image still lacks once it builds.
    #[serde(default)]
    pub note: Option<String>,
}

/// What a native crate does for a musl target by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NativeDefault {
    /// Builds the library from its own sources.
    Source,
    /// Links the system's library, which has no musl build: the link fails.
    System,
    /// A library a FROM-scratch image cannot have, with no way to build it here.
    SystemOnly,
}

/// `size.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SizeAdvice {
    pub lighter: Vec<Lighter>,
    pub feature: Vec<HeavyFeature>,
}

/// A crate with a lighter alternative (said only when the binary's package depends on it itself).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lighter {
    pub name: String,
    /// Crates that come with it and go with it (regex's regex-syntax and regex-automata).
    #[serde(default)]
    pub family: Vec<String>,
    /// Said when the crate and its family own at least this share of the binary.
    pub min_share: f64,
    /// The alternative, as the advice says it.
    pub instead: String,
    /// The crates `instead` names (checked to exist).
    pub crates: Vec<String>,
    pub why: String,
}

/// A feature of `via` (at `major`) that brings `name` in (said only when the binary's package does
/// not depend on `name` or its family itself).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeavyFeature {
    pub name: String,
    /// Crates that come in with it.
    #[serde(default)]
    pub family: Vec<String>,
    pub via: String,
    pub major: String,
    pub feature: String,
    pub min_share: f64,
    pub why: String,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn tls_parses_with_unique_entries() {
        let kb = &get().tls;
        assert!(kb.get("reqwest", "0.12.28").is_some());
        // Every entry names at least one native and one rustls feature, and crate/major pairs are unique.
        let mut seen = BTreeSet::new();
        for e in &kb.crates {
            assert!(
                (!e.native.is_empty() && e.has_rustls()) || e.vendored.is_some(),
                "{}",
                e.name
            );
            assert!(
                seen.insert((e.name.clone(), e.major.clone())),
                "duplicate {} {}",
                e.name,
                e.major
            );
        }
    }

    #[test]
    fn host_files_parse_with_unique_names() {
        let mut seen = BTreeSet::new();
        for e in &get().host_files.crates {
            assert!(seen.insert(e.name.clone()), "duplicate {}", e.name);
            assert!(!e.reads.is_empty() && !e.fix.is_empty(), "{}", e.name);
        }
    }

    #[test]
    fn crates_lists_agree() {
        let c = &get().crates;
        let t = &c.trust_store;
        for n in &t.openssl_stack {
            assert!(
                t.system.contains(n),
                "{n} is in openssl_stack, not in system"
            );
        }
        for n in &t.built_in {
            assert!(!t.system.contains(n), "{n} is both built_in and system");
        }
        let mut seen = BTreeSet::new();
        for n in &c.native {
            assert!(seen.insert(n.name.as_str()), "{} twice", n.name);
            assert!(!c.is_native_tls(&n.name), "{} is native TLS too", n.name);
            // A crate that links the system's library names how to build it, or says there is none.
            assert_eq!(
                n.default == NativeDefault::System,
                !n.static_features.is_empty(),
                "{}",
                n.name
            );
            assert!(
                n.needs.iter().all(|t| t == "c++" || t == "cmake"),
                "{}",
                n.name
            );
        }
        assert_eq!(
            c.native("pq-sys").unwrap().static_since.as_deref(),
            Some("0.5.0")
        );
        assert_eq!(
            c.native("alsa-sys").unwrap().default,
            NativeDefault::SystemOnly
        );
        assert!(c.is_native_tls("openssl-sys"));
    }

    #[test]
    fn major_is_the_semver_compatible_series() {
        assert_eq!(major("1.8.1"), "1");
        assert_eq!(major("0.12.28"), "0.12");
        assert_eq!(major("0.0.3"), "0.0.3");
        assert_eq!(major("2.0.0-rc.1"), "2");
        assert_eq!(major("0.23.0+build"), "0.23");
        assert_eq!(major("x"), "x");
    }
}
