//! Load benchmark: the real `signet serve` binary over HTTPS, driven by `wrk` (Debian package)
//! with keep-alive connections, against a real local registry. Prints one table row per case with
//! throughput, latency percentiles, server CPU time and peak RSS (from /proc).
//!
//! Run with `cargo bench --bench load` (needs `wrk` and `docker-registry` on PATH).
//! Cases: (a) warm reviews of a 3-container pod (every image cached after the first review).
//! More cases (cold with injected registry latency, herd, memory) belong here as they are built.

// Benchmark code: a failed setup step should stop with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::webhook::{container, key_policy, pod_review};
use common::{TestKey, TestRegistry, push_image, sign_image};

const CONNECTIONS: u32 = 64;
const SECONDS: u32 = 10;

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_server(dir: &std::path::Path, registry: &str) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["serve", "--policy"])
        .arg(dir.join("policy.yaml"))
        .args([
            "--insecure-registry",
            registry,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start signet serve");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "signet serve did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server { child, port }
}

/// (utime + stime) in seconds and VmHWM in KiB of `pid`.
fn cpu_and_peak_rss(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, hwm)
}

fn wrk(port: u16, review: &std::path::Path) -> String {
    let out = Command::new("wrk")
        .args([
            "-t",
            "1",
            "-c",
            &CONNECTIONS.to_string(),
            "-d",
            &format!("{SECONDS}s"),
        ])
        .args(["-s", concat!(env!("CARGO_MANIFEST_DIR"), "/bench/post.lua")])
        .arg(format!("https://127.0.0.1:{port}/validate"))
        .env("SIGNET_REVIEW", review)
        .output()
        .expect("run wrk (apt-get install wrk)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn field(result: &str, name: &str) -> f64 {
    result
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let mut containers = Vec::new();
    for name in ["web", "sidecar", "metrics"] {
        let digest = push_image(&registry, &format!("bench/{name}:v1"), name).await;
        sign_image(&registry, &format!("bench/{name}"), &digest, &key).await;
        containers.push(container(
            name,
            &format!("{}/bench/{name}:v1", registry.host()),
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("policy.yaml"),
        key_policy("bench", &format!("{}/**", registry.host()), &key.public_pem),
    )
    .unwrap();
    let review_path = dir.path().join("review.json");
    std::fs::write(
        &review_path,
        pod_review("bench", containers, vec![]).to_string(),
    )
    .unwrap();

    let server = start_server(dir.path(), &registry.host());
    let warmup = wrk_once(server.port, &review_path);
    assert!(warmup.contains("RESULT"), "wrk failed: {warmup}");
    let (cpu_before, _) = cpu_and_peak_rss(server.child.id());
    let result = wrk(server.port, &review_path);
    let (cpu_after, peak_kib) = cpu_and_peak_rss(server.child.id());
    let requests = field(&result, "requests");
    let seconds = field(&result, "duration_us") / 1e6;
    println!(
        "machine: {} cores; wrk -t1 -c{CONNECTIONS} -d{SECONDS}s on the same machine",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!("| case | reviews/s | p50 | p99 | p99.9 | errors | server CPU | server peak RSS |");
    println!("|---|---|---|---|---|---|---|---|");
    println!(
        "| (a) warm, 3-container pod | {:.0} | {:.2} ms | {:.2} ms | {:.2} ms | {} | {:.0}% of one core | {:.1} MiB |",
        requests / seconds,
        field(&result, "p50_us") / 1000.0,
        field(&result, "p99_us") / 1000.0,
        field(&result, "p999_us") / 1000.0,
        field(&result, "errors") + field(&result, "non2xx"),
        100.0 * (cpu_after - cpu_before) / seconds,
        peak_kib as f64 / 1024.0
    );
}

/// One short run to fill the caches and open connections.
fn wrk_once(port: u16, review: &std::path::Path) -> String {
    let out = Command::new("wrk")
        .args([
            "-t",
            "1",
            "-c",
            "4",
            "-d",
            "1s",
            "-s",
            concat!(env!("CARGO_MANIFEST_DIR"), "/bench/post.lua"),
        ])
        .arg(format!("https://127.0.0.1:{port}/validate"))
        .env("SIGNET_REVIEW", review)
        .output()
        .expect("run wrk (apt-get install wrk)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}
