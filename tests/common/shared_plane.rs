//! One real control plane (tests/common/control_plane.rs) per test binary, started on first use
//! and shared by that binary's tests: starting etcd and kube-apiserver costs seconds, and tests
//! that each work in namespaces of their own do not see one another. Tests whose subject is the
//! whole cluster (an audit of every namespace, cluster-scoped policies) start their own instead.
//!
//! A static is never dropped, so a small `sh` watches a pipe only this process holds: when the
//! test binary exits, however it exits, the pipe closes and the shell stops both servers and
//! removes their directory.

use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::control_plane::{AuditedRequest, ControlPlane};
use super::tls::install_crypto_provider;

struct Shared {
    plane: ControlPlane,
    /// Its input is held open for the life of the process; the end of it is the shell's signal.
    _reaper: Child,
}

/// The binary's control plane, started by the first caller (blocking: call it from a test
/// thread or a multi-thread runtime).
pub fn shared() -> &'static ControlPlane {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    &SHARED
        .get_or_init(|| {
            let plane = ControlPlane::start();
            let _reaper = reaper(&plane);
            Shared { plane, _reaper }
        })
        .plane
}

/// `sh` that waits for end of input, then stops the servers and removes their directory.
fn reaper(plane: &ControlPlane) -> Child {
    let ([apiserver, etcd], dir) = plane.processes();
    Command::new("sh")
        .arg("-c")
        .arg("read _ignored; kill \"$1\" \"$2\"; sleep 2; kill -9 \"$1\" \"$2\" 2>/dev/null; rm -rf \"$3\"")
        .arg("signet-control-plane-reaper")
        .arg(apiserver.to_string())
        .arg(etcd.to_string())
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the control plane's reaper")
}

/// A kube client acting as the cluster administrator of `plane`.
pub async fn client(plane: &ControlPlane) -> kube::Client {
    install_crypto_provider();
    let kubeconfig =
        kube::config::Kubeconfig::read_from(plane.admin_kubeconfig()).expect("admin kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("kube config from the admin kubeconfig");
    kube::Client::try_from(config).expect("kube client")
}

/// `kubectl apply` of `objects`, which must succeed.
pub fn apply(plane: &ControlPlane, objects: &[Value]) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let output = plane.kubectl_stdin(&["apply"], &list.to_string());
    assert!(
        output.status.success(),
        "kubectl apply: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The stored object (`kubectl get <resource> <name> -o json`), or None when absent.
pub fn get(
    plane: &ControlPlane,
    resource: &str,
    namespace: Option<&str>,
    name: &str,
) -> Option<Value> {
    let mut args = vec!["get", resource, name, "-o", "json", "--ignore-not-found"];
    if let Some(ns) = namespace {
        args.extend(["-n", ns]);
    }
    let text = plane.kubectl_ok(&args);
    (!text.trim().is_empty()).then(|| serde_json::from_str(&text).expect("kubectl's JSON"))
}

/// Requests not sent by kubectl (so by the code under test) whose URI contains `fragment`,
/// after waiting briefly for the audit log to catch up with the last response.
pub fn requests_to(plane: &ControlPlane, fragment: &str) -> Vec<AuditedRequest> {
    std::thread::sleep(Duration::from_millis(300));
    plane
        .requests()
        .into_iter()
        .filter(|r| !r.sent_by_kubectl() && r.uri.contains(fragment))
        .collect()
}

/// Polls `check` every 100 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    check()
}
