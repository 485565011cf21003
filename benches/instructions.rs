//! Reviews in a loop, in process, for counting instructions (callgrind, `perf stat`) rather
//! than timing: wall-clock figures on a shared machine are noise, instruction counts are not.
//! The registries run in a separate process (`serve`), so only the engine's work is counted.
//!
//! ```text
//! cargo bench --bench instructions --no-run            # target/release/deps/instructions-*
//! instructions serve DIR &                             # registries + signed images, files in DIR
//! valgrind --tool=callgrind instructions warm DIR 100  # then 1100: the difference / 1000
//! ```
//!
//! Modes (N reviews each, after one untimed warm-up review where it applies):
//! * `warm`: a 3-container pod whose verdicts are cached (load case (a));
//! * `digest`: a 1-container pod naming a new digest each time, signed by a registry that signs
//!   on demand (load case (d)): signature fetch and verification, verdict cached;
//! * `cold`: a 1-container pod naming a new tag each time in a real registry (load case (b)):
//!   tag resolution, signature fetch and verification;
//! * `webhook`: `warm` as an AdmissionReview over HTTPS to the in-process server, client
//!   included (the same client before and after): what decoding, TLS and the answer add.
//!
//! Recipe and figures: docs/benchmarks.md, "Instruction counts".

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Instant;

use common::generated::GeneratedRegistry;
use common::webhook::{TestWebhook, WebhookOptions, allowed, container, key_policy, pod_review};
use common::{TestKey, TestRegistry, push_image, sign_image};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::workload::ImageUse;

/// Distinct tags pushed for `cold` (the largest N it accepts).
const COLD_IMAGES: usize = 120;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["serve", dir] => runtime.block_on(serve(Path::new(dir))),
        [mode, dir, n] => {
            let n: usize = n.parse().expect("N is a number");
            runtime.block_on(measure(mode, Path::new(dir), n));
        }
        _ => panic!("usage: instructions serve DIR | instructions warm|digest|cold|webhook DIR N"),
    }
}

/// Start the registries, push and sign the images, write what `measure` needs into `dir`, then
/// serve until killed.
async fn serve(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let mut warm = Vec::new();
    for name in ["web", "sidecar", "metrics"] {
        let digest = push_image(&registry, &format!("bench/{name}:v1"), name).await;
        sign_image(&registry, &format!("bench/{name}"), &digest, &key).await;
        warm.push(format!("{}/bench/{name}:v1", registry.host()));
    }
    let mut cold = Vec::new();
    for i in 0..COLD_IMAGES {
        let repo = format!("bench/cold{i}");
        let digest = push_image(&registry, &format!("{repo}:v1"), &format!("cold{i}")).await;
        sign_image(&registry, &repo, &digest, &key).await;
        cold.push(format!("{}/{repo}:v1", registry.host()));
    }
    let generated = GeneratedRegistry::start(TestKey::generate()).await;
    let registry_policy = key_policy("bench", &format!("{}/**", registry.host()), &key.public_pem);
    let generated_policy = key_policy(
        "bench",
        &format!("{}/**", generated.host()),
        &generated.public_pem(),
    );
    write(dir, "registry.host", &registry.host());
    write(dir, "registry.yaml", &registry_policy);
    write(dir, "generated.host", &generated.host());
    write(dir, "generated.yaml", &generated_policy);
    write(dir, "warm", &warm.join("\n"));
    write(dir, "cold", &cold.join("\n"));
    write(dir, "ready", "");
    eprintln!("serving; files in {}", dir.display());
    std::future::pending::<()>().await;
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

fn engine(dir: &Path, which: &str) -> Engine {
    let policy: PathBuf = dir.join(format!("{which}.yaml"));
    let policies = PolicySet::load(&[policy]).unwrap();
    let registry = Registry::new(
        RegistryConfig {
            insecure: vec![read(dir, &format!("{which}.host"))],
            ..RegistryConfig::default()
        },
        Credentials::default(),
    );
    Engine::new(policies, registry, EngineSettings::default())
}

fn uses(images: &[String]) -> Vec<ImageUse> {
    images
        .iter()
        .enumerate()
        .map(|(i, image)| ImageUse {
            path: format!("spec.containers[{i}].image"),
            container: format!("c{i}"),
            image: image.clone(),
        })
        .collect()
}

async fn admit(engine: &Engine, images: &[String]) {
    let decision = engine.review(Some("bench"), &uses(images)).await;
    assert!(decision.allowed(), "{:?}", decision.deny_message());
}

async fn measure(mode: &str, dir: &Path, n: usize) {
    let started;
    match mode {
        "warm" => {
            let engine = engine(dir, "registry");
            let images: Vec<String> = read(dir, "warm").lines().map(String::from).collect();
            admit(&engine, &images).await;
            started = Instant::now();
            for _ in 0..n {
                admit(&engine, &images).await;
            }
        }
        "digest" => {
            let engine = engine(dir, "generated");
            let host = read(dir, "generated.host");
            let image = |i: usize| vec![format!("{host}/bench/mem@sha256:{i:064x}")];
            admit(&engine, &image(usize::MAX)).await;
            started = Instant::now();
            for i in 0..n {
                admit(&engine, &image(i)).await;
            }
        }
        "cold" => {
            let engine = engine(dir, "registry");
            let images: Vec<String> = read(dir, "cold").lines().map(String::from).collect();
            assert!(n < images.len(), "cold takes N < {}", images.len());
            admit(&engine, &images[images.len() - 1..]).await;
            started = Instant::now();
            for image in &images[..n] {
                admit(&engine, std::slice::from_ref(image)).await;
            }
        }
        "webhook" => {
            let policy = read(dir, "registry.yaml");
            let options = WebhookOptions::new(policy, &[read(dir, "registry.host")]);
            let webhook = TestWebhook::start(options).await;
            let containers = read(dir, "warm")
                .lines()
                .enumerate()
                .map(|(i, image)| container(&format!("c{i}"), image))
                .collect();
            let review = pod_review("bench", containers, vec![]);
            assert!(allowed(&webhook.review(&review).await));
            started = Instant::now();
            for _ in 0..n {
                assert!(allowed(&webhook.review(&review).await));
            }
        }
        _ => panic!("mode is warm, digest, cold or webhook"),
    }
    let took = started.elapsed();
    eprintln!(
        "{mode}: {n} reviews in {:.1} ms ({:.1} µs each)",
        took.as_secs_f64() * 1000.0,
        took.as_secs_f64() * 1e6 / n.max(1) as f64
    );
}
