//! Replays the fuzz seed corpus through the fuzz target's invariants, so CI checks them
//! without nightly.

use std::path::Path;

/// Every checked-in seed of a fuzz target, through `check`.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/corpus/tokenize exists") {
        let path = entry.unwrap().path();
        // Only the checked-in seeds: a local fuzzing run adds (and removes) other files here.
        let checked_in = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("seed-"));
        if !checked_in {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{} breaks an invariant", path.display());
        n += 1;
    }
    n
}

#[test]
fn tokenize_seed_corpus_holds_the_invariants() {
    let n = replay("tokenize", slipguard::fuzzing::tokenize_invariants);
    assert!(n >= 10, "the seed corpus has only {n} files");
}

#[test]
fn redact_seed_corpus_holds_the_invariants() {
    let n = replay("redact", slipguard::fuzzing::redact_invariants);
    assert!(n >= 30, "the seed corpus has only {n} files");
}

#[test]
fn edge_inputs_hold_the_invariants() {
    // Empty jobs, lone prefixes and a header cut short, in both dialects.
    for data in [
        &b""[..],
        b"\x00",
        b"\x01",
        b"\x00\x1b",
        b"\x02\x1d(k\xff\xff",
    ] {
        slipguard::fuzzing::tokenize_invariants(data);
    }
}
