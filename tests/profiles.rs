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

/// The `ESC t n` tables of escpos-printer-db's "default" profile (python-escpos's profile when
/// none is given) that the generic profiles now map, with the encoding each number names.
const DEFAULT_CLIENT_PAGES: [(u8, &str); 23] = [
    (13, "cp857"),
    (14, "cp737"),
    (15, "iso8859-7"),
    (21, "cp874"),
    (32, "cp720"),
    (33, "cp775"),
    (34, "cp855"),
    (35, "cp861"),
    (36, "cp862"),
    (37, "cp864"),
    (38, "cp869"),
    (39, "iso8859-2"),
    (40, "iso8859-15"),
    (44, "cp1125"),
    (45, "cp1250"),
    (46, "cp1251"),
    (47, "cp1253"),
    (48, "cp1254"),
    (49, "cp1255"),
    (50, "cp1256"),
    (51, "cp1257"),
    (52, "cp1258"),
    (53, "kz1048"),
];

#[test]
fn generic_profiles_read_every_code_page_the_default_client_profile_selects() {
    use slipguard::core::redact::config::RedactConfig;
    use slipguard::core::redact::{Reason, Redactor};
    use slipguard::core::text::codepage::Encoding;
    use slipguard::core::text::lines;

    let r = Redactor::new(RedactConfig::default());
    for name in ["generic-80mm", "generic-58mm"] {
        let p = Profiles::builtin_only().load(name).unwrap();
        for (n, enc) in DEFAULT_CLIENT_PAGES {
            let Some(Encoding::Single(page)) = Encoding::by_name(enc) else {
                panic!("{enc} is not a single-byte page");
            };
            // A word of the page's own letters above 0x7F, after a plain heading. (Not its
            // combining marks: detection reads each with the letter before it.)
            let word: Vec<u8> = (0x80..=0xFFu8)
                .filter(|&b| {
                    let c = page.decode(b);
                    c.is_alphabetic() && !unicode_normalization::char::is_combining_mark(c)
                })
                .take(6)
                .collect();
            assert!(!word.is_empty(), "{enc} has letters above 0x7F");
            let mut job = b"\x1b@\x1bt".to_vec();
            job.push(n);
            job.extend_from_slice(b"Title: ");
            job.extend_from_slice(&word);
            job.extend_from_slice(b"\n\x1dV\x01");
            let want: String = word.iter().map(|&b| page.decode(b)).collect();
            let text: Vec<String> = lines(&p, &job).iter().map(|l| l.text.to_string()).collect();
            assert!(
                text.iter().any(|l| l.ends_with(&want)),
                "{name}: ESC t {n} ({enc}) read as {text:?}"
            );
            match r.job(&p, &job) {
                Ok((out, _)) => assert_eq!(out, job, "{name}: ESC t {n} ({enc})"),
                Err(e) => {
                    assert!(
                        !matches!(e.reason, Reason::Undecodable { .. }),
                        "{name}: ESC t {n} ({enc}): {e}"
                    );
                    panic!("{name}: ESC t {n} ({enc}): {e}");
                }
            }
            let got = p.code_pages.table.get(&n).map(|e| e.name());
            assert_eq!(got, Some(enc), "{name}: ESC t {n}");
        }
    }
}
