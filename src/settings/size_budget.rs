//! `size-budget = { layer = "2 MiB", binary = "4 MiB" }` in `[*.metadata.tiny]` and
//! `--size-budget layer=2MiB,binary=4MiB` (key by key over it): the limits as values. Checked
//! against a build by [`crate::size_report::enforce`].

/// The limits, in bytes; `None`: no limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SizeBudget {
    /// The compressed layer of each image (each platform's).
    pub layer: Option<u64>,
    /// The binary.
    pub binary: Option<u64>,
}

pub const HINT: &str = "e.g. size-budget = { layer = \"2 MiB\", binary = \"4 MiB\" } (units: B, KiB, MiB, GiB, kB, MB, GB)";

impl SizeBudget {
    pub fn is_set(&self) -> bool {
        self.layer.is_some() || self.binary.is_some()
    }

    /// `other`'s limits over these, key by key.
    pub fn merged(self, other: SizeBudget) -> SizeBudget {
        SizeBudget {
            layer: other.layer.or(self.layer),
            binary: other.binary.or(self.binary),
        }
    }

    /// The `size-budget` table of `[*.metadata.tiny]`.
    pub fn from_value(v: &serde_json::Value) -> Result<SizeBudget, String> {
        let Some(t) = v.as_object() else {
            return Err("expected a table".into());
        };
        let mut b = SizeBudget::default();
        for (k, v) in t {
            let size = match v {
                serde_json::Value::String(s) => parse_size(s)?,
                serde_json::Value::Number(n) => n
                    .as_u64()
                    .ok_or_else(|| format!("`{k}` = {n} is not a size in bytes"))?,
                other => return Err(format!("`{k}` = {other} is not a size")),
            };
            b.set(k, size)?;
        }
        Ok(b)
    }

    /// `--size-budget layer=2MiB,binary=4MiB`.
    pub fn from_flag(s: &str) -> Result<SizeBudget, String> {
        let mut b = SizeBudget::default();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}` is not KEY=SIZE"))?;
            b.set(k.trim(), parse_size(v)?)?;
        }
        if !b.is_set() {
            return Err(format!("`{s}` sets no limit"));
        }
        Ok(b)
    }

    fn set(&mut self, key: &str, size: u64) -> Result<(), String> {
        match key {
            "layer" => self.layer = Some(size),
            "binary" => self.binary = Some(size),
            _ => return Err(format!("`{key}` is not a budget: layer or binary")),
        }
        Ok(())
    }
}

/// `2 MiB`, `2MiB`, `1.5 MB`, `300 KiB`, `2097152`, `2097152 B`. Binary units are 1024-based,
/// decimal ones 1000-based (as cargo and docker print them).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = (t[..split].trim(), t[split..].trim());
    if num.is_empty() {
        return Err(format!("`{s}` is not a size"));
    }
    let factor: u64 = match unit {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(format!("`{s}`: unknown unit `{unit}`")),
    };
    let n: f64 = num.parse().map_err(|_| format!("`{s}` is not a size"))?;
    if !n.is_finite() || n <= 0.0 || n * factor as f64 > 1e18 {
        return Err(format!("`{s}` is not a positive size"));
    }
    Ok((n * factor as f64).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_in_both_unit_systems() {
        assert_eq!(parse_size("2 MiB"), Ok(2 << 20));
        assert_eq!(parse_size("2MiB"), Ok(2 << 20));
        assert_eq!(parse_size("1.5 MB"), Ok(1_500_000));
        assert_eq!(parse_size("300 KiB"), Ok(300 * 1024));
        assert_eq!(parse_size("2097152"), Ok(2_097_152));
        assert_eq!(parse_size("12 B"), Ok(12));
        assert!(parse_size("2 MiBs").is_err());
        assert!(parse_size("-1 MiB").is_err());
        assert!(parse_size("0").is_err());
        assert!(parse_size("lots").is_err());
    }

    #[test]
    fn flag_and_table_merge_key_by_key() {
        let t = SizeBudget::from_value(&serde_json::json!({"layer": "2 MiB", "binary": 4194304}))
            .unwrap();
        assert_eq!(t.layer, Some(2 << 20));
        let f = SizeBudget::from_flag("binary=3MiB").unwrap();
        let m = t.merged(f);
        assert_eq!((m.layer, m.binary), (Some(2 << 20), Some(3 << 20)));
        assert!(SizeBudget::from_flag("image=3MiB").is_err());
        assert!(SizeBudget::from_value(&serde_json::json!({"layer": true})).is_err());
    }
}
