//! Replays the fuzz seed corpus through the fuzz target's invariants, so CI checks them
//! without nightly.

use std::path::Path;

/// Every checked-in seed of a fuzz target, through `check`.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
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
fn lpd_seed_corpus_holds_the_invariants() {
    let n = replay("lpd", slipguard::fuzzing::lpd_invariants);
    assert!(n >= 10, "the seed corpus has only {n} files");
}

#[test]
fn raw_first_bytes_seed_corpus_holds_the_invariants() {
    let n = replay(
        "raw_first_bytes",
        slipguard::fuzzing::raw_first_bytes_invariants,
    );
    assert!(n >= 10, "the seed corpus has only {n} files");
}

#[test]
fn config_seed_corpus_holds_the_invariants() {
    let n = replay("config", slipguard::fuzzing::config_invariants);
    assert!(n >= 10, "the seed corpus has only {n} files");
}

#[test]
fn profile_seed_corpus_holds_the_invariants() {
    let n = replay("profile", slipguard::fuzzing::profile_invariants);
    assert!(n >= 13, "the seed corpus has only {n} files");
}

/// The shipped configuration and every shipped profile are seeds, and they load: a seed
/// copied before a change to them stays a fair example.
#[test]
fn shipped_files_are_seeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seed = |target: &str, name: &str| root.join("fuzz/corpus").join(target).join(name);
    let config = std::fs::read(root.join("packaging/slipguard.toml")).unwrap();
    assert_eq!(
        std::fs::read(seed("config", "seed-packaging-slipguard")).unwrap(),
        config,
        "copy packaging/slipguard.toml to fuzz/corpus/config/seed-packaging-slipguard"
    );
    for entry in std::fs::read_dir(root.join("printer-profiles")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let stem = path.file_stem().unwrap().to_str().unwrap();
        assert_eq!(
            std::fs::read(seed("profile", &format!("seed-{stem}"))).unwrap_or_default(),
            std::fs::read(&path).unwrap(),
            "copy {} to fuzz/corpus/profile/seed-{stem}",
            path.display()
        );
    }
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
    // An LPD connection that sends nothing, a bare newline, a receive-job command and
    // nothing more.
    for data in [&b""[..], b"\n", b"\x02lp\n"] {
        slipguard::fuzzing::lpd_invariants(data);
    }
    // Every prefix and way of reading, with nothing after it.
    for ctl in 0..=255u8 {
        slipguard::fuzzing::raw_first_bytes_invariants(&[ctl]);
    }
    for text in [&b""[..], b"[", b"\xff\xfe", b"\n\n\n="] {
        slipguard::fuzzing::config_invariants(text);
        slipguard::fuzzing::profile_invariants(text);
    }
}

#[test]
fn html_seed_corpus_holds_the_invariants() {
    let n = replay("html", slipguard::fuzzing::html_invariants);
    assert!(n >= 12, "the seed corpus has only {n} files");
}

#[test]
fn template_annotate_seed_corpus_holds_the_invariants() {
    let n = replay(
        "template_annotate",
        slipguard::fuzzing::template_annotate_invariants,
    );
    assert!(n >= 20, "the seed corpus has only {n} files");
    for data in [
        &b""[..],
        b"\x00",
        b"\x01[%",
        b"\x02{{",
        b"\x00<<",
        b"\x02<span data-slipguard=",
    ] {
        slipguard::fuzzing::template_annotate_invariants(data);
    }
}
