//! The real `signet serve` binary under a steady 200 reviews/s: a policy reload and a SIGTERM
//! each fail no request. On SIGTERM, /readyz fails first while reviews are still answered (the
//! load stops sending once it sees that, as the endpoint controller would), a review in flight
//! when the listener closes is finished, and the process exits cleanly. (Certificate rotation
//! under the same load is `tls_rotation.rs`.)

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::load::Load;
use crate::common::tls::https_client;
use crate::common::webhook::{allowed, container, key_policy, message, pod_review};
use crate::common::{TcpProxy, TestKey, TestRegistry, push_image};
use serde_json::Value;

const RATE: u32 = 200;

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn static_policy(action: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: static\nspec:\n  images:\n  - glob: \"ghcr.io/**\"\n  authorities:\n  - static:\n      action: {action}\n"
    )
}

/// A `signet serve` child process with its own certificate.
struct Server {
    child: Child,
    port: u16,
    cert_pem: Vec<u8>,
}

impl Server {
    /// Serve `policy_dir` (re-read every second), with plain HTTP to `insecure`.
    fn start(dir: &Path, insecure: &str) -> Server {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
        std::fs::write(dir.join("tls.crt"), made.cert.pem()).unwrap();
        std::fs::write(dir.join("tls.key"), made.signing_key.serialize_pem()).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .arg("serve")
            .arg("--policy")
            .arg(dir.join("policies"))
            .arg("--tls-cert")
            .arg(dir.join("tls.crt"))
            .arg("--tls-key")
            .arg(dir.join("tls.key"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--metrics-listen", &format!("127.0.0.1:{}", free_port())])
            .args(["--insecure-registry", insecure])
            .args(["--reload-interval", "1", "--shutdown-delay", "2"])
            .args(["--shutdown-grace", "10"])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start signet serve");
        Server {
            child,
            port,
            cert_pem: made.cert.pem().into_bytes(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn client(&self) -> reqwest::Client {
        https_client(&self.cert_pem)
    }

    async fn ready(&self) -> bool {
        let probe = self.client().get(self.url("/readyz")).send().await;
        probe.is_ok_and(|r| r.status() == 200)
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.ready().await {
            assert!(Instant::now() < deadline, "signet serve never became ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn review(&self, review: &Value) -> Value {
        let answer = self.client().post(self.url("/validate")).json(review);
        answer.send().await.unwrap().json().await.unwrap()
    }

    fn load(&self, review: &Value) -> Load {
        Load::start(|| self.client(), &self.url("/validate"), review, RATE, 4)
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn policies_dir(dir: &Path, files: &[(&str, String)]) {
    let policies = dir.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for (name, text) in files {
        std::fs::write(policies.join(name), text).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_policy_reload_under_load_fails_no_request() {
    let dir = tempfile::tempdir().unwrap();
    policies_dir(dir.path(), &[("static.yaml", static_policy("pass"))]);
    let server = Server::start(dir.path(), "127.0.0.1:9");
    server.wait_ready().await;
    let review = pod_review("load", vec![container("a", "ghcr.io/org/app:1")], vec![]);
    let load = server.load(&review);
    load.answered_more(50).await;
    assert!(allowed(&server.review(&review).await));

    policies_dir(dir.path(), &[("static.yaml", static_policy("fail"))]);
    // Waits for the reload's effect; the deadline is generous enough for a loaded machine.
    let deadline = Instant::now() + Duration::from_secs(60);
    while allowed(&server.review(&review).await) {
        assert!(
            Instant::now() < deadline,
            "the new policy was never applied"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    load.answered_more(50).await;
    let (ok, failed) = load.finish().await;
    println!("reviews during the reload: {ok} answered, {failed} failed");
    assert_eq!(failed, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_under_load_fails_readiness_first_finishes_in_flight_reviews_and_fails_none() {
    // A slow registry (each chunk delayed 700 ms, so every round trip takes at least 1.4 s and a
    // review of an unsigned image at least two of them) makes one review sent as soon as
    // readiness failed still be in flight when the listener closes, 2 s after SIGTERM.
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    push_image(&registry, "demo/app:v1", "slow").await;
    let proxy = TcpProxy::start(registry.addr(), Duration::from_millis(700));
    let dir = tempfile::tempdir().unwrap();
    let slow_policy = key_policy("slow", &format!("{}/**", proxy.host()), &key.public_pem);
    policies_dir(
        dir.path(),
        &[
            ("static.yaml", static_policy("pass")),
            ("slow.yaml", slow_policy),
        ],
    );
    let mut server = Server::start(dir.path(), &proxy.host());
    server.wait_ready().await;
    let review = pod_review("load", vec![container("a", "ghcr.io/org/app:1")], vec![]);
    let load = server.load(&review);
    load.answered_more(100).await;

    server.sigterm();
    let signalled = Instant::now();
    // The endpoint controller: readiness fails, then no new review is sent.
    while server.ready().await {
        assert!(
            signalled.elapsed() < Duration::from_secs(2),
            "readiness never failed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let not_ready_after = signalled.elapsed();
    load.remove_endpoint();
    let still_answered = server.review(&review).await;
    assert!(
        allowed(&still_answered),
        "not ready, but still answering: {still_answered}"
    );
    // Sent before the listener closes (2 s after SIGTERM), answered after it did.
    let slow = pod_review(
        "in-flight",
        vec![container("a", &format!("{}/demo/app:v1", proxy.host()))],
        vec![],
    );
    let started = Instant::now();
    let in_flight = server.review(&slow).await;
    let slow_took = started.elapsed();
    assert_eq!(in_flight["response"]["uid"], "in-flight");
    assert!(
        message(&in_flight).contains("no signature exists"),
        "{in_flight}"
    );
    assert!(
        signalled.elapsed() > Duration::from_secs(2),
        "the in-flight review outlived the listener (took {slow_took:?})"
    );

    let (ok, failed) = load.finish().await;
    let status = tokio::task::block_in_place(|| server.child.wait()).unwrap();
    println!(
        "SIGTERM under load: not ready after {not_ready_after:?}, in-flight review took \
         {slow_took:?}, {ok} answered, {failed} failed, exit {status}"
    );
    assert!(status.success(), "clean exit: {status}");
    assert_eq!(failed, 0);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", server.port)).is_err(),
        "the listener is closed"
    );
}
