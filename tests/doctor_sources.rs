//! doctor reads the workspace's sources without trusting them (issue 21, items 3 and 4): a
//! `#[path]` to `/dev/zero`, a FIFO, a file nested too deeply for syn's recursion — each is one
//! `source-skipped` info line, and doctor goes on with the other files; no hang, no growth, no
//! stack overflow. Peak memory is measured with wait4's `ru_maxrss`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

/// A package whose main module declares the hostile modules next to an ordinary one that runs
/// `git` (which doctor must still find).
fn hostile_package(dir: &Path, chain: usize) {
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"hostile\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/main.rs"),
        "#[path = \"/dev/zero\"]\nmod zero;\n#[path = \"pipe\"]\nmod fifo;\nmod nested;\nmod chain;\nmod ordinary;\n\
         fn main() { ordinary::run(); }\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("src/ordinary.rs"),
        "pub fn run() { let _ = std::process::Command::new(\"git\").status(); }\n",
    )
    .unwrap();
    let fifo = std::ffi::CString::new(dir.join("src/pipe").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    std::fs::write(
        dir.join("src/nested.rs"),
        format!(
            "pub fn f() -> u8 {{ {}1{} }}\n",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
    )
    .unwrap();
    // Just under doctor's chain limit: parsed (on doctor's parse thread), not refused.
    std::fs::write(
        dir.join("src/chain.rs"),
        format!("pub fn f() -> bool {{ {}true }}\n", "!".repeat(chain)),
    )
    .unwrap();
}

/// Runs `cmd` to its end (killed after `limit`), returning (exit code or -signal, peak RSS in KiB,
/// stdout).
fn run_measured(cmd: &mut std::process::Command, limit: Duration) -> (i32, i64, String) {
    let out = tempfile::NamedTempFile::new().unwrap();
    // Reaped by wait4 below (which also gives the peak RSS), not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd
        .stdout(out.reopen().unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let start = Instant::now();
    loop {
        let mut status = 0;
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if r == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -libc::WTERMSIG(status)
            };
            return (
                code,
                usage.ru_maxrss,
                std::fs::read_to_string(out.path()).unwrap(),
            );
        }
        if start.elapsed() > limit {
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("doctor still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn hostile_source_files_are_one_info_line_each_and_doctor_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    hostile_package(dir.path(), 19_000);
    let (code, rss_kib, stdout) = run_measured(
        common::cargo_tiny()
            .args(["doctor", "--offline", "--format", "json", "--manifest-path"])
            .arg(dir.path().join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", dir.path().join("target")),
        Duration::from_secs(300),
    );
    let findings: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let skipped: Vec<String> = findings
        .iter()
        .filter(|f| f["code"] == "source-skipped")
        .map(|f| {
            assert_eq!(f["severity"], "info", "{f}");
            format!(
                "{} {}",
                f["file"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect();
    println!(
        "exit {code}, peak RSS {} MiB; skipped: {skipped:#?}",
        rss_kib / 1024
    );
    assert!(code == 0 || code == 1, "exit {code}: {stdout}");
    assert_eq!(skipped.len(), 3, "{skipped:#?}");
    for (file, why) in [
        ("/dev/zero", "is not a regular file"),
        ("src/pipe", "is not a regular file"),
        ("src/nested.rs", "nests more than 256 delimiters deep"),
    ] {
        assert!(
            skipped
                .iter()
                .any(|m| m.starts_with(&format!("{file} a source file {why}"))),
            "{file}: {skipped:#?}"
        );
    }
    // The other files were read: the ordinary module's program is still found.
    assert!(
        findings
            .iter()
            .any(|f| f["code"] == "missing-program"
                && f["message"].as_str().unwrap().contains("`git`")),
        "{stdout}"
    );
    // /dev/zero is never read: doctor's peak is what it is without it (cargo metadata's output
    // and the parsed sources), far below what reading from /dev/zero would grow to.
    assert!(rss_kib < 256 * 1024, "peak RSS {rss_kib} KiB");
}

/// Text a hostile workspace controls, with every byte that could restyle a terminal, rewrite a
/// line or start a second GitHub workflow command.
const HOSTILE: &str = "e\u{1b}[2J\u{1b}]0;t\u{7}vil\r\n::error file=x.rs::forged%0A,\u{202e}\u{8}";

#[test]
fn hostile_names_reach_neither_the_terminal_nor_a_workflow_command_raw() {
    let tmp = tempfile::tempdir().unwrap();
    // The workspace's own directory, a `#[path]` file name (a FIFO: skipped, named) and a program
    // the sources run (named by missing-program) all carry the hostile text.
    let dir = tmp.path().join(format!("ws-{HOSTILE}"));
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"hostile\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .unwrap();
    let fifo_name = format!("p-{HOSTILE}.rs");
    std::fs::write(
        dir.join("src/main.rs"),
        format!(
            "#[path = {fifo:?}]\nmod fifo;\n\
             fn main() {{ let _ = std::process::Command::new({prog:?}).status(); }}\n",
            fifo = fifo_name,
            prog = format!("prog-{HOSTILE}"),
        ),
    )
    .unwrap();
    let fifo = std::ffi::CString::new(dir.join("src").join(&fifo_name).to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let doctor = |format: &str| {
        let out = common::cargo_tiny()
            .args([
                "doctor",
                "--offline",
                "--message-format",
                format,
                "--manifest-path",
            ])
            .arg(dir.join("Cargo.toml"))
            .env("CARGO_TARGET_DIR", tmp.path().join("target"))
            .env("GITHUB_WORKSPACE", tmp.path())
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{format}: {:?}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let raw = |text: &str| {
        text.chars()
            .filter(|&c| c != '\n' && cargo_tiny::shell::unsafe_char(c))
            .collect::<Vec<char>>()
    };

    // JSON keeps the names whole (serde escapes them): what the other formats must show.
    let json = doctor("json");
    let findings: Vec<serde_json::Value> = String::from_utf8(json.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let named = |code: &str| {
        findings
            .iter()
            .any(|f| f["code"] == code && f.to_string().contains("forged%0A"))
    };
    assert!(named("source-skipped"), "{findings:#?}");
    assert!(named("missing-program"), "{findings:#?}");

    let human = doctor("human");
    let stderr = String::from_utf8(human.stderr).unwrap();
    assert_eq!(raw(&stderr), Vec::<char>::new(), "{stderr:?}");
    assert!(!stderr.lines().any(|l| l.starts_with("::")), "{stderr}");
    assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");

    let github = doctor("github");
    let stdout = String::from_utf8(github.stdout).unwrap();
    assert_eq!(raw(&stdout), Vec::<char>::new(), "{stdout:?}");
    // One line per finding, each one command: the forged one is the message's text.
    assert_eq!(stdout.lines().count(), findings.len(), "{stdout}");
    for line in stdout.lines() {
        assert!(
            ["::error", "::warning", "::notice"]
                .iter()
                .any(|l| line.starts_with(l)),
            "{line}"
        );
        // The properties hold no `:` (escaped as %3A) and no `,` but their separators: the
        // command ends where GitHub expects it to.
        let (command, _message) = line[2..].split_once("::").unwrap();
        assert!(!command.contains(':'), "{line}");
        assert!(command.matches(',').count() <= 1, "{line}");
    }
    assert!(stdout.contains("forged%250A"), "{stdout}");
}
