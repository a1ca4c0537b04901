//! `cargo tiny size`, the diff against a baseline, the size budget (in `build`, in `size`, in
//! `doctor`), and the HTML treemap as a browser draws it: real builds of tests/fixtures/size (a small
//! binary; the tests add `bigdep`, a path dependency with a 256 KiB table) and of
//! examples/http-service after `doctor --fix`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{cargo_tiny, copy_tree, fixture_target_dir, repo, require_tool, run, tar_files, Run};
use serde_json::Value;

/// A copy of tests/fixtures/size, with its own target dir.
struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        copy_tree(&repo().join("tests/fixtures/size"), dir.path());
        Project { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Adds `bigdep` as a dependency and reads its table in `main`.
    fn add_bigdep(&self) {
        let manifest = self.path().join("Cargo.toml");
        let mut text = std::fs::read_to_string(&manifest).unwrap();
        text.push_str("\n[dependencies]\nbigdep = { path = \"bigdep\" }\n");
        std::fs::write(&manifest, text).unwrap();
        std::fs::write(
            self.path().join("src/main.rs"),
            "fn main() {\n    let n = std::env::args().count();\n    println!(\"sized: {n} argument(s), {:x}\", bigdep::checksum(n));\n}\n",
        )
        .unwrap();
    }

    fn metadata(&self, tiny: &str) {
        let manifest = self.path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        let text = match text.find("\n[package.metadata.tiny]") {
            Some(i) => text[..i].to_string(),
            None => text,
        };
        std::fs::write(
            &manifest,
            format!("{text}\n[package.metadata.tiny]\n{tiny}\n"),
        )
        .unwrap();
    }

    fn tiny(&self, args: &[&str]) -> Run {
        let mut cmd = cargo_tiny();
        cmd.args(args)
            .arg("--manifest-path")
            .arg(self.path().join("Cargo.toml"));
        run(&mut cmd)
    }
}

fn messages(r: &Run) -> Vec<Value> {
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

/// The `size-report` message (the last line of a `size --message-format json` run).
fn report(r: &Run) -> Value {
    assert_eq!(r.code, 0, "stderr:\n{}", r.stderr);
    let m = messages(r).pop().unwrap();
    assert_eq!(m["reason"], "size-report", "{}", r.stdout);
    m
}

fn error_line(r: &Run) -> String {
    let lines: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error"))
        .collect();
    assert_eq!(lines.len(), 1, "one error line: {}", r.stderr);
    lines[0].to_string()
}

/// Every binary's owners add up to its size, which is the file's; every image's files add up to its
/// compressed layer.
fn assert_accounts_for_every_byte(rep: &Value) {
    for b in rep["binaries"].as_array().unwrap() {
        let sum: u64 = b["owners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["size"].as_u64().unwrap())
            .sum();
        assert_eq!(sum, b["size"].as_u64().unwrap(), "{}", b["bin"]);
    }
    for i in rep["images"].as_array().unwrap() {
        let sum: u64 = i["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["compressed"].as_u64().unwrap())
            .sum();
        assert_eq!(
            sum,
            i["compressed_size"].as_u64().unwrap(),
            "{}",
            i["image"]
        );
    }
}

fn owner<'a>(b: &'a Value, name: &str) -> &'a Value {
    b["owners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no owner {name}: {b}"))
}

/// The page's DOM after its script ran in headless chromium, and a screenshot beside `html` (for a
/// person to look at; the test reads the DOM). `None` where chromium is missing (skipped locally).
fn render(html: &Path) -> Option<String> {
    if !require_tool("chromium", &["--version"]) {
        return None;
    }
    let url = format!("file://{}", html.display());
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--window-size=1300,1700",
    ];
    let dom = Command::new("chromium")
        .args(args)
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        dom.status.success(),
        "{}",
        String::from_utf8_lossy(&dom.stderr)
    );
    let shot = html.with_extension("png");
    let s = Command::new("chromium")
        .args(args)
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .unwrap();
    assert!(s.status.success() && shot.metadata().unwrap().len() > 10_000);
    eprintln!("screenshot: {}", shot.display());
    Some(String::from_utf8(dom.stdout).unwrap())
}

