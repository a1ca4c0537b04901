//! Where an image's timestamps and revision come from: `SOURCE_DATE_EPOCH`, else the commit time of
//! the workspace's git HEAD, else 0. Never the clock, so that rebuilds give the same bytes.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, UNIX_EPOCH};

use anyhow::Result;

use crate::error::Failure;

/// The build's timestamp, in seconds since the Unix epoch, and where it came from: one value for
/// every date an image holds (`created`, the SBOM's timestamp, every file's mtime).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SourceDate {
    pub epoch: i64,
    pub origin: &'static str,
}

impl SourceDate {
    /// The date alone (no origin), e.g. for tests.
    pub fn at(epoch: i64) -> SourceDate {
        SourceDate {
            epoch,
            origin: "given",
        }
    }

    /// RFC 3339 in UTC, second precision (see [`rfc3339`]).
    pub fn rfc3339(&self) -> String {
        rfc3339(self.epoch)
    }

    /// Neither `SOURCE_DATE_EPOCH` nor a git HEAD dated it: the image says 1970.
    pub fn undated(&self) -> bool {
        self.origin == UNDATED
    }

    /// The mtime of every file the build writes into a tar (never before 1970).
    pub fn mtime(&self) -> u64 {
        self.epoch.max(0) as u64
    }
}

/// The date only: where it came from does not change what it makes (the image cache keys on this).
impl std::fmt::Debug for SourceDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SourceDate({})", self.rfc3339())
    }
}

/// 9999-12-31T23:59:59Z: the last second a four-digit RFC 3339 year can write.
pub const MAX_EPOCH: i64 = 253_402_300_799;

const UNDATED: &str = "no SOURCE_DATE_EPOCH and no git HEAD";

/// `SOURCE_DATE_EPOCH` (as given), else git HEAD's commit time in `root`, else 0.
pub fn source_date(env: Option<&str>, root: &Path) -> Result<SourceDate> {
    if let Some(v) = env.filter(|v| !v.is_empty()) {
        let epoch = v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|e| *e >= 0)
            .ok_or_else(|| {
                Failure::new(format!("SOURCE_DATE_EPOCH={v} is not a number of seconds")).hint(
                    "set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)",
                )
            })?;
        if epoch > MAX_EPOCH {
            return Err(Failure::new(format!(
                "SOURCE_DATE_EPOCH={v} is after 9999-12-31T23:59:59Z, which an RFC 3339 `created` cannot hold"
            ))
            .hint("set it to a Unix timestamp, e.g. SOURCE_DATE_EPOCH=$(git log -1 --format=%ct)")
            .into());
        }
        return Ok(SourceDate {
            epoch,
            origin: "SOURCE_DATE_EPOCH",
        });
    }
    if let Some(t) = git(root, &["log", "-1", "--format=%ct"]).and_then(|s| s.parse().ok()) {
        return Ok(SourceDate {
            epoch: t,
            origin: "git HEAD",
        });
    }
    Ok(SourceDate {
        epoch: 0,
        origin: UNDATED,
    })
}

/// The commit id of git HEAD in `root`, when it is a git checkout.
pub fn git_revision(root: &Path) -> Option<String> {
    git(root, &["rev-parse", "HEAD"]).filter(|s| s.len() >= 40)
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    crate::process::probe(
        Command::new("git")
            .arg("-C")
            .arg(root)
            .args(args)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE"),
    )
    .filter(|s| !s.is_empty())
}

/// RFC 3339 in UTC, second precision: `1970-01-01T00:00:00Z`. Clamped to 1970 ..= [`MAX_EPOCH`], the
/// range [`source_date`] accepts from `SOURCE_DATE_EPOCH` (and the only one humantime writes).
pub fn rfc3339(epoch: i64) -> String {
    let secs = epoch.clamp(0, MAX_EPOCH) as u64;
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_format_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
        // Outside what an RFC 3339 four-digit year holds: the nearest end, never a panic.
        assert_eq!(rfc3339(-1), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(MAX_EPOCH + 1), "9999-12-31T23:59:59Z");
    }

    #[test]
    fn source_date_epoch_wins_and_is_checked() {
        let d = source_date(Some("1700000000"), Path::new("/")).unwrap();
        assert_eq!(d.epoch, 1_700_000_000);
        assert!(source_date(Some("yesterday"), Path::new("/")).is_err());
        assert_eq!(rfc3339(MAX_EPOCH), "9999-12-31T23:59:59Z");
        assert!(source_date(Some("253402300799"), Path::new("/")).is_ok());
        let e = source_date(Some("253402300800"), Path::new("/")).unwrap_err();
        assert!(format!("{e:#}").contains("9999-12-31"), "{e:#}");
        let none = source_date(None, Path::new("/")).unwrap();
        assert_eq!(none.epoch, 0);
    }
}
