//! containers-policy.json (CRI-O, podman): the input is wrapped so it is always detected as that
//! format, then loaded or refused with a reason, never panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signet::policy::{Format, PolicySet, detect_format};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = PolicySet::from_yaml(text, "policy.json");
    let wrapped = format!(r#"{{"default":[{{"type":"reject"}}],"transports":{text}}}"#);
    if detect_format(&wrapped) == Format::ContainersPolicy {
        let _ = PolicySet::from_yaml(&wrapped, "policy.json");
    }
});
