//! Property tests: for arbitrary bytes and arbitrary chunking, in both dialects, the tokens
//! tile the input exactly (lossless) and do not depend on how the input was split.

use proptest::prelude::*;
use slipguard::core::tokenize::{Dialect, Options, Token, TokenKind, Tokenizer};

fn run(d: Dialect, opts: Options, input: &[u8], cuts: &[usize]) -> Vec<Token> {
    let mut t = Tokenizer::new(d, opts);
    let mut out = Vec::new();
    let mut at = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    for p in points.into_iter().chain([input.len()]) {
        t.feed(&input[at..p], &mut |x| out.push(x));
        at = p;
    }
    t.finish(&mut |x| out.push(x));
    out
}

fn check_tiling(input: &[u8], toks: &[Token]) {
    let mut at = 0u64;
    let mut rebuilt = Vec::with_capacity(input.len());
    for t in toks {
        assert_eq!(t.offset, at, "gap or overlap at {at}: {toks:?}");
        assert!(t.len > 0, "empty token {t:?}");
        rebuilt.extend_from_slice(&input[t.range_in(0)]);
        if let TokenKind::Data {
            payload_start,
            payload_len,
            ..
        } = t.kind
        {
            assert!(u64::from(payload_start) + payload_len <= t.len, "{t:?}");
        }
        if t.kind == TokenKind::Text {
            assert!(input[t.range_in(0)].iter().all(|&b| b >= 0x20), "{t:?}");
        }
        at += t.len;
    }
    assert_eq!(at, input.len() as u64);
    assert_eq!(rebuilt, input, "concatenated tokens differ from the input");
}

/// Bytes biased toward command prefixes and the bytes that steer length decisions, so
/// random input reaches deep into the tables.
fn job() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        4 => any::<u8>(),
        3 => prop::sample::select(vec![0x1Bu8, 0x1D, 0x1C, 0x10, 0x0A, 0x00, 0x1E]),
        3 => prop::sample::select(b"(kLv08*&Dq2gEptdaybxSrAB@ 12PC!".to_vec()),
    ];
    prop::collection::vec(atom, 0..600)
}

fn cuts() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(any::<usize>(), 0..24)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn lossless_and_chunking_independent(input in job(), cuts in cuts(), small in any::<bool>()) {
        let opts = Options {
            max_command_len: if small { 24 } else { 1 << 20 },
            ..Options::default()
        };
        for d in [Dialect::EscPos, Dialect::StarLine] {
            let whole = run(d, opts, &input, &[]);
            check_tiling(&input, &whole);
            let chunked = run(d, opts, &input, &cuts);
            prop_assert_eq!(&whole, &chunked);
            let bytewise: Vec<usize> = (0..input.len()).collect();
            prop_assert_eq!(&whole, &run(d, opts, &input, &bytewise));
        }
    }

    #[test]
    fn arbitrary_bytes_are_lossless(input in prop::collection::vec(any::<u8>(), 0..2048), cuts in cuts()) {
        for d in [Dialect::EscPos, Dialect::StarLine] {
            let whole = run(d, Options::default(), &input, &[]);
            check_tiling(&input, &whole);
            prop_assert_eq!(&whole, &run(d, Options::default(), &input, &cuts));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Advancing over a job's tokens up to any segment end (a complete command that ends a
    /// segment) leaves a tokenizer in the state feeding those bytes would: the rest of the
    /// job reads the same.
    #[test]
    fn advancing_over_tokens_is_feeding_their_bytes(input in job()) {
        for d in [Dialect::EscPos, Dialect::StarLine] {
            let whole = run(d, Options::default(), &input, &[]);
            for (i, t) in whole.iter().enumerate() {
                if !t.kind.ends_segment() {
                    continue;
                }
                let mut skipped = Tokenizer::new(d, Options::default());
                skipped.advance_over(&whole[..=i], &input, 0);
                prop_assert_eq!(skipped.position(), t.offset + t.len);
                let mut rest = Vec::new();
                let end = (t.offset + t.len) as usize;
                skipped.feed(&input[end..], &mut |x| rest.push(x));
                skipped.finish(&mut |x| rest.push(x));
                prop_assert_eq!(&rest[..], &whole[i + 1..]);
            }
        }
    }
}

/// The state advancing carries over: Star raster mode, entered before a cut, makes `b` start
/// a raster line after it.
#[test]
fn advancing_over_tokens_keeps_the_mode_they_set() {
    let input = b"\x1b*rA\x1bd\x01b\x02\x00xy\x1b*rB";
    let whole = run(Dialect::StarLine, Options::default(), input, &[]);
    let cut = whole
        .iter()
        .position(|t| t.kind.ends_segment())
        .expect("the cut ends a segment");
    let mut skipped = Tokenizer::new(Dialect::StarLine, Options::default());
    skipped.advance_over(&whole[..=cut], input, 0);
    let mut rest = Vec::new();
    let end = (whole[cut].offset + whole[cut].len) as usize;
    skipped.feed(&input[end..], &mut |x| rest.push(x));
    skipped.finish(&mut |x| rest.push(x));
    assert_eq!(&rest[..], &whole[cut + 1..]);
    assert_ne!(whole[cut + 1].kind, TokenKind::Text, "{:?}", whole[cut + 1]);
}
