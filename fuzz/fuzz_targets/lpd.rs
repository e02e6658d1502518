//! The LPD receive-job session under an arbitrary client byte stream: see
//! `slipguard::fuzzing::lpd_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::lpd_invariants(data);
});
