//! The slip corpus (`tests/fixtures/slips/`): every patron value is gone from the redacted
//! output in every encoding it could take (text, barcodes, 2-D codes), everything listed as
//! content survives, card numbers keep their last four digits, cuts stay. Prints recall and
//! retention over the corpus; both must be 1.0.

use serde::Deserialize;
use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::text::codepage::Encoding;
use slipguard::core::text::intl;
use slipguard::core::tokenize::{tokenize, Op, TokenKind};
use slipguard::profiles::Profiles;
use std::path::PathBuf;

mod leakcheck;
use leakcheck::readable;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Manifest {
    system: String,
    template: String,
    client: String,
    profile: String,
    slip_type: String,
    patron: Vec<String>,
    cards: Vec<String>,
    keep: Vec<String>,
}

/// The corpus: slips from python-escpos and hand-built bytes, and slips from the escpos crate.
fn dirs() -> [PathBuf; 2] {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    [root.join("slips"), root.join("slips-escpos-rs")]
}

/// Every byte string `value` could be sent as to this printer: each code page of the
/// profile, UTF-8, and the ESC R national sets (where `ü` travels as `}`).
fn encodings(p: &Profile, value: &str) -> Vec<Vec<u8>> {
    let mut out = vec![value.as_bytes().to_vec()];
    let tables = p
        .code_pages
        .table
        .values()
        .chain(p.code_pages.star_table.iter().flat_map(|t| t.values()));
    for enc in tables {
        if let Encoding::Single(page) = enc {
            let bytes: Option<Vec<u8>> = value.chars().map(|c| page.encode(c)).collect();
            out.extend(bytes);
        }
    }
    for set in 1..=16u8 {
        let mut reverse = std::collections::HashMap::new();
        for b in 0x20..0x7Fu8 {
            if let Some(c) = intl::map(set, b) {
                reverse.insert(c, b);
            }
        }
        let bytes: Option<Vec<u8>> = value
            .chars()
            .map(|c| reverse.get(&c).copied().or(c.is_ascii().then_some(c as u8)))
            .collect();
        out.extend(bytes);
    }
    out.sort();
    out.dedup();
    out
}

fn cuts(p: &Profile, job: &[u8]) -> usize {
    tokenize(p.dialect, job)
        .iter()
        .filter(|t| matches!(t.kind, TokenKind::Command(c) if c.op == Op::Cut))
        .count()
}

#[test]
fn corpus_recall_and_retention_are_one() {
    let profiles = Profiles::builtin_only();
    let redactor = Redactor::new(RedactConfig::default());
    let mut manifests: Vec<PathBuf> = dirs()
        .iter()
        .flat_map(|d| std::fs::read_dir(d).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    manifests.sort();
    assert!(manifests.len() >= 30, "only {} slips", manifests.len());

    let (mut patron_total, mut patron_removed) = (0, 0);
    let (mut keep_total, mut keep_kept) = (0, 0);
    let mut problems = Vec::new();
    for path in &manifests {
        let name = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or(path)
            .display()
            .to_string();
        let m: Manifest = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let p = profiles.load(&m.profile).unwrap();
        let job = std::fs::read(path.with_extension("bin")).unwrap();
        let (out, report) = match redactor.job(&p, &job) {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("{name}: blocked: {e}"));
                patron_total += m.patron.len();
                keep_total += m.keep.len();
                continue;
            }
        };
        let (lines, symbols) = readable(&p, &out);
        let report_line = report.to_string();
        for v in &m.patron {
            patron_total += 1;
            let digits: String = v.chars().filter(char::is_ascii_digit).collect();
            let in_bytes = encodings(&p, v)
                .iter()
                .any(|e| out.windows(e.len()).any(|w| w == &e[..]));
            let in_text = lines.iter().chain(&symbols).any(|l| {
                l.to_lowercase().contains(&v.to_lowercase())
                    || (digits.len() >= 7
                        && l.chars()
                            .filter(char::is_ascii_digit)
                            .collect::<String>()
                            .contains(&digits))
            });
            if in_bytes || in_text || report_line.contains(v.as_str()) {
                problems.push(format!("{name}: patron value survives: {v:?}"));
            } else {
                patron_removed += 1;
            }
        }
        for k in &m.keep {
            keep_total += 1;
            if lines.iter().any(|l| l.contains(k.as_str())) {
                keep_kept += 1;
            } else {
                problems.push(format!("{name}: content lost: {k:?}"));
            }
        }
        for c in &m.cards {
            let d: String = c.chars().filter(char::is_ascii_digit).collect();
            let last4 = &d[d.len() - 4..];
            if !lines.iter().chain(&symbols).any(|l| l.contains(last4)) {
                problems.push(format!("{name}: last four digits of a card are gone"));
            }
        }
        if cuts(&p, &out) != cuts(&p, &job) {
            problems.push(format!("{name}: paper cuts changed"));
        }
    }
    let recall = patron_removed as f64 / patron_total.max(1) as f64;
    let retention = keep_kept as f64 / keep_total.max(1) as f64;
    println!(
        "corpus: {} slips; recall {recall:.4} ({patron_removed}/{patron_total} patron values removed); \
         retention {retention:.4} ({keep_kept}/{keep_total} content strings kept)",
        manifests.len()
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!((recall, retention), (1.0, 1.0));
}
