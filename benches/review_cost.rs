//! Issue 19: what one warm review costs in process, for instruction counts on a noisy machine.
//! `review_cost <body> <reviews> [decode|full|full-decode]` reviews the body `reviews` times
//! (body bytes -> AdmissionReview -> decision -> answer bytes, as `POST /validate` does after
//! TLS and HTTP; with `decode`, only body bytes -> request). `full` and `full-decode` do the same
//! through the decoder and answer of before issue 19 (`parse_review_full`, kube's
//! `AdmissionReview` serialised), so one build measures both. Bodies:
//!
//! * `small`: a 3-container Pod, names and images only (741 bytes);
//! * `realistic`: the same Pod as kube-apiserver sends it for a Deployment's ReplicaSet
//!   (`tests/fixtures/admission/replicaset-pod-review.json`, 7.7 KB);
//! * `fifty`: a 50-container Pod.
//!
//! The policy passes every image statically, so no registry is asked. Count instructions with
//! `valgrind --tool=callgrind target/release/deps/review_cost-* realistic 1000` and again with
//! 2000: the difference over 1000 is one review's instructions, setup subtracted.

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use signet::admission::{answer_bytes, decide, parse_review, parse_review_full, respond};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};

const REALISTIC: &str = include_str!("../tests/fixtures/admission/replicaset-pod-review.json");
const REGISTRY: &str = "127.0.0.1:40000";

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let body = match args.first().map(String::as_str) {
        Some("small") | None => small(3),
        Some("fifty") => small(50),
        Some("realistic") => REALISTIC
            .replace("@IMAGE_WEB@", &format!("{REGISTRY}/bench/ratio-web:v1"))
            .replace(
                "@IMAGE_SIDECAR@",
                &format!("{REGISTRY}/bench/ratio-sidecar:v1"),
            )
            .replace(
                "@IMAGE_METRICS@",
                &format!("{REGISTRY}/bench/ratio-metrics:v1"),
            ),
        Some(other) => panic!("unknown body {other:?}: small, realistic or fifty"),
    };
    let reviews: usize = args.get(1).map_or(1000, |n| n.parse().unwrap());
    let mode = args.get(2).map_or("review", String::as_str);
    let decode_only = mode.ends_with("decode");
    let full = mode.starts_with("full");
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: all}}\nspec:\n  images: [{{glob: \"{REGISTRY}/**\"}}]\n  authorities: [{{static: {{action: pass}}}}]\n"
    );
    let engine = Engine::new(
        PolicySet::from_yaml(&policy, "bench").unwrap(),
        Registry::new(RegistryConfig::default(), Credentials::default()),
        EngineSettings::default(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let bytes = body.as_bytes();
    let mut answered = 0;
    runtime.block_on(async {
        for _ in 0..reviews {
            let body = std::hint::black_box(bytes);
            let request = match full {
                true => parse_review_full(body).unwrap(),
                false => parse_review(body).unwrap(),
            };
            if decode_only {
                answered += std::hint::black_box(&request).uid.len();
                continue;
            }
            let decision = decide(&engine, &request).await;
            assert!(decision.deny_message().is_none(), "denied: {decision:?}");
            let answer = match full {
                true => serde_json::to_vec(&respond(&request, &decision, false)).unwrap(),
                false => answer_bytes(&request, &decision, false),
            };
            answered += std::hint::black_box(answer).len();
        }
    });
    println!("{} bytes, {reviews} reviews, {answered}", bytes.len());
}

/// A Pod of `count` containers (names and images only), as a compact AdmissionReview.
fn small(count: usize) -> String {
    let names = ["web", "sidecar", "metrics"];
    let containers: Vec<Value> = (0..count)
        .map(|i| {
            let name = names
                .get(i)
                .map_or_else(|| format!("c{i}"), |n| n.to_string());
            json!({"name": format!("c{i}"), "image": format!("{REGISTRY}/bench/ratio-{name}:v1")})
        })
        .collect();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "app",
            "namespace": "team",
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "namespace": "team"},
                "spec": {"containers": containers}
            },
            "oldObject": null,
            "dryRun": false
        }
    })
    .to_string()
}
