//! The parts every case uses: the real `signet serve` process, its CPU and memory from /proc,
//! its metrics, `wrk` runs, and an HTTPS client for single reviews.

use super::common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `signet serve` child process, killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
    metrics_port: u16,
    /// From spawn until the HTTPS port accepted a connection (policies loaded).
    pub ready_after: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `signet` binary to run: `$SIGNET_BENCH_BIN` when set (a build of another commit, so two
/// builds can be measured back to back by the same harness), else the one cargo built.
pub fn binary() -> std::path::PathBuf {
    std::env::var_os("SIGNET_BENCH_BIN")
        .map_or_else(|| env!("CARGO_BIN_EXE_signet").into(), Into::into)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    /// Start `signet serve` with `policy`, reaching `insecure` registries over plain HTTP.
    pub fn start(policy: &Path, insecure: &[String]) -> Server {
        Self::start_with(policy, insecure, &[])
    }

    /// [`Server::start`] with more arguments.
    pub fn start_with(policy: &Path, insecure: &[String], args: &[String]) -> Server {
        let (port, metrics_port) = (free_port(), free_port());
        let spawned = Instant::now();
        let mut command = Command::new(binary());
        command.args(["serve", "--policy"]).arg(policy).args(args);
        for registry in insecure {
            command.args(["--insecure-registry", registry]);
        }
        let mut child = command
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-listen", &format!("127.0.0.1:{metrics_port}")])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start signet serve");
        // 100,000 policies take seconds to load before the port opens.
        let deadline = Instant::now() + Duration::from_secs(300);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "signet serve did not start");
            if let Ok(Some(status)) = child.try_wait() {
                panic!("signet serve exited before listening: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Server {
            child,
            port,
            metrics_port,
            ready_after: spawned.elapsed(),
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}/validate", self.port)
    }

    /// CPU seconds used so far, peak RSS and current RSS in KiB.
    pub fn usage(&self) -> Usage {
        let pid = self.child.id();
        let (ticks, _) = stat_of(pid).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kib = |key: &str| -> u64 {
            status
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Usage {
            cpu_seconds: ticks / 100.0,
            peak_kib: kib("VmHWM:"),
            rss_kib: kib("VmRSS:"),
        }
    }

    /// The value of the metric line starting with `series` (`name{labels}`), if present.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let text = reqwest::get(url).await.ok()?.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
    }
}

/// User plus system CPU ticks (1/100 s) and the parent of process `pid`, from
/// `/proc/<pid>/stat`; `None` when it has gone.
pub fn stat_of(pid: u32) -> Option<(f64, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's `)`: state, ppid, ... utime is the 12th field, stime the 13th.
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some((ticks, fields.get(1)?.parse().ok()?))
}

/// CPU and memory of the server process.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    pub cpu_seconds: f64,
    pub peak_kib: u64,
    pub rss_kib: u64,
}

/// What `wrk` reported (its RESULT line, see bench/post.lua).
#[derive(Clone, Copy, Debug, Default)]
pub struct Wrk {
    pub requests: f64,
    pub seconds: f64,
    pub errors: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
}

/// Run `wrk -t1 -c<connections> -d<seconds>s` with `script` (in bench/) against `server`.
pub fn wrk(
    server: &Server,
    script: &str,
    env: &[(&str, String)],
    connections: u32,
    seconds: u32,
) -> Wrk {
    wrk_at(&server.url(), script, env, connections, seconds)
}

/// [`wrk`] against `url`.
pub fn wrk_at(
    url: &str,
    script: &str,
    env: &[(&str, String)],
    connections: u32,
    seconds: u32,
) -> Wrk {
    let script = format!("{}/bench/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("wrk")
        .args(["-t", "1", "-c", &connections.to_string()])
        .args(["-d", &format!("{seconds}s"), "-s", &script])
        .arg(url)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("run wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("RESULT"), "wrk failed: {text}");
    let field = |name: &str| -> f64 {
        text.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    Wrk {
        requests: field("requests"),
        seconds: field("duration_us") / 1e6,
        errors: field("errors") + field("non2xx"),
        p50_ms: field("p50_us") / 1000.0,
        p99_ms: field("p99_us") / 1000.0,
        p999_ms: field("p999_us") / 1000.0,
    }
}

/// An HTTPS client for the server's self-signed certificate, with a connection pool.
pub fn client() -> reqwest::Client {
    common::install_crypto_provider();
    reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .build()
        .unwrap()
}

/// POST one review; its latency, and whether it was admitted.
pub async fn review(
    client: &reqwest::Client,
    server: &Server,
    body: &serde_json::Value,
) -> (Duration, bool) {
    let started = Instant::now();
    let answer: serde_json::Value = client
        .post(server.url())
        .json(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (started.elapsed(), common::webhook::allowed(&answer))
}
