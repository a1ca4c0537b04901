//! The progress line of long work (issue 28 item 7): a layer of a large incompressible `files`
//! source compressing, and its upload, show a line redrawn in place with a rate and the time left
//! — through a pseudo-terminal (`script`), since the line is drawn only when stderr is a terminal;
//! without one, the build's stderr has exactly its status lines, nothing redrawn.

mod common;

use std::path::Path;

use common::registry::Registry;
use common::*;

/// 64 MiB that no compressor shrinks: gzip level 9 takes seconds on it (more than the line's
/// one-second delay on any machine), and its upload takes more than one chunk.
const NOISE: usize = 64 << 20;

/// Pseudo-random bytes (xorshift64*), a different stream for each seed.
fn noise(path: &Path, seed: u64, size: usize) {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(size);
    while out.len() < size {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    std::fs::write(path, out).unwrap();
}

/// A POSIX shell word.
fn word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let pkg = dir.path().join("hello");
        copy_tree(&repo().join("examples/hello"), &pkg);
        let manifest = pkg.join("Cargo.toml");
        let mut toml = std::fs::read_to_string(&manifest).unwrap();
        toml.push_str(
            "\n[package.metadata.tiny]\nfiles = { \"/data/noise.bin\" = \"noise.bin\" }\n",
        );
        std::fs::write(&manifest, toml).unwrap();
        Project { dir }
    }

    fn args(&self, extra: &[&str]) -> Vec<String> {
        let pkg = self.dir.path().join("hello");
        let mut args: Vec<String> = ["tiny", "build", "--manifest-path"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(pkg.join("Cargo.toml").display().to_string());
        args.push("--target-dir".into());
        args.push(fixture_target_dir().join("progress").display().to_string());
        args.push("--output".into());
        args.push(self.dir.path().join("out/hello.tar").display().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    fn noise(&self, seed: u64) {
        self.noise_of(seed, NOISE);
    }

    fn noise_of(&self, seed: u64, size: usize) {
        noise(&self.dir.path().join("hello/noise.bin"), seed, size);
    }

    /// The build with stderr (and stdout) on a pipe: no terminal.
    fn piped(&self, extra: &[&str]) -> Run {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cargo-tiny"));
        cmd.args(self.args(extra));
        isolate(&mut cmd);
        run(&mut cmd)
    }

    /// The build on a pseudo-terminal (`script -q -e -c CMD /dev/null`): what the terminal got,
    /// stdout and stderr together.
    fn on_a_terminal(&self, extra: &[&str]) -> Run {
        let line: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_cargo-tiny").to_string())
            .chain(self.args(extra))
            .map(|w| word(&w))
            .collect();
        let mut cmd = std::process::Command::new("script");
        cmd.args(["-q", "-e", "-c", &line.join(" "), "/dev/null"])
            // A terminal wide enough for the line; no colour, to match the text.
            .env("COLUMNS", "120")
            .env("NO_COLOR", "1")
            .env("TERM", "xterm");
        isolate(&mut cmd);
        run(&mut cmd)
    }
}

/// The lines the progress line drew (between carriage returns), as the terminal got them.
fn drawn(out: &str, verb: &str) -> Vec<String> {
    out.split('\r')
        .map(|s| s.trim_end_matches("\x1b[K").to_string())
        .filter(|s| s.trim_start().starts_with(verb) && s.contains('['))
        .collect()
}

#[test]
fn compressing_and_uploading_a_large_layer_show_a_rate_and_the_time_left_on_a_terminal_only() {
    if !require_tool("script", &["--version"]) || !require_tool("docker-registry", &["--version"]) {
        return;
    }
    let p = Project::new();

    // No terminal: today's lines only, nothing redrawn.
    p.noise(1);
    let r = p.piped(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains('\r'), "{:?}", r.stderr);
    assert!(!r.stderr.contains("\x1b[K"), "{:?}", r.stderr);
    assert!(
        !r.stderr
            .lines()
            .any(|l| l.trim_start().starts_with("Compressing")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("       Image "), "{}", r.stderr);

    // On a terminal, a new layer: the line, with a rate and the time left, then erased.
    p.noise(2);
    let r = p.on_a_terminal(&[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let lines = drawn(&r.stdout, "Compressing");
    assert!(!lines.is_empty(), "no progress line: {:?}", r.stdout);
    let last = lines.last().unwrap();
    assert!(last.contains(" MiB/s, "), "{last}");
    assert!(last.ends_with(" left"), "{last}");
    assert!(last.contains("MiB/64."), "{last}");
    // Erased once done, before the status lines that follow.
    let after = r.stdout.rfind(" left").unwrap();
    let image = r.stdout.find("       Image ").expect("an Image line");
    assert!(
        r.stdout[after..image].contains("\r\x1b[K"),
        "{:?}",
        &r.stdout[after..image]
    );

    // gzip-max: zopfli takes the tar whole and says nothing until done; the line says how long it
    // has run (no bar that would fill at once and lie), then the gzip pass it is measured against.
    p.noise_of(5, 2 << 20);
    let r = p.on_a_terminal(&["--compression", "gzip-max"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let busy: Vec<&str> = r
        .stdout
        .split('\r')
        .filter(|s| s.contains("Compressing zopfli on a 2."))
        .collect();
    assert!(!busy.is_empty(), "no zopfli line: {:?}", r.stdout);
    assert!(
        busy.iter()
            .all(|l| l.contains(" MiB tar, ") && l.contains("s so far")),
        "{busy:?}"
    );
    assert!(
        r.stdout.contains("  Compressed layer with gzip-max"),
        "{:?}",
        r.stdout
    );

    // The upload: through a registry, over a proxy slow enough to take seconds.
    let reg = Registry::plain();
    let proxy = common::slow_proxy(reg.port, 16 << 20);
    let name = format!("127.0.0.1:{proxy}/noise/hello");
    p.noise(3);
    let r = p.piped(&["--image", &name, "--push"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains('\r'), "{:?}", r.stderr);
    assert!(
        r.stderr.contains("   Uploading blob of 64."),
        "{}",
        r.stderr
    );
    p.noise(4);
    let r = p.on_a_terminal(&["--image", &name, "--push"]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let lines = drawn(&r.stdout, "Uploading");
    assert!(!lines.is_empty(), "no upload line: {:?}", r.stdout);
    let last = lines.last().unwrap();
    assert!(last.contains("/s, ") && last.ends_with(" left"), "{last}");
    assert!(r.stdout.contains("      Pushed "), "{:?}", r.stdout);
}
