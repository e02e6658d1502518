//! The configuration loader under arbitrary text: see `slipguard::fuzzing::config_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::config_invariants(data);
});
