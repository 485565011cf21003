//! The keyless webhook fixture shared by `webhook_keyless*.rs`: a registry with `demo/app:v1`,
//! a test Fulcio and Rekor given to a real webhook as a TrustRoot file, and a policy allowing the
//! identities a test names.

use super::keyless::{
    GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, TestSigner, keyless_policy, signed_layer,
    trust_root_yaml,
};
use super::webhook::{TestWebhook, WebhookOptions, allowed, container, message, pod_review};
use super::{SigLayer, TestRegistry, push_image, push_signature_layers, simple_signing_payload};

pub const EMAIL: &str = "release@example.com";
pub const WORKFLOW: &str = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1";

/// A registry with `demo/app:v1`, a trusted Fulcio and Rekor, and a webhook whose policy allows
/// `identities` (YAML flow) for every image of the registry.
pub struct Setup {
    pub registry: TestRegistry,
    pub fulcio: TestFulcio,
    pub rekor: TestRekor,
    pub digest: String,
    pub webhook: TestWebhook,
}

pub async fn setup(identities: &str) -> Setup {
    let registry = TestRegistry::start();
    let digest = push_image(&registry, "demo/app:v1", "app-v1").await;
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let glob = format!("{}/**", registry.host());
    let policy = keyless_policy("release", &glob, "test-sigstore", identities);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    let root = trust_root_yaml("test-sigstore", &fulcio, &rekor);
    options.trust_roots = vec![("trust-root.yaml".into(), root)];
    let webhook = TestWebhook::start(options).await;
    Setup {
        registry,
        fulcio,
        rekor,
        digest,
        webhook,
    }
}

pub async fn email_setup() -> Setup {
    setup(&format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]")).await
}

impl Setup {
    pub fn payload(&self, repo: &str, digest: &str) -> Vec<u8> {
        simple_signing_payload(&format!("{}/{repo}", self.registry.host()), digest)
    }

    pub fn app_payload(&self) -> Vec<u8> {
        self.payload("demo/app", &self.digest)
    }

    pub fn signer(&self, leaf: &Leaf) -> TestSigner {
        self.fulcio.issue(leaf)
    }

    pub async fn push(&self, repo: &str, digest: &str, layers: Vec<SigLayer>) {
        push_signature_layers(&self.registry, repo, digest, layers).await;
    }

    pub async fn review(&self, repo_tag: &str) -> (bool, String) {
        let image = format!("{}/{repo_tag}", self.registry.host());
        let answer = self
            .webhook
            .review(&pod_review("u", vec![container("app", &image)], vec![]))
            .await;
        (allowed(&answer), message(&answer))
    }

    /// A valid keyless signature of `demo/app` by the allowed email identity.
    pub fn valid_layer(&self) -> (TestSigner, SigLayer) {
        let signer = self.signer(&Leaf::email(EMAIL, GITHUB_ISSUER));
        let layer = signed_layer(&self.fulcio, &signer, &self.rekor, self.app_payload());
        (signer, layer)
    }
}

/// Assert a denial whose message contains `words`; returns the message.
pub fn denied_with(result: (bool, String), words: &str) -> String {
    let (allowed, msg) = result;
    assert!(!allowed, "expected a denial");
    assert!(msg.contains(words), "missing {words:?} in: {msg}");
    msg
}
