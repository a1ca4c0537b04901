//! The image as a value: per platform its config, one layer and manifest, the SBOM attached as a
//! referrer ([`referrer`]), and the [`Built`] result that ties the platforms under one index.
//!
//! [`assemble`] (a binary and its package → the input and SBOM) and [`build`] (input → image) are
//! pure; reading files and writing happen elsewhere ([`ca_bundle`] reads the host bundle, the
//! publishers write the tarball, push or load). Every JSON document is serialised with sorted keys,
//! so the same inputs give the same digests.

pub mod assemble;
pub mod built;
pub mod ca_bundle;
pub mod layer;
pub mod paths;
pub mod referrer;
pub mod summary;

// Where they were before they moved below `config` and `image` (`crate::settings`).
pub use crate::settings::{compression, source};

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use anyhow::Result;
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, Digest, HistoryBuilder, ImageConfigurationBuilder,
    ImageManifestBuilder, MediaType, Os, RootFsBuilder,
};
use serde_json::{json, Map, Value};

use crate::settings::TinyConfig;
use crate::source_date::SourceDate;
use crate::target::Target;
pub use built::{Built, Kind};
pub use compression::{Compression, LAYER_GZIP, LAYER_ZSTD};
pub use layer::sha256;
pub use referrer::{Document, Referrer};
pub use summary::Summary;

pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const CYCLONEDX: &str = "application/vnd.cyclonedx+json";

/// Annotation on the image manifest naming the SBOM blob's digest (the blob, not the referrer
/// manifest, whose `subject` names the image manifest: the other way round would be a digest cycle).
pub const SBOM_DIGEST_KEY: &str = "io.github.cargo-tiny.sbom.digest";
/// Annotation on the image manifest with the SBOM blob's media type.
pub const SBOM_MEDIA_TYPE_KEY: &str = "io.github.cargo-tiny.sbom.media-type";
/// Annotation on the image manifest naming one format's SBOM blob:
/// `io.github.cargo-tiny.sbom.cdx.digest`, `….sbom.spdx.digest`, `….sbom.spdx3.digest` (the file
/// suffix without `.json`), for every format written.
pub fn sbom_format_digest_key(format: crate::sbom::Format) -> String {
    let suffix = format.suffix().trim_end_matches(".json");
    format!("io.github.cargo-tiny.sbom.{suffix}.digest")
}
/// The artifact type of an in-toto attestation referrer (unsigned here: a bare statement), as
/// Docker Scout publishes them and trivy's `--vex oci` lists them.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";
/// The annotation naming an in-toto referrer's predicate type, which trivy's `--vex oci` reads to
/// pick the VEX attestation among others.
pub const PREDICATE_TYPE_KEY: &str = "in-toto.io/predicate-type";
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const CREATED: &str = "org.opencontainers.image.created";

/// Where the binary and the CA bundle go.
pub const BIN_DIR: &str = "/usr/local/bin";
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";

/// A content-addressed blob: its bytes in memory, or (a large blob read back from a tarball) where
/// they are in a file, read when needed ([`Blob::reader`], [`Blob::bytes`]) and never held whole by a
/// push.
#[derive(Debug, Clone)]
pub struct Blob {
    pub media_type: String,
    pub digest: String,
    /// The bytes (empty when `stored`).
    pub data: Vec<u8>,
    pub stored: Option<Stored>,
}

/// Where a blob's bytes are in a file (checked against the digest when read back, and again while
/// they are sent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub path: std::path::PathBuf,
    pub offset: u64,
    pub len: u64,
}

/// Two blobs are equal when their media type and digest (so their bytes) are.
impl PartialEq for Blob {
    fn eq(&self, other: &Blob) -> bool {
        self.media_type == other.media_type
            && self.digest == other.digest
            && self.size() == other.size()
    }
}

impl Eq for Blob {}

impl Blob {
    pub fn new(media_type: &str, data: Vec<u8>) -> Blob {
        Blob {
            media_type: media_type.to_string(),
            digest: sha256(&data),
            data,
            stored: None,
        }
    }

    pub fn json(media_type: &str, v: &Value) -> Result<Blob> {
        Ok(Blob::new(media_type, canonical_json(v)?))
    }

