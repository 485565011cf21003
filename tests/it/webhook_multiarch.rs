//! Multi-platform images through the real webhook and registry: `spec.multiArch` with an index
//! signed (cosign's default), only its platform manifests signed (per-platform pipelines), partly
//! signed, indexes with nothing for the cluster's platforms (Windows-only), and indexes that
//! write platforms as the runtimes read them but not as Signet once did (issue 15: `x86_64`,
//! `aarch64`, case, platformless children under `allPlatforms`, two spellings of one field).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::images::{image_manifest, push_manifest_bytes};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, message, pod_review, response,
};
use crate::common::{TestKey, TestRegistry, push_index, push_manifest, sha256_digest, sign_image};
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use serde_json::{Value, json};
use signet::verdict::Outcome;
use signet::workload::ImageUse;

const CLUSTER: &[(&str, &str)] = &[("linux", "amd64"), ("linux", "arm64")];
/// Signet's per-platform mode; a `policy.sigstore.dev` policy without `multiArch` is `index`.
const INDEX_OR_PLATFORM: &str = "  multiArch: indexOrPlatform\n";

/// A registry, a key, and a webhook trusting the key for the registry with `extra` spec lines.
async fn setup(extra: &str) -> (TestRegistry, TestKey, TestWebhook) {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let policy = key_policy("multi", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(
        format!("{policy}{extra}"),
        &[registry.host()],
    ))
    .await;
    (registry, key, webhook)
}

async fn review(
    webhook: &TestWebhook,
    registry: &TestRegistry,
    repo_tag: &str,
) -> serde_json::Value {
    let image = format!("{}/{repo_tag}", registry.host());
    webhook
        .review(&pod_review("u", vec![container("app", &image)], vec![]))
        .await
}

