//! CRI-O's containers-policy.json as Signet's policy, end to end: the real webhook over TLS, a
//! real registry, keys and a test Fulcio/Rekor made here. Scope precedence, CRI-O's messages,
//! the Kubernetes blog's example, `remapIdentity` across two registries, and per-namespace
//! files (`--signature-policy-dir`) with their fallback, reload and refusal.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use signet::policy::PolicySet;
use signet::reference::ImageReference;

use crate::common::crio::{
    BLOG_EMAIL, GITHUB_OAUTH, fulcio_requirement, key_requirement, policy_json,
};
use crate::common::keyless::{Leaf, TestFulcio, TestRekor, signed_layer};
use crate::common::webhook::{TestWebhook, WebhookOptions, allowed, container, pod_review_in};
use crate::common::{
    SigLayer, TestKey, TestRegistry, push_image, push_signature_layers, sign_image,
    simple_signing_payload,
};

/// containers/image's scope rules on the shape of its fixture `policy.json`
/// (`signature/fixtures/policy.json`, every requirement replaced by a marker so that the
/// winning scope is visible).
#[test]
fn the_most_specific_scope_wins() {
    let scopes = [
        "example.com/playground",
        "example.com/production",
        "example.com/hardened",
        "registry.access.redhat.com",
        "registry.redhat.io/beta",
        "private-mirror:5000/vendor-mirror",
        "*.access.redhat.com",
        "*.redhat.com",
        "*.com",
        "bogus/key-data-example",
        "quay.io/crio/signed:v1",
        "",
    ];
    let docker: serde_json::Map<String, serde_json::Value> = scopes
        .iter()
        .map(|s| (s.to_string(), json!([{"type": "insecureAcceptAnything"}])))
        .collect();
    let text = json!({"default": [{"type": "reject"}], "transports": {"docker": docker}});
    let set = PolicySet::from_yaml(&text.to_string(), "policy.json").unwrap();
    let cases = [
        ("example.com/playground/app:1", "example.com/playground"),
        ("example.com/playground", "example.com/playground"),
        ("example.com/playgroundx/app", "*.com"),
        (
            "example.com/hardened/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            "example.com/hardened",
        ),
        (
            "registry.access.redhat.com/rhel7/rhel:7",
            "registry.access.redhat.com",
        ),
        ("cdn.access.redhat.com/rhel", "*.access.redhat.com"),
        ("a.b.redhat.com/x", "*.redhat.com"),
        ("registry.redhat.io/beta/x", "registry.redhat.io/beta"),
        ("registry.redhat.io/other", ""),
        ("example.com/other", "*.com"),
        (
            "private-mirror:5000/vendor-mirror/product/image",
            "private-mirror:5000/vendor-mirror",
        ),
        ("private-mirror:5000/other", ""),
        ("bogus/key-data-example", ""),
        ("quay.io/crio/signed:v1", "quay.io/crio/signed:v1"),
        ("quay.io/crio/signed:v2", ""),
    ];
    for (image, scope) in cases {
        let image = ImageReference::parse(image).unwrap();
        let names: Vec<&str> = set
            .matching(&image, None)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(
            names,
            [format!("transports.docker['{scope}'][0]")],
            "{image}"
        );
    }
    let without_default = json!({"default": [{"type": "reject"}], "transports": {"docker": {"*.com": [{"type": "reject"}]}}});
    let set = PolicySet::from_yaml(&without_default.to_string(), "policy.json").unwrap();
    let quay = set.matching(&ImageReference::parse("quay.io/x").unwrap(), None);
    assert_eq!(quay[0].name, "default[0]");
}

/// The registry, a trusted test Fulcio and Rekor, and a signer for the blog's email.
struct Blog {
    registry: TestRegistry,
    fulcio: TestFulcio,
    rekor: TestRekor,
}

