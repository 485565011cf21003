//! Time to audit a cluster of 1,000 running Pods sharing 50 distinct images (40 signed, 10 not)
//! against a real local registry: the `signet audit` binary reads the Pods from the test API
//! server through a kubeconfig, verifies each distinct image once (16 at a time) and writes the
//! JSON report. A benchmark, not a test: `cargo bench --bench audit`.

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use serde_json::json;

use common::apiserver::TestApiServer;
use common::webhook::key_policy;
use common::{TestKey, TestRegistry, push_image, sign_image};

const PODS: usize = 1_000;
const IMAGES: usize = 50;
const UNSIGNED: usize = 10;
const RUNS: usize = 3;

#[tokio::main]
async fn main() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let mut images = Vec::new();
    for i in 0..IMAGES {
        let repo = format!("bench/img-{i}");
        let digest = push_image(&registry, &format!("{repo}:v1"), &repo).await;
        if i >= UNSIGNED {
            sign_image(&registry, &repo, &digest, &key).await;
        }
        images.push((format!("{}/{repo}:v1", registry.host()), digest));
    }
    let api = TestApiServer::start().await;
    for p in 0..PODS {
        let (image, digest) = &images[p % IMAGES];
        let running = format!("{}@{digest}", image.trim_end_matches(":v1"));
        api.apply(
            "pods",
            pod(
                &format!("ns-{}", p % 20),
                &format!("pod-{p}"),
                image,
                &running,
            ),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(
        &policy,
        key_policy("bench", &format!("{}/**", registry.host()), &key.public_pem),
    )
    .unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: b\n  cluster: {{server: \"{}\"}}\ncontexts:\n- name: b\n  context: {{cluster: b, user: b}}\ncurrent-context: b\nusers:\n- name: b\n  user: {{}}\n",
        api.url()
    )).unwrap();
    let out = dir.path().join("report.json");
    println!(
        "signet audit: {PODS} running Pods, {IMAGES} distinct images ({UNSIGNED} unsigned), local registry, concurrency 16"
    );
    for run in 1..=RUNS {
        let started = Instant::now();
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
            .args([
                "audit",
                "--policy",
                policy.to_str().unwrap(),
                "--insecure-registry",
                &registry.host(),
            ])
            .args(["--output", "json", "--out", out.to_str().unwrap()])
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .status()
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(status.code(), Some(1), "the unsigned images are denied");
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let summary = &report["summary"];
        assert_eq!(summary["admit"], 800);
        assert_eq!(summary["deny"], 200);
        println!(
            "run {run}: {:.0} ms (new process, cold caches): {} admit, {} deny, {} objects",
            elapsed.as_secs_f64() * 1000.0,
            summary["admit"],
            summary["deny"],
            summary["objects"]
        );
    }
}

/// A running Pod with one container whose status reports `running` as its imageID.
fn pod(namespace: &str, name: &str, image: &str, running: &str) -> serde_json::Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"phase": "Running", "containerStatuses": [
            {"name": "app", "image": image, "imageID": running, "ready": true, "restartCount": 0}
        ]}
    })
}
