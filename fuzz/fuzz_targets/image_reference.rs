//! Image reference parsing: whatever parses prints back to a reference that parses to itself.
//! The body is `entries::image_reference`, shared with the seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::image_reference(data));
