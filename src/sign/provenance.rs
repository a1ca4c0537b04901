//! The SLSA v1 provenance predicate (<https://slsa.dev/spec/v1.0/provenance>) of an image, from
//! plain inputs: what the user chose ([`Provenance::external_parameters`]), what the build resolved
//! (the source commit, Cargo.lock, the toolchain), and who ran it (a CI, read from its variables by
//! [`Builder::from_env`], or this machine).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

/// `predicateType` of SLSA v1 provenance.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// `buildType` of a cargo-tiny image build: what `externalParameters` mean is documented there.
pub const BUILD_TYPE: &str =
    "https://github.com/cargo-tiny/cargo-tiny/blob/main/docs/build-type/v1.md";
/// The builder id when no known CI ran the build.
pub const LOCAL_BUILDER: &str = "https://github.com/cargo-tiny/cargo-tiny/builders/local";

/// Everything the predicate says, as plain values.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The options that shape the image bytes (profile, target, compression, …), as the user gave
    /// them; keys sorted.
    pub external_parameters: BTreeMap<String, Value>,
    /// The source: repository URI (`git+https://…`) and commit, when the workspace is a git checkout.
    pub source: Option<Source>,
    /// sha256 hex of Cargo.lock, when there is one.
    pub cargo_lock_sha256: Option<String>,
    /// The tools that ran (rustc, cargo, cargo-auditable, cargo-tiny), each a resource descriptor
    /// in `resolvedDependencies`.
    pub tools: Vec<Tool>,
    pub builder: Builder,
    /// `buildDefinition.internalParameters`: what the build decided itself, e.g.
    /// `auditDataNotCompiled` (per platform, the `name@version` of packages the binary's audit data
    /// lists but this build never compiled, and the SBOM leaves out).
    pub internal_parameters: BTreeMap<String, Value>,
    /// RFC 3339 times, when known (left out otherwise: they would change every build's bytes).
    pub started_on: Option<String>,
    pub finished_on: Option<String>,
}

/// A tool that ran in the build, as an in-toto ResourceDescriptor: its name, a purl naming its
/// version when known, the digests that pin it (`gitCommit` of rustc's source, `sha256` of a
/// binary), and annotations (`version` as the tool prints it, `host`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tool {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<&'static str, String>,
}

impl Tool {
    pub fn new(name: &str, uri: String) -> Tool {
        Tool {
            uri: Some(uri),
            ..Tool::named(name)
        }
    }

    pub fn named(name: &str) -> Tool {
        Tool {
            name: name.into(),
            uri: None,
            digest: BTreeMap::new(),
            annotations: BTreeMap::new(),
        }
    }
}

/// The names of the tool entries `resolvedDependencies` may hold, in the order they are written.
pub const TOOL_NAMES: &[&str] = &["rustc", "cargo", "cargo-auditable", "cargo-tiny"];

/// `name` → `annotations.version` (else the purl's version) of each tool entry of a predicate's
/// `resolvedDependencies`: what `cargo tiny verify` shows.
pub fn tools_of(predicate: &Value) -> BTreeMap<String, String> {
    predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let name = d["name"].as_str().filter(|n| TOOL_NAMES.contains(n))?;
            let version = d["annotations"]["version"].as_str().or_else(|| {
                d["uri"]
                    .as_str()
                    .and_then(|u| u.strip_prefix("pkg:"))
                    .and_then(|u| u.rsplit_once('@'))
                    .map(|(_, v)| v)
            })?;
            Some((name.to_string(), version.to_string()))
        })
        .collect()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    /// 40 hex.
    pub commit: String,
}

/// Who ran the build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builder {
    pub id: String,
    /// The CI run, as a URL, when a CI ran it.
    pub invocation_id: Option<String>,
    /// The source the CI checked out, when it says.
    pub source: Option<Source>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            id: LOCAL_BUILDER.into(),
            invocation_id: None,
            source: None,
        }
    }
}

