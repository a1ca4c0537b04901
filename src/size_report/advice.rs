//! Measured advice: one line each, only where the report shows it — a crate with a lighter
//! alternative that owns a good share of the binary, a default feature that is the only reason a big
//! crate is there, a crate linked in two versions, unwind tables that `--panic-abort` would drop, a
//! standard library that `--size max` would shrink. The crate knowledge is data
//! (`src/knowledge/size.toml`).

use serde::{Deserialize, Serialize};

use super::model::{BinaryReport, Kind};
use crate::shell::human_size;

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Advice {
    /// `lighter-crate`, `heavy-feature`, `duplicate-crate`, `unwind-tables`, `std-share`.
    pub code: String,
    pub bin: String,
    pub message: String,
}

/// What the advice reads besides the report: the features the graph turns on, per package
/// name and version; whether the build already aborts on panic or rebuilds std.
pub struct Facts<'a> {
    pub features: &'a dyn Fn(&str, &str) -> Option<Vec<String>>,
    /// Whether package (arg 1) declares a dependency on crate (arg 2) itself.
    pub direct: &'a dyn Fn(&str, &str) -> bool,
    pub panic_abort: bool,
    pub size_max: bool,
}

/// Shares (of the binary) that trigger the advice the report itself decides.
const UNWIND_SHARE: f64 = 0.05;
const STD_SHARE: f64 = 0.25;

