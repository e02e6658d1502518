//! `Redactor::stream` against `Redactor::job`: the same bytes wherever `job` prints, the
//! same failure wherever it fails closed, whatever the chunk size. Over every fixture, the
//! sample generator (kinds × profiles × seeds), concatenations of slips, code-page switches
//! across cuts, jobs in the wrong dialect, cut-short and mutated jobs, and fewer rounds.
//! A failure names the case, never slip text.

use slipguard::core::profile::Profile;
use slipguard::core::redact::config::RedactConfig;
use slipguard::core::redact::{Redactor, StreamError};
use slipguard::profiles::Profiles;
use slipguard::sample::{generate, Kind};
use std::path::{Path, PathBuf};

fn profiles() -> Vec<(String, Profile)> {
    Profiles::builtin_only()
        .all()
        .into_iter()
        .map(|(n, p)| (n, p.unwrap()))
        .collect()
}

/// Chunk sizes, picked by case number so that every size meets every kind of job.
const CHUNKS: [usize; 5] = [1, 3, 64, 4096, 1 << 20];

/// Whether `job` printed.
#[track_caller]
fn same(r: &Redactor, p: &Profile, job: &[u8], case: usize, what: &str) -> bool {
    let chunk = CHUNKS[case % CHUNKS.len()];
    let want = r.job(p, job);
    let mut got = Vec::new();
    let res = r.stream_chunked(
        p,
        job,
        |b| {
            got.extend_from_slice(b);
            Ok(())
        },
        chunk,
    );
    match (want, res) {
        (Ok((bytes, report)), Ok(streamed)) => {
            assert!(bytes == got, "{what} (chunk {chunk}): output differs");
            assert_eq!(report, streamed, "{what} (chunk {chunk}): report differs");
            true
        }
        (Err(b), Err(StreamError::Blocked(s))) => {
            assert_eq!(b, s, "{what} (chunk {chunk}): another segment or reason");
            false
        }
        (Ok(_), Err(e)) => panic!("{what} (chunk {chunk}): job prints, stream fails: {e}"),
        (Err(b), Ok(_)) => panic!("{what} (chunk {chunk}): job fails ({b}), stream prints"),
        (Err(_), Err(e)) => panic!("{what} (chunk {chunk}): {e}"),
    }
}