/// Reads an environment variable.
type Var<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A CI: the variable that says it runs, and how its builder is read from its variables.
struct Ci {
    detect: &'static str,
    read: fn(Var<'_>) -> Option<Builder>,
}

const CIS: &[Ci] = &[
    Ci {
        detect: "GITHUB_ACTIONS",
        read: github_actions,
    },
    Ci {
        detect: "GITLAB_CI",
        read: gitlab_ci,
    },
];

/// GitHub Actions, as actions/attest-build-provenance names it: the runner kind is the builder, the
/// run attempt the invocation.
fn github_actions(var: Var<'_>) -> Option<Builder> {
    let server = var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into());
    let repo = var("GITHUB_REPOSITORY")?;
    let runner = var("RUNNER_ENVIRONMENT").unwrap_or_else(|| "github-hosted".into());
    let invocation_id = var("GITHUB_RUN_ID").map(|id| {
        let attempt = var("GITHUB_RUN_ATTEMPT").unwrap_or_else(|| "1".into());
        format!("{server}/{repo}/actions/runs/{id}/attempts/{attempt}")
    });
    Some(Builder {
        id: format!("{server}/actions/runner/{runner}"),
        invocation_id,
        source: var("GITHUB_SHA").map(|commit| Source {
            uri: format!("git+{server}/{repo}"),
            commit,
        }),
    })
}

fn gitlab_ci(var: Var<'_>) -> Option<Builder> {
    let project = var("CI_PROJECT_URL")?;
    Some(Builder {
        id: format!("{project}/-/runners/{}", var("CI_RUNNER_ID")?),
        invocation_id: var("CI_JOB_URL"),
        source: var("CI_COMMIT_SHA").map(|commit| Source {
            uri: format!("git+{project}"),
            commit,
        }),
    })
}

