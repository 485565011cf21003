//! Issue 19, policy count: a warm review of a small Pod with 1, 1,000, 10,000 and 100,000
//! policies (three in four cluster-wide, one in four namespaced `ImagePolicy` objects in the
//! Pod's namespace; globs over 50 registries, none covering the image but one), as a ratio to
//! the 1-policy run of the same process, plus the time to load the set from text (parse,
//! validate, compile) and to reload it from compiled documents (what a change of one cluster
//! object costs the composer), and the process's RSS after loading.
//!
//! In process, without TLS or HTTP: body bytes -> `parse_review` -> `decide` -> `respond` ->
//! response bytes, so what grows with the policies is not hidden behind the network stack.
//! A side column times the matching alone: the index (`PolicySet::matching_for`) against a scan
//! of every policy's globs (what selection did before the index), on the same set.
//!
//! Run with `cargo bench --bench policy_count` (release; noisy on a shared machine, so the
//! figures that matter are the ratios, printed with the load average).

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "load/policies.rs"]
mod policies;

use std::time::{Duration, Instant};

use signet::admission::{decide, parse_review, respond};
use signet::engine::{Engine, EngineSettings};
use signet::policy::{CompiledDocument, PolicySet, TrustRoots};
use signet::reference::ImageReference;
use signet::registry::{Credentials, Registry, RegistryConfig};

const COUNTS: [usize; 4] = [1, 1_000, 10_000, 100_000];
const NAMESPACE: &str = "team";
const IMAGE: &str = "ghcr.io/acme/app:v1";
/// Each measurement runs this long; the best of `ROUNDS` is kept.
const ROUND: Duration = Duration::from_millis(700);
const ROUNDS: usize = 3;

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    println!("policy count: warm review of a 1-container Pod ({IMAGE}), in process");
    println!("load average: {}", load_average());
    println!(
        "{:>8} {:>10} {:>7} {:>9} {:>9} {:>9} {:>11} {:>11}",
        "policies", "reviews/s", "ratio", "load", "reload", "RSS MiB", "match idx", "match scan"
    );
    let mut first = None;
    for count in COUNTS {
        let documents = documents(count);
        let started = Instant::now();
        let set = PolicySet::load_with_documents(
            &[],
            documents.iter().map(|(s, t)| (s.as_str(), t.as_str())),
            &TrustRoots::default(),
        )
        .unwrap();
        let load = started.elapsed();
        assert_eq!(set.policies().len(), count);
        let compiled: Vec<CompiledDocument> = documents
            .iter()
            .map(|(s, t)| CompiledDocument::compile(t, s, &TrustRoots::default()).unwrap())
            .collect();
        let started = Instant::now();
        let reloaded = PolicySet::load_with_compiled(&[], &compiled, &TrustRoots::default());
        let reload = started.elapsed();
        assert_eq!(reloaded.unwrap().fingerprint(), set.fingerprint());
        drop(compiled);
        let rss = rss_kib();
        let (index, scan) = matching_costs(&set);
        let rate = runtime.block_on(reviews_per_second(set));
        let base = *first.get_or_insert(rate);
        println!(
            "{count:>8} {rate:>10.0} {:>6.2}x {:>9} {:>9} {:>9.1} {:>11} {:>11}",
            rate / base,
            ms(load),
            ms(reload),
            rss as f64 / 1024.0,
            us(index),
            us(scan),
        );
    }
    println!("load average: {}", load_average());
}

/// `count` policies in documents of `PER_DOCUMENT`: the last one, cluster-wide, covers `IMAGE`
/// (a static pass), the others are spread over 50 registries (`ghcr.io` among them) and several glob
/// shapes, none covering it (`load/policies.rs`, shared with `--bench load`).
fn documents(count: usize) -> Vec<(String, String)> {
    let mut texts = policies::other_teams(count - 1, NAMESPACE);
    let covering = format!(
        "---\napiVersion: signet.dev/v1alpha1\nkind: ClusterImagePolicy\nmetadata: {{name: p{}}}\n\
         spec: {{images: [{{glob: \"ghcr.io/acme/**\"}}], authorities: [{{static: {{action: pass}}}}]}}\n",
        count - 1
    );
    match texts.last_mut() {
        Some(last) if (count - 1) % policies::PER_DOCUMENT != 0 => last.push_str(&covering),
        _ => texts.push(covering),
    }
    texts
        .into_iter()
        .enumerate()
        .map(|(i, text)| (format!("objects-{i}"), text))
        .collect()
}

/// A small Pod in `NAMESPACE`, as an AdmissionReview body.
fn review_body() -> Vec<u8> {
    let review = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "app",
            "namespace": NAMESPACE,
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "namespace": NAMESPACE},
                "spec": {"containers": [{"name": "app", "image": IMAGE}]}
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"}
        }
    });
    serde_json::to_vec(&review).unwrap()
}

/// Warm reviews per second, the best of `ROUNDS`: every review is admitted (the one covering
/// policy passes statically, so no registry is asked).
async fn reviews_per_second(set: PolicySet) -> f64 {
    let engine = Engine::new(
        set,
        Registry::new(RegistryConfig::default(), Credentials::default()),
        EngineSettings::default(),
    );
    let body = review_body();
    let review = || async {
        let request = parse_review(&body).unwrap();
        let decision = decide(&engine, &request).await;
        let answer = serde_json::to_vec(&respond(&request, &decision, false)).unwrap();
        assert!(decision.deny_message().is_none(), "denied: {decision:?}");
        answer.len()
    };
    for _ in 0..200 {
        review().await;
    }
    let mut best: f64 = 0.0;
    for _ in 0..ROUNDS {
        let (started, mut done) = (Instant::now(), 0u64);
        while started.elapsed() < ROUND {
            for _ in 0..100 {
                std::hint::black_box(review().await);
            }
            done += 100;
        }
        best = best.max(done as f64 / started.elapsed().as_secs_f64());
    }
    best
}

/// The time to select the policies covering `IMAGE` in `NAMESPACE`: by the index, and by a
/// scan of every policy's globs (selection before the index).
fn matching_costs(set: &PolicySet) -> (Duration, Duration) {
    let image = ImageReference::parse(IMAGE).unwrap();
    let by_index = || set.matching_for(&image, Some(NAMESPACE), None).len();
    let by_scan = || {
        let policies = set.policies().iter();
        let applies = |p: &&signet::policy::ImagePolicy| {
            p.namespace.is_none() || p.namespace.as_deref() == Some(NAMESPACE)
        };
        let covers = |p: &&signet::policy::ImagePolicy| p.images.iter().any(|g| g.matches(&image));
        policies.filter(applies).filter(covers).count()
    };
    assert_eq!(by_index(), 1);
    assert_eq!(by_scan(), 1);
    (per_call(by_index), per_call(by_scan))
}

/// The mean time of one call of `f`, over at least 50 ms.
fn per_call(f: impl Fn() -> usize) -> Duration {
    let (started, mut calls) = (Instant::now(), 0u32);
    while started.elapsed() < Duration::from_millis(50) || calls < 3 {
        std::hint::black_box(f());
        calls += 1;
    }
    started.elapsed() / calls
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

fn us(d: Duration) -> String {
    format!("{:.2} us", d.as_secs_f64() * 1e6)
}
