//! The `pid1-signals` check: a binary that installs no SIGTERM handler cannot be stopped gracefully
//! as PID 1 of a FROM-scratch image (the kernel gives PID 1 no default signal actions: SIGTERM and
//! SIGINT are ignored, `docker stop` / `podman stop` / Kubernetes wait the grace period, then SIGKILL).
//!
//! Decided by both the graph and the sources: a signal API counts only when the member's own code
//! calls it (found with `syn` in its module trees) *and* the graph provides it (tokio's `signal`
//! feature, the ctrlc crate …); a crate in the graph that is never called handles nothing. Servers
//! that install the handlers themselves (actix-server, rocket, pingora) count from the graph alone.

use super::findings::{Finding, Severity};
use super::graph::Graph;
use super::scratch;
use super::sources;
use crate::shell::Shell;
use crate::workspace::Workspace;

/// A signal API: the path prefix the sources name, the crate (and feature) the graph must have.
struct Api {
    path: &'static str,
    krate: &'static str,
    feature: Option<&'static str>,
}

const APIS: &[Api] = &[
    Api {
        path: "tokio::signal",
        krate: "tokio",
        feature: Some("signal"),
    },
    // tokio 0.1's signal crate.
    Api {
        path: "tokio_signal",
        krate: "tokio-signal",
        feature: None,
    },
    Api {
        path: "signal_hook",
        krate: "signal-hook",
        feature: None,
    },
    Api {
        path: "signal_hook_tokio",
        krate: "signal-hook-tokio",
        feature: None,
    },
    Api {
        path: "signal_hook_async_std",
        krate: "signal-hook-async-std",
        feature: None,
    },
    Api {
        path: "signal_hook_registry",
        krate: "signal-hook-registry",
        feature: None,
    },
    Api {
        path: "ctrlc",
        krate: "ctrlc",
        feature: None,
    },
    Api {
        path: "async_ctrlc",
        krate: "async-ctrlc",
        feature: None,
    },
    Api {
        path: "async_signal",
        krate: "async-signal",
        feature: None,
    },
    Api {
        path: "actix_rt::signal",
        krate: "actix-rt",
        feature: None,
    },
    Api {
        path: "nix::sys::signal::sigaction",
        krate: "nix",
        feature: Some("signal"),
    },
    Api {
        path: "nix::sys::signal::signal",
        krate: "nix",
        feature: Some("signal"),
    },
    Api {
        path: "libc::signal",
        krate: "libc",
        feature: None,
    },
    Api {
        path: "libc::sigaction",
        krate: "libc",
        feature: None,
    },
];

/// Named paths (last segments) that mean SIGTERM is among the handled signals.
const TERM: &[&str] = &[
    "SignalKind::terminate",
    "SIGTERM",
    "TERM_SIGNALS",
    "Signal::Term",
];
/// … that mean SIGINT (Ctrl-C) is.
const INT: &[&str] = &[
    "ctrl_c",
    "set_handler",
    "try_set_handler",
    "SignalKind::interrupt",
    "SIGINT",
    "Signal::Int",
    "CtrlC",
];

/// Paths that mean the program serves or waits (a listener, a server, a park, a sleep, a timer):
/// only such a program is still running when `docker stop` comes. A program that runs and exits
/// (hello world, a one-shot job) gets no pid1-signals warning.
const SERVES_OR_WAITS: &[&str] = &[
    "std::net::TcpListener",
    "std::net::UdpSocket",
    "std::os::unix::net::UnixListener",
    "std::os::unix::net::UnixDatagram",
    "tokio::net::TcpListener",
    "tokio::net::UdpSocket",
    "tokio::net::UnixListener",
    "async_std::net::TcpListener",
    "async_net::TcpListener",
    "axum::serve",
    "axum::Server",
    "hyper::Server",
    "hyper::server",
    "hyper_util::server",
    "warp::serve",
    "tonic::transport::Server",
    "actix_web::HttpServer",
    "poem::Server",
    "salvo::Server",
    "tide::Server",
    "tiny_http::Server",
    "rouille::start_server",
    "std::thread::park",
    "std::thread::sleep",
    "std::future::pending",
    "futures::future::pending",
    "tokio::time::sleep",
    "tokio::time::interval",
    "async_std::task::sleep",
];

