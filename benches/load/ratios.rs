//! Case (f): each warm review as a ratio to its floor, measured side by side in the same run:
//! `signet serve` and then nginx (`floor.rs`) answering Signet's own answer bytes for the same
//! body, with the same certificate, driven by the same `wrk` (64 connections, 1 thread).
//!
//! * the small 3-container Pod (names and images only);
//! * the same Pod as kube-apiserver sends it for a Deployment's ReplicaSet (managedFields, env,
//!   probes, volumes, resources, status: `tests/fixtures/admission/replicaset-pod-review.json`);
//! * a 50-container Pod of 50 signed images, with the server's CPU per image beside the small
//!   Pod's;
//! * the small Pod with 1 / 1,000 / 10,000 / 100,000 policies (the one covering it and other
//!   teams' policies, cluster-wide and namespaced, over 50 registries: `policies.rs`), with the
//!   time until the server listened (policies loaded) and its RSS.
//!
//! `SIGNET_BENCH_POLICY_COUNTS=1,1000` measures only some policy counts.

use std::path::{Path, PathBuf};

use crate::common::webhook::key_policy;
use crate::common::{TestKey, TestRegistry, push_image, sign_image};
use serde_json::{Value, json};

use super::floor::{Certificate, Floor};
use super::server::{Server, Usage, Wrk, client, wrk, wrk_at};
use super::{CONNECTIONS, SECONDS, common, mib, policies};

const NAMESPACE: &str = "team";
const REALISTIC: &str = include_str!("../../tests/fixtures/admission/replicaset-pod-review.json");

/// One case: Signet and its floor.
pub struct RatioRow {
    case: String,
    body_bytes: usize,
    signet: Wrk,
    floor: Wrk,
    /// Server CPU seconds per review.
    cpu_per_review: f64,
    /// nginx's CPU seconds (master and workers) per answer.
    floor_cpu_per_answer: f64,
    rss_mib: f64,
    note: String,
}

impl RatioRow {
    pub fn header() {
        println!(
            "| case | body | throughput / floor | p99 / floor | CPU per review / floor's per answer | Signet reviews/s | floor answers/s | Signet p50 / p99 | floor p50 / p99 | errors | server CPU per review | floor CPU per answer | server RSS | notes |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    }

    pub fn print(&self) {
        let (s, f) = (&self.signet, &self.floor);
        let (rate, floor_rate) = (s.requests / s.seconds, f.requests / f.seconds);
        println!(
            "| {} | {} B | {:.2}x | {:.2}x | {:.2}x | {rate:.0} | {floor_rate:.0} | {:.2} / {:.2} ms | {:.2} / {:.2} ms | {} / {} | {:.1} µs | {:.1} µs | {:.1} MiB | {} |",
            self.case,
            self.body_bytes,
            rate / floor_rate,
            s.p99_ms / f.p99_ms,
            self.cpu_per_review / self.floor_cpu_per_answer.max(f64::MIN_POSITIVE),
            s.p50_ms,
            s.p99_ms,
            f.p50_ms,
            f.p99_ms,
            s.errors,
            f.errors,
            self.cpu_per_review * 1e6,
            self.floor_cpu_per_answer * 1e6,
            self.rss_mib,
            self.note
        );
    }
}

/// Every case of (f), in order.
pub async fn floor_cases(registry: &TestRegistry, key: &TestKey, dir: &Path) -> Vec<RatioRow> {
    let certificate = Certificate::generate(dir);
    let host = registry.host();
    let three = signed_images(registry, key, &["web", "sidecar", "metrics"]).await;
    let fifty_names: Vec<String> = (0..50).map(|i| format!("c{i}")).collect();
    let fifty_refs: Vec<&str> = fifty_names.iter().map(String::as_str).collect();
    let fifty = signed_images(registry, key, &fifty_refs).await;
    let policy = dir.join("floor-policy.yaml");
    std::fs::write(
        &policy,
        key_policy("bench", &format!("{host}/**"), &key.public_pem),
    )
    .unwrap();
    let small = small_review(&three);
    let realistic = REALISTIC
        .replace("@IMAGE_WEB@", &three[0])
        .replace("@IMAGE_SIDECAR@", &three[1])
        .replace("@IMAGE_METRICS@", &three[2]);
    hold_for_profiling(
        &policy,
        &host,
        &certificate,
        &[&small, &realistic, &small_review(&fifty)],
    );
    let mut rows = Vec::new();
    let server = Server::start_with(
        &policy,
        std::slice::from_ref(&host),
        &certificate.serve_args(),
    );
    let small_row = side_by_side(
        &server,
        &certificate,
        dir,
        "3-container Pod",
        small.as_bytes(),
    )
    .await;
    let mut realistic_row = side_by_side(
        &server,
        &certificate,
        dir,
        "the same Pod as kube-apiserver sends it (ReplicaSet)",
        realistic.as_bytes(),
    )
    .await;
    realistic_row.note = "managedFields, env, probes, volumes, resources, status".into();
    let mut fifty_row = side_by_side(
        &server,
        &certificate,
        dir,
        "50-container Pod, 50 images",
        small_review(&fifty).as_bytes(),
    )
    .await;
    fifty_row.note = format!(
        "CPU per image {:.1} µs (3-container Pod: {:.1} µs per image)",
        fifty_row.cpu_per_review * 1e6 / 50.0,
        small_row.cpu_per_review * 1e6 / 3.0
    );
    rows.extend([small_row, realistic_row, fifty_row]);
    drop(server);
    for count in policy_counts() {
        rows.push(with_policies(count, &policy, &host, &certificate, dir, &small).await);
    }
    rows
}

/// Push and sign `bench/ratio-<name>:v1` for each name; the image references.
async fn signed_images(registry: &TestRegistry, key: &TestKey, names: &[&str]) -> Vec<String> {
    let mut images = Vec::new();
    for name in names {
        let repo = format!("bench/ratio-{name}");
        let digest = push_image(registry, &format!("{repo}:v1"), &format!("ratio-{name}")).await;
        sign_image(registry, &repo, &digest, key).await;
        images.push(format!("{}/{repo}:v1", registry.host()));
    }
    images
}

/// A Pod in `NAMESPACE` naming `images` (containers with a name and an image only), as a
/// compact AdmissionReview.
fn small_review(images: &[String]) -> String {
    let containers: Vec<Value> = images
        .iter()
        .enumerate()
        .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
        .collect();
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "name": "app",
            "namespace": NAMESPACE,
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "app", "namespace": NAMESPACE},
                "spec": {"containers": containers}
            },
            "oldObject": null,
            "dryRun": false
        }
    })
    .to_string()
}

