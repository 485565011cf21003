//! ClusterImagePolicy YAML (and JSON): loads or is refused with a reason, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signet::policy::PolicySet;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = PolicySet::from_yaml(text, "fuzz.yaml");
    }
});