    /// A typed document (oci-spec's), serialised through [`canonical_json`].
    pub fn typed(media_type: &str, doc: &impl serde::Serialize) -> Result<Blob> {
        Blob::json(media_type, &serde_json::to_value(doc)?)
    }

    /// The OCI descriptor naming this blob.
    pub fn oci_descriptor(&self) -> Result<Descriptor> {
        let digest = Digest::from_str(&self.digest)?;
        Ok(Descriptor::new(
            MediaType::from(self.media_type.as_str()),
            self.size(),
            digest,
        ))
    }

    pub fn size(&self) -> u64 {
        match &self.stored {
            Some(s) => s.len,
            None => self.data.len() as u64,
        }
    }

    /// The bytes, from memory or from their file.
    pub fn reader(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        use std::io::{Read, Seek};
        Ok(match &self.stored {
            Some(s) => {
                let mut f = std::fs::File::open(&s.path)?;
                f.seek(std::io::SeekFrom::Start(s.offset))?;
                Box::new(f.take(s.len))
            }
            None => Box::new(std::io::Cursor::new(self.data.clone())),
        })
    }

    /// The bytes as a reader that checks them on the way: at the end, bytes of another length or
    /// digest than the blob's are an error (the file changed since it was read), so what is
    /// written or sent from it never completes with other bytes. Memory stays bounded: a stored
    /// blob is read from its file as the caller asks.
    pub fn verified_reader(&self) -> std::io::Result<Verified<'_>> {
        use std::io::{Read, Seek};
        let inner: Box<dyn std::io::Read + Send + '_> = match &self.stored {
            Some(s) => {
                let mut f = std::fs::File::open(&s.path)?;
                f.seek(std::io::SeekFrom::Start(s.offset))?;
                Box::new(f.take(s.len))
            }
            None => Box::new(&self.data[..]),
        };
        Ok(Verified {
            inner,
            blob: self,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
            seen: 0,
        })
    }

    /// The bytes in memory (read from their file when stored).
    pub fn bytes(&self) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        use std::io::Read;
        match &self.stored {
            Some(_) => {
                let mut v = Vec::with_capacity(self.size() as usize);
                self.reader()?.read_to_end(&mut v)?;
                if sha256(&v) != self.digest {
                    return Err(std::io::Error::other(format!(
                        "blob {} changed on disk since it was read",
                        self.digest
                    )));
                }
                Ok(std::borrow::Cow::Owned(v))
            }
            None => Ok(std::borrow::Cow::Borrowed(&self.data)),
        }
    }

    /// The hex part of the digest (the file name under `blobs/sha256/`).
    pub fn hex(&self) -> &str {
        self.digest.trim_start_matches("sha256:")
    }

    pub fn descriptor(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("mediaType".into(), json!(self.media_type));
        m.insert("digest".into(), json!(self.digest));
        m.insert("size".into(), json!(self.size()));
        m
    }
}

/// A blob's bytes, hashed and counted as they are read; see [`Blob::verified_reader`].
pub struct Verified<'a> {
    inner: Box<dyn std::io::Read + Send + 'a>,
    blob: &'a Blob,
    hasher: sha2::Sha256,
    seen: u64,
}

impl std::io::Read for Verified<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen += n as u64;
        let size = self.blob.size();
        if self.seen > size || (n == 0 && self.seen < size) {
            return Err(self.changed());
        }
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        // The last bytes are handed over only when the digest is the blob's: what is written
        // or sent from this reader never completes with other bytes.
        if (n > 0 || size == 0)
            && self.seen == size
            && crate::digest::hex_digest(self.hasher.clone()) != self.blob.digest
        {
            return Err(self.changed());
        }
        Ok(n)
    }
}

impl Verified<'_> {
    fn changed(&self) -> std::io::Error {
        std::io::Error::other(format!(
            "blob {} changed on disk since it was read",
            self.blob.digest
        ))
    }
}