fn fixtures(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            fixtures(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Redactors with the default configuration and fewer rounds, and one that is off.
fn redactors() -> Vec<(&'static str, Redactor)> {
    let off = RedactConfig {
        enabled: false,
        ..RedactConfig::default()
    };
    vec![
        ("default", Redactor::new(RedactConfig::default())),
        ("1 round", Redactor::new(RedactConfig::default()).rounds(1)),
        ("2 rounds", Redactor::new(RedactConfig::default()).rounds(2)),
        ("off", Redactor::new(off)),
    ]
}

const KINDS: [Kind; 5] = [
    Kind::Checkout,
    Kind::Checkin,
    Kind::Hold,
    Kind::Transit,
    Kind::Payment,
];

#[test]
fn every_fixture_streams_as_the_job() {
    let mut files = Vec::new();
    fixtures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    files.sort();
    let mut case = 0;
    for (pn, p) in profiles() {
        for (rn, r) in redactors() {
            for f in &files {
                let job = std::fs::read(f).unwrap();
                let what = format!("{} / {pn} / {rn}", f.display());
                same(&r, &p, &job, case, &what);
                case += 1;
            }
        }
    }
}

#[test]
fn samples_stream_as_the_job() {
    let r = Redactor::new(RedactConfig::default());
    let mut case = 0;
    for (pn, p) in profiles() {
        let mut all = Vec::new();
        for kind in KINDS {
            for seed in 1..=30 {
                let job = generate(kind, &p, seed).unwrap();
                same(&r, &p, &job, case, &format!("{kind:?} {seed} / {pn}"));
                case += 1;
                if seed % 7 == 0 {
                    all.extend_from_slice(&job);
                }
            }
        }
        // Several slips in one job, and the job read with the other dialect's profiles.
        same(&r, &p, &all, case, &format!("concatenated / {pn}"));
        for (qn, q) in profiles() {
            if q.dialect != p.dialect {
                same(&r, &q, &all, case, &format!("{pn} slips / {qn}"));
                case += 1;
            }
        }
    }
}

/// xorshift, so the cases are the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn code_pages_across_cuts_and_broken_jobs() {
    let p = Profiles::builtin_only().load("generic-80mm").unwrap();
    let star = Profiles::builtin_only().load("star-tsp650ii").unwrap();
    let r = Redactor::new(RedactConfig::default());
    let slip = generate(Kind::Hold, &p, 3).unwrap();
    let mut case = 0;
    // A code page chosen in one segment, text in it after the cut; UTF-8 mode likewise.
    for select in [
        &b"\x1bt\x10"[..],
        b"\x1bt\x02",
        b"\x1bt\x63",
        b"\x1bR\x02",
        b"\x1c(C\x02\x000\x02",
    ] {
        let mut job = select.to_vec();
        job.extend_from_slice(b"Receipt\n\x1dV\x00");
        job.extend_from_slice("Name: J\u{e9}r\u{f4}me M\u{fc}ller\n".as_bytes());
        job.extend_from_slice(b"Patron: Ren\xe9e Fa\xfcre\nCard: 21234000123456\n\x1dV\x00");
        job.extend_from_slice(&slip);
        job.extend_from_slice(b"Borrower: Zo\xeb Bront\xeb\n");
        for (i, rr) in redactors().iter().enumerate() {
            same(&rr.1, &p, &job, case + i, "code page across cuts");
        }
        case += 5;
    }
    // Cut short anywhere, and bytes changed: segments that fail closed early and late.
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut printed = [0, 0];
    let mut all = Vec::new();
    for kind in KINDS {
        all.extend(generate(kind, &p, 11).unwrap());
    }
    for n in 0..300 {
        let mut job = all.clone();
        match n % 3 {
            0 => job.truncate((rng.next() % all.len() as u64) as usize),
            1 => {
                for _ in 0..1 + rng.next() % 4 {
                    let at = (rng.next() % job.len() as u64) as usize;
                    job[at] = rng.next() as u8;
                }
            }
            _ => {
                let at = (rng.next() % job.len() as u64) as usize;
                let b = [0x1b, 0x1d, 0x1c, 0x10, 0x0a, 0x0c][n % 6];
                job.insert(at, b);
            }
        }
        printed[usize::from(same(&r, &p, &job, case, &format!("broken job {n}")))] += 1;
        printed[usize::from(same(
            &r,
            &star,
            &job,
            case + 1,
            &format!("broken job {n} / star"),
        ))] += 1;
        case += 2;
    }
    // Both outcomes were met.
    assert!(printed[0] > 50 && printed[1] > 50, "{printed:?}");
}

/// Reads `data` at most `n` bytes at a time.
struct Trickle<'a> {
    data: &'a [u8],
    n: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.n.min(buf.len()).min(self.data.len());
        buf[..k].copy_from_slice(&self.data[..k]);
        self.data = &self.data[k..];
        Ok(k)
    }
}

#[test]
fn inspect_reads_in_chunks_as_whole() {
    let mut files = Vec::new();
    fixtures(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
        &mut files,
    );
    files.sort();
    let p = Profiles::builtin_only().load("generic-80mm").unwrap();
    for (i, f) in files.iter().enumerate() {
        let job = std::fs::read(f).unwrap();
        for json in [false, true] {
            let whole = slipguard::inspect::render(&p, &job, json);
            let mut out = Vec::new();
            let n = [1, 5, 300][i % 3];
            slipguard::inspect::write(&p, Trickle { data: &job, n }, json, &mut out).unwrap();
            assert!(whole.as_bytes() == out, "{} (chunk {n})", f.display());
        }
    }
}