/// The owner rectangles of the treemap: (owner, data-size, width × height in px).
fn owner_boxes(dom: &str) -> Vec<(String, u64, f64)> {
    let attr = |tag: &str, name: &str| -> Option<String> {
        let re = regex::Regex::new(&format!(r#"\s{name}="([^"]*)""#)).unwrap();
        re.captures(tag).map(|c| c[1].to_string())
    };
    let px = |style: &str, prop: &str| -> f64 {
        let re = regex::Regex::new(&format!(r"(?:^|;)\s*{prop}:\s*([0-9.]+)px")).unwrap();
        re.captures(style).unwrap()[1].parse().unwrap()
    };
    dom.match_indices("<div class=\"node owner")
        .map(|(i, _)| {
            let tag = &dom[i..i + dom[i..].find('>').unwrap()];
            let style = attr(tag, "style").unwrap();
            (
                attr(tag, "data-owner").unwrap(),
                attr(tag, "data-size").unwrap().parse().unwrap(),
                px(&style, "width") * px(&style, "height"),
            )
        })
        .collect()
}

/// The treemap draws one rectangle per owner, with an area in proportion to its bytes.
fn assert_treemap(dom: &str, bin: &Value) {
    assert!(
        dom.contains("data-rendered=\"true\""),
        "the script did not finish"
    );
    let boxes = owner_boxes(dom);
    let owners = bin["owners"].as_array().unwrap();
    assert_eq!(boxes.len(), owners.len(), "one rectangle per owner");
    for o in owners {
        let b = boxes
            .iter()
            .find(|b| b.0 == o["name"].as_str().unwrap())
            .unwrap_or_else(|| panic!("no rectangle for {}", o["name"]));
        assert_eq!(b.1, o["size"].as_u64().unwrap());
    }
    let total_area: f64 = boxes.iter().map(|b| b.2).sum();
    let total: u64 = boxes.iter().map(|b| b.1).sum();
    for b in boxes.iter().take(5) {
        let want = b.1 as f64 / total as f64;
        let got = b.2 / total_area;
        assert!(
            (got - want).abs() < 0.01,
            "{}: {got:.4} of the area for {want:.4} of the bytes",
            b.0
        );
    }
}

#[test]
fn an_added_dependency_tops_the_growth_and_the_page_draws_it() {
    let p = Project::new();
    let before = report(&p.tiny(&["size", "--message-format", "json"]));
    assert_accounts_for_every_byte(&before);
    let base = p.path().join("base.json");
    std::fs::copy(before["report_path"].as_str().unwrap(), &base).unwrap();
    let tarball = p.path().join("target/tiny/sized.tar");
    let base_tar = p.path().join("base.tar");
    std::fs::copy(&tarball, &base_tar).unwrap();

    p.add_bigdep();
    let r = p.tiny(&[
        "size",
        "--message-format",
        "json",
        "--baseline",
        base.to_str().unwrap(),
    ]);
    assert!(
        r.stderr.contains("linked again with its symbols kept"),
        "{}",
        r.stderr
    );
    let after = report(&r);
    assert_accounts_for_every_byte(&after);
    let bin = &after["binaries"][0];
    assert_eq!(bin["source"], "twin");
    let big = owner(bin, "bigdep");
    assert_eq!(big["kind"], "crate");
    assert_eq!(big["versions"], serde_json::json!(["0.2.0"]));
    assert!(big["data"].as_u64().unwrap() >= 256 * 1024, "{big}");
    assert_eq!(owner(bin, "std")["kind"], "std");

    // The diff: bigdep on top of the growth, the binary and the layer grown by its table.
    let d = &after["diff"]["binaries"][0];
    assert_eq!(d["owners"][0]["name"], "bigdep", "{d}");
    assert_eq!(d["owners"][0]["old"], 0);
    assert!(d["delta"].as_i64().unwrap() > 256 * 1024, "{d}");
    let li = &after["diff"]["images"][0];
    assert!(li["delta"].as_i64().unwrap() > 200 * 1024, "{li}");
    assert_eq!(li["files"][0]["name"], "/usr/local/bin/sized", "{li}");

    // The binary in place is the built one (the twin was written over it, then put back), and it is
    // the one in the image.
    let built = std::fs::read(
        p.path()
            .join("target/x86_64-unknown-linux-musl/release/sized"),
    )
    .unwrap();
    assert_eq!(bin["sha256"], cargo_tiny::image::sha256(&built));
    assert_eq!(bin["size"].as_u64().unwrap(), built.len() as u64);
    let in_image = layer_file(&tarball, "usr/local/bin/sized");
    assert!(in_image == built, "the image holds another binary");

    // Against the old tarball: the totals only; the analysis of the same binary is reused.
    let r = p.tiny(&[
        "size",
        "--message-format",
        "json",
        "--baseline",
        base_tar.to_str().unwrap(),
    ]);
    assert!(!r.stderr.contains("linked again"), "{}", r.stderr);
    let t = report(&r);
    let d = &t["diff"]["binaries"][0];
    assert!(d["delta"].as_i64().unwrap() > 256 * 1024, "{d}");
    assert_eq!(d["owners"], serde_json::json!([]));
    assert!(t["diff"]["images"][0]["delta"].as_i64().unwrap() > 200 * 1024);

    // The text report says the same.
    let r = p.tiny(&["size", "--baseline", base.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("Compared with"), "{}", r.stdout);
    let growth = r
        .stdout
        .lines()
        .find(|l| l.contains("bigdep") && l.trim_start().starts_with('+'))
        .unwrap_or_else(|| panic!("no growth line for bigdep:\n{}", r.stdout));
    assert!(growth.contains("KiB"), "{growth}");

    // With a budget the baseline is in the failure: what grew, bigdep first.
    let r = p.tiny(&[
        "size",
        "--baseline",
        base.to_str().unwrap(),
        "--size-budget",
        "binary=200KiB",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = error_line(&r);
    assert!(
        line.starts_with("error: over the size budget: sized binary "),
        "{line}"
    );
    assert!(line.contains("since the baseline (bigdep +"), "{line}");
    let written: Value =
        serde_json::from_slice(&std::fs::read(after["report_path"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(
        written["budget"][0]["ok"], false,
        "the report is written before failing"
    );

    // The page, as a browser draws it.
    if let Some(dom) = render(Path::new(after["html_path"].as_str().unwrap())) {
        assert_treemap(&dom, bin);
        assert!(
            dom.contains("data-symbol=\"bigdep::TABLE\""),
            "bigdep's table in its rectangle"
        );
        assert!(dom.contains("data-path=\"/usr/local/bin/sized\""));
    }
}

/// The bytes of `path` in the first layer of an image tarball.
fn layer_file(tarball: &Path, path: &str) -> Vec<u8> {
    let outer = tar_files(&std::fs::read(tarball).unwrap());
    let manifest: Value = serde_json::from_slice(&outer["manifest.json"]).unwrap();
    let layer = &outer[manifest[0]["Layers"][0].as_str().unwrap()];
    let mut tar = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(layer.as_slice()),
        &mut tar,
    )
    .unwrap();
    tar_files(&tar).remove(path).unwrap()
}

#[test]
fn the_size_budget_fails_naming_the_biggest_and_passes_with_headroom() {
    let p = Project::new();
    p.add_bigdep();

    // A baseline that is not one is refused before anything is compiled.
    let junk = p.path().join("junk.json");
    for (content, says) in [
        ("{\"version\": 7}", "is a size report of version 7"),
        ("junk", "is neither a size report nor an image tarball"),
    ] {
        std::fs::write(&junk, content).unwrap();
        let r = p.tiny(&["size", "--baseline", junk.to_str().unwrap()]);
        assert_eq!(r.code, 1);
        assert!(error_line(&r).contains(says), "{}", r.stderr);
        assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);
    }

    // A bad budget is refused before anything is compiled.
    let r = p.tiny(&["build", "--size-budget", "image=1MiB"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--size-budget"), "{}", r.stderr);
    p.metadata("size-budget = { layer = \"lots\" }");
    let r = p.tiny(&["build"]);
    assert_eq!(r.code, 1);
    let line = error_line(&r);
    assert!(
        line.contains("`size-budget` in [package.metadata.tiny] of "),
        "{line}"
    );
    assert!(line.contains("`lots` is not a size"), "{line}");
    assert!(!r.stderr.contains("Compiling"), "{}", r.stderr);

    // Over: exit 1, the biggest owners named (bigdep's table first).
    p.metadata("");
    let r = p.tiny(&["build", "--size-budget", "binary=200KiB"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = error_line(&r);
    assert!(
        line.starts_with("error: over the size budget: sized binary "),
        "{line}"
    );
    assert!(line.contains("KiB over); biggest: bigdep "), "{line}");
    assert!(line.contains("help: `cargo tiny size`"), "{line}");
    // No push or load was asked: none is said to be held back.
    assert!(!line.contains("nothing pushed or loaded"), "{line}");

    // Under: exit 0 and the headroom.
    let r = p.tiny(&["build", "--size-budget", "binary=10MiB,layer=10MiB"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let budget = r
        .stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Budget"))
        .unwrap_or_else(|| panic!("no Budget line: {}", r.stderr));
    assert!(budget.contains("sized: binary "), "{budget}");
    assert!(
        budget.contains("layer ") && budget.contains(" left)"),
        "{budget}"
    );

    // From the metadata: the layer over, its biggest file named; doctor says so without building.
    p.metadata("size-budget = { layer = \"100 KiB\" }");
    let r = p.tiny(&["build"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = error_line(&r);
    assert!(line.contains("sized layer "), "{line}");
    assert!(line.contains("biggest: /usr/local/bin/sized "), "{line}");
    let r = p.tiny(&["doctor", "--format", "json"]);
    let finding: Value = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["code"] == "size-budget")
        .unwrap_or_else(|| panic!("no size-budget finding: {}", r.stdout));
    assert_eq!(finding["severity"], "warning", "{finding}");
    assert!(
        finding["message"].as_str().unwrap().contains(" over)"),
        "{finding}"
    );
    assert!(finding["line"].as_u64().is_some(), "{finding}");
    p.metadata("size-budget = { layer = \"8 MiB\", binary = \"8 MiB\" }");
    let r = p.tiny(&["doctor", "--format", "json"]);
    let finding: Value = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|f| f["code"] == "size-budget")
        .unwrap();
    assert_eq!(finding["severity"], "info", "{finding}");
    let msg = finding["message"].as_str().unwrap();
    assert!(
        msg.contains("binary ") && msg.contains("layer linux/amd64 "),
        "{msg}"
    );
    assert!(msg.contains(" left)") && !msg.contains("over)"), "{msg}");
}

#[test]
fn http_service_every_byte_is_attributed_and_the_treemap_draws_it() {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&repo().join("examples/http-service"), dir.path());
    let manifest = dir.path().join("Cargo.toml");
    let fix = run(cargo_tiny()
        .args(["doctor", "--fix", "--manifest-path"])
        .arg(&manifest));
    assert_eq!(fix.code, 0, "{}", fix.stderr);
    let r = run(cargo_tiny()
        .args(["size", "--message-format", "json", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(fixture_target_dir().join("size-http-service")));
    let rep = report(&r);
    assert_accounts_for_every_byte(&rep);
    let bin = &rep["binaries"][0];
    let size = bin["size"].as_u64().unwrap();
    let path: PathBuf = messages(&r)
        .iter()
        .find(|m| m["reason"] == "binary")
        .map(|m| m["path"].as_str().unwrap().into())
        .unwrap();
    assert_eq!(size, std::fs::metadata(path).unwrap().len());
    // Within 5 % attributed to crates and libraries; the rest named.
    let attributed = bin["attributed"].as_u64().unwrap();
    assert!(
        attributed as f64 >= 0.95 * size as f64,
        "{attributed} of {size}"
    );
    let owners = bin["owners"].as_array().unwrap();
    let named_rest: u64 = owners
        .iter()
        .filter(|o| o["kind"] == "unattributed")
        .map(|o| {
            assert!(!o["name"].as_str().unwrap().is_empty());
            o["size"].as_u64().unwrap()
        })
        .sum();
    assert_eq!(attributed + named_rest, size);
    // The largest: ring (its assembly and tables), rustls; std's crates shown as such; musl's libc.
    let top: Vec<&str> = owners
        .iter()
        .take(3)
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(top.contains(&"ring") && top.contains(&"rustls"), "{top:?}");
    for s in ["std", "core", "alloc"] {
        assert_eq!(owner(bin, s)["kind"], "std");
    }
    assert_eq!(owner(bin, "musl libc")["kind"], "libc");
    assert!(owner(bin, "ring")["text"].as_u64().unwrap() > 100_000);
    eprintln!(
        "http-service: {size} bytes, {attributed} attributed ({:.2} %), top {top:?}",
        attributed as f64 * 100.0 / size as f64
    );
    if let Some(dom) = render(Path::new(rep["html_path"].as_str().unwrap())) {
        assert_treemap(&dom, bin);
    }
}

/// An arm64 binary, linked by rust-lld: its twin keeps symbols only (lld lays sections out otherwise
/// with `--emit-relocs`), the code's references are read from its `adrp` pairs; every byte is still
/// owned or named, and the twin's loaded sections are the binary's.
#[test]
fn an_arm64_binary_linked_by_lld_is_attributed_too() {
    let p = Project::new();
    p.add_bigdep();
    let rep = report(&p.tiny(&[
        "size",
        "--message-format",
        "json",
        "--target",
        "aarch64-unknown-linux-musl",
    ]));
    assert_accounts_for_every_byte(&rep);
    let bin = &rep["binaries"][0];
    assert_eq!(bin["target"], "aarch64-unknown-linux-musl");
    let (size, attributed) = (
        bin["size"].as_u64().unwrap(),
        bin["attributed"].as_u64().unwrap(),
    );
    assert!(
        attributed as f64 >= 0.95 * size as f64,
        "{attributed} of {size}"
    );
    assert!(owner(bin, "bigdep")["data"].as_u64().unwrap() >= 256 * 1024);
    assert_eq!(owner(bin, "libunwind")["kind"], "std");
    assert_eq!(owner(bin, "musl libc")["kind"], "libc");
    assert_eq!(rep["images"][0]["platform"], "linux/arm64");
}

/// Over budget with `--push` and `--load`: the check runs once the tarball is written and before
/// any publisher, so the registry and the engine never see the image; the tarball stays, for
/// inspection, and the error says so.
#[test]
fn over_budget_nothing_is_pushed_or_loaded() {
    if !require_tool("docker-registry", &["--version"]) || !require_tool("podman", &["--version"]) {
        return;
    }
    let p = Project::new();
    p.add_bigdep();
    let reg = common::registry::Registry::plain();
    let name = format!("{}/over/sized", reg.host());
    let tarball = p.path().join("target/tiny/sized.tar");

    let r = p.tiny(&[
        "build",
        "--image",
        &name,
        "--push",
        "--size-budget",
        "binary=200KiB",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = error_line(&r);
    assert!(
        line.starts_with("error: over the size budget: sized binary "),
        "{line}"
    );
    assert!(line.contains("KiB over); biggest: bigdep "), "{line}");
    assert!(
        line.contains("(nothing pushed or loaded; written for inspection: "),
        "{line}"
    );
    assert!(!r.stderr.contains("Pushed"), "{}", r.stderr);
    assert!(!r.stderr.contains("Pushing"), "{}", r.stderr);
    // The registry has no such repository (a push would have made one).
    let (status, body) = reg.http("GET", "/v2/over/sized/tags/list", "application/json", b"");
    assert_eq!(status, 404, "{}", String::from_utf8_lossy(&body));
    assert!(tarball.is_file(), "the tarball is kept for inspection");
    // The image written for inspection is reported (its Image line), before the error.
    let image = r.stderr.find("Image ").expect("an Image line");
    assert!(image < r.stderr.find("error:").unwrap(), "{}", r.stderr);

    // With JSON messages: the `image` message, its tarball, and no `pushed`.
    let r = p.tiny(&[
        "build",
        "--image",
        &name,
        "--push",
        "--size-budget",
        "binary=200KiB",
        "--message-format",
        "json",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        error_line(&r).contains("over the size budget"),
        "{}",
        r.stderr
    );
    let image = messages(&r)
        .into_iter()
        .find(|m| m["reason"] == "image")
        .unwrap_or_else(|| panic!("an image message: {}", r.stdout));
    assert_eq!(
        Path::new(image["path"].as_str().unwrap()),
        tarball.canonicalize().unwrap(),
        "{image}"
    );
    assert!(image.get("pushed").is_none(), "{image}");
    assert!(image.get("loaded").is_none(), "{image}");

    // The layer over budget with --load: podman has no such image.
    let reference = format!("localhost/over-budget-{}:0.1.0", std::process::id());
    let r = p.tiny(&[
        "build",
        "--image",
        reference.split(':').next().unwrap(),
        "--load=podman",
        "--size-budget",
        "layer=100KiB",
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let line = error_line(&r);
    assert!(line.contains("sized layer "), "{line}");
    assert!(line.contains("biggest: /usr/local/bin/sized "), "{line}");
    assert!(line.contains("nothing pushed or loaded"), "{line}");
    assert!(!r.stderr.contains("Loaded"), "{}", r.stderr);
    let exists = |reference: &str| {
        Command::new("podman")
            .args(["image", "exists", reference])
            .status()
            .unwrap()
            .success()
    };
    assert!(
        !exists(&reference),
        "podman has {reference}: the budget came after the load"
    );

    // Within: pushed, and the Budget line after it.
    let r = p.tiny(&[
        "build",
        "--image",
        &name,
        "--push",
        "--size-budget",
        "binary=10MiB,layer=10MiB",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let tags = reg.get_json("/v2/over/sized/tags/list");
    assert!(
        tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "0.1.0"),
        "{tags}"
    );
    let pushed = r.stderr.find("Pushed").expect("a Pushed line");
    let budget = r.stderr.find("Budget").expect("a Budget line");
    assert!(pushed < budget, "{}", r.stderr);

    // And within, --load loads it (the same reference the over-budget build did not).
    let r = p.tiny(&[
        "build",
        "--image",
        reference.split(':').next().unwrap(),
        "--load=podman",
        "--size-budget",
        "layer=10MiB",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(exists(&reference), "{}", r.stderr);
    let _ = Command::new("podman")
        .args(["image", "rm", &reference])
        .output();
}
