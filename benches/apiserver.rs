//! Signet as kube-apiserver sees it: the API server's own histogram
//! `apiserver_admission_webhook_admission_duration_seconds` for Signet's webhook, over Pod
//! creations through the real control plane of the end-to-end suite (etcd, kube-apiserver and
//! kubectl from `scripts/tools.sh`, `manifests/` applied, the release `signet serve` out of the
//! cluster by URL, images pushed with crane and signed with cosign).
//!
//! * cold: one Pod per image Signet has not seen (tag resolved, signatures fetched and verified);
//! * warm: 1,000 Pods of one verified image (answered from the verdict cache).
//!
//! Run with `cargo bench --bench apiserver` (after `scripts/tools.sh`). `SIGNET_BENCH_PODS`
//! changes the warm count, `SIGNET_BENCH_COLD` the cold one. Prints p50/p90/p99 as the API server
//! reports them (linear interpolation within the histogram's buckets, as `histogram_quantile`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Instant;

use common::TestRegistry;
use common::cluster_e2e::Installed;
use common::control_plane::ControlPlane;
use common::cosign::{CosignKey, crane_push};

const WEBHOOK: &str = "name=\"images.signet.dev\"";
const METRIC: &str = "apiserver_admission_webhook_admission_duration_seconds";

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let warm_pods = count("SIGNET_BENCH_PODS", 1000);
    let cold_pods = count("SIGNET_BENCH_COLD", 30);
    let plane = ControlPlane::start();
    let registry = TestRegistry::start();
    let key = CosignKey::generate("bench");
    let started = Instant::now();
    let images: Vec<String> = (0..=cold_pods)
        .map(|i| {
            let image = crane_push(&format!("{}/bench/app{i}:v1", registry.host()), "b");
            key.sign(&image, &[]);
            image
        })
        .collect();
    eprintln!(
        "pushed and signed {} images in {:?}",
        images.len(),
        started.elapsed()
    );
    let installed = Installed::apply(&plane, None);
    let policy = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    let pem: String = key
        .public_pem()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    std::fs::write(
        policy.path(),
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
             name: bench\nspec:\n  images:\n  - glob: \"{}/bench/**\"\n  authorities:\n  \
             - key:\n      data: |\n{pem}",
            registry.host()
        ),
    )
    .unwrap();
    let _signet = installed.serve(
        &plane,
        &[
            format!("--policy={}", policy.path().display()),
            format!("--insecure-registry={}", registry.host()),
        ],
    );
    plane.namespace("bench");

    // Tags, as people write them: cold pods resolve and verify; warm pods reuse the first image.
    let tags: Vec<String> = (0..=cold_pods)
        .map(|i| format!("{}/bench/app{i}:v1", registry.host()))
        .collect();
    let cold = measure(&plane, "cold", &tags[1..]);
    let warm: Vec<String> = std::iter::repeat_n(tags[0].clone(), warm_pods).collect();
    create(&plane, "prime", &warm[..1]);
    let warm = measure(&plane, "warm", &warm);
    println!("kube-apiserver's histogram {METRIC} for {WEBHOOK}, Pod CREATE:");
    println!("| case | pods | p50 | p90 | p99 |");
    println!("|---|---|---|---|---|");
    for (name, (pods, quantiles)) in [("cold (new image)", cold), ("warm (cached verdict)", warm)] {
        println!(
            "| {name} | {pods} | {} | {} | {} |",
            ms(quantiles[0]),
            ms(quantiles[1]),
            ms(quantiles[2])
        );
    }
}

fn ms(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

/// Creates one pod per image and returns (pods, [p50, p90, p99]) of the histogram's change.
fn measure(plane: &ControlPlane, prefix: &str, images: &[String]) -> (usize, [f64; 3]) {
    let before = buckets(plane);
    let started = Instant::now();
    create(plane, prefix, images);
    eprintln!("{prefix}: {} pods in {:?}", images.len(), started.elapsed());
    let after = buckets(plane);
    let delta: Vec<(f64, f64)> = after
        .iter()
        .map(|(le, n)| (le.0, n - before.get(le).copied().unwrap_or(0.0)))
        .collect();
    let total = delta.last().map_or(0.0, |(_, n)| *n);
    assert!(
        total >= images.len() as f64,
        "the API server counted {total} webhook calls for {} pods",
        images.len()
    );
    (
        images.len(),
        [0.5, 0.9, 0.99].map(|q| quantile(&delta, q * total)),
    )
}

fn create(plane: &ControlPlane, prefix: &str, images: &[String]) {
    let docs: String = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            format!(
                "---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: {prefix}-{i}\n  \
                 namespace: bench\nspec:\n  containers:\n  - name: app\n    image: {image}\n"
            )
        })
        .collect();
    let output = plane.kubectl_stdin(&["create"], &docs);
    assert!(
        output.status.success(),
        "kubectl create: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A bucket bound, ordered (the histogram's `le` values; `+Inf` last).
#[derive(PartialEq, Clone, Copy)]
struct Le(f64);
impl Eq for Le {}
impl PartialOrd for Le {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Le {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// Cumulative counts per `le` for Signet's webhook on Pod CREATE, summed over the other labels.
fn buckets(plane: &ControlPlane) -> BTreeMap<Le, f64> {
    let mut out = BTreeMap::new();
    for line in plane.metrics().lines() {
        if !line.starts_with(&format!("{METRIC}_bucket{{")) || !line.contains(WEBHOOK) {
            continue;
        }
        if !line.contains("operation=\"CREATE\"") {
            continue;
        }
        let le = line
            .split("le=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|v| {
                if v == "+Inf" {
                    f64::INFINITY
                } else {
                    v.parse().unwrap()
                }
            })
            .unwrap();
        let value: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        *out.entry(Le(le)).or_insert(0.0) += value;
    }
    out
}

/// The value below which `rank` observations fall, interpolated within its bucket.
fn quantile(cumulative: &[(f64, f64)], rank: f64) -> f64 {
    let mut lower = (0.0, 0.0);
    for &(le, count) in cumulative {
        if count >= rank {
            if le.is_infinite() {
                return lower.0;
            }
            let within = (rank - lower.1) / (count - lower.1).max(f64::MIN_POSITIVE);
            return lower.0 + (le - lower.0) * within;
        }
        lower = (le, count);
    }
    lower.0
}
