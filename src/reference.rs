//! Image references: the distribution grammar of names and tags (docker/distribution's
//! `reference` package), where a registry host ends, and where an image is pushed. The one module
//! that reads `NAME[:TAG]`; the metadata (`crate::config`), `--image`, `--tag` and the registry
//! publisher all go through it.
//!
//! The host rule is docker's (`reference.ParseNormalizedNamed`): the first path component is a
//! registry host when it holds a `.` or a `:`, or is `localhost`. Docker would read a bare `api` as
//! `docker.io/library/api`; cargo-tiny refuses to guess where to push and asks for the host.

use anyhow::Result;

/// How to write an image name.
pub const NAME_HINT: &str =
    "use lowercase letters, digits and `.`, `_`, `-`, `/` separators, e.g. name = \"api\"";
/// How to write a tag.
pub const TAG_HINT: &str =
    "use up to 128 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`";

/// A repository name as the distribution reference grammar accepts it (docker/distribution
/// `reference/regexp.go`): an optional registry host (`host[:port]/`, with a `.` or `:`, or
/// `localhost`), then lowercase path components separated by `/`, each `[a-z0-9]+` joined by
/// `.`, `_`, `__` or runs of `-`; at most 255 characters.
pub fn check_name(n: &str) -> Result<String, String> {
    use std::sync::OnceLock;
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        let domain_component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
        let domain = format!(
            r"(?:{domain_component}(?:\.{domain_component})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
        );
        let path_component = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
        regex::Regex::new(&format!(
            r"^(?:({domain})/)?({path_component}(?:/{path_component})*)$"
        ))
        .expect("the reference grammar compiles")
    });
    let bad = || format!("`{n}` is not a valid image name");
    let caps = re.captures(n).ok_or_else(bad)?;
    if let Some(host) = caps.get(1) {
        let host = host.as_str();
        // A first component that is not host-like is a path component (`team/app`).
        let host_like = host.contains(['.', ':']) || host == "localhost";
        if !host_like && !re.is_match(&n[..host.len()]) {
            return Err(bad());
        }
        if let Some((_, port)) = host.rsplit_once(':').filter(|_| !host.ends_with(']')) {
            if port.parse::<u16>().is_err() {
                return Err(format!("`{n}` has an invalid registry port {port}"));
            }
        }
    }
    if caps[2].len() > 255 {
        return Err(format!("`{n}` is longer than 255 characters"));
    }
    Ok(n.to_string())
}

pub fn check_tag(t: &str) -> Result<(), String> {
    let ok = !t.is_empty()
        && t.len() <= 128
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        && !t.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!("`{t}` is not a valid image tag"))
    }
}

/// Splits `NAME[:TAG]`, where NAME may hold a `host:port/` prefix.
pub fn split(r: &str) -> (String, Option<String>) {
    let slash = r.rfind('/').map_or(0, |i| i + 1);
    match r[slash..].rfind(':') {
        Some(i) => (
            r[..slash + i].to_string(),
            Some(r[slash + i + 1..].to_string()),
        ),
        None => (r.to_string(), None),
    }
}

/// A tag from a package version: semver build metadata (`+`) is not allowed in tags, so it
/// becomes `-`; a version longer than a tag can be (128) is refused (the caller hints at `tag`).
pub fn tag_from_version(v: &str) -> Result<String, String> {
    let t = v.replace('+', "-");
    check_tag(&t).map_err(|_| {
        format!(
            "the tag derived from version {v} is not a valid image tag (at most 128 of `A-Za-z0-9_.-`)"
        )
    })?;
    Ok(t)
}

/// A default image name from a bin name (image names are lowercase; `_` is allowed inside).
pub fn name_from_bin(bin: &str) -> String {
    bin.to_ascii_lowercase()
}

/// A push destination: registry host, repository path and tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `ghcr.io`, `localhost:5000`, `127.0.0.1:5000`.
    pub host: String,
    /// `acme/api`.
    pub repository: String,
    pub tag: String,
}

