//! policy-controller's CIP-level `spec.policy`: a Rego, CUE or CEL policy over every authority
//! that matched (`authorityMatches`) and, when asked, the reviewed object's spec, metadata and
//! type. Images signed by the real cosign on images pushed by the real crane to Debian's
//! docker-registry, judged by a real webhook.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::common::TestRegistry;
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, deployment_review, indent, message, pod_review,
};

/// A ClusterImagePolicy over `glob` with one key authority per `(name, key)` and `spec.policy`
/// (`policy` is its YAML body, indented under `policy:`).
fn policy(name: &str, glob: &str, keys: &[(&str, &CosignKey)], policy: &str) -> String {
    let authorities: String = keys
        .iter()
        .map(|(authority, key)| {
            format!(
                "  - name: {authority}\n    key:\n      data: |\n{}",
                indent(&key.public_pem(), 8)
            )
        })
        .collect();
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n{authorities}  policy:\n{}",
        indent(policy, 4)
    )
}

const REGO_BOTH: &str = "type: rego\ndata: |\n  package sigstore\n  default isCompliant = false\n  isCompliant {\n    count(input.authorityMatches.a.signatures) > 0\n    count(input.authorityMatches.b.signatures) > 0\n  }\n";
const CUE_TEAM: &str =
    "type: cue\nincludeObjectMeta: true\ndata: |\n  metadata: labels: team: \"payments\"\n";
const CEL_REPLICAS: &str = "type: cel\nincludeSpec: true\nincludeTypeMeta: true\ndata: \"typemeta.kind == 'Deployment' && spec.replicas <= 3 && has(authorityMatches.a)\"\n";

fn with_labels(mut review: Value, labels: Value) -> Value {
    review["request"]["object"]["metadata"]["labels"] = labels;
    review
}

async fn judged(webhook: &TestWebhook, review: &Value) -> (bool, String) {
    let answer = webhook.review(review).await;
    (allowed(&answer), message(&answer))
}

#[tokio::test(flavor = "multi_thread")]
async fn spec_policy_decides_over_every_matched_authority_and_the_object() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let (a, b) = (CosignKey::generate("a"), CosignKey::generate("b"));
    let both = crane_push(&format!("{host}/rego/both:v1"), "both");
    a.sign(&both, &[]);
    b.sign(&both, &[]);
    let one = crane_push(&format!("{host}/rego/one:v1"), "one");
    a.sign(&one, &[]);
    let team = crane_push(&format!("{host}/cue/app:v1"), "team");
    a.sign(&team, &[]);
    let deployed = crane_push(&format!("{host}/cel/app:v1"), "deployed");
    a.sign(&deployed, &[]);
    let unsigned = crane_push(&format!("{host}/cue/unsigned:v1"), "unsigned");

    let policies = [
        policy(
            "both",
            &format!("{host}/rego/**"),
            &[("a", &a), ("b", &b)],
            REGO_BOTH,
        ),
        policy("team", &format!("{host}/cue/**"), &[("a", &a)], CUE_TEAM),
        policy(
            "replicas",
            &format!("{host}/cel/**"),
            &[("a", &a)],
            CEL_REPLICAS,
        ),
    ];
    let webhook = TestWebhook::start(WebhookOptions::new(
        policies.join("---\n"),
        std::slice::from_ref(&host),
    ))
    .await;
    let pod = |image: &str| pod_review("u", vec![container("app", image)], Vec::new());

    // Rego, N of M: both authorities must have matched.
    let (admitted, text) = judged(&webhook, &pod(&both)).await;
    assert!(admitted, "signed by both: {text}");
    let (admitted, text) = judged(&webhook, &pod(&one)).await;
    assert!(!admitted, "signed by one only, admitted");
    assert!(
        text.contains("Source image rejected by policy \"both\": spec.policy (rego) refused"),
        "{text}"
    );

    // CUE over the object's metadata: the same image, decided per object (no shared verdict).
    for (labels, admits) in [
        (json!({"team": "payments"}), true),
        (json!({"team": "games"}), false),
        (json!({"team": "payments"}), true),
    ] {
        let (admitted, text) = judged(&webhook, &with_labels(pod(&team), labels.clone())).await;
        assert_eq!(admitted, admits, "{labels}: {text}");
        if !admits {
            assert!(text.contains("spec.policy (cue) refused"), "{text}");
        }
    }
    // No authority matched: the authorities' own failure, the policy never runs.
    let (admitted, text) = judged(
        &webhook,
        &with_labels(pod(&unsigned), json!({"team": "payments"})),
    )
    .await;
    assert!(!admitted, "unsigned admitted");
    assert!(!text.contains("spec.policy"), "{text}");

    // CEL over the spec and type of a Deployment; a Pod has no typemeta (as in policy-controller).
    let deployment = |replicas: u64| {
        let mut review = deployment_review("d", vec![container("app", &deployed)]);
        review["request"]["object"]["spec"]["replicas"] = json!(replicas);
        review
    };
    let (admitted, text) = judged(&webhook, &deployment(2)).await;
    assert!(admitted, "2 replicas: {text}");
    let (admitted, text) = judged(&webhook, &deployment(5)).await;
    assert!(!admitted, "5 replicas admitted");
    assert!(text.contains("spec.policy (cel) refused"), "{text}");
    let (admitted, text) = judged(&webhook, &pod(&deployed)).await;
    assert!(!admitted, "a Pod has no typemeta, admitted: {text}");
    webhook.shutdown().await;
}
