//! AdmissionReview decoding and image extraction: any body either fails to parse or yields an
//! The body is `entries::admission_review`, shared with the seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::admission_review(data));
