//! Load benchmark: the real `signet serve` binary over HTTPS against real registries, printing
//! one table: throughput, latency percentiles, server CPU and peak RSS per case.
//!
//! * (a) warm: a 3-container pod whose images are all cached, `wrk` with 64 keep-alive
//!   connections;
//! * (b) cold: pods of 5 never-seen images through a TCP proxy adding 20 ms RTT, against the
//!   floor of a 1-image pod under the same conditions;
//! * (c) herd: 500 concurrent reviews of one never-seen image through that proxy, with the
//!   registry requests the proxy saw;
//! * (d) memory: 100k distinct signed digests reviewed (a registry that signs on demand), then
//!   peak RSS with all of them cached;
//! * (e) hostile: 3,000 connections that declare 7 MB, send 200 KB and stall, while a paced
//!   keep-alive client reviews; its latency and errors, the server's peak RSS and RSS after.
//!
//! * (f) floor: warm reviews (small Pod, the realistic 7.4 KB body, a 50-container Pod, 1 to
//!   100,000 policies) each beside nginx answering the same bytes over the same TLS, as ratios
//!   (`ratios.rs`, `floor.rs`).
//!
//! Run with `cargo bench --bench load` (needs `wrk`, `nginx` and `docker-registry` on PATH).
//! `SIGNET_BENCH_BIN=<path>` runs another build of `signet` (so two commits can be compared
//! back to back by the same harness).
//! `SIGNET_BENCH_SOAK=600` then keeps case (d)'s workload (new digests only) running for 600 s
//! and prints RSS every minute. `SIGNET_BENCH_CASES=ad` runs only some cases.
//! `SIGNET_BENCH_HOLD=3600` makes case (f), once its images are signed, write its three bodies
//! and `signet serve`'s arguments to `$SIGNET_BENCH_HOLD_DIR` (default `/tmp/hold`) and keep its
//! registry up that long, for profiling a build by hand against the same images.

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../../tests/common/mod.rs"]
mod common;
mod floor;
mod hostile;
mod policies;
mod ratios;
mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use common::generated::GeneratedRegistry;
use common::webhook::{container, key_policy, pod_review};
use common::{TcpProxy, TestKey, TestRegistry, push_image, sign_image};
use futures::future::join_all;
use server::{Server, Usage, Wrk, client, review, wrk};

const CONNECTIONS: u32 = 64;
/// Case (a) paced: 64 connections each waiting 0-10 ms (5 ms on average, bench/post.lua) offer
/// about 10,000-12,000 reviews/s.
const PACE_MS: u32 = 5;
const SECONDS: u32 = 10;
/// Added by the proxy in each direction: 20 ms round trips.
const ONE_WAY: Duration = Duration::from_millis(10);
const COLD_ROUNDS: usize = 8;
const HERD: usize = 500;
const DISTINCT: u64 = 100_000;

/// One line of the table.
struct Row {
    case: &'static str,
    rate: f64,
    p50: f64,
    p99: f64,
    p999: f64,
    errors: f64,
    cpu: f64,
    peak_mib: f64,
    note: String,
}

impl Row {
    fn print(&self) {
        println!(
            "| {} | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {:.0}% | {:.1} MiB | {} |",
            self.case,
            self.rate,
            self.p50,
            self.p99,
            self.p999,
            self.errors,
            self.cpu,
            self.peak_mib,
            self.note
        );
    }
}

/// Percent of one core used between two readings over `seconds`.
fn cpu(before: Usage, after: Usage, seconds: f64) -> f64 {
    100.0 * (after.cpu_seconds - before.cpu_seconds) / seconds
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Milliseconds at percentile `p` of sorted `durations`.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p) as usize).min(sorted.len() - 1);
    sorted[i].as_secs_f64() * 1000.0
}

