//! `cargo tiny init`'s edit over a corpus of manifest shapes: snapshots of the patched text, and the
//! properties every patch keeps (idempotence, --force, nothing outside [profile] touched).

use cargo_tiny::init::patch::{non_profile_items, patch, Patch};
use cargo_tiny::size_profile::SizeProfile;
use proptest::prelude::*;

const CORPUS: &[(&str, &str)] = &[
    (
        "no_profile",
        r#"[package]
name = "app"
version = "0.1.0"
edition = "2021"

[dependencies]
serde = "1"
"#,
    ),
    (
        "release_with_comments",
        r#"[package]
name = "app"
version = "0.1.0"

[profile.release]
# keep debug info for profiling
debug = true

# smaller, please
opt-level = 's'   # single quotes, kept
lto = "thin" # chosen on purpose

[profile.dev]
opt-level = 1
"#,
    ),
    (
        "dotted_keys",
        r#"# dotted keys before the first table
profile.release.lto = true
profile.release.debug = false

[package]
name = "app"
version = "0.1.0"
"#,
    ),
    (
        "inline_table",
        r#"profile = { release = { debug = false } }

[package]
name = "app"
version = "0.1.0"
"#,
    ),
    (
        "package_overrides",
        r#"[package]
name = "app"
version = "0.1.0"

[profile.release.package."*"]
opt-level = 3

[profile.release]
codegen-units = 1
"#,
    ),
    (
        "crlf",
        "[package]\r\nname = \"app\"\r\nversion = \"0.1.0\"\r\n\r\n# release\r\n[profile.release]\r\ndebug = 1\r\n",
    ),
    (
        "workspace_package",
        r#"[workspace]
members = ["crates/*"]
resolver = "2"

[workspace.package]
version = "0.3.0"
edition = "2021"
license = "MIT"

[workspace.dependencies]
anyhow = "1"
"#,
    ),
    (
        "member_with_profile",
        r#"[package]
name = "member"
version.workspace = true
edition.workspace = true

[dependencies]
anyhow.workspace = true

[profile.release]
opt-level = 3
"#,
    ),
    (
        "no_trailing_newline",
        "[package]\nname = \"app\"\nversion = \"0.1.0\"",
    ),
];

fn release() -> SizeProfile {
    SizeProfile::new("release", false)
}

fn render(p: &Patch) -> String {
    format!(
        "{}\n---\nchanges: {:?}\nkept: {:?}\n",
        p.new_text.replace('\r', "␍"),
        p.changes,
        p.kept
    )
}

#[test]
fn corpus_snapshots() {
    for (name, text) in CORPUS {
        let p = patch(text, &release(), false).unwrap();
        insta::assert_snapshot!(*name, render(&p));
    }
}

#[test]
fn corpus_force_snapshots() {
    for (name, text) in CORPUS {
        let p = patch(text, &release(), true).unwrap();
        insta::assert_snapshot!(format!("{name}__force"), render(&p));
    }
}

#[test]
fn custom_profile_and_panic_abort() {
    let (_, text) = CORPUS[0];
    let p = patch(text, &SizeProfile::new("tiny", true), false).unwrap();
    insta::assert_snapshot!("custom_profile_tiny_panic_abort", render(&p));
}

#[test]
fn custom_profile_next_to_inline_and_dotted_profiles() {
    for (name, text) in [
        ("inline_table", CORPUS[3].1),
        (
            "dotted_dev",
            "profile.dev.debug = 1\n\n[package]\nname = \"a\"\n",
        ),
        (
            "profile_table_inline_release",
            "[profile]\nrelease = { debug = 1 }\n",
        ),
    ] {
        let p = patch(text, &SizeProfile::new("tiny", false), false).unwrap();
        insta::assert_snapshot!(format!("{name}__tiny"), render(&p));
        assert!(patch(&p.new_text, &SizeProfile::new("tiny", false), false)
            .unwrap()
            .is_noop());
    }
}

#[test]
fn second_run_changes_nothing_and_everything_outside_profile_is_kept() {
    for (name, text) in CORPUS {
        for force in [false, true] {
            let once = patch(text, &release(), force).unwrap();
            let twice = patch(&once.new_text, &release(), force).unwrap();
            assert!(twice.is_noop(), "{name} force={force}: {:?}", twice.changes);
            assert_eq!(twice.new_text, once.new_text, "{name}");
            assert_eq!(
                non_profile_items(text),
                non_profile_items(&once.new_text),
                "{name}"
            );
            assert_eq!(
                text.contains("\r\n"),
                once.new_text.contains("\r\n"),
                "{name}: line endings"
            );
            if text.contains("\r\n") {
                assert!(
                    !once.new_text.replace("\r\n", "").contains('\n'),
                    "{name}: mixed endings"
                );
            }
        }
    }
}