impl Builder {
    /// The builder the environment describes (`var` reads a variable): the first CI whose marker
    /// is `true` and whose variables are complete, else this machine.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Builder {
        let var = |name: &str| var(name).filter(|v| !v.is_empty());
        CIS.iter()
            .filter(|ci| var(ci.detect).as_deref() == Some("true"))
            .find_map(|ci| (ci.read)(&var))
            .unwrap_or_default()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Predicate {
    build_definition: BuildDefinition,
    run_details: RunDetails,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildDefinition {
    build_type: &'static str,
    external_parameters: Map<String, Value>,
    internal_parameters: Map<String, Value>,
    resolved_dependencies: Vec<ResourceDescriptor>,
}

#[derive(Serialize)]
struct ResourceDescriptor {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    digest: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<&'static str, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunDetails {
    builder: BuilderOut,
    #[serde(skip_serializing_if = "Map::is_empty")]
    metadata: Map<String, Value>,
}

#[derive(Serialize)]
struct BuilderOut {
    id: String,
    version: BTreeMap<&'static str, &'static str>,
}

impl Provenance {
    /// The predicate, as a JSON value (wrap it with [`super::statement::Statement`]).
    pub fn predicate(&self) -> Value {
        let mut deps = Vec::new();
        if let Some(source) = self.source.as_ref().or(self.builder.source.as_ref()) {
            deps.push(ResourceDescriptor {
                name: None,
                uri: Some(source.uri.clone()),
                digest: BTreeMap::from([("gitCommit", source.commit.clone())]),
                annotations: BTreeMap::new(),
            });
        }
        if let Some(lock) = &self.cargo_lock_sha256 {
            deps.push(ResourceDescriptor {
                name: Some("Cargo.lock".into()),
                uri: None,
                digest: BTreeMap::from([("sha256", lock.clone())]),
                annotations: BTreeMap::new(),
            });
        }
        // The tools that ran in the build and shaped its bytes: dependencies of the build, not
        // of the builder (`builderDependencies` are for what runs outside the build's workload).
        for t in &self.tools {
            deps.push(ResourceDescriptor {
                name: Some(t.name.clone()),
                uri: t.uri.clone(),
                digest: t.digest.clone(),
                annotations: t.annotations.clone(),
            });
        }
        let mut metadata = Map::new();
        for (key, value) in [
            ("invocationId", &self.builder.invocation_id),
            ("startedOn", &self.started_on),
            ("finishedOn", &self.finished_on),
        ] {
            if let Some(v) = value {
                metadata.insert(key.into(), Value::String(v.clone()));
            }
        }
        let predicate = Predicate {
            build_definition: BuildDefinition {
                build_type: BUILD_TYPE,
                external_parameters: self
                    .external_parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                internal_parameters: self
                    .internal_parameters
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                resolved_dependencies: deps,
            },
            run_details: RunDetails {
                builder: BuilderOut {
                    id: self.builder.id.clone(),
                    version: BTreeMap::from([("cargo-tiny", env!("CARGO_PKG_VERSION"))]),
                },
                metadata,
            },
        };
        serde_json::to_value(predicate).expect("the predicate serialises")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn github_actions_names_the_runner_and_the_run() {
        let b = Builder::from_env(env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            ("GITHUB_REPOSITORY", "acme/app"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_SHA", "0123456789012345678901234567890123456789"),
        ]));
        assert_eq!(b.id, "https://github.com/actions/runner/github-hosted");
        assert_eq!(
            b.invocation_id.as_deref(),
            Some("https://github.com/acme/app/actions/runs/42/attempts/2")
        );
        assert_eq!(b.source.unwrap().uri, "git+https://github.com/acme/app");
    }

    #[test]
    fn no_ci_or_an_incomplete_one_is_this_machine() {
        assert_eq!(Builder::from_env(env(&[])), Builder::default());
        // GitLab says it runs but not where: not a builder id to trust.
        assert_eq!(
            Builder::from_env(env(&[("GITLAB_CI", "true")])),
            Builder::default()
        );
        assert_eq!(
            Builder::from_env(env(&[
                ("GITLAB_CI", "true"),
                ("CI_PROJECT_URL", "https://gitlab.com/acme/app"),
                ("CI_RUNNER_ID", "7"),
            ]))
            .id,
            "https://gitlab.com/acme/app/-/runners/7"
        );
    }

    #[test]
    fn the_predicate_holds_the_inputs() {
        let p = Provenance {
            external_parameters: BTreeMap::from([
                ("profile".into(), json!("release")),
                ("platforms".into(), json!(["linux/amd64"])),
            ]),
            source: Some(Source {
                uri: "git+https://example.com/app".into(),
                commit: "0123456789012345678901234567890123456789".into(),
            }),
            cargo_lock_sha256: Some("ab".repeat(32)),
            tools: vec![Tool {
                annotations: BTreeMap::from([("version", "1.95.0 (59807616e 2026-04-14)".into())]),
                ..Tool::new("rustc", "pkg:generic/rustc@1.95.0".into())
            }],
            ..Default::default()
        };
        let v = p.predicate();
        assert_eq!(v["buildDefinition"]["buildType"], BUILD_TYPE);
        assert_eq!(
            v["buildDefinition"]["externalParameters"],
            json!({"platforms": ["linux/amd64"], "profile": "release"})
        );
        let deps = &v["buildDefinition"]["resolvedDependencies"];
        assert_eq!(
            deps[0]["digest"]["gitCommit"],
            "0123456789012345678901234567890123456789"
        );
        assert_eq!(deps[1]["name"], "Cargo.lock");
        assert_eq!(deps[2]["uri"], "pkg:generic/rustc@1.95.0");
        assert_eq!(
            tools_of(&v),
            BTreeMap::from([("rustc".into(), "1.95.0 (59807616e 2026-04-14)".into())])
        );
        assert_eq!(v["runDetails"]["builder"]["id"], LOCAL_BUILDER);
        assert!(v["runDetails"].get("metadata").is_none());
    }
}