/// Everything [`build`] needs, already read from disk.
#[derive(Debug, Clone)]
pub struct ImageInput<'a> {
    pub name: String,
    pub tag: String,
    pub bin: String,
    pub binary: Vec<u8>,
    /// The platform the binary was built for.
    pub platform: Target,
    pub config: &'a TinyConfig,
    /// `(image path, mode, contents)` of the user's extra files (a source is read while the layer
    /// is written, never held whole in memory).
    pub files: Vec<(String, u32, layer::Data)>,
    pub ca_bundle: Option<Vec<u8>>,
    /// `created`, and every mtime.
    pub created: SourceDate,
    /// `org.opencontainers.image.*` from the package and git (only those with a value).
    pub annotations: BTreeMap<String, String>,
    /// The SBOM documents, in the order selected: each named by the manifest's annotations and
    /// attached as a referrer (the first is also named by [`SBOM_DIGEST_KEY`]).
    pub sboms: Vec<crate::sbom::Document>,
}

/// One platform's image: its manifest and the blobs it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    pub platform: Target,
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
}

impl Image {
    /// The blobs of the image: config, layers, manifest.
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut v = vec![&self.config];
        v.extend(&self.layers);
        v.push(&self.manifest);
        v
    }
}

/// What building one platform's image made.
#[derive(Debug, Clone)]
pub struct Made {
    pub image: Image,
    /// The SBOM, attached to the image's manifest.
    pub referrers: Vec<Referrer>,
    pub layer: LayerFacts,
}

/// What the layer is, for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFacts {
    /// How the layer is compressed (its media type says the same).
    pub compression: Compression,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    /// The digest of the SBOM blob the manifest names.
    pub sbom_digest: String,
}

/// Blobs each once, sorted by digest (the order a layout's blobs are written in).
pub fn sorted_blobs(mut v: Vec<&Blob>) -> Vec<&Blob> {
    v.sort_by(|a, b| a.digest.cmp(&b.digest));
    v.dedup_by(|a, b| a.digest == b.digest);
    v
}

const PASSWD: &str = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
const GROUP: &str = "root:x:0:\nnonroot:x:65532:\n";

/// The layer's files: binary, passwd/group, /tmp, home directories, CA bundle, extra files.
pub fn tree(input: &ImageInput<'_>) -> layer::Tree {
    let mut t = layer::Tree::default();
    t.file(
        &format!("{BIN_DIR}/{}", input.bin),
        0o755,
        input.binary.clone(),
    );
    t.file("/etc/passwd", 0o644, PASSWD.as_bytes().to_vec());
    t.file("/etc/group", 0o644, GROUP.as_bytes().to_vec());
    t.dir("/tmp", 0o1777, 0, 0);
    t.dir("/root", 0o700, 0, 0);
    t.dir("/home/nonroot", 0o700, 65532, 65532);
    if let Some(ca) = &input.ca_bundle {
        t.file(CA_BUNDLE_PATH, 0o644, ca.clone());
    }
    for (dest, mode, data) in &input.files {
        t.file(dest, *mode, data.clone());
    }
    t
}

/// Builds one platform's image and its SBOM referrer.
pub fn build(input: &ImageInput<'_>) -> Result<Made> {
    build_metered(input, &crate::progress::Meter::none())
}