/// Methods that mean the same (`listener.incoming()`, `.accept().await`, `Server::bind(..).serve(..)`).
const SERVE_METHODS: &[&str] = &["accept", "incoming", "serve", "listen"];

/// What shows that the program serves or waits, if anything does.
fn serves_or_waits(scan: &sources::Scan) -> Option<String> {
    SERVES_OR_WAITS
        .iter()
        .find(|p| scan.names(p))
        .map(|p| format!("`{p}`"))
        .or_else(|| {
            SERVE_METHODS
                .iter()
                .find(|m| scan.methods.contains(**m))
                .map(|m| format!("`.{m}()`"))
        })
}

/// Crates that install SIGTERM handlers themselves when they serve (graceful shutdown built in).
const HANDLES_ITSELF: &[&str] = &["actix-server", "rocket", "pingora-core"];

/// What a panic looks like as PID 1 with `panic = "abort"`: printed once whenever the size profile
/// sets it (`build`/`init --panic-abort`; any other flag that does, such as a `--size max`, gets it
/// through `SizeProfile::panic_abort` or by calling [`note_panic_as_pid1`]).
pub const PANIC_AS_PID1: &str = "with panic = \"abort\", a panic as PID 1 of a FROM-scratch image prints its message, then the container exits with 139 (SIGSEGV), not 134 (SIGABRT): PID 1 ignores SIGABRT, so musl's abort() ends in a crash instruction; unwinding (the default) exits with 101";

/// Prints [`PANIC_AS_PID1`] as a cargo-style note; call it once per command.
pub fn note_panic_as_pid1(shell: &Shell) {
    shell.note("Note", PANIC_AS_PID1);
}

/// Which signals the member's own code handles, as far as the sources tell.
#[derive(Debug, PartialEq, Eq)]
enum Handled {
    /// No signal API is called.
    Nothing,
    /// Only SIGINT (`tokio::signal::ctrl_c`, `ctrlc` without its `termination` feature).
    InterruptOnly,
    /// SIGTERM, a server that handles it, or signals the sources do not name literally.
    Terminate,
}

/// `has_crate(name)` / `has_feature(name, feature)`: what the member's graph activates.
fn handled(
    has_crate: &dyn Fn(&str) -> bool,
    has_feature: &dyn Fn(&str, &str) -> bool,
    scan: &sources::Scan,
) -> Handled {
    // actix-server's own handlers are off after `.disable_signals()`.
    if HANDLES_ITSELF.iter().any(|c| has_crate(c)) && !scan.methods.contains("disable_signals") {
        return Handled::Terminate;
    }
    let used: Vec<&Api> = APIS
        .iter()
        .filter(|a| {
            scan.names(a.path)
                && match a.feature {
                    Some(f) => has_feature(a.krate, f),
                    None => has_crate(a.krate),
                }
        })
        .collect();
    if used.is_empty() {
        return Handled::Nothing;
    }
    let ctrlc_term = used.iter().any(|a| a.krate == "ctrlc") && has_feature("ctrlc", "termination");
    if ctrlc_term || TERM.iter().any(|t| scan.names_suffix(t)) {
        return Handled::Terminate;
    }
    if INT.iter().any(|t| scan.names_suffix(t)) {
        return Handled::InterruptOnly;
    }
    // A signal API with signals the sources compute: give it the benefit of the doubt.
    Handled::Terminate
}

/// `name` (`SIGINT`), without its `SIG` prefix, or its `number`, in any case.
fn is_signal(s: &str, name: &str, number: &str) -> bool {
    let s = s.trim().to_ascii_uppercase();
    s == name || s == name.trim_start_matches("SIG") || s == number
}

