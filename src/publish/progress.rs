//! The upload progress indicator: a status line per large blob, and on a terminal one line for all
//! large blobs together, redrawn in place with the rate and the time left ([`crate::progress`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::progress::Meter;
use crate::shell::{human_size, Shell};

pub struct Progress<'a> {
    shell: &'a Shell,
    meter: Meter,
}

/// One blob's share of the progress; cloned into the upload stream.
#[derive(Clone)]
pub struct Task {
    meter: Meter,
    sent: Arc<AtomicU64>,
}

impl Task {
    pub fn advance(&self, n: u64) {
        self.sent.fetch_add(n, Ordering::Relaxed);
        self.meter.advance(n);
    }

    /// A retry starts the blob over.
    pub fn restart(&self) {
        let sent = self.sent.swap(0, Ordering::Relaxed);
        self.meter.retreat(sent);
    }
}

impl<'a> Progress<'a> {
    pub fn new(shell: &'a Shell) -> Progress<'a> {
        Progress {
            shell,
            meter: Meter::new(shell, "Uploading"),
        }
    }

    pub fn start(&self, size: u64) -> Task {
        // The live line is erased before a status line.
        self.meter.clear();
        self.shell
            .status("Uploading", format!("blob of {}", human_size(size)));
        self.meter.grow(size);
        Task {
            meter: self.meter.clone(),
            sent: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn finish(&self) {
        self.meter.finish();
    }
}