impl Blog {
    async fn new() -> Blog {
        let blog = Blog {
            registry: TestRegistry::start(),
            fulcio: TestFulcio::new(),
            rekor: TestRekor::new(),
        };
        for repo in ["crio/signed", "crio/unsigned", "crio/other"] {
            let digest = push_image(&blog.registry, &format!("{repo}:v1"), repo).await;
            if repo != "crio/unsigned" {
                blog.sign(repo, &digest, BLOG_EMAIL).await;
            }
        }
        blog
    }

    async fn sign(&self, repo: &str, digest: &str, email: &str) {
        let signer = self.fulcio.issue(&Leaf::email(email, GITHUB_OAUTH));
        let payload = simple_signing_payload(&format!("{}/{repo}", self.registry.host()), digest);
        let layer = signed_layer(&self.fulcio, &signer, &self.rekor, payload);
        push_signature_layers(&self.registry, repo, digest, vec![layer]).await;
    }

    /// The blog's policy with this registry's host: `crio/signed` (and `crio/unsigned`, as the
    /// blog's second step) need a signature by `email`; everything else is rejected.
    fn policy(&self, email: &str) -> String {
        let host = self.registry.host();
        let req = fulcio_requirement(&self.fulcio, &self.rekor, email);
        policy_json(&[
            (&format!("{host}/crio/signed"), vec![req.clone()]),
            (&format!("{host}/crio/unsigned"), vec![req]),
        ])
    }

    async fn webhook(&self, email: &str) -> TestWebhook {
        TestWebhook::start(WebhookOptions::new(
            self.policy(email),
            &[self.registry.host()],
        ))
        .await
    }
}

/// The Kubernetes blog post's walk-through ("Verifying Container Image Signatures Within CRI
/// Runtimes", 2023): the same policy shape and CRI-O's messages for each step.
#[tokio::test(flavor = "multi_thread")]
async fn the_blog_example_admits_the_signed_repository_with_cri_o_messages() {
    let blog = Blog::new().await;
    let host = blog.registry.host();
    let webhook = blog.webhook(BLOG_EMAIL).await;
    let (ok, msg) = webhook
        .review_image(&format!("{host}/crio/signed:v1"))
        .await;
    assert!(ok, "{msg}");
    let (ok, msg) = webhook
        .review_image(&format!("{host}/crio/unsigned:v1"))
        .await;
    assert!(!ok);
    assert!(
        msg.contains("A signature was required, but no signature exists"),
        "{msg}"
    );
    let (ok, msg) = webhook.review_image(&format!("{host}/crio/other:v1")).await;
    assert!(!ok);
    let words = format!("Running image docker://{host}/crio/other:v1 is rejected by policy.");
    assert!(msg.contains(&words), "{msg}");
    assert!(
        msg.contains("Source image rejected by policy \"default[0]\""),
        "{msg}"
    );
    webhook.shutdown().await;
    let wrong = blog.webhook("wrong@mail.com").await;
    let (ok, msg) = wrong.review_image(&format!("{host}/crio/signed:v1")).await;
    assert!(!ok);
    let words =
        format!("Required email wrong@mail.com not found (got []string{{\"{BLOG_EMAIL}\"}})");
    assert!(msg.contains(&words), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_refused_signatures_are_listed_in_cri_o_words() {
    let registry = TestRegistry::start();
    let (trusted, stranger, other) = (
        TestKey::generate(),
        TestKey::generate(),
        TestKey::generate(),
    );
    let digest = push_image(&registry, "team/app:v1", "app").await;
    sign_image(&registry, "team/app", &digest, &stranger).await;
    sign_image(&registry, "team/app", &digest, &other).await;
    let host = registry.host();
    let policy = policy_json(&[(
        &host,
        vec![key_requirement(&trusted.public_pem, "matchRepository")],
    )]);
    let webhook =
        TestWebhook::start(WebhookOptions::new(policy, std::slice::from_ref(&host))).await;
    let (ok, msg) = webhook.review_image(&format!("{host}/team/app:v1")).await;
    assert!(!ok);
    assert!(
        msg.contains(
            "None of the signatures were accepted, reasons: signed by none of the 1 trusted key(s)"
        ),
        "{msg}"
    );
    assert_eq!(msg.matches("signed by none of").count(), 2, "{msg}");
}

/// An image copied, with its `.sig`, from one registry to another, verified against the
/// identity it was signed for (containers-policy.json `remapIdentity`, then
/// `matchRepoDigestOrExact`: the signature names the tag, as skopeo signs).
#[tokio::test(flavor = "multi_thread")]
async fn remap_identity_admits_a_mirror_copy_signed_for_the_origin() {
    let (origin, mirror) = (TestRegistry::start(), TestRegistry::start());
    let key = TestKey::generate();
    let digest = push_image(&origin, "team/app:v1", "app").await;
    let copied = push_image(&mirror, "team/app:v1", "app").await;
    assert_eq!(copied, digest, "the same manifest bytes");
    push_image(&mirror, "team/app:v2", "app").await;
    let payload = simple_signing_payload(&format!("{}/team/app:v1", origin.host()), &digest);
    let layer = SigLayer::signed(&key, payload);
    push_signature_layers(&origin, "team/app", &digest, vec![layer.clone()]).await;
    push_signature_layers(&mirror, "team/app", &digest, vec![layer]).await;
    let mut remap = key_requirement(&key.public_pem, "remapIdentity");
    remap["signedIdentity"] = json!({
        "type": "remapIdentity", "prefix": mirror.host(), "signedPrefix": origin.host(),
    });
    let policy = policy_json(&[(&mirror.host(), vec![remap])]);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[mirror.host()])).await;
    let (ok, msg) = webhook
        .review_image(&format!("{}/team/app:v1", mirror.host()))
        .await;
    assert!(ok, "{msg}");
    let (ok, msg) = webhook
        .review_image(&format!("{}/team/app@{digest}", mirror.host()))
        .await;
    assert!(ok, "by digest the repository is enough: {msg}");
    let (ok, msg) = webhook
        .review_image(&format!("{}/team/app:v2", mirror.host()))
        .await;
    assert!(
        !ok,
        "the same digest under another tag is not what was signed"
    );
    let required = format!(
        "exactly {}/team/app:v2 (matchRepoDigestOrExact)",
        origin.host()
    );
    assert!(msg.contains(&required), "{msg}");
}

