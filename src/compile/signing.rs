//! `--sign-key`: each image manifest of a built result signed in key mode — a signature, the SLSA v1
//! provenance, and one attestation per SBOM document (CycloneDX, SPDX 2.3) and the VEX document —
//! each a Sigstore bundle in a cosign 3 referrer of the manifest, attached to the result (no image
//! byte changes). The index of a multi-platform result gets its own signature and provenance.

use std::collections::BTreeMap;

use anyhow::Result;
use serde_json::{json, Value};

use super::image_plan::ImagePlan;
use crate::image::{Built, Kind, Referrer};
use crate::sbom::Format;
use crate::sign::provenance::{Builder, Provenance, Source, Tool};
use crate::sign::statement::DocumentKind;
use crate::sign::{self, Request, Signer};

/// What the provenance says besides the plan: the commit, the lockfile, the repository.
pub struct Facts<'a> {
    pub revision: Option<&'a str>,
    pub lockfile: Option<&'a str>,
    pub repository: Option<&'a str>,
    pub profile: &'a str,
    /// Per platform (`linux/amd64`), the `name@version` of the packages in the binary's audit data
    /// that the build never compiled (left out of the SBOM): the provenance says so, signed, so that
    /// `cargo tiny verify` can tell them from an SBOM that lies.
    pub not_compiled: BTreeMap<String, Vec<String>>,
    /// The tools that ran (see [`super::toolchain::Toolchain::tools`]).
    pub tools: &'a [Tool],
}

/// The provenance's key for [`Facts::not_compiled`].
pub const NOT_COMPILED: &str = "auditDataNotCompiled";

/// The SBOM formats that have an attestation predicate (SPDX 3 has none in-toto's vetted list).
fn kind_of(format: Format) -> Option<DocumentKind> {
    match format {
        Format::CycloneDx(_) => Some(DocumentKind::CycloneDx),
        Format::Spdx2 => Some(DocumentKind::Spdx),
        Format::Spdx3 => None,
    }
}

/// The provenance predicate of `p`'s images.
pub fn provenance(p: &ImagePlan, facts: &Facts<'_>) -> Value {
    let external: BTreeMap<String, Value> = BTreeMap::from([
        ("package".into(), json!(p.target.package)),
        ("bin".into(), json!(p.target.bin)),
        ("image".into(), json!(format!("{}:{}", p.name, p.tag))),
        ("profile".into(), json!(facts.profile)),
        (
            "platforms".into(),
            json!(p.platforms.iter().map(|t| t.platform()).collect::<Vec<_>>()),
        ),
        ("compression".into(), json!(p.config.compression.as_str())),
        (
            "sbom".into(),
            json!(p
                .config
                .sbom
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()),
        ),
    ]);
    let source = match (facts.repository, facts.revision) {
        (Some(repo), Some(commit)) => Some(Source {
            uri: format!("git+{}", repo.trim_end_matches('/')),
            commit: commit.to_string(),
        }),
        _ => None,
    };
    Provenance {
        external_parameters: external,
        source,
        cargo_lock_sha256: facts.lockfile.map(|l| {
            crate::digest::sha256(l.as_bytes())
                .trim_start_matches("sha256:")
                .to_string()
        }),
        tools: facts.tools.to_vec(),
        builder: Builder::from_env(|k| std::env::var(k).ok()),
        internal_parameters: if facts.not_compiled.values().all(Vec::is_empty) {
            BTreeMap::new()
        } else {
            BTreeMap::from([(NOT_COMPILED.to_string(), json!(facts.not_compiled))])
        },
        started_on: None,
        finished_on: None,
    }
    .predicate()
}

/// Signs every image manifest of `built` and attaches the bundles; returns how many were attached.
pub fn sign_built(
    built: &mut Built,
    p: &ImagePlan,
    signer: &Signer,
    predicate: &Value,
) -> Result<usize> {
    let images: Vec<_> = built.images.iter().map(|i| i.manifest.clone()).collect();
    // Each image's documents, read from its own referrers (what was attached is what is attested).
    let mut docs: Vec<Vec<(DocumentKind, Vec<u8>)>> = Vec::new();
    for m in &images {
        let mut mine = Vec::new();
        for r in built.referrers_of(&m.digest) {
            let kind = p
                .config
                .sbom
                .iter()
                .find(|f| f.media_type() == r.artifact_type)
                .and_then(|f| kind_of(*f));
            if let Some(kind) = kind {
                mine.push((kind, r.document.data.clone()));
            }
        }
        if let Some(v) = &p.config.vex {
            mine.push((DocumentKind::OpenVex, v.vex.bytes.clone()));
        }
        docs.push(mine);
    }
    let requests: Vec<Request<'_>> = images
        .iter()
        .zip(&docs)
        .map(|(m, d)| Request {
            subject: m,
            name: p.name.clone(),
            provenance: Some(predicate.clone()),
            documents: d.iter().map(|(k, b)| (*k, b.as_slice())).collect(),
        })
        .collect();
    let signed = sign::sign(signer, &requests)?;
    let mut n = attach(built, signed)?;
    // The index of several platforms, once it lists every platform's referrers (its bytes are
    // final: a referrer of the index is not listed in it): a signature and the provenance.
    if built.kind == Kind::Index {
        let index = built.index.clone();
        let signed = sign::sign(
            signer,
            &[Request {
                subject: &index,
                name: p.name.clone(),
                provenance: Some(predicate.clone()),
                documents: Vec::new(),
            }],
        )?;
        n += attach(built, signed)?;
        debug_assert_eq!(built.index.digest, index.digest);
    }
    Ok(n)
}

fn attach(built: &mut Built, signed: Vec<sign::Signed>) -> Result<usize> {
    let mut n = 0;
    for s in signed {
        for r in s.referrers {
            built.attach(Referrer {
                artifact_type: r.artifact_type.to_string(),
                subject: r.subject,
                manifest: r.manifest,
                config: r.empty,
                document: r.bundle,
            })?;
            n += 1;
        }
    }
    Ok(n)
}
