//! Real registry implementations as test targets (issue 26): on each, an image pushed with the
//! real crane and signed with the real cosign, in the classic `.sig` form and as a Sigstore
//! bundle (`--new-bundle-format`: an OCI 1.1 referrer, found through the referrers API where
//! the registry serves it, through the `sha256-<digest>` fallback tag where it does not), is
//! admitted by Signet (`signet verify`, the engine the webhook runs), cosign itself verifying
//! the same images; an unsigned image of the same registry is denied. One registry process per
//! test.
//!
//! | registry | referrers API |
//! |---|---|
//! | Debian's `docker-registry` (distribution 2.8) | no |
//! | go-containerregistry `pkg/registry` (v0.22.1) | no / yes |
//! | distribution v3 | no |
//!
//! And cosign 3.0 (built against go-containerregistry < 0.21.6), whose default bundle format
//! writes the fallback index with entries typed `application/vnd.oci.empty.v1+json`, against
//! Debian's registry.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use crate::common::cosign::{CosignKey, crane_push, signet_admits};
use crate::common::implementations::{Implementation, RunningRegistry};
use crate::common::tools::{run_ok, tool};
use serde_json::Value;

/// Signs with both formats on `implementation` and checks both verdicts for each image.
fn signed_images_are_admitted_and_the_unsigned_denied_on(implementation: Implementation) {
    let registry = RunningRegistry::start(implementation);
    let host = registry.host();
    let glob = format!("{host}/**");
    let key = CosignKey::generate("implementations");

    let classic = crane_push(&format!("{host}/team/classic:v1"), "classic");
    key.sign(&classic, &[]);
    let bundled = crane_push(&format!("{host}/team/bundled:v1"), "bundled");
    if implementation.serves_referrers() {
        key.sign_experimental(
            &bundled,
            &["--new-bundle-format", "--registry-referrers-mode=oci-1-1"],
        );
    } else {
        key.sign(&bundled, &["--new-bundle-format"]);
    }
    let unsigned = crane_push(&format!("{host}/team/unsigned:v1"), "unsigned");

    assert!(key.cosign_verifies(&classic), "cosign verify of the .sig");
    assert!(
        key.cosign_verifies_bundle(&bundled),
        "cosign verify of the bundle"
    );
    let referrers_tag = fallback_tag(&bundled);
    let tag_written = crane_digest(&referrers_tag).is_some();
    assert_eq!(
        tag_written,
        !implementation.serves_referrers(),
        "the fallback tag {referrers_tag} is written exactly where the referrers API is not served"
    );

    for (image, what) in [(&classic, "the .sig"), (&bundled, "the bundle")] {
        let (admitted, text) = signet_admits(image, &glob, &key, &[&host]);
        assert!(admitted, "{implementation:?}: {what} was denied:\n{text}");
    }
    let (admitted, text) = signet_admits(&unsigned, &glob, &key, &[&host]);
    assert!(!admitted, "{implementation:?}: unsigned admitted:\n{text}");
    assert!(
        text.contains("NoSignature") || text.contains("no signature"),
        "{text}"
    );
    let other = CosignKey::generate("");
    let (admitted, text) = signet_admits(&bundled, &glob, &other, &[&host]);
    assert!(
        !admitted,
        "{implementation:?}: another key admitted:\n{text}"
    );
}

/// `host/repo:sha256-<hex>`, the referrers tag schema's tag for `host/repo@sha256:<hex>`.
fn fallback_tag(digest_reference: &str) -> String {
    let (repository, digest) = digest_reference
        .split_once('@')
        .expect("a digest reference");
    format!("{repository}:{}", digest.replace(':', "-"))
}

/// The digest `reference` names, or `None` when the registry has no such tag.
fn crane_digest(reference: &str) -> Option<String> {
    let output = Command::new(tool("crane"))
        .args(["digest", "--insecure", reference])
        .output()
        .expect("run crane");
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

#[test]
fn debian_docker_registry_without_the_referrers_api() {
    signed_images_are_admitted_and_the_unsigned_denied_on(Implementation::Debian);
}

#[test]
fn go_containerregistry_without_the_referrers_api() {
    signed_images_are_admitted_and_the_unsigned_denied_on(Implementation::Ggcr {
        referrers: false,
    });
}

#[test]
fn go_containerregistry_with_the_referrers_api() {
    signed_images_are_admitted_and_the_unsigned_denied_on(Implementation::Ggcr { referrers: true });
}

#[test]
fn distribution_v3_without_the_referrers_api() {
    signed_images_are_admitted_and_the_unsigned_denied_on(Implementation::Distribution);
}

#[test]
fn cosign_3_0_s_own_fallback_index_on_a_registry_without_the_referrers_api() {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let glob = format!("{host}/**");
    let key = CosignKey::generate("cosign3");
    let image = crane_push(&format!("{host}/team/cosign3:v1"), "cosign3");
    let unsigned = crane_push(&format!("{host}/team/unsigned:v1"), "unsigned");
    key.sign_with_cosign3(&image);

    // What cosign 3.0 wrote: the fallback index, its entries typed as the empty descriptor.
    let index: Value = serde_json::from_str(&run_ok(Command::new(tool("crane")).args([
        "manifest",
        "--insecure",
        &fallback_tag(&image),
    ])))
    .expect("the fallback index is JSON");
    let entries = index["manifests"].as_array().expect("an index");
    assert!(!entries.is_empty(), "{index}");
    assert!(
        entries
            .iter()
            .all(|e| e["artifactType"] == "application/vnd.oci.empty.v1+json"),
        "cosign 3.0 (go-containerregistry < 0.21.6) types its entries as empty: {index}"
    );

    assert!(
        key.cosign3_verifies(&image),
        "cosign 3 verify of its own bundle"
    );
    let (admitted, text) = signet_admits(&image, &glob, &key, &[&host]);
    assert!(admitted, "cosign 3's bundle was denied:\n{text}");
    let (admitted, text) = signet_admits(&unsigned, &glob, &key, &[&host]);
    assert!(!admitted, "unsigned admitted:\n{text}");
    let other = CosignKey::generate("");
    let (admitted, text) = signet_admits(&image, &glob, &other, &[&host]);
    assert!(!admitted, "another key admitted:\n{text}");
}
