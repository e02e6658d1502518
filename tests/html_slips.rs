//! HTML slips (`tests/fixtures/html/`: Koha's ISSUESLIP, HOLD_SLIP, CHECKINSLIP and
//! ACCOUNT_CREDIT, Evergreen's checkout and hold shelf slip, rendered with fake data) as the
//! HTTP endpoint prints them: typeset for the fixture's printer, then redacted. Every printed
//! line fits the paper; the patron values print before redaction and are gone after it in
//! every encoding; the listed content survives; card numbers keep their last four digits; a
//! cut ends the slip (paper is fed past the tear bar on a printer without a cutter). Prints recall and retention; both must be 1.0.

use serde::Deserialize;
use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::text::{self, codepage::Encoding};
use slipguard::core::tokenize::{tokenize, Op, TokenKind};
use slipguard::html::{html_lines, typeset_redacted, Markup};
use slipguard::profiles::Profiles;
use slipguard::typeset::{render, Layout};
use std::path::PathBuf;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Manifest {
    system: String,
    template: String,
    profile: String,
    slip_type: String,
    patron: Vec<String>,
    cards: Vec<String>,
    keep: Vec<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/html")
}

/// The byte strings a value (and its upper-case form) could print as on this printer.
fn encodings(p: &Profile, value: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for v in [value.to_string(), value.to_uppercase()] {
        out.push(v.as_bytes().to_vec());
        for enc in p.code_pages.table.values() {
            if let Encoding::Single(page) = enc {
                out.extend(
                    v.chars()
                        .map(|c| page.encode(c))
                        .collect::<Option<Vec<u8>>>(),
                );
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn html_slips_print_fitted_and_redacted() {
    let profiles = Profiles::builtin_only();
    let redactor = Redactor::new(RedactConfig::default());
    let labels = redactor.labels();
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 6, "{} fixtures", fixtures.len());
    let (mut values, mut removed, mut keeps, mut kept) = (0, 0, 0, 0);
    let mut failures = Vec::new();
    for path in &fixtures {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let m: Manifest =
            toml::from_str(&std::fs::read_to_string(path.with_extension("toml")).unwrap())
                .unwrap_or_else(|e| panic!("{name}.toml: {e}"));
        let profile = profiles.load(&m.profile).unwrap();
        let html = std::fs::read_to_string(path).unwrap();
        let (layout, _) = Layout::for_profile(&profile).unwrap();
        let lines = html_lines(&html, &layout, labels).unwrap();
        for l in &lines {
            assert!(
                l.width() <= layout.columns,
                "{name}: a line of {} columns on {} columns of paper",
                l.width(),
                layout.columns
            );
        }
        let job = render(&lines, &profile).unwrap();
        // Before redaction the slip prints its patron's names and card: the checks below
        // see redaction at work, not values the layout lost.
        let before: String = text::lines(&profile, &job)
            .iter()
            .map(|l| l.text.to_string() + "\n")
            .collect();
        for v in m.cards.iter().chain(m.patron.iter().take(2)) {
            assert!(
                before.contains(v.as_str()),
                "{name}: `{v}` does not print at all"
            );
        }

        let (out, report) = redactor
            .job(&profile, &job)
            .unwrap_or_else(|b| panic!("{name}: fails closed: {b}"));
        let printed: Vec<String> = text::lines(&profile, &out)
            .iter()
            .map(|l| l.text.to_string())
            .collect();
        for l in &printed {
            assert!(
                l.chars().count() <= layout.columns,
                "{name}: a redacted line is wider than the paper"
            );
        }
        for v in &m.patron {
            values += 1;
            let leaked = encodings(&profile, v).iter().any(|e| contains(&out, e));
            if leaked {
                failures.push(format!("{name}: patron value `{v}` survives"));
            } else {
                removed += 1;
            }
        }
        for k in &m.keep {
            keeps += 1;
            if printed.iter().any(|l| l.contains(k.as_str())) {
                kept += 1;
            } else {
                failures.push(format!("{name}: `{k}` is gone"));
            }
        }
        for c in &m.cards {
            let last4 = &c[c.len() - 4..];
            if !printed.iter().any(|l| l.contains(&format!("*{last4}"))) {
                failures.push(format!(
                    "{name}: the card's last four digits are not printed"
                ));
            }
        }
        let toks = tokenize(profile.dialect, &out);
        let cut = |t: &slipguard::core::tokenize::Token| matches!(t.kind, TokenKind::Command(c) if c.op == Op::Cut);
        if profile.cut.partial || profile.cut.full {
            assert_eq!(toks.iter().filter(|t| cut(t)).count(), 1, "{name}: one cut");
            assert!(
                toks.last().is_some_and(cut),
                "{name}: the cut ends the slip"
            );
        } else {
            // A printer without a cutter: paper fed past the tear bar.
            assert!(out.ends_with(b"\n\n\n\n"), "{name}: fed to the tear bar");
        }
        eprintln!(
            "{name}: {} lines on {} columns, {} values redacted",
            printed.len(),
            layout.columns,
            report.total()
        );
    }
    let recall = removed as f64 / values as f64;
    let retention = kept as f64 / keeps as f64;
    eprintln!(
        "HTML slips: recall {recall:.4} ({removed}/{values} patron values removed), \
         retention {retention:.4} ({kept}/{keeps} content strings kept)"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The HTTP endpoint's path since issue 17: every fixture redacted on its blocks before it
/// is laid out ([`typeset_redacted`]), then as printer bytes. The same checks: no patron
/// value survives in any encoding, the listed content does, cards keep their last four
/// digits, every line fits the paper.
#[test]
fn html_slips_redacted_before_layout_keep_what_they_need() {
    let profiles = Profiles::builtin_only();
    let redactor = Redactor::new(RedactConfig::default());
    let mut fixtures: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect();
    fixtures.sort();
    let mut failures = Vec::new();
    for path in &fixtures {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let m: Manifest =
            toml::from_str(&std::fs::read_to_string(path.with_extension("toml")).unwrap()).unwrap();
        let profile = profiles.load(&m.profile).unwrap();
        let html = std::fs::read(path).unwrap();
        let (job, before) = typeset_redacted(Markup::Html, &html, &profile, &redactor, u64::MAX)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(before.total() > 0, "{name}: nothing found before layout");
        let (out, _) = redactor
            .job(&profile, &job)
            .unwrap_or_else(|b| panic!("{name}: fails closed: {b}"));
        let printed: Vec<String> = text::lines(&profile, &out)
            .iter()
            .map(|l| l.text.to_string())
            .collect();
        let columns = profile.columns.font_a as usize;
        assert!(
            printed.iter().all(|l| l.chars().count() <= columns),
            "{name}: a line wider than the paper"
        );
        for v in &m.patron {
            if encodings(&profile, v).iter().any(|e| contains(&out, e)) {
                failures.push(format!("{name}: patron value `{v}` survives"));
            }
        }
        for k in &m.keep {
            if !printed.iter().any(|l| l.contains(k.as_str())) {
                failures.push(format!("{name}: `{k}` is gone"));
            }
        }
        for c in &m.cards {
            let last4 = &c[c.len() - 4..];
            if !printed.iter().any(|l| l.contains(&format!("*{last4}"))) {
                failures.push(format!(
                    "{name}: the card's last four digits are not printed"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
