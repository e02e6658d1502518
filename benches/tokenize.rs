//! Tokenize + decode throughput on a ≥ 1 MiB mix of realistic slips, next to a plain copy of
//! the same bytes in the same run (the baseline the figures are reported against).
//!
//! `cargo bench --bench tokenize`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slipguard::core::profile::Profile;
use slipguard::core::text::{self, Decoder, LineCollector};
use slipguard::core::tokenize::{Dialect, Tokenizer};
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::hint::black_box;

const KINDS: [Kind; 5] = [
    Kind::Checkout,
    Kind::Checkin,
    Kind::Hold,
    Kind::Transit,
    Kind::Payment,
];

/// Slips of every kind with varying fake patrons, concatenated to at least 1 MiB; for
/// ESC/POS, python-escpos's output (code page switches, images, barcodes) is mixed in too.
fn corpus(profile: &Profile) -> Vec<u8> {
    let mut clients = Vec::new();
    if profile.dialect == Dialect::EscPos {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/python-escpos");
        for name in ["checkout", "hold", "codepages", "image", "status"] {
            clients.push(std::fs::read(format!("{dir}/{name}.bin")).expect("fixture"));
        }
    }
    let mut out = Vec::new();
    let mut seed = 1;
    while out.len() < 1 << 20 {
        for k in KINDS {
            out.extend(generate(k, profile, seed).expect("sample"));
        }
        if let Some(c) = clients.get(seed as usize % clients.len().max(1)) {
            out.extend(c);
        }
        seed += 1;
    }
    out
}

fn bench(c: &mut Criterion) {
    let profiles = Profiles::new(None);
    for name in ["epson-tm-t88v", "star-tsp650ii"] {
        let profile = profiles.load(name).expect("profile");
        let job = corpus(&profile);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Bytes(job.len() as u64));
        g.bench_function(BenchmarkId::new("copy", job.len()), |b| {
            let mut dst = vec![0u8; job.len()];
            b.iter(|| {
                dst.copy_from_slice(black_box(&job));
                black_box(&dst);
            })
        });
        g.bench_function(BenchmarkId::new("tokenize", job.len()), |b| {
            b.iter(|| {
                let mut t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
                let mut n = 0u64;
                t.feed(black_box(&job), &mut |_| n += 1);
                t.finish(&mut |_| n += 1);
                black_box(n)
            })
        });
        g.bench_function(BenchmarkId::new("tokenize+decode", job.len()), |b| {
            b.iter(|| {
                let mut dec = Decoder::new(&profile);
                let mut lines = LineCollector::with_capacity(job.len());
                text::for_each_token(&profile, black_box(&job), |tok, bytes| {
                    dec.token(&tok, bytes, &mut lines)
                });
                black_box(lines.finish(job.len() as u64).len())
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
