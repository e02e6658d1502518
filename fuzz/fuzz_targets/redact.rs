//! The redaction pipeline under arbitrary input: see `slipguard::fuzzing::redact_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::redact_invariants(data);
});
