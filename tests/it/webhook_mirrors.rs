//! Mirrors and relocation through the real webhook and two real registries: an image pushed and
//! signed in a source registry, copied byte for byte (with its `.sig` manifest) to a mirror, and
//! verified there against the identity it was signed for; `--registries-conf` mirrors (the source
//! stopped, the mirror stopped, a mirror serving another image under the tag), a mirror named
//! directly with `signedIdentity: remapIdentity`, and `source.oci` signature repositories.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::webhook::{TestWebhook, WebhookOptions, indent, key_policy};
use crate::common::{
    SigLayer, TestKey, TestRegistry, copy_manifest, push_image, push_signature_layers, sig_tag,
    sign_image, simple_signing_payload,
};

/// `demo/app:v1` pushed and signed (cosign style: the payload names `<source>/demo/app`) in a
/// source registry, and copied with its signature to `cache/demo/app` in a mirror registry.
struct Copied {
    source: TestRegistry,
    mirror: TestRegistry,
    key: TestKey,
    digest: String,
}

impl Copied {
    async fn new() -> Copied {
        let (source, mirror) = (TestRegistry::start(), TestRegistry::start());
        let key = TestKey::generate();
        let digest = push_image(&source, "demo/app:v1", "app-v1").await;
        sign_image(&source, "demo/app", &digest, &key).await;
        copy_manifest(&source, "demo/app:v1", &mirror, "cache/demo/app:v1").await;
        let sig = sig_tag(&digest);
        let from = format!("demo/app:{sig}");
        copy_manifest(&source, &from, &mirror, &format!("cache/demo/app:{sig}")).await;
        Copied {
            source,
            mirror,
            key,
            digest,
        }
    }

    /// `[[registry]]` for the source's `demo` namespace, read first from the mirror's `cache/demo`.
    fn registries_conf(&self) -> String {
        format!(
            "[[registry]]\nprefix = \"{s}/demo\"\nlocation = \"{s}/demo\"\n\n\
             [[registry.mirror]]\nlocation = \"{m}/cache/demo\"\n",
            s = self.source.host(),
            m = self.mirror.host()
        )
    }

    /// A webhook trusting the key for `glob` (`extra` appended to the authority), reading through
    /// `registries_conf` when given.
    async fn webhook(
        &self,
        glob: &str,
        extra: &str,
        registries_conf: Option<String>,
    ) -> TestWebhook {
        let policy = format!(
            "{}{extra}",
            key_policy("mirrored", glob, &self.key.public_pem)
        );
        let hosts = [self.source.host(), self.mirror.host()];
        let mut options = WebhookOptions::new(policy, &hosts);
        options.registries_conf = registries_conf;
        TestWebhook::start(options).await
    }

    fn at_source(&self, repo_ref: &str) -> String {
        format!("{}/{repo_ref}", self.source.host())
    }

