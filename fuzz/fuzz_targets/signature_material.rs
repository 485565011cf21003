//! Signature payloads and Sigstore bundles from a registry: parsed and checked against the
//! The body is `entries::signature_material`, shared with the seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::signature_material(data));
