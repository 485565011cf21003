//! Signatures made by the real cosign (built by `scripts/tools.sh` from its pinned module
//! version), on images pushed with the real crane to Debian's docker-registry: for every case,
//! Signet's verdict (`signet verify`, the CLI over the same engine as the webhook) equals
//! `cosign verify`'s with the same key, or the test says why Signet is stricter by design.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Command;

use crate::common::TestRegistry;
use crate::common::cosign::{CosignKey, crane_push, signet_admits, signet_admits_with};
use crate::common::tools::{run_ok, tool};

/// Both verifiers give `expected` for `image` with `key`.
fn assert_parity(image: &str, glob: &str, key: &CosignKey, host: &str, expected: bool, case: &str) {
    let cosign = key.cosign_verifies(image);
    let (signet, text) = signet_admits(image, glob, key, &[host]);
    assert_eq!(cosign, expected, "{case}: cosign verify said {cosign}");
    assert_eq!(
        signet, expected,
        "{case}: signet verify said {signet}:\n{text}"
    );
}

#[test]
fn signatures_made_by_cosign_get_the_same_verdict_from_signet_and_cosign() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let glob = format!("{host}/parity/**");
    let key = CosignKey::generate("an encrypted key");
    let other = CosignKey::generate("");

    let signed = crane_push(&format!("{host}/parity/app:v1"), "signed");
    key.sign(&signed, &[]);
    assert_parity(&signed, &glob, &key, &host, true, "cosign sign --key");
    assert_parity(
        &signed,
        &glob,
        &other,
        &host,
        false,
        "verified with another key",
    );

    let annotated = crane_push(&format!("{host}/parity/annotated:v1"), "annotated");
    key.sign(&annotated, &["-a", "team=payments", "-a", "build=42"]);
    assert_parity(
        &annotated,
        &glob,
        &key,
        &host,
        true,
        "signed with annotations",
    );

    let twice = crane_push(&format!("{host}/parity/twice:v1"), "twice");
    other.sign(&twice, &[]);
    key.sign(&twice, &[]);
    assert_parity(
        &twice,
        &glob,
        &key,
        &host,
        true,
        "one of several signatures",
    );
    assert_parity(&twice, &glob, &other, &host, true, "the other of several");

    let unsigned = crane_push(&format!("{host}/parity/unsigned:v1"), "unsigned");
    assert_parity(&unsigned, &glob, &key, &host, false, "an unsigned image");

    // A tag moved to an unsigned image after signing: both judge what the tag names now.
    let moved_tag = format!("{host}/parity/moving:v1");
    let first = crane_push(&moved_tag, "first");
    key.sign(&first, &[]);
    assert_parity(&moved_tag, &glob, &key, &host, true, "a signed tag");
    crane_push(&moved_tag, "second");
    assert_parity(
        &moved_tag,
        &glob,
        &key,
        &host,
        false,
        "the tag moved to unsigned",
    );
}

#[test]
fn a_bundle_written_by_cosign_s_new_bundle_format_gets_cosign_s_verdict() {
    // cosign v2.6 stores the bundle as an OCI 1.1 referrer; Debian's docker-registry has no
    // referrers API, so cosign writes the referrers tag schema, whose index entries it types
    // `application/vnd.oci.empty.v1+json` (go-containerregistry before 0.21.6).
    let registry = TestRegistry::start();
    let host = registry.host();
    let key = CosignKey::generate("bundle");
    let image = crane_push(&format!("{host}/bundle/app:v1"), "bundle");
    key.sign(&image, &["--new-bundle-format"]);
    assert!(
        key.cosign_verifies_bundle(&image),
        "cosign verify of its own bundle"
    );
    let (admitted, text) = signet_admits(&image, &format!("{host}/bundle/**"), &key, &[&host]);
    assert!(admitted, "Signet denied cosign's bundle:\n{text}");
    let other = CosignKey::generate("");
    assert!(
        !other.cosign_verifies_bundle(&image),
        "cosign with another key"
    );
    let (admitted, text) = signet_admits(&image, &format!("{host}/bundle/**"), &other, &[&host]);
    assert!(
        !admitted,
        "Signet admitted the bundle under another key:\n{text}"
    );
}

#[test]
fn a_signed_image_copied_with_cosign_copy_verifies_through_a_mirror_but_not_by_another_name() {
    let origin = TestRegistry::start();
    let mirror = TestRegistry::start();
    let key = CosignKey::generate("copy");
    let image = crane_push(&format!("{}/team/app:v1", origin.host()), "copied");
    key.sign(&image, &[]);
    run_ok(Command::new(tool("cosign")).args([
        "copy",
        "--force",
        &format!("{}/team/app:v1", origin.host()),
        &format!("{}/team/app:v1", mirror.host()),
    ]));
    let copied = image.replacen(&origin.host(), &mirror.host(), 1);

    // cosign checks the signed digest only, so it accepts the copy under the mirror's name.
    assert!(key.cosign_verifies(&copied), "cosign verify of the copy");
    // Signet also checks the signed docker-reference (the origin's repository): under the
    // mirror's own name the copy is a different image, and is denied. Stricter by design: a
    // signature for one repository does not admit the same bytes under another name.
    let (admitted, text) = signet_admits(
        &copied,
        &format!("{}/**", mirror.host()),
        &key,
        &[&mirror.host()],
    );
    assert!(
        !admitted,
        "the copy was admitted under another name:\n{text}"
    );
    assert!(
        text.contains("docker-reference") || text.contains("signed for"),
        "{text}"
    );

    // Named as the origin and read from the mirror (registries.conf), it is admitted without
    // the origin answering at all.
    let conf = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        conf.path(),
        format!(
            "[[registry]]\nlocation = \"{}\"\n[[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
            origin.host(),
            mirror.host()
        ),
    )
    .unwrap();
    drop(origin);
    let conf_arg = format!("--registries-conf={}", conf.path().display());
    let (admitted, text) = signet_admits_with(
        &image,
        &format!("{}/team/**", image.split('/').next().unwrap()),
        &key,
        &[&mirror.host(), image.split('/').next().unwrap()],
        &[&conf_arg],
    );
    assert!(
        admitted,
        "the copy read through the mirror was denied:\n{text}"
    );
}
