//! The leak rule shared by `tests/ils_corpus.rs`, `tests/sample_leaks.rs` and `tests/corpus.rs`: whether a
//! patron value can still be read from what a printer prints (its text lines, and the data
//! of its barcodes and 2-D codes), and the exact lists of known misses.
//!
//! Everything is compared in a *folded* form, so that a value a person or a scanner would
//! read counts however it is spelt: lower case; format characters (zero-width space and
//! joiners, soft hyphen, word joiner, BOM) and combining marks (NFD accents) removed;
//! full-width forms folded to ASCII; accented Latin letters folded to their base letter
//! (`Ødegård` → `odegard`, `Hauptstraße` → `hauptstrasse`). A value **leaks** when:
//!
//! * **card, phone** — some run of digits in one printed line or symbol (digits with at most
//!   one space, dash, dot or slash between neighbours, so `0113 496 0126` is one run) holds
//!   5 consecutive digits of the value (fewer only if the value has fewer digits). The
//!   last 4 digits a card keeps by design never count; 5 always do. A run that is an item
//!   barcode (14 digits, type digit 3) is content and is not searched: it may share the
//!   card's library code.
//! * **birthdate** — a digit run holds all the value's digits, in order.
//! * **name** (a given name or a surname, each its own value) — for each word of the value
//!   of 3 or more letters that is not a particle (`de`, `van`, `der`, `dos` …): some printed
//!   word (a maximal run of letters) contains it, or is a piece of it of 3 or more letters
//!   (`OKON` of `Okonkwo`, `Ngoz` of `Ngozi`). Initials are one letter and never count. On
//!   hold-shelf and transit slips the surname's first 4 letters are printed by design
//!   (`OKON M`) and do not count — unless they are the whole surname.
//! * **email** — the local part (before `@`) appears in a printed line.
//! * **address** (street, postcode) — some printed word contains a word of the street of 4
//!   or more letters that is not a street type (`lilas`, `kjolberggata`, `hauptstrasse`;
//!   not `rue`, `road`, `gatan`), or a printed line holds the whole postcode, or the whole
//!   street when it has no such word (`1234 N 5th St`) (spaces ignored).
//!
//! Every rule is also checked the other way: each value must *leak* from the unredacted
//! job (so the rule can fail), and must not be found in the slip's own content (a control
//! rendering with the patron values left out), so a title word cannot pass for a name.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};

/// The kinds a value is counted under (as in DESIGN §4).
pub const KINDS: &[&str] = &["card", "name", "email", "phone", "address", "birthdate"];

/// The kind of a patron field.
pub fn kind_of(field: &str) -> &'static str {
    match field {
        "first" | "last" | "middle" => "name",
        "card" => "card",
        "email" => "email",
        "phone" | "phone2" => "phone",
        "street" | "postcode" => "address",
        "dob" => "birthdate",
        other => panic!("unknown patron field `{other}`"),
    }
}

const PARTICLES: &[&str] = &[
    "de", "da", "das", "do", "dos", "du", "des", "del", "della", "di", "la", "le", "van", "der",
    "den", "von", "zu", "ten", "ter", "af", "av", "y", "e", "mac", "st",
];

fn base(c: char, out: &mut String) {
    let s = match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ą' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' => "c",
        'ď' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ę' | 'ě' | 'ē' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ł' => "l",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ő' | 'ō' => "o",
        'œ' => "oe",
        'ř' => "r",
        'ś' | 'š' | 'ş' => "s",
        'ß' => "ss",
        'ť' => "t",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ů' | 'ű' | 'ū' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ż' | 'ž' => "z",
        _ => {
            out.push(c);
            return;
        }
    };
    out.push_str(s);
}

/// The folded form of `s` (see the module documentation).
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let skip = matches!(c,
            '\u{00AD}' | '\u{034F}' | '\u{200B}'..='\u{200F}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}')
            || ('\u{0300}'..='\u{036F}').contains(&c);
        if skip {
            continue;
        }
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap(),
            '\u{3000}' | '\u{00A0}' => ' ',
            c => c,
        };
        for l in c.to_lowercase() {
            base(l, &mut out);
        }
    }
    out
}

