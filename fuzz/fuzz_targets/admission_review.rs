//! AdmissionReview decoding and image extraction: any body either fails to parse or yields an
//! object whose images are extracted (or refused) without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signet::admission::parse_review;
use signet::workload::{WorkloadKind, extract_images};

fuzz_target!(|data: &[u8]| {
    let Ok(request) = parse_review(data) else {
        return;
    };
    let Some(kind) = WorkloadKind::from_kind(&request.kind.group, &request.kind.kind) else {
        return;
    };
    for object in [&request.object, &request.old_object].into_iter().flatten() {
        if let Ok(value) = serde_json::to_value(object) {
            let _ = extract_images(kind, &value);
        }
    }
});
