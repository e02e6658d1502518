//! HTML slips through layout, typesetting and redaction: see
//! `slipguard::fuzzing::html_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::html_invariants(data);
});
