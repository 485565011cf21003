//! ClusterImagePolicy YAML (and JSON): loads or is refused with a reason, never panics.
//! The body is `entries::cluster_image_policy`, shared with the seed-replay test `tests/it/fuzz_seeds.rs`.
#![no_main]

#[path = "../entries.rs"]
mod entries;

libfuzzer_sys::fuzz_target!(|data: &[u8]| entries::cluster_image_policy(data));