/// `--signature-policy-dir`: `<namespace>.json` governs its namespace; other namespaces use the
/// global policy, as CRI-O's `signature_policy_dir` does.
#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_file_replaces_the_global_policy_only_in_its_namespace() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let (global_key, team_key) = (TestKey::generate(), TestKey::generate());
    let a = push_image(&registry, "team/a:v1", "a").await;
    let b = push_image(&registry, "team/b:v1", "b").await;
    sign_image(&registry, "team/a", &a, &global_key).await;
    sign_image(&registry, "team/b", &b, &team_key).await;
    let global = policy_json(&[(
        &host,
        vec![key_requirement(&global_key.public_pem, "matchRepository")],
    )]);
    let team = policy_json(&[(
        &host,
        vec![key_requirement(&team_key.public_pem, "matchRepository")],
    )]);
    let mut options = WebhookOptions::new(global, std::slice::from_ref(&host));
    options.namespace_policies = vec![("team-a".into(), team)];
    let webhook = TestWebhook::start(options).await;
    let admitted = |ns: &str, repo: &str| {
        let review = pod_review_in(
            ns,
            "u",
            vec![container("app", &format!("{host}/{repo}:v1"))],
        );
        let webhook = &webhook;
        async move { allowed(&webhook.review(&review).await) }
    };
    assert!(admitted("default", "team/a").await);
    assert!(!admitted("default", "team/b").await);
    assert!(!admitted("team-a", "team/a").await);
    assert!(admitted("team-a", "team/b").await);
    assert!(
        admitted("team-b", "team/a").await,
        "no file: the global policy"
    );
}