/// Runs of digits in a folded line: digits with at most one separator between neighbours.
pub fn digit_runs(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut runs = Vec::new();
    let mut cur = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            cur.push(c);
        } else if !cur.is_empty()
            && matches!(c, ' ' | '-' | '.' | '/')
            && chars.get(i + 1).is_some_and(char::is_ascii_digit)
        {
            // a separator inside the run
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
        i += 1;
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

fn letter_words(line: &str) -> Vec<String> {
    line.split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// The words of a name value that the rule looks for.
pub fn name_words(value: &str) -> Vec<String> {
    letter_words(&fold(value))
        .into_iter()
        .filter(|w| w.chars().count() >= 3 && !PARTICLES.contains(&w.as_str()))
        .collect()
}

/// A 14-digit Codabar item number (type digit 3): content, which may share the library
/// code with a card number (`21472…` and `31472…`), so it is not searched for card digits.
fn is_item_barcode(run: &str) -> bool {
    run.len() == 14 && run.starts_with('3')
}

/// Words of a street that name it: 4 letters or more, not a street-type word.
pub fn street_words(value: &str) -> Vec<String> {
    letter_words(&fold(value))
        .into_iter()
        .filter(|w| w.chars().count() >= 4 && !STREET_TYPES.contains(&w.as_str()))
        .collect()
}

const STREET_TYPES: &[&str] = &[
    "road", "street", "avenue", "lane", "drive", "gata", "gatan", "gade", "vagen", "strasse",
    "weg", "straat", "calle", "ulica", "tie", "katu", "place", "court",
];

/// What is printed, read as a person or a scanner would: text lines and symbol data.
pub struct Printed {
    /// Folded lines and symbol payloads.
    lines: Vec<String>,
    runs: Vec<String>,
    words: BTreeSet<String>,
    compact: Vec<String>,
}

impl Printed {
    pub fn new<S: AsRef<str>>(texts: &[S]) -> Printed {
        let lines: Vec<String> = texts.iter().map(|t| fold(t.as_ref())).collect();
        let runs = lines.iter().flat_map(|l| digit_runs(l)).collect();
        let words = lines.iter().flat_map(|l| letter_words(l)).collect();
        let compact = lines
            .iter()
            .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect())
            .collect();
        Printed {
            lines,
            runs,
            words,
            compact,
        }
    }

    /// Whether `value` (a patron `field`) can be read from what is printed. `shelf`: the
    /// slip is a hold-shelf or transit slip, where a surname's first 4 letters print by design.
    pub fn leaks(&self, field: &str, value: &str, shelf: bool) -> bool {
        let v = fold(value);
        match kind_of(field) {
            "card" | "phone" => {
                let d: Vec<char> = v.chars().filter(char::is_ascii_digit).collect();
                let n = d.len().min(5);
                if n == 0 {
                    return false;
                }
                d.windows(n).any(|w| {
                    let w: String = w.iter().collect();
                    self.runs
                        .iter()
                        .any(|r| !is_item_barcode(r) && r.contains(&w))
                })
            }
            "birthdate" => {
                let d: String = v.chars().filter(char::is_ascii_digit).collect();
                self.runs.iter().any(|r| r.contains(&d))
            }
            "name" => name_words(value).iter().any(|n| {
                let prefix: String = n.chars().take(4).collect();
                self.words.iter().any(|w| {
                    if w.contains(n.as_str()) {
                        return !(shelf && field == "last" && *w == prefix && *w != *n);
                    }
                    w.chars().count() >= 3
                        && n.contains(w.as_str())
                        && !(shelf && field == "last" && *w == prefix && *w != *n)
                })
            }),
            "email" => {
                let local = v.split('@').next().unwrap_or_default();
                self.lines.iter().any(|l| l.contains(local))
            }
            "address" if field == "street" && !street_words(value).is_empty() => {
                street_words(value)
                    .iter()
                    .any(|s| self.words.iter().any(|w| w.contains(s.as_str())))
            }
            "address" => {
                let needle: String = v.chars().filter(|c| !c.is_whitespace()).collect();
                !needle.is_empty() && self.compact.iter().any(|l| l.contains(&needle))
            }
            _ => unreachable!(),
        }
    }
}

/// Whether `keep` survives in the printed text: it appears in the lines joined by spaces, or
/// its words (split at white space) appear in order within the printed words, allowing
/// other words between them, since an HTML slip
/// may wrap a long title onto two lines, and a table column interleaves its neighbours'.
/// A masked word is gone, so a masked keep string is never kept.
pub fn kept(lines: &[String], keep: &str) -> bool {
    let joined = lines.join(" ");
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    if squash(&joined).contains(&squash(keep)) {
        return true;
    }
    let mut printed = joined.split_whitespace();
    keep.split_whitespace()
        .all(|w| printed.by_ref().any(|p| p.contains(w)))
}

/// Recall and retention counts under one heading of the table.
#[derive(Default, Clone, Copy)]
pub struct Tally {
    pub values: usize,
    pub removed: usize,
    pub keeps: usize,
    pub kept: usize,
}

/// Tallies by dimension (`kind`, `ils`, …) and group.
#[derive(Default)]
pub struct Table(pub BTreeMap<(usize, String), (String, Tally)>);

impl Table {
    /// Count a value (`removed`: gone from print) under `dim`/`group`; `order` sorts dims.
    pub fn value(&mut self, order: usize, dim: &str, group: &str, removed: bool) {
        let t = self.entry(order, dim, group);
        t.values += 1;
        t.removed += usize::from(removed);
    }

    pub fn keep(&mut self, order: usize, dim: &str, group: &str, kept: bool) {
        let t = self.entry(order, dim, group);
        t.keeps += 1;
        t.kept += usize::from(kept);
    }

    fn entry(&mut self, order: usize, dim: &str, group: &str) -> &mut Tally {
        &mut self
            .0
            .entry((order, format!("{dim}\u{0}{group}")))
            .or_insert_with(|| (dim.to_string(), Tally::default()))
            .1
    }

    pub fn get(&self, dim: &str, group: &str) -> Tally {
        self.0
            .iter()
            .find(|((_, k), _)| *k == format!("{dim}\u{0}{group}"))
            .map(|(_, (_, t))| *t)
            .unwrap_or_default()
    }

    /// The markdown table.
    pub fn markdown(&self) -> String {
        let ratio = |a: usize, b: usize| {
            if b == 0 {
                "–".to_string()
            } else {
                format!("{:.3}", a as f64 / b as f64)
            }
        };
        let mut s = String::from(
            "| by | group | recall | removed | retention | kept |\n|---|---|---|---|---|---|\n",
        );
        for ((_, k), (dim, t)) in &self.0 {
            let group = k.split('\u{0}').nth(1).unwrap_or_default();
            s.push_str(&format!(
                "| {dim} | {group} | {} | {}/{} | {} | {}/{} |\n",
                ratio(t.removed, t.values),
                t.removed,
                t.values,
                ratio(t.kept, t.keeps),
                t.kept,
                t.keeps
            ));
        }
        s
    }
}

/// Whether the exact lists may be rewritten instead of checked.
pub fn blessing() -> bool {
    std::env::var("SLIPGUARD_BLESS_MISSES").is_ok_and(|v| v == "1")
}

/// Text a person or a scanner reads from a printed job: its text lines, and the data of its
/// barcodes and 2-D codes.
pub fn readable(p: &slipguard::core::profile::Profile, job: &[u8]) -> (Vec<String>, Vec<String>) {
    use slipguard::core::{symbol, text};
    let lines = text::lines(p, job)
        .iter()
        .map(|l| l.text.to_string())
        .collect();
    let mut symbols = Vec::new();
    text::for_each_token(p, job, |tok, bytes| {
        if let Some((_, t)) = symbol::barcode(p.dialect, &tok, bytes) {
            symbols.push(t);
        } else if let Some((_, d)) = symbol::code2d(p.dialect, &tok, bytes) {
            symbols.push(String::from_utf8_lossy(&d).into_owned());
        }
    });
    (lines, symbols)
}