fn write_policy(dir: &Path, name: &str, yaml: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

fn wanted(case: char) -> bool {
    std::env::var("SIGNET_BENCH_CASES").map_or(true, |cases| cases.contains(case))
}

#[tokio::main]
async fn main() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let dir = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let ratio_rows = match wanted('f') {
        true => ratios::floor_cases(&registry, &key, dir.path()).await,
        false => Vec::new(),
    };
    if wanted('a') {
        rows.extend(warm(&registry, &key, dir.path()).await);
    }
    if wanted('b') || wanted('c') {
        rows.extend(cold_and_herd(&registry, &key, dir.path()).await);
    }
    if wanted('d') {
        rows.push(memory(dir.path()).await);
    }
    if wanted('e') {
        rows.push(hostile::hostile(dir.path()).await);
    }
    println!(
        "machine: {} cores ({}); load generator on the same machine",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model()
    );
    println!("load average: {}", load_average());
    if !ratio_rows.is_empty() {
        ratios::RatioRow::header();
        for row in &ratio_rows {
            row.print();
        }
    }
    if rows.is_empty() {
        return;
    }
    println!(
        "| case | reviews/s | p50 | p99 | p99.9 | errors | server CPU (of one core) | server peak RSS | notes |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        row.print();
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split(':').nth(1))
        .map_or_else(|| "unknown CPU".to_string(), |m| m.trim().to_string())
}

/// (a) A 3-container pod, every image cached after the first review.
/// Case (a) twice: as fast as the server answers (closed loop: 64 connections always waiting, so
/// latency = 64 / throughput), then paced to about 10,000 reviews/s to show latency below
/// saturation.
async fn warm(registry: &TestRegistry, key: &TestKey, dir: &Path) -> [Row; 2] {
    let mut containers = Vec::new();
    for name in ["web", "sidecar", "metrics"] {
        let digest = push_image(registry, &format!("bench/{name}:v1"), name).await;
        sign_image(registry, &format!("bench/{name}"), &digest, key).await;
        let image = format!("{}/bench/{name}:v1", registry.host());
        containers.push(container(name, &image));
    }
    let glob = format!("{}/**", registry.host());
    let policy = write_policy(
        dir,
        "warm.yaml",
        &key_policy("bench", &glob, &key.public_pem),
    );
    let review_path = dir.join("warm.json");
    let review = pod_review("bench", containers, vec![]);
    std::fs::write(&review_path, review.to_string()).unwrap();
    let server = Server::start(&policy, &[registry.host()]);
    let env = [("SIGNET_REVIEW", review_path.display().to_string())];
    wrk(&server, "post.lua", &env, 4, 1);
    let saturated = measure(
        &server,
        &env,
        "(a) warm, 3-container pod, 64 connections",
        "closed loop: as many reviews as the server answers".into(),
    );
    let mut paced_env = env.to_vec();
    paced_env.push(("SIGNET_PACE_MS", PACE_MS.to_string()));
    let paced = measure(
        &server,
        &paced_env,
        "(a) warm, 3-container pod, 64 connections, paced",
        format!(
            "each connection waits 0-{} ms (mean {PACE_MS}) between answer and next request",
            2 * PACE_MS
        ),
    );
    [saturated, paced]
}

/// `post.lua` from 64 connections for the standard time, with the server's CPU over that time.
fn measure(server: &Server, env: &[(&str, String)], case: &'static str, note: String) -> Row {
    let before = server.usage();
    let run = wrk(server, "post.lua", env, CONNECTIONS, SECONDS);
    let after = server.usage();
    row(case, &run, before, after, note)
}

fn row(case: &'static str, run: &Wrk, before: Usage, after: Usage, note: String) -> Row {
    Row {
        case,
        rate: run.requests / run.seconds,
        p50: run.p50_ms,
        p99: run.p99_ms,
        p999: run.p999_ms,
        errors: run.errors,
        cpu: cpu(before, after, run.seconds),
        peak_mib: mib(after.peak_kib),
        note,
    }
}

/// Push and sign `count` new images named `bench/<prefix><i>:v1`; their pod containers, named
/// through `host` (the proxy).
async fn fresh_images(
    registry: &TestRegistry,
    key: &TestKey,
    host: &str,
    prefix: &str,
    count: usize,
) -> Vec<serde_json::Value> {
    let mut containers = Vec::new();
    for i in 0..count {
        let repo = format!("bench/{prefix}{i}");
        let digest = push_image(registry, &format!("{repo}:v1"), &format!("{prefix}{i}")).await;
        sign_image(registry, &repo, &digest, key).await;
        containers.push(container(&format!("c{i}"), &format!("{host}/{repo}:v1")));
    }
    containers
}