impl Destination {
    /// `host/repository`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.host, self.repository)
    }

    /// `host/repository:tag`.
    pub fn reference(&self) -> String {
        format!("{}/{}:{}", self.host, self.repository, self.tag)
    }

    /// The same repository under another tag.
    pub fn with_tag(&self, tag: &str) -> Destination {
        Destination {
            tag: tag.to_string(),
            ..self.clone()
        }
    }
}

/// The registry host of an image name, when it names one.
pub fn registry_host(name: &str) -> Option<(&str, &str)> {
    let (first, rest) = name.split_once('/')?;
    (first.contains(['.', ':']) || first == "localhost").then_some((first, rest))
}

/// Whether a registry host is on this machine (plain HTTP is allowed there, as docker does).
pub fn is_loopback(host: &str) -> bool {
    let h = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

const HOST_HINT: &str =
    "name the registry in the image name, e.g. --image ghcr.io/acme/api or name = \"ghcr.io/acme/api\" in [package.metadata.tiny] (localhost:5000/api for a local registry)";

/// The destination of an image name and tag; the name must carry a registry host.
pub fn destination(name: &str, tag: &str) -> Result<Destination> {
    check_name(name).map_err(|w| {
        crate::error::Failure::new(format!("cannot push to `{name}`: {w}")).hint(
            "image names are lowercase letters, digits and `.`, `_`, `-` between `/`, after a registry host, e.g. ghcr.io/acme/api",
        )
    })?;
    check_tag(tag).map_err(|w| {
        crate::error::Failure::new(format!("cannot push to `{name}:{tag}`: {w}")).hint(TAG_HINT)
    })?;
    let Some((host, repository)) = registry_host(name) else {
        crate::fail!(
            hint = HOST_HINT,
            "cannot push `{name}`: the image name has no registry host"
        );
    };
    Ok(Destination {
        host: host.to_string(),
        repository: repository.to_string(),
        tag: tag.to_string(),
    })
}

/// Parses `host/path/name[:tag]`, with `default_tag` when no tag is given.
pub fn parse(reference: &str, default_tag: &str) -> Result<Destination> {
    if reference.contains('@') {
        crate::fail!(
            hint = "push to a tag (`host/name:tag`); the digest is the manifest's own",
            "cannot push to `{reference}`: a digest reference cannot be written"
        );
    }
    let (name, tag) = split(reference);
    destination(&name, tag.as_deref().unwrap_or(default_tag))
}

/// An image in a registry, named by tag or by digest: what `cargo tiny verify REF` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub host: String,
    pub repository: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`; when given, what is read (a tag beside it is only shown).
    pub digest: Option<String>,
}

impl Source {
    /// The manifest reference to GET: the digest, else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The [`Destination`] the registry client's messages name (its tag, or the digest).
    pub fn destination(&self) -> Destination {
        Destination {
            host: self.host.clone(),
            repository: self.repository.clone(),
            tag: self.manifest_reference().to_string(),
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.host, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Parses `host[:port]/path/name[:tag][@sha256:<hex>]` (the distribution grammar; no tag and no
/// digest reads `latest`); `None` when it is not such a reference (no registry host, a bad name,
/// tag or digest).
pub fn parse_source(r: &str) -> Option<Source> {
    let (rest, digest) = match r.split_once('@') {
        Some((rest, d)) => {
            let hex = d.strip_prefix("sha256:")?;
            let ok = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
            if !ok {
                return None;
            }
            (rest, Some(d.to_string()))
        }
        None => (r, None),
    };
    let (name, tag) = split(rest);
    check_name(&name).ok()?;
    if let Some(t) = &tag {
        check_tag(t).ok()?;
    }
    let (host, repository) = registry_host(&name)?;
    Some(Source {
        host: host.to_string(),
        repository: repository.to_string(),
        tag,
        digest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_after_the_registry_port() {
        assert_eq!(split("app:1.0"), ("app".into(), Some("1.0".into())));
        assert_eq!(
            split("localhost:5000/app"),
            ("localhost:5000/app".into(), None)
        );
        assert_eq!(
            split("localhost:5000/app:v1"),
            ("localhost:5000/app".into(), Some("v1".into()))
        );
        assert!(check_name("localhost:5000/team/app").is_ok());
        assert_eq!(tag_from_version("1.0.0+build.5").unwrap(), "1.0.0-build.5");
        let long = format!("1.0.0-{}", "rc".repeat(70));
        assert!(tag_from_version(&long).unwrap_err().contains("128"));
    }

    #[test]
    fn names_follow_the_distribution_grammar() {
        for ok in [
            "api",
            "team/api",
            "a.b_c__d--e/f",
            "localhost/app",
            "localhost:5000/team/app",
            "registry.example.com/x",
            "Registry.Example.com:443/x",
            "[::1]:5000/app",
        ] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "Api",
            "a..b",
            "a___b",
            "a._b",
            "-a",
            "a-",
            "a//b",
            "/a",
            "a/",
            "Team/app",
            "localhost:99999/app",
            "",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"a".repeat(256)).is_err());
        assert!(check_name(&"a".repeat(255)).is_ok());
    }

    #[test]
    fn host_is_the_first_component_with_a_dot_a_port_or_localhost() {
        assert_eq!(
            registry_host("ghcr.io/acme/api"),
            Some(("ghcr.io", "acme/api"))
        );
        assert_eq!(
            registry_host("localhost:5000/api"),
            Some(("localhost:5000", "api"))
        );
        assert_eq!(registry_host("localhost/api"), Some(("localhost", "api")));
        assert_eq!(registry_host("acme/api"), None);
        assert_eq!(registry_host("api"), None);
    }

    #[test]
    fn parse_splits_host_repository_and_tag() {
        let d = parse("127.0.0.1:5000/team/app:1.2", "latest").unwrap();
        assert_eq!(d.host, "127.0.0.1:5000");
        assert_eq!(d.repository, "team/app");
        assert_eq!(d.tag, "1.2");
        assert_eq!(d.reference(), "127.0.0.1:5000/team/app:1.2");
        let d = parse("ghcr.io/acme/api", "0.1.0").unwrap();
        assert_eq!(d.tag, "0.1.0");
        assert_eq!(d.with_tag("latest").reference(), "ghcr.io/acme/api:latest");
    }

    #[test]
    fn bare_names_digests_and_bad_tags_are_refused() {
        let e = format!("{:#}", parse("api", "1").unwrap_err());
        assert!(e.contains("no registry host"), "{e}");
        assert!(parse("acme/api:1", "1").is_err());
        assert!(parse("ghcr.io/acme/api@sha256:00", "1").is_err());
        assert!(parse("ghcr.io/acme/api:-x", "1").is_err());
        assert!(parse("ghcr.io/Acme/api:1", "1").is_err());
    }

    #[test]
    fn sources_are_references_with_a_host_by_tag_or_digest() {
        let hex = "ab".repeat(32);
        let s = parse_source("127.0.0.1:5000/team/app:1.2").unwrap();
        assert_eq!(
            (s.host.as_str(), s.repository.as_str(), s.tag.as_deref()),
            ("127.0.0.1:5000", "team/app", Some("1.2"))
        );
        assert_eq!(s.manifest_reference(), "1.2");
        let s = parse_source(&format!("ghcr.io/acme/api:1@sha256:{hex}")).unwrap();
        assert_eq!(s.manifest_reference(), format!("sha256:{hex}"));
        assert_eq!(s.to_string(), format!("ghcr.io/acme/api:1@sha256:{hex}"));
        assert_eq!(
            parse_source("ghcr.io/acme/api")
                .unwrap()
                .manifest_reference(),
            "latest"
        );
        for not in [
            "target/tiny/api.tar",
            "api.tar",
            "./api.tar",
            "/tmp/api.tar",
            "acme/api:1",
            "ghcr.io/acme/api@sha256:00",
            &format!("ghcr.io/acme/api@sha512:{hex}"),
            "ghcr.io/Acme/api:1",
            "ghcr.io/acme/api:-x",
        ] {
            assert_eq!(parse_source(not), None, "{not}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "127.1.2.3",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["ghcr.io", "10.0.0.1:5000", "example.localhost.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }
}
