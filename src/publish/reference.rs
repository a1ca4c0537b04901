//! Where an image is pushed: `host[:port]/path/name[:tag]`, the one place that splits a registry host
//! off an image name.
//!
//! The rule is docker's (distribution's `reference.ParseNormalizedNamed`): the first path component is
//! a registry host when it holds a `.` or a `:`, or is `localhost`. Docker would read a bare `api` as
//! `docker.io/library/api`; cargo-tiny refuses to guess where to push and asks for the host.

use anyhow::Result;

use crate::config;

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
    config::check_name(name).map_err(|w| {
        crate::error::Failure::new(format!("cannot push to `{name}`: {w}")).hint(
            "image names are lowercase letters, digits and `.`, `_`, `-` between `/`, after a registry host, e.g. ghcr.io/acme/api",
        )
    })?;
    config::check_tag(tag).map_err(|w| {
        crate::error::Failure::new(format!("cannot push to `{name}:{tag}`: {w}")).hint(
            "tags are letters, digits, `_`, `.` and `-`, at most 128, not starting with `.` or `-`",
        )
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
    let (name, tag) = config::split_reference(reference);
    destination(&name, tag.as_deref().unwrap_or(default_tag))
}

#[cfg(test)]
mod tests {
    use super::*;

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
