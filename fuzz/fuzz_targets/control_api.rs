#![no_main]
//! See `entra_mock::fuzzing::Target::ControlApi`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(broken) = entra_mock::fuzzing::run(entra_mock::fuzzing::Target::ControlApi, data) {
        panic!("{broken}");
    }
});
