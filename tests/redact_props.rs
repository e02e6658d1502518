//! Property tests for redaction over generated slips: lines with patron data, formatting
//! commands dropped inside words and numbers, barcodes and 2-D codes, several segments.

use proptest::prelude::*;
use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::text::codepage::Encoding;
use slipguard::core::tokenize::{tokenize, DataKind, Dialect, Token, TokenKind};
use slipguard::profiles::Profiles;

const FIRST: &[&str] = &[
    "Marisol", "Zoë", "Björn", "José", "Siobhán", "Ana", "Renée", "Kim",
];
const LAST: &[&str] = &[
    "Okonkwo",
    "Müller",
    "Lefèvre",
    "Ibáñez",
    "O'Brien",
    "Smith-Jones",
    "Nguyen",
];
const CARDS: &[&str] = &["21472000358610", "21472277654238", "21472000914271"];

fn line() -> impl Strategy<Value = String> {
    let f = prop::sample::select(FIRST);
    let l = prop::sample::select(LAST);
    let c = prop::sample::select(CARDS);
    prop_oneof![
        (f.clone(), l.clone()).prop_map(|(f, l)| format!("Checked out to: {f} {l}")),
        (l.clone(), f.clone()).prop_map(|(l, f)| format!("{l}, {f}")),
        c.clone().prop_map(|c| format!("Card number: {c}")),
        c.clone().prop_map(|c| format!("({c})")),
        f.clone().prop_map(|f| format!("Dear {f},")),
        (0u32..100).prop_map(|n| format!("Phone: (785) 555-01{n:02}")),
        l.clone().prop_map(|l| format!(
            "Email: {}@example.org",
            l.to_lowercase().replace(['\'', 'ü', 'è', 'á', 'ñ'], "")
        )),
        Just("1. Red Mars".to_string()),
        Just("   Robinson, Kim Stanley".to_string()),
        Just("   Item: 31472001205545  Due: 2026-12-01".to_string()),
        Just("Call (785) 555-0100 to renew".to_string()),
        Just("Total: $2.50".to_string()),
        Just(String::new()),
    ]
}

#[derive(Clone, Debug)]
enum Piece {
    Line(String, Vec<(usize, u8)>),
    Barcode(bool),
    Qr(bool),
    Cut,
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        6 => (line(), prop::collection::vec((0usize..40, 0u8..4), 0..3))
            .prop_map(|(l, f)| Piece::Line(l, f)),
        1 => any::<bool>().prop_map(Piece::Barcode),
        1 => any::<bool>().prop_map(Piece::Qr),
        1 => Just(Piece::Cut),
    ]
}

fn cp858(p: &Profile) -> (u8, Encoding) {
    p.code_pages
        .table
        .iter()
        .find(|(_, e)| e.name() == "cp858")
        .map(|(n, e)| (*n, *e))
        .unwrap()
}

/// Build the job: text in CP858, formatting commands inserted at character positions.
fn build(p: &Profile, pieces: &[Piece]) -> Vec<u8> {
    let (n, enc) = cp858(p);
    let Encoding::Single(page) = enc else {
        unreachable!()
    };
    let mut job = vec![0x1B, b'@', 0x1B, b't', n];
    for piece in pieces {
        match piece {
            Piece::Line(text, fmt) => {
                for (i, c) in text.chars().enumerate() {
                    for (at, which) in fmt {
                        if *at == i {
                            job.extend_from_slice(match which {
                                0 => b"\x1bE\x01",
                                1 => b"\x1bE\x00",
                                2 => b"\x1b-\x01",
                                _ => b"\x1d!\x11",
                            });
                        }
                    }
                    job.push(page.encode(c).unwrap_or(b'?'));
                }
                job.push(b'\n');
            }
            Piece::Barcode(patron) => {
                let d: &[u8] = if *patron {
                    b"A21472000358610B"
                } else {
                    b"A31472001205545B"
                };
                job.extend_from_slice(b"\x1dk\x06");
                job.extend_from_slice(d);
                job.push(0);
            }
            Piece::Qr(patron) => {
                let d: &[u8] = if *patron {
                    b"https://lib.example.org/p/21472000358610"
                } else {
                    b"https://lib.example.org/hours"
                };
                let len = d.len() + 3;
                job.extend_from_slice(&[0x1D, b'(', b'k', len as u8, 0, 49, 80, 48]);
                job.extend_from_slice(d);
                job.extend_from_slice(b"\x1d(k\x03\x001Q0");
            }
            Piece::Cut => job.extend_from_slice(b"\x1dV\x01"),
        }
    }
    job
}

fn is_symbol(t: &Token) -> bool {
    matches!(
        t.kind,
        TokenKind::Data {
            kind: DataKind::Barcode | DataKind::Code2dStore | DataKind::Code2dPrint,
            ..
        }
    )
}

/// Command bytes other than symbols and line feeds, in order.
fn commands(job: &[u8]) -> Vec<Vec<u8>> {
    tokenize(Dialect::EscPos, job)
        .iter()
        .filter(|t| {
            !matches!(
                t.kind,
                TokenKind::Text | TokenKind::Control(0x0A) | TokenKind::Control(0x09)
            )
        })
        .filter(|t| !is_symbol(t))
        .map(|t| job[t.range_in(0)].to_vec())
        .collect()
}

fn symbols(job: &[u8]) -> Vec<Vec<u8>> {
    tokenize(Dialect::EscPos, job)
        .iter()
        .filter(|t| is_symbol(t))
        .map(|t| job[t.range_in(0)].to_vec())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn redaction_keeps_commands_retokenizes_and_is_idempotent(pieces in prop::collection::vec(piece(), 1..24)) {
        let p = Profiles::builtin_only().load("generic-80mm").unwrap();
        let job = build(&p, &pieces);
        let r = Redactor::new(RedactConfig::default());
        let (out, _) = r.job(&p, &job).expect("generated slips are never blocked");

        // Every command byte stays, in order (symbols aside).
        prop_assert_eq!(commands(&job), commands(&out));
        // Symbols are kept unchanged or removed, never altered.
        let kept = symbols(&out);
        let mut orig = symbols(&job).into_iter();
        for s in &kept {
            prop_assert!(orig.any(|o| &o == s), "a symbol was altered");
        }
        // The output tokenizes cleanly.
        let toks = tokenize(Dialect::EscPos, &out);
        prop_assert!(toks.iter().all(|t| !t.kind.is_error()));
        // Patron card digits are gone everywhere.
        for c in CARDS {
            prop_assert!(!out.windows(10).any(|w| w == &c.as_bytes()[..10]));
        }
        // Redacting again changes nothing.
        let (twice, _) = r.job(&p, &out).unwrap();
        prop_assert_eq!(out, twice);
    }
}
