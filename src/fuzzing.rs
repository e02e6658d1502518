//! Invariants shared by the fuzz targets (`fuzz/`) and the test that replays their seed
//! corpus (`tests/fuzz_corpus.rs`), so both check exactly the same things. Every function
//! panics on a violated invariant.

use crate::core::profile::Profile;
use crate::core::redact::config::RedactConfig;
use crate::core::redact::Redactor;
use crate::core::text::{self, Decoder, LineCollector};
use crate::core::tokenize::{Dialect, Options, Token, TokenKind, Tokenizer};
use crate::profiles::Profiles;
use std::sync::OnceLock;

fn profile(d: Dialect) -> &'static Profile {
    static ESCPOS: OnceLock<Profile> = OnceLock::new();
    static STAR: OnceLock<Profile> = OnceLock::new();
    let (cell, name) = match d {
        Dialect::EscPos => (&ESCPOS, "star-tsp100-escpos"),
        Dialect::StarLine => (&STAR, "star-tsp650ii"),
    };
    cell.get_or_init(|| {
        Profiles::new(None)
            .load(name)
            .expect("built-in profile loads")
    })
}

fn run(d: Dialect, opts: Options, job: &[u8], chunk: impl Fn(usize) -> usize) -> Vec<Token> {
    let mut t = Tokenizer::new(d, opts);
    let mut out = Vec::new();
    let mut at = 0;
    let mut k = 0;
    while at < job.len() {
        let n = chunk(k).clamp(1, job.len() - at);
        t.feed(&job[at..at + n], &mut |x| out.push(x));
        at += n;
        k += 1;
    }
    t.finish(&mut |x| out.push(x));
    out
}

/// The control byte, the dialect its low bit picks, and the job after it.
fn split(data: &[u8]) -> Option<(u8, Dialect, &[u8])> {
    let (&ctl, job) = data.split_first()?;
    let d = if ctl & 1 == 0 {
        Dialect::EscPos
    } else {
        Dialect::StarLine
    };
    Some((ctl, d, job))
}

/// The first byte picks the dialect, the size cap and the chunking; the rest is the job.
/// Checks: tokens tile the job; chunking changes nothing; payloads lie inside their token;
/// text tokens hold only printable bytes; decoding maps every character to bytes of a
/// text or HT token, in increasing order.
pub fn tokenize_invariants(data: &[u8]) {
    let Some((ctl, d, job)) = split(data) else {
        return;
    };
    let opts = Options {
        max_command_len: if ctl & 2 == 0 { 1 << 20 } else { 64 },
        star_code_page_in_escpos: ctl & 4 != 0,
    };
    let step = usize::from(ctl >> 3) + 1;
    let whole = run(d, opts, job, |_| usize::MAX);
    let mut at = 0u64;
    for t in &whole {
        assert_eq!(t.offset, at, "tokens must tile the job");
        assert!(t.len > 0);
        if let TokenKind::Data {
            payload_start,
            payload_len,
            ..
        } = t.kind
        {
            assert!(u64::from(payload_start) + payload_len <= t.len);
        }
        if t.kind == TokenKind::Text {
            assert!(job[t.range_in(0)].iter().all(|&b| b >= 0x20));
        }
        at += t.len;
    }
    assert_eq!(at, job.len() as u64);
    assert_eq!(whole, run(d, opts, job, |_| step), "chunked by {step}");
    assert_eq!(
        whole,
        run(d, opts, job, |k| 1 + (k * 7 + step) % 13),
        "uneven chunks"
    );

    let p = profile(d);
    let mut dec = Decoder::new(p);
    let mut lines = LineCollector::new();
    let mut text_ranges = Vec::new();
    text::for_each_token(p, job, |tok, bytes| {
        if matches!(tok.kind, TokenKind::Text | TokenKind::Control(0x09)) {
            text_ranges.push(tok.offset..tok.offset + tok.len);
        }
        dec.token(&tok, bytes, &mut lines);
    });
    let lines = lines.finish(job.len() as u64);
    let mut last = 0u64;
    for line in lines.iter() {
        assert_eq!(line.text.chars().count(), line.chars.len());
        for c in line.chars {
            assert!(c.start() >= last, "characters must come in job order");
            assert!(!c.is_empty() && c.end() <= job.len() as u64);
            assert!(
                text_ranges
                    .iter()
                    .any(|r| r.start <= c.start() && c.end() <= r.end),
                "a character maps to bytes outside any text token"
            );
            last = c.end();
        }
    }
}

/// The first byte picks the dialect; the rest is the job. Checks: redaction never panics;
/// every printed segment tokenizes without errors; redacting the printed output again
/// changes nothing.
pub fn redact_invariants(data: &[u8]) {
    static REDACTOR: OnceLock<Redactor> = OnceLock::new();
    let Some((_, d, job)) = split(data) else {
        return;
    };
    let p = profile(d);
    let r = REDACTOR.get_or_init(|| Redactor::new(RedactConfig::default()));
    let (segments, _) = r.segments(p, job);
    let mut printed = Vec::new();
    for s in &segments {
        if let Ok(bytes) = &s.output {
            printed.extend_from_slice(bytes);
        }
    }
    let mut t = Tokenizer::new(d, p.tokenizer_options());
    let mut bad = false;
    t.feed(&printed, &mut |x| bad |= x.kind.is_error());
    t.finish(&mut |x| bad |= x.kind.is_error());
    assert!(!bad, "printed output must tokenize cleanly");
    if segments.iter().all(|s| s.output.is_ok()) {
        let (again, _) = r.job(p, &printed).expect("printed output is never blocked");
        assert_eq!(
            again, printed,
            "redacting printed output must change nothing"
        );
    }
}
