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
