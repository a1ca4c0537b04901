//! The seam the next publishers plug into: a publisher added by a test receives every built result
//! through the `Publisher` trait, one platform's image and several platforms' index alike, after the
//! plan's own publishers (the tarball), from the one image path of `cargo tiny build`.
//!
//! The image stage runs through the library on examples/hello with stand-in binaries (nothing is
//! compiled): the trait, not the compiler, is under test here.

mod common;

use std::cell::RefCell;

use anyhow::Result;
use cargo_tiny::cli::{Cli, Command};
use cargo_tiny::compile::options::BuildOptions;
use cargo_tiny::compile::{image_jobs, image_plan, Binary};
use cargo_tiny::image::{Built, Kind, CYCLONEDX};
use cargo_tiny::publish::{layout, Published, Publisher, Shared};
use cargo_tiny::shell::{Color, Shell, Verbosity};
use cargo_tiny::workspace::Workspace;
use clap::Parser;
use common::*;

/// What a recording publisher was handed.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    kind: Kind,
    platforms: Vec<String>,
    tagged: String,
    index: String,
    referrers: Vec<(String, String)>,
}

#[derive(Default)]
struct Recording(RefCell<Vec<Seen>>);

impl Publisher for Recording {
    fn publish(&self, built: &Built) -> Result<Published> {
        self.0.borrow_mut().push(Seen {
            kind: built.kind,
            platforms: built.images.iter().map(|i| i.platform.platform()).collect(),
            tagged: built.tagged().digest.clone(),
            index: built.index.digest.clone(),
            referrers: built
                .referrers
                .iter()
                .map(|r| (r.artifact_type.clone(), r.subject.clone()))
                .collect(),
        });
        Ok(Published::Tarball(Default::default()))
    }
}

/// The image stage of `cargo tiny build ARGS` on a copy of examples/hello, with `extra` after the
/// plan's publishers; the tarball it wrote.
fn image_stage(dir: &std::path::Path, args: &[&str], extra: &Recording) -> std::path::PathBuf {
    let root = dir.join("hello");
    copy_tree(&repo().join("examples/hello"), &root);
    let tarball = dir.join("hello.tar");
    let mut argv = vec!["cargo-tiny", "build", "-q", "--manifest-path"];
    let manifest = root.join("Cargo.toml");
    argv.push(manifest.to_str().unwrap());
    argv.extend([
        "--target-dir",
        dir.to_str().unwrap(),
        "-o",
        tarball.to_str().unwrap(),
    ]);
    argv.extend(args);
    let Command::Build(args) = Cli::try_parse_from(argv).unwrap().command else {
        unreachable!()
    };
    let cli_targets = BuildOptions::cli_targets(&args).unwrap();
    let ws = Workspace::load(&BuildOptions::load_options(&args, cli_targets.as_deref())).unwrap();
    let opts = BuildOptions::new(&args, &ws, cli_targets.as_deref()).unwrap();
    let io = opts.image.as_ref().unwrap();
    let plans = image_plan::plan(&ws, &opts, io).unwrap();

    // Stand-ins for the compiled binaries: a file each, and the audit data of a one-package graph.
    let audit: auditable_serde::VersionInfo = serde_json::from_str(
        r#"{"packages":[{"name":"hello","version":"0.1.0","source":"local","root":true}]}"#,
    )
    .unwrap();
    let mut binaries = Vec::new();
    for t in &opts.targets {
        let path = dir.join(format!("hello-{}", t.triple));
        std::fs::write(&path, format!("\x7fELF stand-in for {t}")).unwrap();
        binaries.push(Binary {
            target: opts.bins[0].clone(),
            platform: t.clone(),
            version: "0.1.0".into(),
            path: path.try_into().unwrap(),
            size: 0,
            audit: audit.clone(),
            exact: audit.clone(),
            uncompiled: Vec::new(),
        });
    }
    let shell = Shell::new(Verbosity::Quiet, Color::Never);
    let shared = Shared {
        registries: None,
        shell: &shell,
    };
    image_jobs::run_with(
        &ws,
        io,
        &plans,
        &binaries,
        &shared,
        &image_jobs::Hooks {
            extra: &[extra],
            gate: &|| Ok(true),
        },
        false,
    )
    .unwrap();
    tarball
}

#[test]
fn a_publisher_receives_single_and_multi_platform_results_through_the_trait() {
    let recording = Recording::default();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let one = image_stage(a.path(), &["--platform", "linux/arm64"], &recording);
    let two = image_stage(
        b.path(),
        &["--platform", "linux/amd64,linux/arm64"],
        &recording,
    );
    let seen = recording.0.borrow().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");

    // One platform: the image manifest is what the tags name.
    assert_eq!(seen[0].kind, Kind::Image);
    assert_eq!(seen[0].platforms, ["linux/arm64"]);
    assert_ne!(seen[0].tagged, seen[0].index);
    // Several: the index, each platform's SBOM attached to its own manifest.
    assert_eq!(seen[1].kind, Kind::Index);
    assert_eq!(seen[1].platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(seen[1].tagged, seen[1].index);
    assert_eq!(seen[1].referrers.len(), 2);
    assert!(seen[1].referrers.iter().all(|(t, _)| t == CYCLONEDX));
    assert_ne!(seen[1].referrers[0].1, seen[1].referrers[1].1);

    // Both got the very result the tarball publisher (first in the plan's list) wrote.
    for (tarball, seen) in [(one, &seen[0]), (two, &seen[1])] {
        let back = layout::read(&tarball).unwrap().built;
        assert_eq!(back.tagged().digest, seen.tagged);
        assert_eq!(back.index.digest, seen.index);
        assert_eq!(back.kind, seen.kind);
    }
}
