#![no_main]
// The body lives in subtok_core::fuzzing so that `cargo test` replays fuzz/corpus and fuzz/regressions.
libfuzzer_sys::fuzz_target!(|data: &[u8]| subtok_core::fuzzing::tiktoken(data));
