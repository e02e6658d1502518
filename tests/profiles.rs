//! Every shipped printer profile loads; the search path prefers a site's directory; bad
//! profiles are refused with file and line.

use slipguard::core::tokenize::Dialect;
use slipguard::profiles::{LoadError, Profiles};
use std::path::PathBuf;

const SHIPPED: [&str; 13] = [
    "generic-58mm",
    "generic-80mm",
    "epson-tm-t88iv",
    "epson-tm-t88v",
    "epson-tm-t88vi",
    "epson-tm-t20ii",
    "epson-tm-t20iii",
    "epson-tm-m30",
    "star-tsp100-escpos",
    "star-tsp650ii",
    "star-tsp700ii",
    "bixolon-srp-350iii",
    "citizen-ct-s310ii",
];

fn shipped_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("printer-profiles")
}

/// A fresh empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("slipguard-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_shipped_profile_loads_from_the_directory() {
    let profiles = Profiles::only(vec![shipped_dir()]);
    let all = profiles.all();
    for name in SHIPPED {
        let p = match all.get(name) {
            Some(Ok(p)) => p,
            Some(Err(e)) => panic!("{name}: {e}"),
            None => panic!("{name} is not shipped"),
        };
        let star = name.starts_with("star-tsp6") || name.starts_with("star-tsp7");
        let want = if star {
            Dialect::StarLine
        } else {
            Dialect::EscPos
        };
        assert_eq!(p.dialect, want, "{name}");
        assert!(
            p.columns.font_a >= 32 && p.columns.font_b > p.columns.font_a,
            "{name}"
        );
        assert!(p.paper.print_width_dots >= 360, "{name}");
        assert!(
            p.code_pages.table.contains_key(&p.code_pages.default),
            "{name}"
        );
    }
    for (name, p) in &all {
        assert!(
            p.is_ok(),
            "{name}: {:?}",
            p.as_ref().err().map(|e| e.to_string())
        );
    }
}

#[test]
fn built_in_copies_match_the_directory() {
    let dir = Profiles::only(vec![shipped_dir()]);
    let builtin = Profiles::builtin_only();
    assert!(Profiles::only(vec![]).load("generic-80mm").is_err());
    assert_eq!(builtin.all().len(), dir.all().len());
    for name in SHIPPED {
        let a = dir.load(name).unwrap();
        let b = builtin.load(name).unwrap();
        assert_eq!(a.model, b.model, "{name}");
        assert_eq!(a.code_pages.table, b.code_pages.table, "{name}");
    }
}

#[test]
fn a_site_directory_overrides_and_adds_models() {
    let d = temp_dir("override");
    let text = std::fs::read_to_string(shipped_dir().join("generic-80mm.toml")).unwrap();
    std::fs::write(
        d.join("generic-80mm.toml"),
        text.replace("font_a = 48", "font_a = 40"),
    )
    .unwrap();
    std::fs::write(d.join("desk-7.toml"), &text).unwrap();
    let p = Profiles::new(Some(&d));
    assert_eq!(p.load("generic-80mm").unwrap().columns.font_a, 40);
    assert_eq!(p.load("desk-7").unwrap().columns.font_a, 48);
    assert!(p.all().contains_key("desk-7"));
    // The shipped one is still there through the built-in copy.
    assert!(p.load("epson-tm-t88v").is_ok());
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn a_bad_profile_names_its_file_and_line() {
    let d = temp_dir("bad");
    let text = std::fs::read_to_string(shipped_dir().join("generic-80mm.toml")).unwrap();
    let bad = text.replacen("[paper]", "[paper]\nthickness_um = 55", 1);
    let line = bad
        .lines()
        .position(|l| l.starts_with("thickness_um"))
        .unwrap()
        + 1;
    std::fs::write(d.join("desk.toml"), bad).unwrap();
    let err = Profiles::new(Some(&d)).load("desk").unwrap_err();
    let msg = err.to_string();
    let want = format!("{}:{line}:", d.join("desk.toml").display());
    assert!(msg.starts_with(&want), "{msg}");
    assert!(msg.contains("thickness_um"), "{msg}");
    assert!(!msg.contains('\n'), "one line: {msg}");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn unknown_and_unsafe_names_are_refused() {
    let p = Profiles::new(None);
    assert!(matches!(
        p.load("no-such-printer"),
        Err(LoadError::Unknown { .. })
    ));
    for bad in ["../etc/passwd", "a/b", "", ".hidden", "x y"] {
        assert!(matches!(p.load(bad), Err(LoadError::BadName(_))), "{bad}");
    }
    let msg = p.load("no-such-printer").unwrap_err().to_string();
    assert!(
        msg.contains("no-such-printer") && msg.contains("slipguard profiles"),
        "{msg}"
    );
}
