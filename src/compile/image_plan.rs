//! The images of a build, decided before anything is compiled: per bin its configuration (from
//! `[*.metadata.tiny]` and the command line, validated), name, tag, output paths, and the list of
//! publishers its result goes to, in order (the tarball, then with `--push` the registry, then with
//! `--load` the local engine). Bad configuration, an unusable path, a bad `--registry-ca` or an engine
//! that does not answer fail here, before minutes of compiling.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;

use super::options::{BuildOptions, ImageOptions};
use super::plan::BinTarget;
use crate::config::{self, Source, TinyConfig};
use crate::error::Failure;
use crate::image::{self, Kind, CYCLONEDX};
use crate::publish::daemon::{self, Engine, LoadPlan};
use crate::publish::tarball::{self, Beside, Tarball};
use crate::publish::{push, PublishTo};
use crate::settings::LoadInto;
use crate::target::Target;
use crate::workspace::Workspace;

/// What one image will be, decided before anything is compiled (so bad configuration fails fast).
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub target: BinTarget,
    pub config: TinyConfig,
    pub name: String,
    pub tag: String,
    /// One platform's image, or an index of several: decided here, once.
    pub kind: Kind,
    /// The platforms, in the target table's order.
    pub platforms: Vec<Target>,
    /// The one `docker load` gets (`--docker-platform`, else the host's, else the first).
    pub docker: Target,
    pub tarball: PathBuf,
    /// Each platform's SBOM beside the tarball, in `platforms`' order (the docker platform's keeps
    /// the plain name).
    pub sboms: Vec<PathBuf>,
    /// The image cache record (see `image_cache`).
    pub cache: PathBuf,
    /// Where the result goes, in order.
    pub publish: Vec<PublishTo>,
}

impl ImagePlan {
    /// The registry destinations of this image.
    pub fn pushes(&self) -> impl Iterator<Item = &push::PushPlan> {
        self.publish.iter().filter_map(|p| match p {
            PublishTo::Registry(plan) => Some(plan),
            _ => None,
        })
    }
}