fn policy_counts() -> Vec<usize> {
    std::env::var("SIGNET_BENCH_POLICY_COUNTS")
        .unwrap_or_else(|_| "1,1000,10000,100000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .filter(|&c| c >= 1)
        .collect()
}

/// The small Pod with `count` policies: `covering` and `count - 1` other teams'.
async fn with_policies(
    count: usize,
    covering: &Path,
    host: &str,
    certificate: &Certificate,
    dir: &Path,
    small: &str,
) -> RatioRow {
    let mut files: Vec<PathBuf> = vec![covering.to_path_buf()];
    for (i, text) in policies::other_teams(count - 1, NAMESPACE)
        .into_iter()
        .enumerate()
    {
        let path = dir.join(format!("teams-{count}-{i}.yaml"));
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let list: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    let server = Server::start_with(
        Path::new(&list.join(",")),
        &[host.to_string()],
        &certificate.serve_args(),
    );
    let ready = server.ready_after;
    let case = format!("3-container Pod, {count} policies");
    let mut row = side_by_side(&server, certificate, dir, &case, small.as_bytes()).await;
    row.note = format!(
        "listening {:.2} s after start (policies loaded)",
        ready.as_secs_f64()
    );
    for path in &files[1..] {
        let _ = std::fs::remove_file(path);
    }
    row
}

/// Warm `server` on `body`, measure it, then nginx answering the same bytes.
async fn side_by_side(
    server: &Server,
    certificate: &Certificate,
    dir: &Path,
    case: &str,
    body: &[u8],
) -> RatioRow {
    let answer = capture(server, body).await;
    let body_path = dir.join("floor-review.json");
    std::fs::write(&body_path, body).unwrap();
    let env = [("SIGNET_REVIEW", body_path.display().to_string())];
    wrk(server, "post.lua", &env, CONNECTIONS, 2);
    let before: Usage = server.usage();
    let signet = wrk(server, "post.lua", &env, CONNECTIONS, SECONDS);
    let after = server.usage();
    let floor = Floor::start(dir, certificate, &answer);
    wrk_at(&floor.url(), "post.lua", &env, CONNECTIONS, 2);
    let floor_before = floor.cpu_seconds();
    let floor_run = wrk_at(&floor.url(), "post.lua", &env, CONNECTIONS, SECONDS);
    let floor_cpu = floor.cpu_seconds() - floor_before;
    RatioRow {
        case: case.to_string(),
        body_bytes: body.len(),
        signet,
        floor: floor_run,
        cpu_per_review: (after.cpu_seconds - before.cpu_seconds) / signet.requests.max(1.0),
        floor_cpu_per_answer: floor_cpu / floor_run.requests.max(1.0),
        rss_mib: mib(after.rss_kib),
        note: String::new(),
    }
}

/// Signet's answer to `body`, which must admit.
async fn capture(server: &Server, body: &[u8]) -> Vec<u8> {
    let answer = client()
        .post(server.url())
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let parsed: Value = serde_json::from_slice(&answer).unwrap();
    assert!(
        common::webhook::allowed(&parsed),
        "the benchmark review must be admitted: {parsed}"
    );
    answer
}

/// `SIGNET_BENCH_HOLD=<seconds>`: write the bodies and `signet serve`'s arguments to
/// `$SIGNET_BENCH_HOLD_DIR` and keep the registry up that long, so another build can be
/// profiled against the same images by hand.
fn hold_for_profiling(policy: &Path, host: &str, certificate: &Certificate, bodies: &[&str]) {
    let Some(seconds) = std::env::var("SIGNET_BENCH_HOLD")
        .ok()
        .and_then(|s| s.parse().ok())
    else {
        return;
    };
    let dir = PathBuf::from(std::env::var("SIGNET_BENCH_HOLD_DIR").unwrap_or("/tmp/hold".into()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, body) in bodies.iter().enumerate() {
        std::fs::write(dir.join(format!("body{i}.json")), body).unwrap();
    }
    let mut args = vec![
        "serve".to_string(),
        "--policy".into(),
        policy.display().to_string(),
    ];
    args.extend(["--insecure-registry".to_string(), host.to_string()]);
    args.extend(certificate.serve_args());
    std::fs::write(dir.join("args"), args.join("\n")).unwrap();
    eprintln!("holding {seconds} s: {}", dir.display());
    std::thread::sleep(std::time::Duration::from_secs(seconds));
}
