//! Issue 20, the cost of an attestation check, in process (no TLS, no HTTP):
//!
//! 1. a warm review (`Engine::review` of one image, the verdict cache warm) under a signature
//!    policy and under an attestation policy with a `rego`, `cue` and `cel` policy: what a
//!    repeated admission costs with attestations;
//! 2. the check itself, uncached: verifying one `.att` DSSE envelope with the key (PAE, in-toto
//!    Statement, subject) and evaluating each language's policy over its Statement, what every
//!    review of a new digest (or after the verdict's TTL) pays on top of fetching.
//!
//! The image, its signature and its attestation are in Debian's docker-registry on a free
//! port. Run with `cargo bench --bench attestation_check` (release; noisy on a shared machine:
//! the best of several rounds is kept).

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::json;

use common::attestation_layers::push_attestation_layer;
use common::bundles::pae;
use common::webhook::{TestWebhook, WebhookOptions, indent, key_policy};
use common::{TestKey, TestRegistry, push_image, sign, sign_image};
use signet::policy::{AttestationPolicy, Evaluation, PolicyLanguage};
use signet::workload::ImageUse;

const SLSA1: &str = "https://slsa.dev/provenance/v1";
const IN_TOTO: &str = "application/vnd.in-toto+json";
const ROUND: Duration = Duration::from_millis(700);
const ROUNDS: usize = 3;

const REGO: &str = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.predicate.runDetails.builder.id == \"https://builder.example/ci\"\n}\n";
const CUE: &str = "predicateType: \"https://slsa.dev/provenance/v1\"\npredicate: runDetails: builder: id: \"https://builder.example/ci\"\n";
const CEL: &str = "predicate.runDetails.builder.id == 'https://builder.example/ci'";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "bench/app:v1", "bench").await;
    sign_image(&registry, "bench/app", &digest, &key).await;
    let statement = statement(&digest);
    let envelope = envelope(&key, &statement);
    push_attestation_layer(
        &registry,
        ("bench/app", &digest),
        envelope.clone(),
        SLSA1,
        &[],
    )
    .await;
    let image = format!("{}/bench/app@{digest}", registry.host());
    let glob = format!("{}/**", registry.host());

    println!("attestation check, in process: one image, local registry, best of {ROUNDS}");
    println!("load average: {}", load_average());
    println!("1. warm review (verdict cache warm), µs per review");
    let signature = key_policy("sig", &glob, &key.public_pem);
    let base = warm_review_us(&registry, signature, &image).await;
    println!("{:>24} {base:>8.2}", "signature only");
    for (language, text) in [("rego", REGO), ("cue", CUE), ("cel", CEL)] {
        let policy = attestation_policy(&glob, &key, language, text);
        let us = warm_review_us(&registry, policy, &image).await;
        println!("{:>24} {us:>8.2}", format!("attestation, {language}"));
    }

    println!("2. the check itself, uncached, µs per check");
    let statement_json: serde_json::Value = serde_json::from_slice(&statement).unwrap();
    let (authority, target, layers) = (
        key_authority(&glob, &key),
        subject_for(&image),
        [layer(&envelope)],
    );
    let verify = best_us(|| {
        let ok = signet::signature::key_attestations(&authority, target.as_subject(), &layers);
        assert_eq!(ok.0.len(), 1, "{:?}", ok.1);
    });
    println!("{:>24} {verify:>8.2}", "verify .att envelope");
    for (language, text) in [
        (PolicyLanguage::Rego, REGO),
        (PolicyLanguage::Cue, CUE),
        (PolicyLanguage::Cel, CEL),
    ] {
        let policy = AttestationPolicy::compile(language, text).unwrap();
        let us = best_us(|| assert_eq!(policy.evaluate(&statement_json), Evaluation::Pass));
        println!(
            "{:>24} {us:>8.2}",
            format!("evaluate {}", language.as_str())
        );
    }
}

/// The best µs per review of `image` under `policy`, after a first (cold) review.
async fn warm_review_us(registry: &TestRegistry, policy: String, image: &str) -> f64 {
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let engine = webhook.engine();
    let uses = [ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: image.to_string(),
    }];
    let first = engine.review(Some("default"), &uses).await;
    assert!(first.allowed(), "{first:?}");
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let (started, mut n) = (Instant::now(), 0u32);
        while started.elapsed() < ROUND {
            let decision = engine.review(Some("default"), &uses).await;
            assert!(decision.allowed());
            n += 1;
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    webhook.shutdown().await;
    best
}

/// The best µs per call of `work`.
fn best_us(mut work: impl FnMut()) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..ROUNDS {
        let (started, mut n) = (Instant::now(), 0u32);
        while started.elapsed() < ROUND {
            work();
            n += 1;
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    best
}

fn attestation_policy(glob: &str, key: &TestKey, language: &str, text: &str) -> String {
    format!(
        "{}    attestations:\n    - name: provenance\n      predicateType: slsaprovenance1\n      policy:\n        type: {language}\n        data: |\n{}",
        key_policy("att", glob, &key.public_pem),
        indent(text, 10)
    )
}

fn key_authority(glob: &str, key: &TestKey) -> signet::policy::KeyAuthority {
    let set =
        signet::policy::PolicySet::from_yaml(&key_policy("k", glob, &key.public_pem), "k").unwrap();
    match &set.policies()[0].authorities[0].kind {
        signet::policy::AuthorityKind::Key(k) => k.clone(),
        other => panic!("a key authority, got {other:?}"),
    }
}

/// The image and digest a check is about.
struct Target {
    image: signet::reference::ImageReference,
    digest: signet::reference::Digest,
}

impl Target {
    fn as_subject(&self) -> signet::signature::Subject<'_> {
        signet::signature::Subject {
            image: &self.image,
            digest: &self.digest,
        }
    }
}

fn subject_for(image: &str) -> Target {
    let image = signet::reference::ImageReference::parse(image).unwrap();
    let digest = image.digest().unwrap().clone();
    Target { image, digest }
}

fn layer(envelope: &[u8]) -> signet::registry::SignatureLayer {
    signet::registry::SignatureLayer {
        payload: envelope.to_vec(),
        annotations: [("predicateType".to_string(), SLSA1.to_string())].into(),
    }
}

fn statement(digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "app", "digest": {"sha256": hex}}],
        "predicateType": SLSA1,
        "predicate": {"buildDefinition": {"buildType": "x"},
                      "runDetails": {"builder": {"id": "https://builder.example/ci"}}},
    }))
    .unwrap()
}

fn envelope(key: &TestKey, statement: &[u8]) -> Vec<u8> {
    let signature = sign(key, &pae(IN_TOTO, statement));
    serde_json::to_vec(&json!({
        "payloadType": IN_TOTO,
        "payload": BASE64.encode(statement),
        "signatures": [{"keyid": "", "sig": signature}],
    }))
    .unwrap()
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