    fn at_mirror(&self, repo_ref: &str) -> String {
        format!("{}/{repo_ref}", self.mirror.host())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_pulled_through_a_mirror_is_verified_there_while_the_source_is_down() {
    let mut copied = Copied::new().await;
    let glob = format!("{}/**", copied.source.host());
    let webhook = copied
        .webhook(&glob, "", Some(copied.registries_conf()))
        .await;
    copied.source.stop();
    let (ok, msg) = webhook.review_image(&copied.at_source("demo/app:v1")).await;
    assert!(ok, "tag resolved and signature read at the mirror: {msg}");
    let by_digest = copied.at_source(&format!("demo/app@{}", copied.digest));
    let (ok, msg) = webhook.review_image(&by_digest).await;
    assert!(ok, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_that_is_down_falls_to_the_source_and_both_down_is_denied() {
    let mut copied = Copied::new().await;
    let glob = format!("{}/**", copied.source.host());
    let webhook = copied
        .webhook(&glob, "", Some(copied.registries_conf()))
        .await;
    copied.mirror.stop();
    copied.source.stop();
    let image = copied.at_source("demo/app:v1");
    let (ok, msg) = webhook.review_image(&image).await;
    assert!(!ok, "nothing answered: fail closed");
    assert!(msg.contains("cannot verify"), "{msg}");
    copied.source.restart();
    let (ok, msg) = webhook.review_image(&image).await;
    assert!(ok, "the source answers when the mirror does not: {msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_serving_another_unsigned_image_under_the_tag_is_denied() {
    let copied = Copied::new().await;
    // The mirror's tag now names a different, unsigned image; the source's signature (for the
    // original digest) is still there, at both registries.
    let other = push_image(&copied.mirror, "cache/demo/app:v1", "tampered").await;
    assert_ne!(other, copied.digest);
    let glob = format!("{}/**", copied.source.host());
    let webhook = copied
        .webhook(&glob, "", Some(copied.registries_conf()))
        .await;
    let (ok, msg) = webhook.review_image(&copied.at_source("demo/app:v1")).await;
    assert!(
        !ok,
        "what the mirror serves is what runs, and it is unsigned"
    );
    assert!(
        msg.contains(&other),
        "the mirror's digest is the one judged: {msg}"
    );
    assert!(msg.contains("no signature exists"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_mirror_named_directly_is_admitted_only_with_a_remapped_identity() {
    let copied = Copied::new().await;
    let glob = format!("{}/**", copied.mirror.host());
    let image = copied.at_mirror("cache/demo/app:v1");
    let plain = copied.webhook(&glob, "", None).await;
    let (ok, msg) = plain.review_image(&image).await;
    assert!(!ok, "the signature names the source repository");
    assert!(msg.contains("signature identity mismatch"), "{msg}");
    let remap = format!(
        "    signedIdentity:\n      type: remapIdentity\n      prefix: {}\n      signedPrefix: {}\n",
        copied.at_mirror("cache/demo"),
        copied.at_source("demo")
    );
    let remapped = copied.webhook(&glob, &remap, None).await;
    let (ok, msg) = remapped.review_image(&image).await;
    assert!(ok, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn source_oci_reads_signatures_from_a_separate_repository() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    // `COSIGN_REPOSITORY=<host>/signatures/app cosign sign`: the payload names the image, the
    // `.sig` manifest lives in the other repository.
    let payload = simple_signing_payload(&format!("{}/demo/app", registry.host()), &digest);
    let layer = SigLayer::signed(&key, payload);
    push_signature_layers(&registry, "signatures/app", &digest, vec![layer]).await;
    let glob = format!("{}/demo/**", registry.host());
    let image = format!("{}/demo/app:v1", registry.host());
    let without = key_policy("separate", &glob, &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(without, &[registry.host()])).await;
    let (ok, msg) = webhook.review_image(&image).await;
    assert!(!ok, "no signature next to the image");
    assert!(msg.contains("no signature exists"), "{msg}");
    let source = format!("source:\n- oci: {}/signatures/app\n", registry.host());
    let with = format!(
        "{}{}",
        key_policy("separate", &glob, &key.public_pem),
        indent(&source, 4)
    );
    let webhook = TestWebhook::start(WebhookOptions::new(with, &[registry.host()])).await;
    let (ok, msg) = webhook.review_image(&image).await;
    assert!(ok, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn source_oci_is_read_through_the_mirrors_too() {
    let mut copied = Copied::new().await;
    let (source, mirror) = (&copied.source, &copied.mirror);
    let digest = push_image(source, "demo/tool:v1", "tool-v1").await;
    let payload = simple_signing_payload(&copied.at_source("demo/tool"), &digest);
    let layer = SigLayer::signed(&copied.key, payload);
    push_signature_layers(source, "demo/signatures", &digest, vec![layer]).await;
    copy_manifest(source, "demo/tool:v1", mirror, "cache/demo/tool:v1").await;
    let sig = sig_tag(&digest);
    let from = format!("demo/signatures:{sig}");
    copy_manifest(
        source,
        &from,
        mirror,
        &format!("cache/demo/signatures:{sig}"),
    )
    .await;
    let glob = format!("{}/demo/tool", source.host());
    let extra = indent(
        &format!("source:\n- oci: {}\n", copied.at_source("demo/signatures")),
        4,
    );
    let webhook = copied
        .webhook(&glob, &extra, Some(copied.registries_conf()))
        .await;
    copied.source.stop();
    let (ok, msg) = webhook
        .review_image(&copied.at_source("demo/tool:v1"))
        .await;
    assert!(ok, "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_containerd_hosts_toml_mirror_is_read_while_the_source_is_down() {
    let mut copied = Copied::new().await;
    // containerd mirrors keep the repository path: the copy lives at `demo/app` on the mirror.
    let (source, mirror) = (&copied.source, &copied.mirror);
    copy_manifest(source, "demo/app:v1", mirror, "demo/app:v1").await;
    let sig = format!("demo/app:{}", sig_tag(&copied.digest));
    copy_manifest(source, &sig, mirror, &sig).await;
    push_image(mirror, "demo/unsigned:v1", "unsigned-at-the-mirror").await;
    let dir = tempfile::tempdir().unwrap();
    let registry_dir = dir.path().join(source.host());
    std::fs::create_dir(&registry_dir).unwrap();
    let hosts = format!(
        "server = \"http://{}\"\n\n[host.\"http://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
        source.host(),
        mirror.host()
    );
    std::fs::write(registry_dir.join("hosts.toml"), hosts).unwrap();
    let policy = key_policy(
        "mirrored",
        &format!("{}/**", source.host()),
        &copied.key.public_pem,
    );
    let mut options = WebhookOptions::new(policy, &[source.host(), mirror.host()]);
    options.containerd_hosts_dir = Some(dir.path().to_path_buf());
    let webhook = TestWebhook::start(options).await;
    copied.source.stop();
    let (ok, msg) = webhook.review_image(&copied.at_source("demo/app:v1")).await;
    assert!(
        ok,
        "tag resolved and signature read at the hosts.toml mirror: {msg}"
    );
    let (ok, msg) = webhook
        .review_image(&copied.at_source("demo/unsigned:v1"))
        .await;
    // No signature at the mirror, and the source (which might hold one) is down: denied, naming
    // the source, as with a registries.conf mirror.
    assert!(!ok, "unsigned at the mirror");
    assert!(msg.contains("cannot verify"), "{msg}");
}
