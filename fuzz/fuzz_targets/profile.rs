//! The printer-profile loader under arbitrary text: see `slipguard::fuzzing::profile_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::profile_invariants(data);
});
