//! Cargo.toml line numbers from toml_edit's spans (doctor's findings, config errors):
//! `Cargo.toml:12` is where the key starts, however the manifest spells it (quoted, dotted, a
//! `[table.key]` header, CRLF, a BOM).

use toml_edit::{Document, Key};

/// The manifest parsed with its spans kept; `None` when it is not TOML (cargo read it, so never
/// for a manifest of the workspace). A byte-order mark, which TOML does not allow, is on line 1
/// and changes no line number.
pub fn parse(text: &str) -> Option<Document<&str>> {
    Document::parse(without_bom(text)).ok()
}

/// The 1-based line `key` (of the document [`parse`] gave for `text`) starts on.
pub fn line_of(text: &str, key: &Key) -> Option<usize> {
    let start = key.span()?.start;
    Some(without_bom(text).get(..start)?.matches('\n').count() + 1)
}

/// The 1-based line of the key at `path` (`["profile", "release"]`).
pub fn key_line(text: &str, path: &[&str]) -> Option<usize> {
    let doc = parse(text)?;
    let (last, tables) = path.split_last()?;
    let mut table = doc.as_table() as &dyn toml_edit::TableLike;
    for part in tables {
        table = table.get(part)?.as_table_like()?;
    }
    line_of(text, table.key(last)?)
}

fn without_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_keys_however_written() {
        let text = "\u{feff}[package]\r\nname = \"x\"\r\n\r\n[profile.release] # size\r\nlto = true\r\n[profile.dev]\r\n\"opt-level\" = 1\r\n";
        assert_eq!(key_line(text, &["package", "name"]), Some(2));
        assert_eq!(
            key_line(text, &["profile"]),
            Some(4),
            "the first header naming it"
        );
        assert_eq!(key_line(text, &["profile", "release"]), Some(4));
        assert_eq!(key_line(text, &["profile", "dev", "opt-level"]), Some(7));
        assert_eq!(key_line(text, &["profile", "bench"]), None);
        assert_eq!(
            key_line("[profile]\nrelease.lto = true\n", &["profile", "release"]),
            Some(2)
        );
        assert_eq!(key_line("[profile", &["profile"]), None);
    }
}
