//! A progress line for long work (a layer compressing, blobs uploading), drawn the way cargo draws
//! its own: on stderr, only when stderr is a terminal (and not `-q`, nor `CARGO_TERM_PROGRESS_WHEN=
//! never`), redrawn in place (`\r`, erase to the end of line) at most ten times a second, erased when
//! the work is done or a status line comes. Work done in under a second shows nothing, so small
//! layers and fast uploads keep exactly today's lines; logs and pipes never see it.
//!
//! `{verb:>12} [=====>    ] 12.3 MiB/40.0 MiB, 8.1 MiB/s, 3s left`
//!
//! Hand-rolled (about 100 lines) rather than indicatif: the line is one format, drawn from several
//! threads (parallel layers, four uploads) through atomics, and must match cargo's look and the
//! shell's colour choice; indicatif would bring its own draw thread, console and width handling for
//! that.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::shell::{human_size, Shell, Verbosity, CYAN};

/// Nothing is drawn before the work has run this long.
const DELAY: Duration = Duration::from_secs(1);
/// Redrawn at most this often.
const EVERY: Duration = Duration::from_millis(100);
const BAR: usize = 20;

/// One progress line, shared by everything counted into it; a no-op when not live.
#[derive(Clone, Default)]
pub struct Meter(Option<Arc<State>>);

struct State {
    verb: &'static str,
    color: bool,
    total: AtomicU64,
    done: AtomicU64,
    started: Instant,
    /// When the first byte was counted: the rate is measured from there (a zopfli pass before a
    /// counted one is not in it).
    counting: std::sync::OnceLock<Instant>,
    /// When it was last drawn (`None`: not on screen).
    drawn: Mutex<Option<Instant>>,
    finished: AtomicBool,
}

impl Meter {
    /// A line for `verb` (`Compressing`, `Uploading`): live only on a terminal.
    pub fn new(shell: &Shell, verb: &'static str) -> Meter {
        let wanted = std::env::var("CARGO_TERM_PROGRESS_WHEN").map_or(true, |w| w != "never");
        let live =
            wanted && shell.verbosity() != Verbosity::Quiet && std::io::stderr().is_terminal();
        Meter(live.then(|| {
            Arc::new(State {
                verb,
                color: !matches!(shell.color(), crate::shell::Color::Never)
                    && std::env::var_os("NO_COLOR").is_none(),
                total: AtomicU64::new(0),
                done: AtomicU64::new(0),
                started: Instant::now(),
                counting: std::sync::OnceLock::new(),
                drawn: Mutex::new(None),
                finished: AtomicBool::new(false),
            })
        }))
    }

    /// No line at all.
    pub fn none() -> Meter {
        Meter(None)
    }

