//! Tokenizer and text model under arbitrary input: see `slipguard::fuzzing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::tokenize_invariants(data);
});
