//! The upload progress indicator: a status line per large blob, and on a terminal a line redrawn
//! in place with the bytes sent so far (all large blobs together).

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::shell::{human_size, Shell, Verbosity};

pub struct Progress<'a> {
    shell: &'a Shell,
    live: Option<Arc<Counter>>,
}

#[derive(Default)]
struct Counter {
    total: AtomicU64,
    done: AtomicU64,
}

impl Counter {
    fn draw(&self) {
        let done = self.done.load(Ordering::Relaxed);
        let total = self.total.load(Ordering::Relaxed).max(1);
        let _ = write!(
            std::io::stderr(),
            "\r{:>12} {} / {} ({}%)\x1b[K",
            "Uploading",
            human_size(done),
            human_size(total),
            done * 100 / total
        );
    }
}

/// One blob's share of the progress; cloned into the upload stream.
#[derive(Clone)]
pub struct Task {
    live: Option<Arc<Counter>>,
    sent: Arc<AtomicU64>,
}

impl Task {
    pub fn advance(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
        if let Some(c) = &self.live {
            c.done.fetch_add(n, Ordering::Relaxed);
            c.draw();
        }
    }

    /// A retry starts the blob over.
    pub fn restart(&self) {
        let sent = self.sent.swap(0, Ordering::Relaxed);
        if let Some(c) = &self.live {
            c.done.fetch_sub(sent, Ordering::Relaxed);
        }
    }
}

impl<'a> Progress<'a> {
    pub fn new(shell: &'a Shell) -> Progress<'a> {
        let live = (shell.verbosity() != Verbosity::Quiet && std::io::stderr().is_terminal())
            .then(|| Arc::new(Counter::default()));
        Progress { shell, live }
    }

    pub fn start(&self, size: u64) -> Task {
        if self.live.is_some() {
            // Clear the live line before a status line.
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
        self.shell
            .status("Uploading", format!("blob of {}", human_size(size)));
        if let Some(c) = &self.live {
            c.total.fetch_add(size, Ordering::Relaxed);
        }
        Task {
            live: self.live.clone(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn finish(&self) {
        if self
            .live
            .as_ref()
            .is_some_and(|c| c.total.load(Ordering::Relaxed) > 0)
        {
            let _ = write!(std::io::stderr(), "\r\x1b[K");
        }
    }
}
