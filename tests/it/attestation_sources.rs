//! Where attestations are read: every `source[]` entry of the authority, as for signatures
//! (`signature_sources.rs`): its `oci` repository and `tagPrefix` (cosign's
//! `--attachment-tag-prefix`), with real `cosign attest` on images pushed by the real crane to
//! Debian's docker-registry, judged by `signet verify`. (`signaturePullSecrets` for attestations
//! is in `e2e_policy_secrets.rs`: Secrets are a cluster's.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::TestRegistry;
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::signet_cli::signet_verify;

/// `signet verify` of `image` under a key policy with `key` requiring a `custom` attestation,
/// read from `sources` (YAML lines of `source:` entries): (admitted, output).
fn verify(image: &str, key: &CosignKey, sources: &str, host: &str) -> (bool, String) {
    let pem: String = key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let source = match sources.is_empty() {
        true => String::new(),
        false => format!("    source:\n{sources}"),
    };
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: sources\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - name: key\n    \
         key:\n      data: |\n{pem}{source}    attestations:\n    - name: built\n      \
         predicateType: custom\n"
    );
    signet_verify(&policy, image, &[format!("--insecure-registry={host}")])
}

fn predicate() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("predicate.json");
    std::fs::write(&path, r#"{"built": "here"}"#).unwrap();
    (dir, path)
}

#[test]
fn attestations_are_read_under_the_tag_prefix_and_from_every_source() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let key = CosignKey::generate("att-sources");
    let (_dir, predicate) = predicate();

    // A tag prefix: only the source naming it finds the attestation.
    let prefixed = crane_push(&format!("{host}/att-prefix/app:v1"), "att-prefixed");
    key.attest_with(
        &prefixed,
        "custom",
        &predicate,
        &["--attachment-tag-prefix=ci-"],
    );
    let (admitted, text) = verify(&prefixed, &key, "", &host);
    assert!(!admitted, "no attestation under the plain tag:\n{text}");
    assert!(text.contains("no verified attestation"), "{text}");
    let (admitted, text) = verify(&prefixed, &key, "    - tagPrefix: ci-\n", &host);
    assert!(admitted, "the prefixed attestation was not found:\n{text}");
    let (admitted, text) = verify(&prefixed, &key, "    - tagPrefix: cd-\n", &host);
    assert!(!admitted, "another prefix admitted:\n{text}");

    // Several sources: the attestation is in the second repository only.
    let moved = crane_push(&format!("{host}/att-sources/app:v1"), "att-moved");
    let first = format!("{host}/att-first/app");
    let second = format!("{host}/att-second/app");
    key.attest_into(&moved, &second, ("custom", &predicate), None);
    let both = format!("    - oci: {first}\n    - oci: {second}\n");
    let (admitted, text) = verify(&moved, &key, &both, &host);
    assert!(admitted, "the second source was not read:\n{text}");
    let (admitted, text) = verify(&moved, &key, &format!("    - oci: {first}\n"), &host);
    assert!(!admitted, "the first source alone holds nothing:\n{text}");
    // With a prefix in that second source, the plain tag there is not read.
    let with_prefix = format!("    - oci: {first}\n    - oci: {second}\n      tagPrefix: p-\n");
    let (admitted, text) = verify(&moved, &key, &with_prefix, &host);
    assert!(
        !admitted,
        "the prefix was ignored in the second source:\n{text}"
    );
}
