//! Test support: cargo metadata's `Package` and `Dependency` values built from a few fields.

use cargo_metadata::{Dependency, Package};
use serde_json::{json, Value};

/// A dependency as cargo metadata gives it: `name`, optional or not, `features`, default features on.
pub fn dependency(name: &str, optional: bool, features: &[&str]) -> Value {
    json!({"name": name, "source": null, "req": "*", "kind": null, "rename": null,
        "optional": optional, "uses_default_features": true, "features": features, "target": null})
}

/// A package: local (`source` null, a workspace or path package) or from crates.io.
pub fn package(
    name: &str,
    version: &str,
    local: bool,
    deps: Vec<Value>,
    features: Value,
) -> Package {
    let source = (!local).then_some("registry+https://github.com/rust-lang/crates.io-index");
    serde_json::from_value(json!({
        "name": name, "version": version, "id": format!("{name} {version}"), "source": source,
        "dependencies": deps, "targets": [], "features": features,
        "manifest_path": format!("/x/{name}/Cargo.toml"), "authors": [], "categories": [],
        "keywords": [], "edition": "2021", "metadata": null, "publish": null, "links": null,
        "license": null, "license_file": null, "description": null, "readme": null,
        "repository": null, "homepage": null, "documentation": null, "rust_version": null
    }))
    .expect("a valid package")
}

/// A dependency value as `Dependency`, with `req` and default features as given.
pub fn declared(name: &str, req: &str, default_features: bool, features: &[&str]) -> Dependency {
    let mut d = dependency(name, false, features);
    d["req"] = req.into();
    d["uses_default_features"] = default_features.into();
    serde_json::from_value(d).expect("a valid dependency")
}
