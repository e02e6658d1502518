//! `slipguard sample` for every kind and seeds 1–100, redacted with the default rules on the
//! default profile: no patron name, card (beyond its last 4 digits), phone, e-mail or street
//! may still be read from what prints (the rule of `tests/leakcheck/mod.rs`).
//!
//! The sample module does not expose its fake patrons, so they are read back from the
//! unredacted slip through its public API (`sample::generate`, then the decoded lines),
//! by the labels each kind prints them after. Values that leak today are listed exactly in
//! `tests/fixtures/sample-leaks/known-misses.toml` (kind, value id, seeds, a one-word
//! cause): a leak not listed fails, and so does a listed one that no longer leaks;
//! `SLIPGUARD_BLESS_MISSES=1` rewrites the file. Messages name kind, seed and value id,
//! never the value.

mod leakcheck;

use clap::ValueEnum;
use leakcheck::{blessing, kind_of, Printed, Table};
use serde::Deserialize;
use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::symbol;
use slipguard::core::text;
use slipguard::profiles::{Profiles, DEFAULT_PROFILE};
use slipguard::sample::{generate, Kind};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=100;

fn known_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample-leaks/known-misses.toml")
}

fn kind_name(k: Kind) -> String {
    k.to_possible_value().unwrap().get_name().to_string()
}

fn lines(p: &Profile, job: &[u8]) -> Vec<String> {
    text::lines(p, job)
        .iter()
        .map(|l| l.text.to_string())
        .collect()
}

fn symbols(p: &Profile, job: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    text::for_each_token(p, job, |tok, bytes| {
        if let Some((_, t)) = symbol::barcode(p.dialect, &tok, bytes) {
            out.push(t);
        } else if let Some((_, d)) = symbol::code2d(p.dialect, &tok, bytes) {
            out.push(String::from_utf8_lossy(&d).into_owned());
        }
    });
    out
}