fn is_sigint(s: &str) -> bool {
    is_signal(s, "SIGINT", "2")
}

/// `stop-signal = "SIGKILL"`: the image says it needs no graceful stop (a CLI, a batch job);
/// `docker stop` kills it at once.
fn is_sigkill(s: &str) -> bool {
    is_signal(s, "SIGKILL", "9")
}

const FIX: &str = "handle SIGTERM (tokio: `signal(SignalKind::terminate())` with tokio's `signal` feature; else the ctrlc crate with its `termination` feature), or run the container with an init (`docker run --init`); a program that needs no graceful stop: stop-signal = \"SIGKILL\" in [package.metadata.tiny]";

pub fn check(ws: &Workspace, g: &Graph) -> Vec<Finding> {
    let mut out = Vec::new();
    for m in scratch::members(ws, g) {
        let stop = scratch::image_config(ws, m.package).and_then(|c| c.stop_signal);
        if stop.as_deref().is_some_and(is_sigkill) {
            continue;
        }
        for bin in m.bins() {
            let roots = scratch::own_roots(ws, g, &m, Some(bin));
            let scan = sources::scan(&roots);
            let verdict = handled(
                &|c: &str| m.has_crate(g, c),
                &|c: &str, f: &str| m.has_feature(g, c, f),
                &scan,
            );
            let (message, fix) = match verdict {
                Handled::Terminate => continue,
                Handled::InterruptOnly if stop.as_deref().is_some_and(is_sigint) => continue,
                // A program that runs and exits is gone before anyone stops it. Evidence in the
                // bin's own files is a warning; evidence only in a library it links (which may
                // hold a server the bin never starts: a client bin next to a server module) is
                // an info line.
                Handled::Nothing => {
                    let own = sources::scan(&[bin.src_path.clone().into_std_path_buf()]);
                    match (serves_or_waits(&own), serves_or_waits(&scan)) {
                        (Some(evidence), _) => (
                            format!("bin `{}` serves or waits ({evidence}) but installs no signal handler: as PID 1 of a FROM-scratch image it ignores SIGTERM, so `docker stop`, `podman stop` and Kubernetes wait their whole grace period, then SIGKILL it (exit 137)", bin.name),
                            FIX.to_string(),
                        ),
                        (None, Some(evidence)) => {
                            out.push(Finding {
                                code: "pid1-signals",
                                severity: Severity::Info,
                                message: format!("bin `{}` installs no signal handler and links a library that serves or waits ({evidence}); if the bin runs it, as PID 1 it ignores SIGTERM", bin.name),
                                path: vec![m.package.name.to_string(), format!("bin {}", bin.name)],
                                fix: Some(FIX.to_string()),
                                file: Some(bin.src_path.to_string()),
                                line: None,
                                edit: None,
                                verified: None,
                            });
                            continue;
                        }
                        (None, None) => continue,
                    }
                }
                Handled::InterruptOnly => (
                    format!("bin `{}` handles only SIGINT (Ctrl-C): `docker stop`, `podman stop` and Kubernetes send SIGTERM, which PID 1 ignores, so they wait their grace period, then SIGKILL it (exit 137)", bin.name),
                    format!("set stop-signal = \"SIGINT\" in [package.metadata.tiny], or also {FIX}"),
                ),
            };
            out.push(Finding {
                code: "pid1-signals",
                severity: Severity::Warning,
                message,
                path: vec![m.package.name.to_string(), format!("bin {}", bin.name)],
                fix: Some(fix),
                file: Some(bin.src_path.to_string()),
                line: None,
                edit: None,
                verified: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verdict on `main.rs` = `code`, with a graph of `crates` and `features` (`crate/feature`).
    fn verdict(code: &str, crates: &[&str], features: &[&str]) -> Handled {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main.rs");
        std::fs::write(&main, code).unwrap();
        let scan = sources::scan(&[main]);
        handled(
            &|c: &str| crates.contains(&c),
            &|c: &str, f: &str| features.contains(&format!("{c}/{f}").as_str()),
            &scan,
        )
    }

    #[test]
    fn the_sources_and_the_graph_decide_together() {
        let term = "use tokio::signal::unix::{signal, SignalKind};\n\
                    async fn w() { signal(SignalKind::terminate()).unwrap().recv().await; }";
        let tokio = &["tokio"][..];
        assert_eq!(verdict(term, tokio, &["tokio/signal"]), Handled::Terminate);
        // The code alone does not compile without the feature: the graph must provide it.
        assert_eq!(verdict(term, tokio, &[]), Handled::Nothing);
        // The feature alone (no call from the member's code) handles nothing.
        assert_eq!(
            verdict("fn main() {}", tokio, &["tokio/signal"]),
            Handled::Nothing
        );
        let ctrl_c = "async fn w() { tokio::select! { _ = tokio::signal::ctrl_c() => {} } }";
        assert_eq!(
            verdict(ctrl_c, tokio, &["tokio/signal"]),
            Handled::InterruptOnly
        );
        let ctrlc = "fn main() { ctrlc::set_handler(|| std::process::exit(0)).unwrap(); }";
        assert_eq!(verdict(ctrlc, &["ctrlc"], &[]), Handled::InterruptOnly);
        assert_eq!(
            verdict(ctrlc, &["ctrlc"], &["ctrlc/termination"]),
            Handled::Terminate
        );
        let hook = "use signal_hook::consts::TERM_SIGNALS;\n\
                    fn main() { for s in TERM_SIGNALS { signal_hook::flag::register(*s, f()); } }";
        assert_eq!(verdict(hook, &["signal-hook"], &[]), Handled::Terminate);
        // Sending SIGTERM is not handling it.
        let kill = "use nix::sys::signal::{kill, Signal};\n\
                    fn main() { kill(p(), Signal::SIGTERM).unwrap(); }";
        assert_eq!(verdict(kill, &["nix"], &["nix/signal"]), Handled::Nothing);
    }

    #[test]
    fn only_programs_that_serve_or_wait_need_a_handler() {
        let scan_of = |code: &str| {
            let dir = tempfile::tempdir().unwrap();
            let main = dir.path().join("main.rs");
            std::fs::write(&main, code).unwrap();
            sources::scan(&[main])
        };
        assert_eq!(
            serves_or_waits(&scan_of("fn main() { println!(\"hello\"); }")),
            None
        );
        assert_eq!(
            serves_or_waits(&scan_of(
                "use std::net::TcpListener;\nfn main() { let l = TcpListener::bind(\"0:80\").unwrap(); }"
            )),
            Some("`std::net::TcpListener`".into())
        );
        assert_eq!(
            serves_or_waits(&scan_of(
                "fn main() { loop { work(); std::thread::sleep(D); } }"
            )),
            Some("`std::thread::sleep`".into())
        );
        assert_eq!(
            serves_or_waits(&scan_of("fn main() { for s in l.incoming() {} }")),
            Some("`.incoming()`".into())
        );
    }

    #[test]
    fn servers_that_handle_sigterm_themselves() {
        let actix = &["actix-server"][..];
        assert_eq!(verdict("fn main() {}", actix, &[]), Handled::Terminate);
        let off = "fn main() { HttpServer::new(app).disable_signals().run(); }";
        assert_eq!(verdict(off, actix, &[]), Handled::Nothing);
    }

    #[test]
    fn stop_signal_spellings() {
        for s in ["SIGINT", "sigint", "INT", "2"] {
            assert!(is_sigint(s), "{s}");
        }
        for s in ["SIGKILL", "KILL", "9"] {
            assert!(is_sigkill(s), "{s}");
        }
        assert!(!is_sigint("SIGTERM") && !is_sigkill("SIGTERM"));
    }
}
