//! `source[]` of an authority as policy-controller's users write it: `tagPrefix` (cosign's
//! `--attachment-tag-prefix`) and several `source` entries, each looked up, with signatures made
//! by the real cosign on images pushed by the real crane to Debian's docker-registry, and the
//! verdict read from `signet verify` (the engine the webhook uses).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::TestRegistry;
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::signet_cli::signet_verify;

/// `signet verify` of `image` under a key policy with `key` and `sources` (YAML lines of
/// `source:` entries, indented for the authority): (admitted, output).
fn verify(image: &str, key: &CosignKey, sources: &str, insecure: &[String]) -> (bool, String) {
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
         key:\n      data: |\n{pem}{source}"
    );
    let insecure: Vec<String> = insecure
        .iter()
        .map(|host| format!("--insecure-registry={host}"))
        .collect();
    signet_verify(&policy, image, &insecure)
}

#[test]
fn a_tag_prefix_reads_the_signature_cosign_stored_under_it() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let key = CosignKey::generate("prefix");
    let image = crane_push(&format!("{host}/prefix/app:v1"), "prefixed");
    key.sign(&image, &["--attachment-tag-prefix=ci-"]);
    let insecure = [host.clone()];

    let (admitted, text) = verify(&image, &key, "", &insecure);
    assert!(
        !admitted,
        "no signature under the plain tag, yet admitted:\n{text}"
    );
    let (admitted, text) = verify(&image, &key, "    - tagPrefix: ci-\n", &insecure);
    assert!(admitted, "the prefixed signature was not found:\n{text}");
    let (admitted, text) = verify(&image, &key, "    - tagPrefix: cd-\n", &insecure);
    assert!(!admitted, "another prefix admitted:\n{text}");
    // With a separate repository: the prefix applies there.
    let elsewhere = format!("{host}/prefix-signatures/app");
    let moved = crane_push(&format!("{host}/prefix/moved:v1"), "moved");
    key.sign_into(&moved, &elsewhere, &["--attachment-tag-prefix=rel."], None);
    let both = format!("    - oci: {elsewhere}\n      tagPrefix: rel.\n");
    let (admitted, text) = verify(&moved, &key, &both, &insecure);
    assert!(admitted, "prefix in the source repository:\n{text}");
    let (admitted, text) = verify(&moved, &key, "    - tagPrefix: rel.\n", &insecure);
    assert!(
        !admitted,
        "the prefix alone looks in the image's repository:\n{text}"
    );
}

#[test]
fn signatures_in_any_of_several_sources_satisfy_the_authority() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let key = CosignKey::generate("sources");
    let first = format!("{host}/sigs-a/app");
    let second = format!("{host}/sigs-b/app");
    let third = format!("{host}/sigs-c/app");
    let in_first = crane_push(&format!("{host}/multi/one:v1"), "one");
    key.sign_into(&in_first, &first, &[], None);
    let in_second = crane_push(&format!("{host}/multi/two:v1"), "two");
    key.sign_into(&in_second, &second, &["--attachment-tag-prefix=p-"], None);
    let in_third = crane_push(&format!("{host}/multi/three:v1"), "three");
    key.sign_into(&in_third, &third, &[], None);
    let sources = format!("    - oci: {first}\n    - oci: {second}\n      tagPrefix: p-\n");
    let insecure = [host.clone()];

    for (image, want, case) in [
        (&in_first, true, "signed in the first source"),
        (
            &in_second,
            true,
            "signed in the second source, under its prefix",
        ),
        (&in_third, false, "signed in a repository no source names"),
    ] {
        let (admitted, text) = verify(image, &key, &sources, &insecure);
        assert_eq!(admitted, want, "{case}:\n{text}");
    }
    // policy-controller reads only the last `oci`; Signet reads each (documented).
    let (admitted, text) = verify(
        &in_first,
        &key,
        &format!("    - oci: {second}\n"),
        &insecure,
    );
    assert!(!admitted, "the second source alone:\n{text}");
}

#[test]
fn a_source_that_fails_is_not_taken_for_a_missing_signature() {
    let registry = TestRegistry::start();
    let mut down = TestRegistry::start();
    let (host, down_host) = (registry.host(), down.host());
    let key = CosignKey::generate("outage");
    let signatures = format!("{host}/sigs/app");
    let signed = crane_push(&format!("{host}/outage/signed:v1"), "signed");
    key.sign_into(&signed, &signatures, &[], None);
    let unsigned = crane_push(&format!("{host}/outage/unsigned:v1"), "unsigned");
    down.stop();
    let sources = format!("    - oci: {down_host}/sigs/app\n    - oci: {signatures}\n");
    let insecure = [host.clone(), down_host.clone()];

    let (admitted, text) = verify(&signed, &key, &sources, &insecure);
    assert!(
        admitted,
        "the signature found in the source that answered:\n{text}"
    );
    let (admitted, text) = verify(&unsigned, &key, &sources, &insecure);
    assert!(!admitted, "admitted with a source down:\n{text}");
    assert!(
        text.contains(&down_host),
        "the denial names the registry that failed, not a missing signature:\n{text}"
    );
}

#[test]
fn tag_prefixes_that_cannot_make_a_tag_and_too_many_sources_are_refused() {
    let registry = TestRegistry::start();
    let key = CosignKey::generate("");
    let image = format!("{}/x/app@sha256:{}", registry.host(), "0".repeat(64));
    let insecure = [registry.host()];
    let long = "a".repeat(54);
    let many: String = (0..9)
        .map(|i| format!("    - oci: {}/s{i}/app\n", registry.host()))
        .collect();
    for (sources, says) in [
        ("    - tagPrefix: -ci\n".to_string(), "source[0].tagPrefix"),
        ("    - tagPrefix: a/b\n".to_string(), "source[0].tagPrefix"),
        (format!("    - tagPrefix: {long}\n"), "at most 53"),
        (many, "9 sources exceed Signet's limit of 8"),
    ] {
        let (admitted, text) = verify(&image, &key, &sources, &insecure);
        assert!(!admitted, "{sources}: admitted");
        assert!(text.contains(says), "{says} not in:\n{text}");
    }
}