#[test]
fn kept_values_are_reported_and_force_replaces_them() {
    let text =
        "[package]\nname = \"a\"\nversion = \"0.1.0\"\n\n[profile.release]\nlto = \"thin\" # why\n";
    let p = patch(text, &release(), false).unwrap();
    assert_eq!(p.kept.len(), 1);
    assert_eq!(p.kept[0].key, "lto");
    assert_eq!(p.kept[0].value, "\"thin\"");
    assert!(p.new_text.contains("lto = \"thin\" # why\n"));
    let f = patch(text, &release(), true).unwrap();
    assert!(f.kept.is_empty());
    assert!(f.new_text.contains("lto = true # why\n"), "{}", f.new_text);
}

#[test]
fn not_a_table_is_a_one_line_error() {
    let err = patch("profile = 3\n", &release(), false).unwrap_err();
    assert!(format!("{err:#}").contains("not a table"), "{err:#}");
    let err = patch("[package\n", &release(), false).unwrap_err();
    assert!(!format!("{err:#}").contains('\n'), "{err:#}");
}

fn ident() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_-]{0,8}"
}

fn scalar() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9 ]{0,10}".prop_map(|s| format!("\"{s}\"")),
        "[a-z0-9]{0,10}".prop_map(|s| format!("'{s}'")),
        any::<i32>().prop_map(|i| i.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
    ]
}

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        (ident(), scalar()).prop_map(|(k, v)| format!("{k} = {v}")),
        (ident(), scalar(), "[a-z ]{0,10}").prop_map(|(k, v, c)| format!("{k}={v} #{c}")),
        "[a-z ]{0,12}".prop_map(|c| format!("# {c}")),
        Just(String::new()),
    ]
}

fn section() -> impl Strategy<Value = String> {
    (
        prop_oneof![
            Just("package".to_string()),
            Just("dependencies".to_string()),
            Just("workspace.package".to_string()),
            Just("profile.release".to_string()),
            Just("profile.dev".to_string()),
            Just("profile.release.package.\"*\"".to_string()),
            ident().prop_map(|i| format!("metadata.{i}")),
        ],
        proptest::collection::vec(line(), 0..5),
    )
        .prop_map(|(h, lines)| {
            let mut s = format!("[{h}]\n");
            for l in lines {
                s.push_str(&l);
                s.push('\n');
            }
            s
        })
}

fn manifest() -> impl Strategy<Value = (String, bool, bool)> {
    (
        proptest::collection::vec(section(), 0..6),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(sections, crlf, trailing)| {
            let mut s = sections.join("\n");
            if !trailing {
                s = s.trim_end_matches('\n').to_string();
            }
            if crlf {
                s = s.replace('\n', "\r\n");
            }
            (s, crlf, trailing)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Never panics; when the input parses, the output re-parses, a second run is a no-op and every
    /// top-level item outside [profile] is rendered byte-identically.
    #[test]
    fn patch_keeps_everything_outside_profile((text, _crlf, _t) in manifest(), force: bool, abort: bool, custom: bool) {
        let sp = SizeProfile::new(if custom { "tiny" } else { "release" }, abort);
        let parses = text.replace("\r\n", "\n").parse::<toml_edit::DocumentMut>().is_ok();
        match patch(&text, &sp, force) {
            Err(_) => {}
            Ok(p) => {
                prop_assert!(parses);
                prop_assert!(p.new_text.replace("\r\n", "\n").parse::<toml_edit::DocumentMut>().is_ok());
                prop_assert_eq!(non_profile_items(&text), non_profile_items(&p.new_text));
                // Byte-identical text before the first [profile header.
                let cut = |t: &str| t.find("[profile").unwrap_or(t.len());
                let old_head = &text[..cut(&text)];
                prop_assert!(p.new_text.starts_with(old_head.trim_end()), "{:?}\n=>\n{:?}", text, p.new_text);
                let again = patch(&p.new_text, &sp, force).unwrap();
                prop_assert!(again.is_noop());
            }
        }
    }
}
