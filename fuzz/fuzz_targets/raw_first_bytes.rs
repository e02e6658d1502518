//! The raw listener's first bytes (requests of other protocols refused, print jobs passed
//! on): see `slipguard::fuzzing::raw_first_bytes_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::raw_first_bytes_invariants(data);
});
