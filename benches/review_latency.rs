//! Latency of one admission review against a real local registry, over real TLS: the first
//! (cold) review of a signed image, then repeated reviews of the same pod. A benchmark, not a
//! test: run with `cargo bench --bench review_latency`.
//!
//! Each repeated review resolves the tag and fetches the signatures again (no result cache yet),
//! so "repeated" measures connection reuse, not caching.

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::webhook::{TestWebhook, WebhookOptions, allowed, container, key_policy, pod_review};
use common::{TestKey, TestRegistry, push_image, sign_image};

const REPEATS: usize = 200;

#[tokio::main]
async fn main() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let digest = push_image(&registry, "bench/app:v1", "bench").await;
    sign_image(&registry, "bench/app", &digest, &key).await;
    let policy = key_policy("bench", &format!("{}/**", registry.host()), &key.public_pem);
    let webhook = TestWebhook::start(WebhookOptions::new(policy, &[registry.host()])).await;
    let review = pod_review(
        "bench",
        vec![container(
            "app",
            &format!("{}/bench/app:v1", registry.host()),
        )],
        vec![],
    );

    let (first, answer) = timed(&webhook, &review).await;
    assert!(allowed(&answer), "{answer}");
    let mut repeated = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        repeated.push(timed(&webhook, &review).await.0);
    }
    repeated.sort();
    let pct = |p: f64| repeated[((repeated.len() as f64 * p) as usize).min(repeated.len() - 1)];
    println!(
        "review of a 1-container pod, signed image, local registry (127.0.0.1), HTTPS keep-alive"
    );
    println!(
        "first review (new TLS connection to Signet, new registry connection): {}",
        ms(first)
    );
    println!(
        "repeated x{REPEATS}: p50 {}  p90 {}  p99 {}  max {}",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(repeated[repeated.len() - 1])
    );
}

async fn timed(webhook: &TestWebhook, review: &serde_json::Value) -> (Duration, serde_json::Value) {
    let started = Instant::now();
    let answer = webhook.review(review).await;
    (started.elapsed(), answer)
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}