/// The patron values a sample slip prints, read from its lines: field id → value.
fn patron(kind: Kind, lines: &[String]) -> BTreeMap<&'static str, String> {
    let mut v = BTreeMap::new();
    let after = |label: &str| {
        lines
            .iter()
            .find_map(|l| l.trim().strip_prefix(label).map(|r| r.trim().to_string()))
    };
    let full = |v: &mut BTreeMap<&'static str, String>, s: Option<String>| {
        let s = s.expect("the patron's name line");
        let (first, last) = s.split_once(' ').expect("first and last name");
        v.insert("first", first.to_string());
        v.insert("last", last.to_string());
    };
    match kind {
        Kind::Checkout => {
            full(&mut v, after("Checked out to:"));
            v.insert("card", after("Card number:").unwrap());
            v.insert("email", after("Reminders go to:").unwrap());
        }
        Kind::Checkin => {
            full(&mut v, after("Checked in items for:"));
            v.insert("card", after("Card #:").unwrap());
        }
        Kind::Hold => {
            full(&mut v, after("Hold for patron:"));
            v.insert("phone", after("Phone:").unwrap());
            v.insert("email", after("Email:").unwrap());
            v.insert("street", after("Address:").unwrap());
            let card = lines
                .iter()
                .find_map(|l| l.trim().strip_prefix('(')?.strip_suffix(')'))
                .unwrap();
            v.insert("card", card.to_string());
        }
        Kind::Transit => {
            let s = after("Hold for:").unwrap();
            let (last, first) = s.split_once(", ").unwrap();
            v.insert("first", first.to_string());
            v.insert("last", last.to_string());
            v.insert("card", after("Patron barcode:").unwrap());
            v.insert("phone", after("Text:").unwrap());
        }
        Kind::Payment => {
            full(&mut v, after("Received with thanks from:"));
            v.insert("card", after("Library card:").unwrap());
        }
    }
    v
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Miss {
    kind: String,
    value: String,
    seeds: Vec<u64>,
    cause: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Known {
    #[serde(default)]
    miss: Vec<Miss>,
}

fn render(miss: &[Miss]) -> String {
    let mut s = String::from(
        "# `slipguard sample` values that leak today, by kind and value id, with the seeds\n\
         # (of 1-100) whose slip leaks it and a one-word cause. Exact: tests/sample_leaks.rs\n\
         # fails on a leak not listed and on a listed one that no longer leaks. Rewrite with\n\
         # SLIPGUARD_BLESS_MISSES=1 cargo test --test sample_leaks\n\
         # Causes: unlabelled (the e-mail after \"Reminders go to:\", far below the patron, has no\n\
         # label the lexicon knows), folded (the name survives ASCII-folded inside that e-mail\n\
         # address, `oystein`, `fernandez`, where the name rule masks only its printed spelling).\n\
         # Bless keeps existing causes; new entries get \"new\".\n\n\
         miss = [\n",
    );
    for m in miss {
        let seeds: Vec<String> = m.seeds.iter().map(u64::to_string).collect();
        s.push_str(&format!(
            "  {{ kind = {:?}, value = {:?}, cause = {:?}, seeds = [{}] }},\n",
            m.kind,
            m.value,
            m.cause,
            seeds.join(", ")
        ));
    }
    s.push_str("]\n");
    s
}

#[test]
fn samples_leak_only_the_known_misses() {
    let profile = Profiles::builtin_only().load(DEFAULT_PROFILE).unwrap();
    let redactor = Redactor::new(RedactConfig::default());
    let mut table = Table::default();
    let mut leaks: BTreeMap<(String, String), BTreeSet<u64>> = BTreeMap::new();
    let mut problems = Vec::new();
    for kind in Kind::value_variants() {
        let name = kind_name(*kind);
        for seed in SEEDS {
            let job = generate(*kind, &profile, seed).unwrap();
            let before = lines(&profile, &job);
            let values = patron(*kind, &before);
            let shelf = matches!(kind, Kind::Hold | Kind::Transit);
            let seen = Printed::new(&[before, symbols(&profile, &job)].concat());
            let (out, _) = match redactor.job(&profile, &job) {
                Ok(r) => r,
                Err(e) => {
                    problems.push(format!("{name} seed {seed}: refused: {e}"));
                    continue;
                }
            };
            let printed = Printed::new(&[lines(&profile, &out), symbols(&profile, &out)].concat());
            for (field, value) in &values {
                if !seen.leaks(field, value, shelf) {
                    problems.push(format!(
                        "{name} seed {seed}: value `{field}` is not readable from the unredacted slip"
                    ));
                }
                let leaked = printed.leaks(field, value, shelf);
                table.value(0, "all", "all", !leaked);
                table.value(1, "sample kind", &name, !leaked);
                table.value(2, "value kind", kind_of(field), !leaked);
                if leaked {
                    leaks
                        .entry((name.clone(), field.to_string()))
                        .or_default()
                        .insert(seed);
                }
            }
        }
    }
    println!(
        "\nslipguard sample, every kind x seeds {}-{}:\n\n{}",
        SEEDS.start(),
        SEEDS.end(),
        table.markdown()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    let known: Known = std::fs::read_to_string(known_path())
        .map(|t| toml::from_str(&t).expect("known-misses.toml parses"))
        .unwrap_or_default();
    let mut listed: BTreeMap<(String, String), (BTreeSet<u64>, String)> = BTreeMap::new();
    for m in &known.miss {
        let e = listed
            .entry((m.kind.clone(), m.value.clone()))
            .or_insert_with(|| (BTreeSet::new(), m.cause.clone()));
        e.0.extend(&m.seeds);
    }
    let mut diffs = Vec::new();
    for ((k, v), seeds) in &leaks {
        let known = listed.get(&(k.clone(), v.clone())).map(|e| &e.0);
        for s in seeds {
            if !known.is_some_and(|ks| ks.contains(s)) {
                diffs.push(format!("new leak: {k} seed {s} value `{v}`"));
            }
        }
    }
    for ((k, v), (seeds, _)) in &listed {
        let now = leaks.get(&(k.clone(), v.clone()));
        for s in seeds {
            if !now.is_some_and(|n| n.contains(s)) {
                diffs.push(format!(
                    "listed miss no longer leaks (remove it): {k} seed {s} value `{v}`"
                ));
            }
        }
    }
    let updated: Vec<Miss> = leaks
        .iter()
        .map(|((k, v), seeds)| Miss {
            kind: k.clone(),
            value: v.clone(),
            seeds: seeds.iter().copied().collect(),
            cause: listed
                .get(&(k.clone(), v.clone()))
                .map_or_else(|| "new".to_string(), |e| e.1.clone()),
        })
        .collect();
    let total: usize = leaks.values().map(BTreeSet::len).sum();
    println!("known misses: {total} (kind, seed, value) leak now");
    if blessing() {
        std::fs::create_dir_all(known_path().parent().unwrap()).unwrap();
        std::fs::write(known_path(), render(&updated)).unwrap();
        println!(
            "SLIPGUARD_BLESS_MISSES=1: rewrote {}",
            known_path().display()
        );
        return;
    }
    assert!(
        diffs.is_empty(),
        "{} difference(s) from tests/fixtures/sample-leaks/known-misses.toml:\n{}\n\n\
         The updated list (or run with SLIPGUARD_BLESS_MISSES=1):\n\n{}",
        diffs.len(),
        diffs.join("\n"),
        render(&updated)
    );
}