/// The engine's note for an admitted image (which digests were judged, by whom).
async fn note(webhook: &TestWebhook, registry: &TestRegistry, repo_tag: &str) -> String {
    let usage = ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: format!("{}/{repo_tag}", registry.host()),
    };
    let decision = webhook.engine().review(None, &[usage]).await;
    match &decision.verdicts[0].outcome {
        Outcome::Admit(_, note) => note.clone(),
        other => panic!("not admitted: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_signed_as_cosign_does_by_default_is_admitted() {
    let (registry, key, webhook) = setup("").await;
    let (index, _) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    sign_image(&registry, "demo/app", &index, &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(allowed(&answer), "{answer}");
    let audit = &response(&answer)["auditAnnotations"]["spec.containers.0"];
    assert!(audit.as_str().unwrap().contains(&index), "{answer}");
}

/// policy-controller verifies the digest the reference resolves to, the index's: a
/// ClusterImagePolicy without `multiArch` gets that default, so signed children of an unsigned
/// index are not enough.
#[tokio::test(flavor = "multi_thread")]
async fn without_multi_arch_a_cluster_image_policy_needs_the_index_signed() {
    let (registry, key, webhook) = setup("").await;
    let (_, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    for child in &children {
        sign_image(&registry, "demo/app", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_index_whose_cluster_platform_manifests_are_signed_is_admitted() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let platforms = [("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")];
    let (index, children) = push_index(&registry, "demo/app:v1", &platforms).await;
    // A per-platform pipeline that never built (or signed) s390x for this cluster.
    sign_image(&registry, "demo/app", &children[0], &key).await;
    sign_image(&registry, "demo/app", &children[1], &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(allowed(&answer), "{answer}");
    let note = note(&webhook, &registry, "demo/app:v1").await;
    assert!(
        note.contains(&format!("index {index} judged by its platform manifests")),
        "{note}"
    );
    assert!(
        note.contains(&format!("linux/arm64 {}", children[1])),
        "{note}"
    );
    assert!(!note.contains(&children[2]), "s390x is not judged: {note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partly_signed_index_is_denied_naming_the_unsigned_platform_and_digest() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let (index, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    sign_image(&registry, "demo/app", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let message = message(&answer);
    let expected = format!(
        "the linux/arm64 manifest {} of index {index} is not signed (multiArch: indexOrPlatform)",
        children[1]
    );
    assert!(message.contains(&expected), "{message}");
    assert!(message.contains("no signature exists"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_windows_only_index_needs_every_child_signed_and_never_fails_on_platform() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let windows = [("windows", "amd64"), ("windows", "arm64")];
    let (index, children) = push_index(&registry, "demo/win:v1", &windows).await;
    sign_image(&registry, "demo/win", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/win:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let expected = format!(
        "the windows/arm64 manifest {} of index {index}",
        children[1]
    );
    assert!(message(&answer).contains(&expected), "{answer}");
    let (_, both) = push_index(&registry, "demo/win-both:v1", &windows).await;
    for child in &both {
        sign_image(&registry, "demo/win-both", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/win-both:v1").await;
    assert!(allowed(&answer), "every child signed: {answer}");
    let (signed_index, _) = push_index(&registry, "demo/win2:v1", &windows).await;
    sign_image(&registry, "demo/win2", &signed_index, &key).await;
    let answer = review(&webhook, &registry, "demo/win2:v1").await;
    assert!(allowed(&answer), "the index signature covers it: {answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_arm_only_index_is_judged_by_its_arm64_manifest() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let (_, children) = push_index(&registry, "demo/arm:v1", &[("linux", "arm64")]).await;
    sign_image(&registry, "demo/arm", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/arm:v1").await;
    assert!(allowed(&answer), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_arch_index_refuses_signed_children_of_an_unsigned_index() {
    let (registry, key, webhook) = setup("  multiArch: index\n").await;
    let (_, children) = push_index(&registry, "demo/app:v1", CLUSTER).await;
    for child in &children {
        sign_image(&registry, "demo/app", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/app:v1").await;
    assert!(!allowed(&answer), "{answer}");
    assert!(message(&answer).contains("no signature exists"), "{answer}");
    let (signed, _) = push_index(&registry, "demo/idx:v1", CLUSTER).await;
    sign_image(&registry, "demo/idx", &signed, &key).await;
    let answer = review(&webhook, &registry, "demo/idx:v1").await;
    assert!(allowed(&answer), "{answer}");
    let note = note(&webhook, &registry, "demo/idx:v1").await;
    assert!(!note.contains("platform manifests"), "{note}");
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_arch_all_platforms_needs_every_child_even_when_the_index_is_signed() {
    let (registry, key, webhook) = setup("  multiArch: allPlatforms\n").await;
    let platforms = [("linux", "amd64"), ("linux", "s390x")];
    let (index, children) = push_index(&registry, "demo/all:v1", &platforms).await;
    sign_image(&registry, "demo/all", &index, &key).await;
    sign_image(&registry, "demo/all", &children[0], &key).await;
    let answer = review(&webhook, &registry, "demo/all:v1").await;
    assert!(!allowed(&answer), "{answer}");
    let expected = format!(
        "the linux/s390x manifest {} of index {index} is not signed (multiArch: allPlatforms)",
        children[1]
    );
    assert!(message(&answer).contains(&expected), "{answer}");
    let (_, recursive) = push_index(&registry, "demo/rec:v1", &platforms).await;
    for child in &recursive {
        sign_image(&registry, "demo/rec", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/rec:v1").await;
    assert!(allowed(&answer), "cosign sign --recursive output: {answer}");
}

/// Pushes one image per entry and an index listing them with each entry's `platform` JSON
/// written verbatim (`None`: no platform at all). Returns (index digest, child digests).
async fn push_written_index(
    registry: &TestRegistry,
    repo_tag: &str,
    platforms: &[Option<Value>],
) -> (String, Vec<String>) {
    let repo = repo_tag.split(':').next().unwrap();
    let mut entries = Vec::new();
    let mut children = Vec::new();
    for (i, platform) in platforms.iter().enumerate() {
        let manifest =
            image_manifest(registry, repo, &format!("{repo_tag} {i}"), "linux", "amd64").await;
        let size = manifest.len();
        let by_digest = format!("{repo}@{}", sha256_digest(&manifest));
        let child = push_manifest_bytes(registry, &by_digest, OCI_IMAGE_MEDIA_TYPE, manifest).await;
        let mut entry = json!({ "mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": child, "size": size });
        if let Some(platform) = platform {
            entry["platform"] = platform.clone();
        }
        entries.push(entry);
        children.push(child);
    }
    let index = json!({ "schemaVersion": 2, "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE, "manifests": entries });
    let digest = push_manifest(registry, repo_tag, OCI_IMAGE_INDEX_MEDIA_TYPE, &index).await;
    (digest, children)
}

/// containerd reads `x86_64`, `X86_64`, `x86-64`, `Linux`, `AMD64/v1`, `aarch64`, `Aarch64/v8`
/// as cluster platforms and pulls the first of equally good children: such an unsigned child
/// next to signed `linux/amd64` and `linux/arm64` children is judged and denied, whether it comes
/// first or last.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsigned_child_in_another_spelling_of_a_cluster_platform_is_denied() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let spellings = [
        ("linux", "x86_64", "linux/amd64"),
        ("linux", "X86_64", "linux/amd64"),
        ("linux", "x86-64", "linux/amd64"),
        ("Linux", "amd64", "linux/amd64"),
        ("LINUX", "AMD64/v1", "linux/amd64"),
        ("linux", "aarch64", "linux/arm64"),
        ("linux", "Aarch64/v8", "linux/arm64"),
    ];
    for (n, (os, arch, read_as)) in spellings.into_iter().enumerate() {
        let first = n % 2 == 0;
        let mut platforms = vec![("linux", "amd64"), ("linux", "arm64")];
        platforms.insert(if first { 0 } else { 2 }, (os, arch));
        let odd = if first { 0 } else { 2 };
        let repo = format!("demo/spelling{n}");
        let (index, children) = push_index(&registry, &format!("{repo}:v1"), &platforms).await;
        for (i, child) in children.iter().enumerate() {
            if i != odd {
                sign_image(&registry, &repo, child, &key).await;
            }
        }
        let answer = review(&webhook, &registry, &format!("{repo}:v1")).await;
        assert!(!allowed(&answer), "{os}/{arch} admitted: {answer}");
        let message = message(&answer);
        let expected = format!(
            "the {read_as} (written \"{os}/{arch}\") manifest {} of index {index}",
            children[odd]
        );
        assert!(message.contains(&expected), "{os}/{arch}: {message}");
        assert!(message.contains("no signature exists"), "{message}");
    }
}

/// `allPlatforms` judges every child: a signed child with no platform does not hide an unsigned
/// `linux/amd64` (or `linux/s390x`) child, in either order.
#[tokio::test(flavor = "multi_thread")]
async fn all_platforms_judges_every_child_next_to_a_platformless_one() {
    let (registry, key, webhook) = setup("  multiArch: allPlatforms\n").await;
    let amd64 = json!({"os": "linux", "architecture": "amd64"});
    let s390x = json!({"os": "linux", "architecture": "s390x"});
    let cases = [
        (vec![Some(amd64.clone()), None], 0),
        (vec![None, Some(amd64.clone())], 1),
        (vec![None, Some(s390x)], 1),
    ];
    for (n, (platforms, unsigned)) in cases.into_iter().enumerate() {
        let repo = format!("demo/all{n}");
        let (index, children) =
            push_written_index(&registry, &format!("{repo}:v1"), &platforms).await;
        sign_image(&registry, &repo, &index, &key).await;
        sign_image(&registry, &repo, &children[1 - unsigned], &key).await;
        let answer = review(&webhook, &registry, &format!("{repo}:v1")).await;
        assert!(!allowed(&answer), "case {n} admitted: {answer}");
        let message = message(&answer);
        assert!(message.contains(&children[unsigned]), "case {n}: {message}");
        assert!(message.contains("(multiArch: allPlatforms)"), "{message}");
    }
    let platforms = [None, Some(amd64)];
    let (_, children) = push_written_index(&registry, "demo/signed:v1", &platforms).await;
    for child in &children {
        sign_image(&registry, "demo/signed", child, &key).await;
    }
    let answer = review(&webhook, &registry, "demo/signed:v1").await;
    assert!(allowed(&answer), "every child signed: {answer}");
}

/// A child whose platform does not normalise to a known OS and architecture (an unknown name,
/// an empty one, an empty platform object, non-ASCII look-alikes) must be signed: Signet cannot
/// rule out that a runtime reads it as the node's.
#[tokio::test(flavor = "multi_thread")]
async fn a_child_whose_platform_cannot_be_normalised_must_be_signed() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let odd_platforms = [
        json!({"os": "linux", "architecture": "x86_32"}),
        json!({"os": "", "architecture": "amd64"}),
        json!({}),
        json!({"os": "l\u{0130}nux", "architecture": "amd64"}),
        json!({"os": "linux", "architecture": "amd64 "}),
    ];
    for (n, odd) in odd_platforms.into_iter().enumerate() {
        let repo = format!("demo/odd{n}");
        let platforms = [
            Some(json!({"os": "linux", "architecture": "amd64"})),
            Some(json!({"os": "linux", "architecture": "arm64"})),
            Some(odd.clone()),
        ];
        let (_, children) = push_written_index(&registry, &format!("{repo}:v1"), &platforms).await;
        sign_image(&registry, &repo, &children[0], &key).await;
        sign_image(&registry, &repo, &children[1], &key).await;
        let answer = review(&webhook, &registry, &format!("{repo}:v1")).await;
        assert!(!allowed(&answer), "{odd} admitted: {answer}");
        let message = message(&answer);
        assert!(message.contains(&children[2]), "{odd}: {message}");
        assert!(message.contains("cannot normalise"), "{odd}: {message}");
    }
}

/// Go's decoder, which the runtimes use, matches keys case-insensitively and keeps the last: an
/// index writing one field twice (`digest` and `Digest`, `architecture` and `ARCHITECTURE`,
/// `os` and `oſ`) could be read one way by Signet and another by the runtime, so it is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_index_writing_one_field_in_two_spellings_is_refused() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let (_, signed) = push_index(&registry, "demo/base:v1", CLUSTER).await;
    let (_, unsigned) = push_index(&registry, "demo/other:v1", CLUSTER).await;
    for child in &signed {
        sign_image(&registry, "demo/base", child, &key).await;
    }
    let entry = |digest: &str, platform: Value| json!({"mediaType": OCI_IMAGE_MEDIA_TYPE, "digest": digest, "size": 1, "platform": platform});
    let arm64 = json!({"os": "linux", "architecture": "arm64"});
    let mut twice_digest = entry(&signed[0], json!({"os": "linux", "architecture": "amd64"}));
    twice_digest["Digest"] = json!(unsigned[0]);
    let twice_arch = entry(
        &signed[0],
        json!({"os": "linux", "architecture": "s390x", "ARCHITECTURE": "amd64"}),
    );
    let twice_os = entry(
        &signed[0],
        json!({"os": "windows", "o\u{017F}": "linux", "architecture": "amd64"}),
    );
    for (n, first) in [twice_digest, twice_arch, twice_os].into_iter().enumerate() {
        let index = json!({
            "schemaVersion": 2,
            "mediaType": OCI_IMAGE_INDEX_MEDIA_TYPE,
            "manifests": [first.clone(), entry(&signed[1], arm64.clone())],
        });
        let tag = format!("demo/base:twice{n}");
        push_manifest(&registry, &tag, OCI_IMAGE_INDEX_MEDIA_TYPE, &index).await;
        let answer = review(&webhook, &registry, &tag).await;
        // The index is unsigned and unreadable: denied on the index's own missing signature.
        assert!(!allowed(&answer), "{first} admitted: {answer}");
    }
}

/// A repository, the platforms of its index, and which child is left unsigned.
type Case = (&'static str, &'static [(&'static str, &'static str)], usize);

/// An arm64 node with no arm64 child takes 32-bit `arm` (`armhf` is `arm/v7`), an amd64 node with
/// no plain amd64 child (only `amd64/v3`) takes `386` (`i386`): such unsigned children are
/// denied. Next to signed base children they are never pulled, so an index whose pipeline signed
/// only amd64 and arm64 (with unsigned 386, arm/v7 and s390x children) is admitted.
#[tokio::test(flavor = "multi_thread")]
async fn fallback_children_are_judged_only_when_a_node_would_take_them() {
    let (registry, key, webhook) = setup(INDEX_OR_PLATFORM).await;
    let cases: [Case; 2] = [
        ("demo/armhf", &[("linux", "armhf"), ("linux", "amd64")], 0),
        (
            "demo/i386",
            &[("linux", "amd64/v3"), ("linux", "arm64"), ("linux", "i386")],
            2,
        ),
    ];
    for (repo, platforms, unsigned) in cases {
        let (index, children) = push_index(&registry, &format!("{repo}:v1"), platforms).await;
        for (i, child) in children.iter().enumerate() {
            if i != unsigned {
                sign_image(&registry, repo, child, &key).await;
            }
        }
        let answer = review(&webhook, &registry, &format!("{repo}:v1")).await;
        assert!(!allowed(&answer), "{repo}: {answer}");
        let expected = format!("manifest {} of index {index}", children[unsigned]);
        assert!(message(&answer).contains(&expected), "{repo}: {answer}");
    }
    let platforms = [
        ("linux", "amd64"),
        ("linux", "arm64/v8"),
        ("linux", "386"),
        ("linux", "arm/v7"),
        ("linux", "s390x"),
    ];
    let (_, children) = push_index(&registry, "demo/alpine:v1", &platforms).await;
    sign_image(&registry, "demo/alpine", &children[0], &key).await;
    sign_image(&registry, "demo/alpine", &children[1], &key).await;
    let answer = review(&webhook, &registry, "demo/alpine:v1").await;
    assert!(allowed(&answer), "{answer}");
}
