//! The images of a build, decided before anything is compiled: per bin its configuration (from
//! `[*.metadata.tiny]` and the command line, validated), name, tag, output paths and push
//! destination. Bad configuration fails here, before minutes of compiling.

use std::path::PathBuf;

use anyhow::Result;

use super::options::{BuildOptions, ImageOptions};
use super::plan::BinTarget;
use crate::config::{self, Source, TinyConfig};
use crate::error::Failure;
use crate::image;
use crate::publish::tarball;
use crate::workspace::Workspace;

/// What one image will be, decided before anything is compiled (so bad configuration fails fast).
#[derive(Debug, Clone)]
pub struct ImagePlan {
    pub target: BinTarget,
    pub config: TinyConfig,
    pub name: String,
    pub tag: String,
    pub tarball: PathBuf,
    pub sbom: PathBuf,
    /// The image cache record (see `image_cache`).
    pub cache: PathBuf,
    /// With `--push`: the registry destination.
    pub push: Option<crate::publish::push::PushPlan>,
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
    let overrides = &io.overrides;
    let root_manifest = ws.root_manifest();
    let target_dir = &opts.target_dir;
    let mut out: Vec<ImagePlan> = Vec::new();
    for t in bins {
        let pkg = ws.package(&t.package_id);
        let sources = Source::of_package(ws, pkg, &root_manifest);
        let cfg = config::resolve(&sources, overrides)?;
        let name = cfg
            .name
            .clone()
            .unwrap_or_else(|| crate::reference::name_from_bin(&t.bin));
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
        tarball::check_outputs(&tarball, &sbom, io.output.is_some())?;
        // Several platforms: an SBOM per platform beside it (the one `docker load` gets keeps the plain
        // name, the others are named for their platform).
        if targets.len() > 1 {
            for t in targets {
                tarball::check_outputs(
                    &tarball,
                    &platform_sbom_path(&sbom, t),
                    io.output.is_some(),
                )?;
            }
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
        let push = match &io.push {
            Some(registry) => Some(crate::publish::push::plan(
                &name, &tag, &cfg.tags, registry,
            )?),
            None => None,
        };
        out.push(ImagePlan {
            push,
            target: t.clone(),
            config: cfg,
            name,
            tag,
            cache: super::image_cache::record_path(target_dir, &tarball),
            tarball,
            sbom,
        });
    }
    Ok(out)
}

/// `x.cdx.json` → `x.linux-arm64.cdx.json`: the SBOM of a platform other than the one `docker load`
/// gets (that one keeps the plain name).
pub fn platform_sbom_path(sbom: &std::path::Path, t: &crate::target::Target) -> PathBuf {
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