    /// `n` more bytes of work to do.
    pub fn grow(&self, n: u64) {
        if let Some(s) = &self.0 {
            s.total.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// `n` bytes done.
    pub fn advance(&self, n: u64) {
        if let Some(s) = &self.0 {
            s.counting.get_or_init(Instant::now);
            s.done.fetch_add(n, Ordering::Relaxed);
            s.draw();
        }
    }

    /// `n` bytes to do again (a retried upload).
    pub fn retreat(&self, n: u64) {
        if let Some(s) = &self.0 {
            s.done
                .fetch_sub(n.min(s.done.load(Ordering::Relaxed)), Ordering::Relaxed);
        }
    }

    /// Erases the line (before a status line; when the work is done).
    pub fn clear(&self) {
        if let Some(s) = &self.0 {
            let mut drawn = s.drawn.lock().unwrap_or_else(|e| e.into_inner());
            if drawn.take().is_some() {
                let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            }
        }
    }

    /// Erases the line and draws nothing more.
    pub fn finish(&self) {
        if let Some(s) = &self.0 {
            s.finished.store(true, Ordering::Relaxed);
        }
        self.clear();
    }
}

impl State {
    fn draw(&self) {
        if self.started.elapsed() < DELAY || self.finished.load(Ordering::Relaxed) {
            return;
        }
        let elapsed = self.counting.get().map_or(Duration::ZERO, Instant::elapsed);
        // Another thread drawing now: this update is skipped.
        let Ok(mut drawn) = self.drawn.try_lock() else {
            return;
        };
        if drawn.is_some_and(|at| at.elapsed() < EVERY) {
            return;
        }
        let total = self.total.load(Ordering::Relaxed).max(1);
        let done = self.done.load(Ordering::Relaxed).min(total);
        self.write(&mut drawn, &line(self.verb, done, total, elapsed));
    }

    /// Draws `line` (its first 12 columns are the verb, coloured) in place of the last one.
    fn write(&self, drawn: &mut Option<Instant>, line: &str) {
        let (on, off) = if self.color {
            (format!("{CYAN}"), format!("{CYAN:#}"))
        } else {
            (String::new(), String::new())
        };
        let _ = write!(
            std::io::stderr().lock(),
            "\r{on}{:>12}{off}{}\x1b[K",
            self.verb,
            &line[12..]
        );
        *drawn = Some(Instant::now());
    }
}

/// Work that says nothing of its progress (zopfli takes the whole tar in one call): past the
/// delay, a line with what it is and the time so far, redrawn by a thread of its own until dropped.
pub struct Busy {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    meter: Meter,
}

impl Meter {
    /// A [`Busy`] line for `what` (`zopfli on a 64.38 MiB tar`) until the guard is dropped.
    pub fn busy(&self, what: String) -> Busy {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = self.0.clone().map(|s| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(EVERY);
                    let elapsed = started.elapsed();
                    if elapsed < DELAY || s.finished.load(Ordering::Relaxed) {
                        continue;
                    }
                    let Ok(mut drawn) = s.drawn.try_lock() else {
                        continue;
                    };
                    let line = format!(
                        "{:>12} {what}, {} so far (it gives no estimate)",
                        s.verb,
                        duration(elapsed)
                    );
                    s.write(&mut drawn, &line);
                }
            })
        });
        Busy {
            stop,
            thread,
            meter: self.clone(),
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.meter.clear();
    }
}

/// The line's text: verb, bar, bytes, rate, time left.
fn line(verb: &str, done: u64, total: u64, elapsed: Duration) -> String {
    let filled = (done as f64 / total as f64 * BAR as f64) as usize;
    let bar: String = (0..BAR)
        .map(|i| match i.cmp(&filled) {
            std::cmp::Ordering::Less => '=',
            std::cmp::Ordering::Equal => '>',
            std::cmp::Ordering::Greater => ' ',
        })
        .collect();
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let left = if rate >= 1.0 {
        duration(Duration::from_secs_f64((total - done) as f64 / rate))
    } else {
        "?".into()
    };
    format!(
        "{verb:>12} [{bar}] {}/{}, {}/s, {left} left",
        short(done),
        short(total),
        short(rate as u64)
    )
}

/// `12.3 MiB` (human_size without its byte count).
fn short(n: u64) -> String {
    human_size(n)
}

/// `42s`, `3m 05s`, `1h 02m`.
fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

/// A writer counting what passes through it into a [`Meter`].
pub struct Metered<W> {
    pub inner: W,
    meter: Meter,
}

impl<W> Metered<W> {
    pub fn new(inner: W, meter: Meter) -> Metered<W> {
        Metered { inner, meter }
    }
}

impl<W: Write> Write for Metered<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.meter.advance(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_has_a_bar_the_bytes_a_rate_and_the_time_left() {
        let l = line("Compressing", 10 << 20, 40 << 20, Duration::from_secs(2));
        assert_eq!(
            l,
            " Compressing [=====>              ] 10.00 MiB/40.00 MiB, 5.00 MiB/s, 6s left"
        );
        assert!(l.len() <= 80, "{l}");
        assert_eq!(duration(Duration::from_secs(185)), "3m 05s");
        assert_eq!(duration(Duration::from_secs(3720)), "1h 02m");
    }
}