/// [`build`], the layer's compression counted into `meter`.
pub fn build_metered(input: &ImageInput<'_>, meter: &crate::progress::Meter) -> Result<Made> {
    let cfg = input.config;
    let created = input.created.rfc3339();
    let tree = tree(input);
    paths::check_tree(&tree)?;
    let mut layer = layer::build_metered(&tree, input.created.mtime(), cfg.compression, meter)?;
    let compressed = std::mem::take(&mut layer.compressed);
    let layer_blob = Blob::new(layer.media_type(), compressed);
    let layer_blob_size = layer_blob.size();
    let Some(first) = input.sboms.first() else {
        anyhow::bail!("no SBOM document to attach to image {}", input.name);
    };
    let sbom = Blob::new(first.format.media_type(), first.bytes.clone());

    let reference = format!("{}:{}", input.name, input.tag);
    let mut annotations = input.annotations.clone();
    annotations.insert(CREATED.into(), created.clone());
    annotations.insert(REF_NAME.into(), reference.clone());
    annotations.insert(SBOM_DIGEST_KEY.into(), sbom.digest.clone());
    annotations.insert(SBOM_MEDIA_TYPE_KEY.into(), sbom.media_type.clone());
    for doc in &input.sboms {
        annotations.insert(sbom_format_digest_key(doc.format), sha256(&doc.bytes));
    }

    // `docker load` keeps only the config: the annotations go into the labels too (the user's
    // labels win on a clash).
    let mut labels = annotations.clone();
    labels.extend(cfg.labels.clone());

    let mut env = Vec::new();
    if !cfg.env.contains_key("PATH") {
        env.push(format!("PATH={BIN_DIR}"));
    }
    env.extend(cfg.env.iter().map(|(k, v)| format!("{k}={v}")));

    // The documents are oci-spec's types; `Blob::typed` serialises them through `canonical_json`,
    // so the bytes do not depend on the types' field order.
    let oci = |e: oci_spec::OciSpecError| anyhow::anyhow!("building the OCI documents: {e}");
    let (arch, variant) = input.platform.oci_arch();
    let some = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
    let mut config = ConfigBuilder::default()
        .user(cfg.user.clone())
        .env(env)
        .entrypoint(vec![format!("{BIN_DIR}/{}", input.bin)])
        .labels(labels.into_iter().collect::<HashMap<_, _>>())
        .build()
        .map_err(oci)?;
    config.set_cmd(some(&cfg.cmd));
    config.set_working_dir(cfg.workdir.clone());
    config.set_exposed_ports(some(&cfg.ports));
    config.set_stop_signal(cfg.stop_signal.clone());
    let history = HistoryBuilder::default()
        .created(created.clone())
        .created_by(format!("cargo-tiny {}", env!("CARGO_PKG_VERSION")))
        .comment(format!("static binary {} FROM scratch", input.bin))
        .build()
        .map_err(oci)?;
    let rootfs = RootFsBuilder::default()
        .typ("layers")
        .diff_ids(vec![layer.diff_id.clone()])
        .build()
        .map_err(oci)?;
    let mut image_config = ImageConfigurationBuilder::default()
        .created(created.clone())
        .architecture(Arch::from(arch))
        .os(Os::Linux)
        .config(config)
        .rootfs(rootfs)
        .history(vec![history])
        .build()
        .map_err(oci)?;
    image_config.set_variant(variant.map(String::from));
    let config_blob = Blob::typed(CONFIG, &image_config)?;

    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config_blob.oci_descriptor()?)
        .layers(vec![layer_blob.oci_descriptor()?])
        .annotations(annotations.clone().into_iter().collect::<HashMap<_, _>>())
        .build()
        .map_err(oci)?;
    let manifest = Blob::typed(MANIFEST, &manifest)?;

    let title = input.name.rsplit('/').next().unwrap_or(&input.name);
    let mut referrers = Vec::new();
    for doc in &input.sboms {
        let sbom_doc = Document {
            artifact_type: doc.format.media_type().into(),
            media_type: doc.format.media_type().into(),
            data: doc.bytes.clone(),
            title: Some(format!("{title}.{}", doc.format.suffix())),
            annotations: BTreeMap::new(),
        };
        referrers.push(Referrer::new(&sbom_doc, &manifest, &created)?);
    }
    if let Some(v) = &cfg.vex {
        referrers.push(Referrer::new(
            &vex_document(&v.vex, &input.name, &manifest.digest, title)?,
            &manifest,
            &created,
        )?);
    }
    Ok(Made {
        image: Image {
            platform: input.platform.clone(),
            manifest,
            config: config_blob,
            layers: vec![layer_blob],
        },
        referrers,
        layer: LayerFacts {
            compression: layer.compression,
            diff_id: layer.diff_id,
            compressed_size: layer_blob_size,
            uncompressed_size: layer.uncompressed_size,
            sbom_digest: sbom.digest,
        },
    })
}

/// The VEX referrer's document: an in-toto statement (unsigned) whose subject is the image manifest
/// `digest` and whose predicate is the OpenVEX document as given, under the generic in-toto artifact
/// type with the predicate type annotated — the layout trivy's `--vex oci` lists referrers for.
pub fn vex_document(
    vex: &crate::sbom::vex::Vex,
    name: &str,
    digest: &str,
    title: &str,
) -> Result<Document> {
    Ok(Document {
        artifact_type: IN_TOTO.into(),
        media_type: IN_TOTO.into(),
        data: crate::sbom::vex::statement_for(vex, name, digest)?,
        title: Some(format!("{title}.openvex.intoto.json")),
        annotations: BTreeMap::from([(
            PREDICATE_TYPE_KEY.to_string(),
            crate::sbom::vex::PREDICATE_TYPE.to_string(),
        )]),
    })
}

