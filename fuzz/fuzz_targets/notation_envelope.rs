//! Notation signature envelopes (JWS, COSE): decoded and verified without panicking, never
//! authentic without a trust store. The body is `entries::notation_envelope`, shared with the
//! seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::notation_envelope(data));
