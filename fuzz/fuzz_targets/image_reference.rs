//! Image reference parsing: whatever parses prints back to a reference that parses to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use signet::reference::{Digest, ImageReference};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Digest::parse(text);
    if let Ok(image) = ImageReference::parse(text) {
        let printed = image.to_string();
        let again = ImageReference::parse(&printed).expect("a printed reference parses");
        assert_eq!(again, image, "{text:?} -> {printed:?}");
        let _ = image.name();
    }
});
