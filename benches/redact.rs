//! Redaction throughput on a ≥ 1 MiB mix of realistic slips (every slip carries patron
//! data), next to two baselines on the same bytes in the same run: tokenize-only, and the
//! redactor with redaction switched off (tokenize, decode into logical lines, copy), the
//! fixed cost of each of redaction's rounds.
//!
//! `cargo bench --bench redact`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::Redactor;
use slipguard::core::tokenize::Tokenizer;
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    let profiles = Profiles::builtin_only();
    for name in ["epson-tm-t88v", "star-tsp650ii"] {
        let profile = profiles.load(name).expect("profile");
        let mut job = Vec::new();
        let mut seed = 1;
        while job.len() < 1 << 20 {
            for k in [
                Kind::Checkout,
                Kind::Checkin,
                Kind::Hold,
                Kind::Transit,
                Kind::Payment,
            ] {
                job.extend(generate(k, &profile, seed).expect("sample"));
            }
            seed += 1;
        }
        let redactor = Redactor::new(RedactConfig::default());
        let off = Redactor::new(RedactConfig {
            enabled: false,
            ..RedactConfig::default()
        });
        let mut g = c.benchmark_group(format!("redact-{name}"));
        g.throughput(Throughput::Bytes(job.len() as u64));
        g.sample_size(20);
        g.bench_function(BenchmarkId::new("tokenize", job.len()), |b| {
            b.iter(|| {
                let mut t = Tokenizer::new(profile.dialect, profile.tokenizer_options());
                let mut n = 0u64;
                t.feed(black_box(&job), &mut |_| n += 1);
                t.finish(&mut |_| n += 1);
                black_box(n)
            })
        });
        g.bench_function(BenchmarkId::new("decode-only", job.len()), |b| {
            b.iter(|| {
                let (out, _) = off.job(&profile, black_box(&job)).expect("not blocked");
                black_box(out.len())
            })
        });
        g.bench_function(BenchmarkId::new("redact", job.len()), |b| {
            b.iter(|| {
                let (out, report) = redactor
                    .job(&profile, black_box(&job))
                    .expect("not blocked");
                black_box((out.len(), report.total()))
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
