//! The size profile: one definition, used both as `--config` overrides (`cargo tiny build`) and as the
//! keys `cargo tiny init` writes into Cargo.toml, so the two give the same binary.

use std::fmt;

/// A profile value, as it is written in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value {
    Str(&'static str),
    Bool(bool),
    Int(i64),
}

impl Value {
    /// The value as a toml_edit value, for `cargo tiny init`.
    pub fn to_toml_edit(&self) -> toml_edit::Value {
        match *self {
            Value::Str(s) => s.into(),
            Value::Bool(b) => b.into(),
            Value::Int(i) => i.into(),
        }
    }

    /// Whether a manifest value means the same as this one.
    pub fn matches(&self, v: &toml_edit::Value) -> bool {
        match *self {
            Value::Str(s) => v.as_str() == Some(s),
            Value::Bool(b) => v.as_bool() == Some(b),
            Value::Int(i) => v.as_integer() == Some(i),
        }
    }

    /// The TOML spelling (`"z"`, `true`, `1`).
    pub fn toml(&self) -> String {
        match self {
            Value::Str(s) => format!("\"{s}\""),
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
        }
    }
}

/// One setting of the size profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub key: &'static str,
    pub value: Value,
    /// The other spelling cargo accepts for the same value (`lto = "fat"` is `lto = true`), for
    /// doctor's comparison with a manifest; the build line shows [`Setting::value`] as written.
    pub shown: &'static str,
}

/// The settings every size profile has.
pub const SIZE_SETTINGS: &[Setting] = &[
    Setting {
        key: "opt-level",
        value: Value::Str("z"),
        shown: "z",
    },
    Setting {
        key: "lto",
        value: Value::Bool(true),
        shown: "fat",
    },
    Setting {
        key: "codegen-units",
        value: Value::Int(1),
        shown: "1",
    },
    Setting {
        key: "strip",
        value: Value::Bool(true),
        shown: "symbols",
    },
];

/// Added with `--panic-abort`.
pub const PANIC_ABORT: Setting = Setting {
    key: "panic",
    value: Value::Str("abort"),
    shown: "abort",
};

/// With `--size max` on nightlies that spell immediate-abort as a panic strategy (it replaces
/// `panic = "abort"`; cargo accepts it behind `-Zpanic-immediate-abort`).
pub const PANIC_IMMEDIATE_ABORT: Setting = Setting {
    key: "panic",
    value: Value::Str("immediate-abort"),
    shown: "immediate-abort",
};

/// The size profile applied to one cargo profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeProfile {
    /// The cargo profile name (`release`, or a custom one).
    pub profile: String,
    pub panic_abort: bool,
    /// `panic = "immediate-abort"` instead of `"abort"` (`--size max`; nightly only).
    pub immediate_abort: bool,
}

impl SizeProfile {
    pub fn new(profile: impl Into<String>, panic_abort: bool) -> Self {
        SizeProfile {
            profile: profile.into(),
            panic_abort,
            immediate_abort: false,
        }
    }

    /// The same profile with `panic = "immediate-abort"`.
    pub fn with_immediate_abort(mut self) -> Self {
        self.immediate_abort = true;
        self
    }

    /// The settings, in the order they are written.
    pub fn settings(&self) -> Vec<Setting> {
        let mut v = SIZE_SETTINGS.to_vec();
        if self.immediate_abort {
            v.push(PANIC_IMMEDIATE_ABORT);
        } else if self.panic_abort {
            v.push(PANIC_ABORT);
        }
        v
    }

    /// `--config` arguments for cargo: `profile.release.opt-level="z"`, …
    pub fn config_overrides(&self) -> Vec<String> {
        self.settings()
            .iter()
            .flat_map(|s| {
                [
                    "--config".to_string(),
                    format!("profile.{}.{}={}", self.profile, s.key, s.value.toml()),
                ]
            })
            .collect()
    }
}

impl fmt::Display for SizeProfile {
    /// `release [opt-level=z lto=true codegen-units=1 strip=true]`: the values as `cargo tiny init`
    /// writes them (strings without their quotes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: Vec<String> = self
            .settings()
            .iter()
            .map(|s| match s.value {
                Value::Str(v) => format!("{}={v}", s.key),
                other => format!("{}={}", s.key, other.toml()),
            })
            .collect();
        write!(f, "{} [{}]", self.profile, shown.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_the_effective_settings() {
        assert_eq!(
            SizeProfile::new("release", false).to_string(),
            "release [opt-level=z lto=true codegen-units=1 strip=true]"
        );
        assert_eq!(
            SizeProfile::new("tiny", true).to_string(),
            "tiny [opt-level=z lto=true codegen-units=1 strip=true panic=abort]"
        );
        assert_eq!(
            SizeProfile::new("release", true)
                .with_immediate_abort()
                .to_string(),
            "release [opt-level=z lto=true codegen-units=1 strip=true panic=immediate-abort]"
        );
    }

    #[test]
    fn config_overrides_are_cargo_config_syntax() {
        let args = SizeProfile::new("release", true).config_overrides();
        assert_eq!(
            args,
            [
                "--config",
                "profile.release.opt-level=\"z\"",
                "--config",
                "profile.release.lto=true",
                "--config",
                "profile.release.codegen-units=1",
                "--config",
                "profile.release.strip=true",
                "--config",
                "profile.release.panic=\"abort\"",
            ]
        );
    }
}
