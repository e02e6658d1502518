//! `slipguard template annotate` on arbitrary templates: see
//! `slipguard::fuzzing::template_annotate_invariants`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    slipguard::fuzzing::template_annotate_invariants(data);
});
