//! The report as text (stdout, the default format): per binary its owners and biggest symbols, per
//! image its files, then the diff, the advice and the budget.

use std::fmt::Write;

use super::enforce::signed;
use super::model::{BinaryReport, ImageReport, Kind, Report};
use crate::shell::human_size;

/// Owners listed per binary before the rest is summed on one line.
const ROWS: usize = 25;
const SYMBOLS: usize = 10;
/// Changes smaller than this are summed on one line.
const NOISE: u64 = 512;

pub fn render(r: &Report) -> String {
    printable(&render_raw(r))
}

/// Names come from symbol tables, archives and baselines: no control character or bidirectional
/// override of theirs reaches the terminal (each becomes `?`; line breaks are the report's own:
/// names are put through [`name`] first).
pub fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c != '\n' && crate::shell::unsafe_char(c) {
                '?'
            } else {
                c
            }
        })
        .collect()
}

/// A name from the input on one line: its line breaks become `?` too.
fn name(s: &str) -> String {
    s.replace('\n', "?")
}

fn render_raw(r: &Report) -> String {
    let mut out = String::new();
    for b in &r.binaries {
        binary(&mut out, b);
    }
    for i in &r.images {
        image(&mut out, i);
    }
    if let Some(d) = &r.diff {
        let _ = writeln!(out, "Compared with {}", name(&d.baseline));
        if !d.baseline_tool.is_empty() {
            let _ = writeln!(
                out,
                "  (made by {}: another analysis may own some bytes otherwise)",
                d.baseline_tool
            );
        }
        for b in &d.binaries {
            let _ = writeln!(
                out,
                "  binary {} ({}): {} → {} ({})",
                name(&b.bin),
                name(&b.target),
                opt(b.old),
                opt(b.new),
                signed(b.delta)
            );
            let (big, small): (Vec<_>, Vec<_>) = b
                .owners
                .iter()
                .partition(|o| o.delta.unsigned_abs() >= NOISE);
            for o in big.iter().take(ROWS) {
                let _ = writeln!(
                    out,
                    "    {:>11}  {:<32} {} → {}",
                    signed(o.delta),
                    name(&o.name),
                    human_size(o.old),
                    human_size(o.new)
                );
            }
            if !small.is_empty() {
                let net: i64 = small.iter().map(|o| o.delta).sum();
                let _ = writeln!(
                    out,
                    "    {:>11}  {} more changed by less than {NOISE} bytes each",
                    signed(net),
                    small.len()
                );
            }
        }
        for i in &d.images {
            let _ = writeln!(
                out,
                "  layer {} ({}): {} → {} ({})",
                name(&i.bin),
                name(&i.platform),
                opt(i.old),
                opt(i.new),
                signed(i.delta)
            );
            for f in i.files.iter().filter(|f| f.delta.unsigned_abs() >= NOISE) {
                let _ = writeln!(out, "    {:>11}  {}", signed(f.delta), name(&f.name));
            }
        }
        out.push('\n');
    }
    if !r.advice.is_empty() {
        out.push_str("Advice (from what this report measured)\n");
        for a in &r.advice {
            let _ = writeln!(out, "  - {}", name(&a.message));
        }
        out.push('\n');
    }
    if !r.budget.is_empty() {
        out.push_str("Size budget\n");
        for v in &r.budget {
            let _ = writeln!(
                out,
                "  {} {} ({}): {}",
                if v.ok { "ok  " } else { "OVER" },
                name(&v.bin),
                name(&v.platform),
                name(&v.describe())
            );
        }
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map_or("—".into(), human_size)
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn binary(out: &mut String, b: &BinaryReport) {
    let _ = writeln!(
        out,
        "{} {} ({}): {} bytes ({}), {:.1} % attributed to crates and libraries",
        name(&b.bin),
        name(&b.version),
        name(&b.target),
        b.size,
        human_size(b.size),
        pct(b.attributed, b.size)
    );
    let _ = writeln!(
        out,
        "  {:<36} {:>10} {:>6}  {:>10} {:>10} {:>10}",
        "owner", "size", "share", "code", "data", "unwind"
    );
    let (shown, rest): (Vec<_>, Vec<_>) = b
        .owners
        .iter()
        .enumerate()
        .partition(|(i, o)| *i < ROWS || o.kind == Kind::Unattributed);
    for (_, o) in shown {
        let label = match o.kind {
            Kind::Crate if !o.versions.is_empty() => {
                format!("{} {}", o.name, o.versions.join(", "))
            }
            Kind::Std => format!("{} [std]", o.name),
            Kind::Unattributed => format!("({})", o.name),
            _ => o.name.clone(),
        };
        let _ = writeln!(
            out,
            "  {:<36} {:>10} {:>5.1}%  {:>10} {:>10} {:>10}",
            truncate(&name(&label), 36),
            human_size(o.size),
            pct(o.size, b.size),
            human_size(o.share.text),
            human_size(o.share.data),
            human_size(o.share.unwind)
        );
    }
    if !rest.is_empty() {
        let sum: u64 = rest.iter().map(|(_, o)| o.size).sum();
        let _ = writeln!(
            out,
            "  {:<36} {:>10} {:>5.1}%",
            format!("{} more", rest.len()),
            human_size(sum),
            pct(sum, b.size)
        );
    }
    if !b.top_symbols.is_empty() {
        out.push_str("  biggest symbols:\n");
        for s in b.top_symbols.iter().take(SYMBOLS) {
            let _ = writeln!(
                out,
                "    {:>10}  {:<18} {}",
                human_size(s.size),
                truncate(&name(&s.owner), 18),
                truncate(&name(&s.name), 90)
            );
        }
    }
    out.push('\n');
}

fn image(out: &mut String, i: &ImageReport) {
    let _ = writeln!(
        out,
        "{} {}: layer {} {} ({} tar)",
        name(&i.image),
        name(&i.platform),
        human_size(i.compressed_size),
        i.compression,
        human_size(i.uncompressed_size)
    );
    for f in &i.files {
        let _ = writeln!(
            out,
            "  {:<44} {:>10} → {:>10} {:>5.1}%",
            truncate(&name(&f.path), 44),
            human_size(f.size),
            human_size(f.compressed),
            pct(f.compressed, i.compressed_size)
        );
    }
    out.push('\n');
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size_report::model::{BinaryReport, OwnerRow};

    #[test]
    fn names_reach_the_terminal_without_control_characters() {
        let r = Report {
            binaries: vec![BinaryReport {
                bin: "api".into(),
                size: 10,
                owners: vec![OwnerRow {
                    name: "evil\u{1b}[2Jcrate\n::error::forged\u{202e}".into(),
                    kind: Kind::Crate,
                    size: 10,
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let text = render(&r);
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(text.contains("evil?[2Jcrate?::error::forged?"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("::")), "{text}");
    }
}