/// Resolves and validates the configuration of every image.
pub fn plan(ws: &Workspace, opts: &BuildOptions, io: &ImageOptions) -> Result<Vec<ImagePlan>> {
    let (bins, targets) = (&opts.bins, &opts.targets);
    // What would fail after the compile is checked before it (the source date was, in the options;
    // the targets, by the compile plan).
    if let Some(d) = &io.docker_platform {
        if !targets.contains(d) {
            crate::fail!(
                hint = "name one of the platforms being built, or drop --docker-platform",
                "--docker-platform {} is not a platform of this build ({})",
                d.platform(),
                targets
                    .iter()
                    .map(|t| t.platform())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    if bins.len() > 1 {
        for (flag, set) in [("--output", io.output.is_some()), ("--image", io.named)] {
            if set {
                crate::fail!(
                    hint = "select one binary with --bin (and -p), or drop the flag",
                    "{flag} names one image, but {} binaries are selected",
                    bins.len()
                );
            }
        }
    }
    let kind = if targets.len() > 1 {
        Kind::Index
    } else {
        Kind::Image
    };
    let docker = targets[image::built::docker_choice(targets, io.docker_platform.as_ref())].clone();
    let mut engines: HashMap<LoadInto, Engine> = HashMap::new();
    let overrides = &io.overrides;
    let root_manifest = ws.root_manifest();
    let target_dir = &opts.target_dir;
    let mtime = io.source_date.mtime();
    let mut out: Vec<ImagePlan> = Vec::new();
    for t in bins {
        let pkg = ws.package(&t.package_id);
        let sources = Source::of_package(ws, pkg, &root_manifest);
        let cfg = config::resolve(&sources, overrides)?;
        let mut name = cfg
            .name
            .clone()
            .unwrap_or_else(|| crate::reference::name_from_bin(&t.bin));
        if let Some(prefix) = &cfg.repository {
            if crate::reference::registry_host(&name).is_none() {
                name = format!("{prefix}/{name}");
            }
        }
        crate::reference::check_name(&name).map_err(|w| {
            Failure::new(format!(
                "image name of bin `{}` ({}): {w}",
                t.bin, pkg.manifest_path
            ))
            .hint("set name = \"…\" in [package.metadata.tiny] or pass --image NAME[:TAG]")
        })?;
        let tag = match &cfg.tag {
            Some(t) => t.clone(),
            None => crate::reference::tag_from_version(&pkg.version.to_string()).map_err(|w| {
                Failure::new(format!(
                    "image tag of bin `{}` ({}): {w}",
                    t.bin, pkg.manifest_path
                ))
                .hint("set tag = \"…\" in [package.metadata.tiny] or pass --image NAME:TAG")
            })?,
        };
        image::paths::check_files(&cfg, &t.bin, pkg.manifest_path.as_str())?;
        let file_name = name.rsplit('/').next().unwrap_or(&name).to_string();
        let tarball = match &io.output {
            Some(o) => std::path::absolute(o).map_err(|e| {
                Failure::new(format!("--output {}: {e}", o.display()))
                    .hint("give --output a file path, e.g. --output out/app.tar")
            })?,
            None => target_dir.join("tiny").join(format!("{file_name}.tar")),
        };
        let sbom = sbom_path(&tarball);
        // Several platforms: an SBOM per platform beside it (the one `docker load` gets keeps the
        // plain name, the others are named for their platform).
        let sboms: Vec<PathBuf> = targets
            .iter()
            .map(|p| {
                if *p == docker {
                    sbom.clone()
                } else {
                    platform_sbom_path(&sbom, p)
                }
            })
            .collect();
        for s in &sboms {
            tarball::check_outputs(&tarball, s, io.output.is_some())?;
        }
        if let Some(other) = out.iter().find(|p| p.tarball == tarball) {
            crate::fail!(
                hint = "give them different names with name = \"…\" in [package.metadata.tiny]",
                "bins `{}` and `{}` would both be written to {}",
                other.target.bin,
                t.bin,
                tarball.display()
            );
        }
        let mut publish = vec![PublishTo::Tarball(Tarball {
            path: tarball.clone(),
            beside: targets
                .iter()
                .zip(&sboms)
                .map(|(p, path)| Beside {
                    path: path.clone(),
                    platform: p.clone(),
                    artifact_type: CYCLONEDX.into(),
                })
                .collect(),
            // The per-platform SBOMs an earlier build left beside this tarball that this one
            // does not write (a single-platform build over a multi-platform one, or another
            // --docker-platform).
            stale: crate::target::Target::all()
                .map(|p| platform_sbom_path(&sbom, &p))
                .filter(|p| !sboms.contains(p))
                .collect(),
            mtime,
        })];
        if let Some((flags, _)) = &io.push {
            publish.push(PublishTo::Registry(push::plan(
                &name, &tag, &cfg.tags, flags,
            )?));
        }
        if let Some(want) = cfg.load {
            let engine = match engines.get(&want) {
                Some(e) => e.clone(),
                None => {
                    let e = daemon::find(want, &daemon::Env::from_process())?;
                    engines.insert(want, e.clone());
                    e
                }
            };
            if !engine.loads(cfg.compression) {
                crate::fail!(
                    hint = "build it with --compression gzip (or gzip-max), or load it into podman with --load=podman",
                    "{} cannot load {} layers (bin `{}`)",
                    engine.name(),
                    cfg.compression,
                    t.bin
                );
            }
            publish.push(PublishTo::Daemon(LoadPlan { engine, mtime }));
        }
        out.push(ImagePlan {
            publish,
            target: t.clone(),
            config: cfg,
            name,
            tag,
            kind,
            platforms: targets.clone(),
            docker: docker.clone(),
            cache: super::image_cache::record_path(target_dir, &tarball),
            tarball,
            sboms,
        });
    }
    Ok(out)
}

/// `x.cdx.json` → `x.linux-arm64.cdx.json`: the SBOM of a platform other than the one `docker load`
/// gets (that one keeps the plain name).
pub fn platform_sbom_path(sbom: &std::path::Path, t: &Target) -> PathBuf {
    let name = sbom
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".cdx.json").unwrap_or(&name);
    sbom.with_file_name(format!(
        "{stem}.{}.cdx.json",
        t.platform().replace('/', "-")
    ))
}

/// `x.tar` → `x.cdx.json` beside it.
pub fn sbom_path(tarball: &std::path::Path) -> PathBuf {
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".tar").unwrap_or(&name);
    tarball.with_file_name(format!("{stem}.cdx.json"))
}

#[cfg(test)]
mod tests {
    use super::sbom_path;
    use std::path::Path;

    #[test]
    fn sbom_lies_beside_the_tarball() {
        assert_eq!(
            sbom_path(Path::new("/t/tiny/api.tar")),
            Path::new("/t/tiny/api.cdx.json")
        );
        assert_eq!(
            sbom_path(Path::new("out/api.img")),
            Path::new("out/api.img.cdx.json")
        );
    }
}
