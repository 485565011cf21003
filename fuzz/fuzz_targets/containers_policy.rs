//! containers-policy.json (CRI-O, podman): the input is wrapped so it is always detected as that
//! The body is `entries::containers_policy`, shared with the seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::containers_policy(data));
