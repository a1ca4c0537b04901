//! The TLS knowledge base (`tls.toml`, compiled in).

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Entry {
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

impl Entry {
    /// Whether the entry knows a rustls switch (else only, perhaps, a vendored feature).
    pub fn has_rustls(&self) -> bool {
        !self.rustls.is_empty() || !self.replace.is_empty()
    }
}

#[derive(Debug, Deserialize)]
pub struct KnowledgeBase {
    #[serde(rename = "crate")]
    pub crates: Vec<Entry>,
}

impl KnowledgeBase {
    pub fn builtin() -> KnowledgeBase {
        toml::from_str(include_str!("tls.toml")).expect("tls.toml is valid")
    }

    /// The entry for `name` at `version` (major = `0.12` for 0.x, `1` for 1.x).
    pub fn get(&self, name: &str, version: &str) -> Option<&Entry> {
        let major = major(version);
        self.crates
            .iter()
            .find(|e| e.name == name && e.major == major)
    }
}

pub fn major(version: &str) -> String {
    let mut parts = version.split('.');
    let a = parts.next().unwrap_or("0");
    if a == "0" {
        format!("0.{}", parts.next().unwrap_or("0"))
    } else {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_parses() {
        let kb = super::KnowledgeBase::builtin();
        assert!(kb.get("reqwest", "0.12.28").is_some());
        assert_eq!(super::major("1.8.1"), "1");
        // Every entry names at least one native and one rustls feature, and crate/major pairs are unique.
        let mut seen = std::collections::BTreeSet::new();
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
}