pub fn advise(b: &BinaryReport, facts: &Facts<'_>) -> Vec<Advice> {
    let kb = &crate::knowledge::get().size;
    let mut out = Vec::new();
    let share = |n: u64| n as f64 / b.size.max(1) as f64;
    let pct = |n: u64| format!("{} ({:.1} %)", human_size(n), share(n) * 100.0);
    let mut say = |code: &str, message: String| {
        out.push(Advice {
            code: code.into(),
            bin: b.bin.clone(),
            message: format!("{}: {message}", b.bin),
        })
    };
    // The bytes of a crate and its family, when the crate is in the binary.
    let family = |name: &str, family: &[String]| -> Option<u64> {
        b.owners.iter().find(|o| o.name == name)?;
        Some(
            b.owners
                .iter()
                .filter(|o| o.name == name || family.contains(&o.name))
                .map(|o| o.size)
                .sum(),
        )
    };
    let direct = |name: &str| (facts.direct)(&b.package, name);
    let with = |name: &str, family: &[String]| {
        if family.is_empty() {
            name.to_string()
        } else {
            format!("{name} (with {})", family.join(", "))
        }
    };
    for l in &kb.lighter {
        let Some(n) = family(&l.name, &l.family) else {
            continue;
        };
        if share(n) >= l.min_share && direct(&l.name) {
            say(
                "lighter-crate",
                format!(
                    "{} is {} of the binary; lighter: {} — {}",
                    with(&l.name, &l.family),
                    pct(n),
                    l.instead,
                    l.why
                ),
            );
        }
    }
    for f in &kb.feature {
        let Some(n) = family(&f.name, &f.family) else {
            continue;
        };
        let own = direct(&f.name) || f.family.iter().any(|c| direct(c));
        let on = b
            .owners
            .iter()
            .any(|v| v.name == f.via && v.kind == Kind::Crate)
            && (facts.features)(&f.via, &f.major).is_some_and(|fs| fs.contains(&f.feature));
        if share(n) >= f.min_share && on && !own {
            say(
                "heavy-feature",
                format!(
                    "{} is {} and comes with {}'s `{}` feature ({}): if you do without it, set default-features = false on {} and list the features you use",
                    with(&f.name, &f.family),
                    pct(n),
                    f.via,
                    f.feature,
                    f.why,
                    f.via
                ),
            );
        }
    }
    for o in b.owners.iter().filter(|o| o.versions.len() > 1) {
        say(
            "duplicate-crate",
            format!(
                "{} is linked in {} versions ({}), {} together: `cargo tree -d -i {}` shows who asks for each",
                o.name,
                o.versions.len(),
                o.versions.join(", "),
                pct(o.size),
                o.name
            ),
        );
    }
    let unwind: u64 = b.owners.iter().map(|o| o.share.unwind).sum();
    if !facts.panic_abort && share(unwind) >= UNWIND_SHARE {
        say(
            "unwind-tables",
            format!(
                "unwind tables are {}: `cargo tiny build --panic-abort` (panic = \"abort\") drops most of them; a panic then ends the process without unwinding",
                pct(unwind)
            ),
        );
    }
    let std: u64 = b
        .owners
        .iter()
        .filter(|o| o.kind == Kind::Std)
        .map(|o| o.size)
        .sum();
    if !facts.size_max && share(std) >= STD_SHARE {
        say(
            "std-share",
            format!(
                "the standard library is {}: `cargo tiny build --size max` rebuilds it for size (nightly; panics abort at once)",
                pct(std)
            ),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_report::model::{OwnerRow, Share};

    fn row(name: &str, kind: Kind, size: u64, unwind: u64, versions: &[&str]) -> OwnerRow {
        OwnerRow {
            name: name.into(),
            kind,
            versions: versions.iter().map(|v| v.to_string()).collect(),
            size,
            share: Share {
                text: size - unwind,
                unwind,
                ..Default::default()
            },
            symbols: 1,
        }
    }

    fn report(owners: Vec<OwnerRow>) -> BinaryReport {
        BinaryReport {
            bin: "api".into(),
            size: owners.iter().map(|o| o.size).sum(),
            owners,
            ..Default::default()
        }
    }

    #[test]
    fn each_rule_fires_only_on_what_was_measured() {
        let b = report(vec![
            row("regex", Kind::Crate, 300, 0, &["1.11.1"]),
            row("h2", Kind::Crate, 100, 0, &["0.4.5"]),
            row("reqwest", Kind::Crate, 100, 0, &["0.12.28"]),
            row("rand", Kind::Crate, 50, 0, &["0.8.5", "0.9.1"]),
            row("std", Kind::Std, 450, 100, &[]),
        ]);
        let on = |name: &str, major: &str| {
            (name == "reqwest" && major == "0.12").then(|| vec!["http2".to_string()])
        };
        let direct = |_: &str, krate: &str| krate == "regex";
        let facts = Facts {
            features: &on,
            direct: &direct,
            panic_abort: false,
            size_max: false,
        };
        let codes: Vec<String> = advise(&b, &facts).into_iter().map(|a| a.code).collect();
        assert_eq!(
            codes,
            [
                "lighter-crate",
                "heavy-feature",
                "duplicate-crate",
                "unwind-tables",
                "std-share"
            ]
        );
        // The same binary built with panic=abort and --size max, http2 off, one rand, a small regex.
        let b = report(vec![
            row("regex", Kind::Crate, 10, 0, &["1.11.1"]),
            row("h2", Kind::Crate, 100, 0, &["0.4.5"]),
            row("reqwest", Kind::Crate, 100, 0, &["0.12.28"]),
            row("std", Kind::Std, 450, 100, &[]),
        ]);
        let off = |_: &str, _: &str| Some(vec!["json".to_string()]);
        let facts = Facts {
            features: &off,
            direct: &direct,
            panic_abort: true,
            size_max: true,
        };
        assert_eq!(advise(&b, &facts), Vec::<Advice>::new());

        // h2 depended on directly: reqwest's feature is not the reason it is there.
        let b = report(vec![
            row("h2", Kind::Crate, 100, 0, &["0.4.5"]),
            row("reqwest", Kind::Crate, 100, 0, &["0.12.28"]),
            row("std", Kind::Std, 100, 0, &[]),
        ]);
        let own = |_: &str, krate: &str| krate == "h2";
        let facts = Facts {
            features: &on,
            direct: &own,
            panic_abort: true,
            size_max: true,
        };
        assert_eq!(advise(&b, &facts), Vec::<Advice>::new());
    }
}