/// (b) and (c): cold reviews through a proxy adding 20 ms round trips.
async fn cold_and_herd(registry: &TestRegistry, key: &TestKey, dir: &Path) -> Vec<Row> {
    let proxy = TcpProxy::start(registry.addr(), ONE_WAY);
    // Signed at the registry's own address, reviewed through the proxy.
    let glob = format!("{}/**", proxy.host());
    let yaml = key_policy("bench", &glob, &key.public_pem)
        + "    signedIdentity:\n      type: anyRepository\n";
    let policy = write_policy(dir, "cold.yaml", &yaml);
    let server = Server::start(&policy, &[proxy.host()]);
    let client = client();
    let mut rows = Vec::new();
    let mut single_requests = 0;
    if wanted('b') {
        let (row, requests) = cold(registry, key, &proxy, &server, &client).await;
        rows.push(row);
        single_requests = requests;
    }
    if wanted('c') {
        rows.push(herd(registry, key, &proxy, &server, &client, single_requests).await);
    }
    rows
}

async fn cold(
    registry: &TestRegistry,
    key: &TestKey,
    proxy: &TcpProxy,
    server: &Server,
    client: &reqwest::Client,
) -> (Row, usize) {
    let host = proxy.host();
    // One warm-up review opens the connection to Signet and to the registry.
    let warmup = fresh_images(registry, key, &host, "warmup", 1).await;
    review(client, server, &pod_review("w", warmup, vec![])).await;
    let (mut one, mut five) = (Vec::new(), Vec::new());
    let mut single_requests = 0;
    let before = server.usage();
    let started = Instant::now();
    for round in 0..COLD_ROUNDS {
        let single = fresh_images(registry, key, &host, &format!("one{round}-"), 1).await;
        let pod = fresh_images(registry, key, &host, &format!("five{round}-"), 5).await;
        let seen = proxy.request_lines().len();
        let (took, admitted) = review(client, server, &pod_review("one", single, vec![])).await;
        assert!(admitted);
        single_requests = proxy.request_lines().len() - seen;
        one.push(took);
        let (took, admitted) = review(client, server, &pod_review("five", pod, vec![])).await;
        assert!(admitted);
        five.push(took);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = server.usage();
    one.sort();
    five.sort();
    let floor = percentile(&one, 0.5);
    let note = format!(
        "{COLD_ROUNDS} sequential reviews; 1-image floor p50 {floor:.1} ms ({single_requests} registry requests); 5 images / floor = {:.2}x",
        percentile(&five, 0.5) / floor
    );
    let row = Row {
        case: "(b) cold, 5-image pod, 20 ms registry RTT",
        rate: COLD_ROUNDS as f64 / five.iter().map(Duration::as_secs_f64).sum::<f64>(),
        p50: percentile(&five, 0.5),
        p99: percentile(&five, 0.99),
        p999: percentile(&five, 0.999),
        errors: 0.0,
        cpu: cpu(before, after, elapsed),
        peak_mib: mib(after.peak_kib),
        note,
    };
    (row, single_requests)
}

/// (c) 500 reviews of one never-seen image at once.
async fn herd(
    registry: &TestRegistry,
    key: &TestKey,
    proxy: &TcpProxy,
    server: &Server,
    client: &reqwest::Client,
    single_requests: usize,
) -> Row {
    let containers = fresh_images(registry, key, &proxy.host(), "herd", 1).await;
    let body = pod_review("herd", containers, vec![]);
    let seen = proxy.request_lines().len();
    let before = server.usage();
    let started = Instant::now();
    let reviews = (0..HERD).map(|_| review(client, server, &body));
    let results = join_all(reviews).await;
    let elapsed = started.elapsed().as_secs_f64();
    let after = server.usage();
    let lines = proxy.request_lines().split_off(seen);
    let admitted = results.iter().filter(|(_, ok)| *ok).count();
    let mut latencies: Vec<Duration> = results.into_iter().map(|(d, _)| d).collect();
    latencies.sort();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    let note = format!(
        "{} registry requests for {HERD} reviews (one cold review alone: {single_requests}): {} tag HEAD/GET, {} .sig manifest, {} blob; {admitted} admitted",
        lines.len(),
        count("/manifests/v1"),
        count(".sig"),
        count("/blobs/"),
    );
    Row {
        case: "(c) herd, 500 concurrent reviews of one new image",
        rate: HERD as f64 / elapsed,
        p50: percentile(&latencies, 0.5),
        p99: percentile(&latencies, 0.99),
        p999: percentile(&latencies, 0.999),
        errors: (HERD - admitted) as f64,
        cpu: cpu(before, after, elapsed),
        peak_mib: mib(after.peak_kib),
        note,
    }
}

/// (d) 100k distinct signed digests, all cached; then the optional soak.
async fn memory(dir: &Path) -> Row {
    let generated = GeneratedRegistry::start(TestKey::generate()).await;
    let host = generated.host();
    let public_pem = generated.public_pem();
    let yaml = key_policy("bench", &format!("{host}/**"), &public_pem);
    let policy = write_policy(dir, "memory.yaml", &yaml);
    let image = format!("{host}/bench/mem@sha256:@DIGEST@");
    let review_path = dir.join("memory.json");
    let review = pod_review("mem", vec![container("app", &image)], vec![]);
    std::fs::write(&review_path, review.to_string()).unwrap();
    let server = Server::start(&policy, &[host]);
    let start = server.usage();
    let (mut done, mut last, mut errors) = (0u64, Wrk::default(), 0.0);
    let before = server.usage();
    let started = Instant::now();
    while done < DISTINCT {
        let env = distinct_env(&review_path, done, DISTINCT);
        last = wrk(&server, "distinct.lua", &env, CONNECTIONS, 10);
        done += last.requests as u64;
        errors += last.errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let after = server.usage();
    let entries = server
        .metric("signet_cache_entries{cache=\"verdict\"}")
        .await
        .unwrap_or(f64::NAN);
    let note = format!(
        "{done} reviews of distinct digests; {entries} verdicts cached; RSS {:.1} MiB at start, {:.1} MiB at end",
        mib(start.rss_kib),
        mib(after.rss_kib)
    );
    soak(&server, &review_path, done).await;
    Row {
        case: "(d) memory, 100k distinct cached digests",
        rate: done as f64 / elapsed,
        p50: last.p50_ms,
        p99: last.p99_ms,
        p999: last.p999_ms,
        errors,
        cpu: cpu(before, after, elapsed),
        peak_mib: mib(after.peak_kib),
        note,
    }
}

fn distinct_env(review: &Path, offset: u64, distinct: u64) -> [(&'static str, String); 3] {
    [
        ("SIGNET_REVIEW", review.display().to_string()),
        ("SIGNET_OFFSET", offset.to_string()),
        ("SIGNET_DISTINCT", distinct.to_string()),
    ]
}

/// `SIGNET_BENCH_SOAK=<seconds>`: keep reviewing new digests, print RSS every minute.
async fn soak(server: &Server, review: &Path, mut offset: u64) {
    let Some(seconds) = std::env::var("SIGNET_BENCH_SOAK")
        .ok()
        .and_then(|s| s.parse::<u32>().ok())
    else {
        return;
    };
    let start = server.usage();
    println!(
        "soak: {seconds} s of new digests; RSS at start {:.1} MiB",
        mib(start.rss_kib)
    );
    let mut left = seconds;
    while left > 0 {
        let slice = left.min(60);
        let env = distinct_env(review, offset, u64::MAX / 2);
        let run = wrk(server, "distinct.lua", &env, CONNECTIONS, slice);
        offset += run.requests as u64;
        left -= slice;
        let usage = server.usage();
        println!(
            "soak: {:>4} s  {:.0} reviews/s  p99 {:.2} ms  errors {}  RSS {:.1} MiB  peak {:.1} MiB",
            seconds - left,
            run.requests / run.seconds,
            run.p99_ms,
            run.errors,
            mib(usage.rss_kib),
            mib(usage.peak_kib)
        );
    }
}