/// What a non-default compression cost and bought, each against gzip -9 of the same tar (compressed
/// again only to say it).
#[derive(Debug, Clone, Copy)]
pub struct CompressionCost {
    pub compression: Compression,
    pub took: std::time::Duration,
    pub size: u64,
    pub gzip_took: std::time::Duration,
    pub gzip_size: u64,
}

/// The [`CompressionCost`] of a layer made from `input`, which took `took` to compress.
pub fn compression_cost(
    input: &ImageInput<'_>,
    layer: &LayerFacts,
    took: std::time::Duration,
    meter: &crate::progress::Meter,
) -> Result<CompressionCost> {
    let started = std::time::Instant::now();
    let gzip_size = layer::build_metered(
        &tree(input),
        input.created.mtime(),
        Compression::Gzip,
        meter,
    )?
    .compressed
    .len() as u64;
    Ok(CompressionCost {
        compression: layer.compression,
        took,
        size: layer.compressed_size,
        gzip_took: started.elapsed(),
        gzip_size,
    })
}

/// Compact JSON with every object's keys sorted: the same value always gives the same bytes.
pub fn canonical_json(v: &Value) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec(&sorted(v))?)
}

fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn a_stored_blob_is_read_whole_only_when_its_bytes_are_its_own() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t");
        let data = vec![7u8; 3 << 20];
        let blob = |bytes: &[u8]| {
            std::fs::write(&file, [b"head", bytes, b"tail"].concat()).unwrap();
            Blob {
                media_type: "x".into(),
                digest: sha256(&data),
                data: Vec::new(),
                stored: Some(Stored {
                    path: file.clone(),
                    offset: 4,
                    len: data.len() as u64,
                }),
            }
        };
        let read = |b: &Blob| {
            let mut got = Vec::new();
            b.verified_reader()?.read_to_end(&mut got).map(|_| got)
        };
        assert_eq!(read(&blob(&data)).unwrap(), data);
        let mut altered = data.clone();
        altered[5] = 8;
        let e = read(&blob(&altered)).unwrap_err();
        assert!(e.to_string().contains("changed on disk"), "{e}");
        // Cut short: the file ends inside the blob.
        let short = blob(&data);
        std::fs::write(&file, [&b"head"[..], &data[..1000]].concat()).unwrap();
        assert!(read(&short).is_err());
        // In memory: checked the same way.
        let mem = Blob::new("x", data.clone());
        assert_eq!(read(&mem).unwrap(), data);
        let forged = Blob {
            data: altered,
            ..mem
        };
        assert!(read(&forged).is_err());
    }

    /// One platform's result, as the build stage makes it.
    pub(crate) fn single(m: Made) -> Built {
        Built::new(
            "hello",
            "0.1.0",
            Kind::Image,
            vec![m.image],
            m.referrers,
            "1970-01-01T00:00:00Z",
            None,
        )
        .unwrap()
    }

    pub(crate) fn input(cfg: &TinyConfig) -> ImageInput<'_> {
        ImageInput {
            name: "hello".into(),
            tag: "0.1.0".into(),
            bin: "hello".into(),
            binary: b"\x7fELF not really".to_vec(),
            platform: Target::from_platform("linux/amd64").unwrap(),
            config: cfg,
            files: Vec::new(),
            ca_bundle: None,
            created: SourceDate::at(0),
            annotations: BTreeMap::from([(
                "org.opencontainers.image.version".to_string(),
                "0.1.0".to_string(),
            )]),
            sboms: vec![crate::sbom::Document {
                format: crate::sbom::Format::DEFAULT,
                bytes: br#"{"bomFormat":"CycloneDX"}"#.to_vec(),
            }],
        }
    }

    #[test]
    fn each_sbom_format_and_the_vex_are_their_own_referrers_named_by_the_manifest() {
        use crate::sbom::{Document as Sbom, Format};
        use oci_spec::image::ImageManifest;
        let vex = crate::sbom::vex::parse(
            br#"{"@context":"https://openvex.dev/ns/v0.2.0","@id":"https://example.com/vex/1",
                "author":"A","timestamp":"2024-05-01T12:00:00Z","version":1,
                "statements":[{"vulnerability":{"name":"CVE-2024-1"},
                  "products":[{"@id":"pkg:cargo/serde@1.0.200"}],
                  "status":"not_affected","justification":"vulnerable_code_not_present"}]}"#,
        )
        .unwrap();
        let cfg = TinyConfig {
            sbom: vec![Format::Spdx2, Format::DEFAULT],
            vex: Some(crate::settings::VexFile {
                path: "app.openvex.json".into(),
                vex,
            }),
            ..Default::default()
        };
        let mut i = input(&cfg);
        i.sboms = vec![
            Sbom {
                format: Format::Spdx2,
                bytes: br#"{"spdxVersion":"SPDX-2.3"}"#.to_vec(),
            },
            Sbom {
                format: Format::DEFAULT,
                bytes: br#"{"bomFormat":"CycloneDX"}"#.to_vec(),
            },
        ];
        let made = build(&i).unwrap();
        let types: Vec<&str> = made
            .referrers
            .iter()
            .map(|r| r.artifact_type.as_str())
            .collect();
        assert_eq!(
            types,
            [
                "application/spdx+json",
                CYCLONEDX,
                "application/vnd.in-toto+json"
            ]
        );
        for r in &made.referrers {
            assert_eq!(r.subject, made.image.manifest.digest);
        }
        let m = ImageManifest::from_reader(made.image.manifest.data.as_slice()).unwrap();
        let ann = m.annotations().as_ref().unwrap();
        // The first format selected is the one the plain keys name.
        assert_eq!(ann[SBOM_DIGEST_KEY], made.referrers[0].document.digest);
        assert_eq!(ann[SBOM_MEDIA_TYPE_KEY], "application/spdx+json");
        assert_eq!(
            ann["io.github.cargo-tiny.sbom.spdx.digest"],
            made.referrers[0].document.digest
        );
        assert_eq!(
            ann["io.github.cargo-tiny.sbom.cdx.digest"],
            made.referrers[1].document.digest
        );
        let titles: Vec<String> = made
            .referrers
            .iter()
            .map(|r| {
                let m = ImageManifest::from_reader(r.manifest.data.as_slice()).unwrap();
                m.layers()[0].annotations().as_ref().unwrap()["org.opencontainers.image.title"]
                    .clone()
            })
            .collect();
        assert_eq!(
            titles,
            [
                "hello.spdx.json",
                "hello.cdx.json",
                "hello.openvex.intoto.json"
            ]
        );
        // The VEX referrer: an in-toto statement about this manifest, its predicate type annotated.
        let vex = &made.referrers[2];
        assert_eq!(
            vex.annotations().unwrap()[PREDICATE_TYPE_KEY],
            "https://openvex.dev/ns/v0.2.0"
        );
        let st: Value = serde_json::from_slice(&vex.document.data).unwrap();
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v1");
        assert_eq!(st["predicateType"], "https://openvex.dev/ns/v0.2.0");
        assert_eq!(
            format!(
                "sha256:{}",
                st["subject"][0]["digest"]["sha256"].as_str().unwrap()
            ),
            made.image.manifest.digest
        );
        assert_eq!(st["predicate"]["statements"][0]["status"], "not_affected");
    }

    #[test]
    fn documents_parse_as_oci_types() {
        use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
        let cfg = TinyConfig::default();
        let made = build(&input(&cfg)).unwrap();
        let img = &made.image;
        let c = ImageConfiguration::from_reader(img.config.data.as_slice()).unwrap();
        assert_eq!(
            c.config().as_ref().unwrap().user().as_deref(),
            Some("65532:65532")
        );
        assert_eq!(c.rootfs().diff_ids()[0], made.layer.diff_id);
        let m = ImageManifest::from_reader(img.manifest.data.as_slice()).unwrap();
        assert_eq!(m.layers()[0].digest().to_string(), img.layers[0].digest);
        let ann = m.annotations().as_ref().unwrap();
        assert_eq!(ann[SBOM_DIGEST_KEY], made.layer.sbom_digest);
        assert_eq!(ann[SBOM_DIGEST_KEY], made.referrers[0].document.digest);
        assert_eq!(ann[REF_NAME], "hello:0.1.0");
        let r = ImageManifest::from_reader(made.referrers[0].manifest.data.as_slice()).unwrap();
        assert_eq!(
            r.subject().as_ref().unwrap().digest().to_string(),
            img.manifest.digest
        );
        assert_eq!(
            r.config().digest().to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        let built = single(made.clone());
        let i = ImageIndex::from_reader(built.index.data.as_slice()).unwrap();
        assert_eq!(i.manifests().len(), 2);
        assert_eq!(built.tagged(), &made.image.manifest);
    }

    #[test]
    fn json_keys_are_sorted_and_stable() {
        let cfg = TinyConfig {
            labels: (0..20)
                .map(|i| (format!("k{i}"), "v".to_string()))
                .collect(),
            ..Default::default()
        };
        let a = build(&input(&cfg)).unwrap().image;
        let b = build(&input(&cfg)).unwrap().image;
        assert_eq!(a.manifest.digest, b.manifest.digest);
        let text = String::from_utf8(a.manifest.data.clone()).unwrap();
        assert!(text.starts_with(r#"{"annotations":"#), "{text}");
        let mut later = input(&cfg);
        later.created = SourceDate::at(1_700_000_000);
        assert_ne!(
            build(&later).unwrap().image.manifest.digest,
            a.manifest.digest
        );
    }

    /// The documents' bytes are pinned: the same inputs must give the same digests from one version
    /// of cargo-tiny to the next (or the change is announced). Every optional field is set here.
    #[test]
    fn documents_keep_their_bytes() {
        let cfg = TinyConfig {
            cmd: vec!["serve".into(), "--port=8080".into()],
            env: BTreeMap::from([("RUST_LOG".into(), "info".into())]),
            ports: vec!["8080/tcp".into(), "9090/udp".into()],
            labels: BTreeMap::from([("team".into(), "core".into())]),
            workdir: Some("/data".into()),
            stop_signal: Some("SIGINT".into()),
            compression: Compression::Zstd,
            ..Default::default()
        };
        let mut arm = input(&cfg);
        arm.platform = Target::from_platform("linux/arm64").unwrap();
        arm.created = SourceDate::at(1_700_000_000);
        let made = build(&arm).unwrap();
        let img = made.image.clone();
        let referrer = made.referrers[0].manifest.digest.clone();
        let built = Built::new(
            "hello",
            "0.1.0",
            Kind::Image,
            vec![made.image],
            made.referrers,
            &arm.created.rfc3339(),
            None,
        )
        .unwrap();
        let plain = build(&input(&TinyConfig::default())).unwrap();
        let plain_config = plain.image.config.digest.clone();
        let plain = single(plain);
        let got = [
            &img.config.digest,
            &img.manifest.digest,
            &referrer,
            &built.index.digest,
            &plain_config,
            &plain.index.digest,
        ];
        assert_eq!(
            got,
            [
                "sha256:c7e966b046cbf44fe711a5303a353522a9da2769f33d65f1ff1acb2f2bac91d6",
                "sha256:cb9dd66fd2a89dc26791d5f9236feb77c91f0c2451f53f1de148f8e8a9524c9b",
                "sha256:2f536be3a59fd6f8d0a3ff6eedfd2038b8afdefee0bac1c6ce6757b123df6789",
                "sha256:a2c2b125db18091e018ad779a0b0dc2a863fd64f89ea42ed2b28066cb8991e7b",
                "sha256:44cf4b929c38507bf09c90cd55e7e791d837c8d9a65d1db0425f23c4d39ba0ef",
                "sha256:3c705f26881460839eb9d8f304c09877955199ee5a2495a2479e1e4c53c1acdd",
            ]
        );
    }

    #[test]
    fn layer_holds_what_the_program_needs() {
        let cfg = TinyConfig::default();
        let t = tree(&input(&cfg));
        let paths: Vec<&str> = t.paths().collect();
        assert!(paths.contains(&"usr/local/bin/hello"));
        assert!(paths.contains(&"tmp/"));
        assert!(!paths.iter().any(|p| p.starts_with("etc/ssl")));
    }
}
