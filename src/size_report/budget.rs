//! One size limit against one measure: the verdict a build, `cargo tiny size` and `doctor` report
//! (the limits themselves are [`crate::settings::SizeBudget`]).

use serde::{Deserialize, Serialize};

use crate::shell::human_size;

/// One limit against one measure.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Verdict {
    pub package: String,
    pub bin: String,
    /// The binary's target triple, or the image's platform.
    pub platform: String,
    /// `binary` or `layer`.
    pub what: String,
    pub limit: u64,
    pub size: u64,
    /// `limit - size` (negative: over).
    pub headroom: i64,
    pub ok: bool,
}

impl Verdict {
    pub fn new(
        package: &str,
        bin: &str,
        platform: &str,
        what: &str,
        limit: u64,
        size: u64,
    ) -> Self {
        Verdict {
            package: package.into(),
            bin: bin.into(),
            platform: platform.into(),
            what: what.into(),
            limit,
            size,
            headroom: limit as i64 - size as i64,
            ok: size <= limit,
        }
    }

    /// `binary 2.48 MiB of 4.00 MiB (1.52 MiB left)`, `layer linux/amd64 … (486.0 KiB over)`.
    pub fn describe(&self) -> String {
        let left = if self.ok { "left" } else { "over" };
        let what = if self.what == "layer" {
            format!("layer {}", self.platform)
        } else {
            self.what.clone()
        };
        format!(
            "{what} {} of {} ({} {left})",
            human_size(self.size),
            human_size(self.limit),
            human_size(self.headroom.unsigned_abs())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_say_headroom_or_excess() {
        let v = Verdict::new("p", "b", "linux/amd64", "layer", 2 << 20, 1 << 20);
        assert!(v.ok);
        assert_eq!(
            v.describe(),
            "layer linux/amd64 1.00 MiB of 2.00 MiB (1.00 MiB left)"
        );
        let v = Verdict::new("p", "b", "linux/amd64", "binary", 1 << 20, 3 << 19);
        assert!(!v.ok);
        assert_eq!(v.headroom, -(1 << 19));
        assert!(v.describe().ends_with("(512.0 KiB over)"));
    }
}
