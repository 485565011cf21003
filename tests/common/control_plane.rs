//! A real Kubernetes control plane for end-to-end tests: etcd and kube-apiserver (built by
//! `scripts/tools.sh` from pinned module versions) on free loopback ports, with RBAC, a
//! service-account issuer and keys, and an admin identity for kubectl. There is no scheduler, no
//! controller manager and no kubelet: pods are created and stay Pending, which is all admission
//! needs. Both processes are killed when the value drops. The API server keeps an audit log of
//! every request (verb, URI, user agent), so a test can tell what a client asked for.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use tempfile::TempDir;

use super::tools::{run, run_ok, tool};
use super::webhook_client::{ApiserverWebhookClient, write_admission_config};

/// How long etcd plus kube-apiserver may take to become ready on a loaded two-core machine.
const START_DEADLINE: Duration = Duration::from_secs(180);
/// The admin's bearer token (a static token file: this API server is the test's alone).
const ADMIN_TOKEN: &str = "signet-e2e-admin";

/// A certificate authority and a serving certificate for 127.0.0.1 made by it.
pub struct LoopbackTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl LoopbackTls {
    /// A fresh CA and a leaf for `127.0.0.1` and `localhost`.
    pub fn generate(common_name: &str) -> LoopbackTls {
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, format!("{common_name} test CA"));
        let issuer = CertifiedIssuer::self_signed(ca, ca_key).expect("CA certificate");
        let key = KeyPair::generate().expect("serving key");
        let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        leaf.subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        leaf.distinguished_name
            .push(DnType::CommonName, common_name);
        let cert = leaf.signed_by(&key, &issuer).expect("serving certificate");
        LoopbackTls {
            ca_pem: issuer.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One request from the API server's audit log.
#[derive(Debug, Clone)]
pub struct AuditedRequest {
    /// `get`, `list`, `watch`, `create`, `patch` ….
    pub verb: String,
    /// Path and query, as sent.
    pub uri: String,
    /// The client's User-Agent (`kubectl/…` for kubectl).
    pub user_agent: String,
}

impl AuditedRequest {
    /// Whether kubectl (the test driving the cluster) sent it, rather than the code under test.
    pub fn sent_by_kubectl(&self) -> bool {
        self.user_agent.starts_with("kubectl")
    }
}

/// A running etcd and kube-apiserver.
pub struct ControlPlane {
    dir: TempDir,
    port: u16,
    tls: LoopbackTls,
    etcd: Child,
    apiserver: Child,
    webhook_client: ApiserverWebhookClient,
}

impl ControlPlane {
    /// Starts etcd and kube-apiserver and waits until the API server is ready.
    pub fn start() -> ControlPlane {
        let dir = tempfile::Builder::new()
            .prefix("signet-control-plane-")
            .tempdir()
            .expect("temporary directory");
        let etcd_port = free_port();
        let etcd = start_etcd(dir.path(), etcd_port);
        let port = free_port();
        let tls = LoopbackTls::generate("kube-apiserver");
        let (admission, webhook_client) = write_admission_config(dir.path(), free_port());
        let apiserver = start_apiserver(dir.path(), port, etcd_port, &tls, &admission);
        let plane = ControlPlane {
            dir,
            port,
            tls,
            etcd,
            apiserver,
            webhook_client,
        };
        plane.write_kubeconfig(&plane.admin_kubeconfig(), "admin", ADMIN_TOKEN);
        plane.wait_ready();
        plane
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The one webhook address the API server presents a client certificate to
    /// (tests/common/webhook_client.rs), and that certificate's CA.
    pub fn webhook_client(&self) -> &ApiserverWebhookClient {
        &self.webhook_client
    }

    /// The kubeconfig of the cluster administrator (system:masters).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.path().join("admin.kubeconfig")
    }

    /// A kubeconfig that acts as a ServiceAccount, with a token from the TokenRequest API: the
    /// identity a pod of that ServiceAccount would have, so RBAC is the manifests' RBAC.
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self.kubectl_ok(&["create", "token", name, "-n", namespace, "--duration=2h"]);
        let path = self
            .dir
            .path()
            .join(format!("{namespace}-{name}.kubeconfig"));
        self.write_kubeconfig(&path, name, token.trim());
        path
    }

    fn write_kubeconfig(&self, path: &Path, user: &str, token: &str) {
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {}\n    \
             certificate-authority-data: {}\nusers:\n- name: {user}\n  user:\n    token: {token}\n\
             contexts:\n- name: e2e\n  context:\n    cluster: e2e\n    user: {user}\n\
             current-context: e2e\n",
            self.url(),
            STANDARD.encode(&self.tls.ca_pem),
        );
        std::fs::write(path, config).expect("write kubeconfig");
    }

    /// Runs kubectl as the administrator.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        run(Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(self.admin_kubeconfig())
            .args(args))
    }

    /// Runs kubectl as the administrator with `stdin` as its input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let file = super::temp_file_in(self.dir.path(), ("stdin-", ".yaml"), stdin);
        let mut full: Vec<&str> = args.to_vec();
        let path_text = file.path().to_string_lossy().into_owned();
        full.extend(["-f", &path_text]);
        self.kubectl(&full)
    }

    /// Runs kubectl as the administrator; it must succeed. Returns its standard output.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        run_ok(
            Command::new(tool("kubectl"))
                .arg("--kubeconfig")
                .arg(self.admin_kubeconfig())
                .args(args),
        )
    }

    /// Creates a namespace with the ServiceAccount `default` (no controller manager makes it).
    pub fn namespace(&self, name: &str) {
        self.kubectl_ok(&["create", "namespace", name]);
        self.kubectl_ok(&["create", "serviceaccount", "default", "-n", name]);
    }

    /// Every request the API server has logged so far, oldest first (the audit log's
    /// `ResponseComplete` events: written just after the response, so poll for recent ones).
    pub fn requests(&self) -> Vec<AuditedRequest> {
        let text = std::fs::read_to_string(self.dir.path().join("audit.log")).unwrap_or_default();
        text.lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .map(|event| AuditedRequest {
                verb: event["verb"].as_str().unwrap_or_default().to_string(),
                uri: event["requestURI"].as_str().unwrap_or_default().to_string(),
                user_agent: event["userAgent"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// The process ids of kube-apiserver and etcd, and the directory holding their state.
    pub fn processes(&self) -> ([u32; 2], &Path) {
        ([self.apiserver.id(), self.etcd.id()], self.dir.path())
    }

    /// The API server's own Prometheus metrics.
    pub fn metrics(&self) -> String {
        self.kubectl_ok(&["get", "--raw", "/metrics"])
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            let output = self.kubectl(&["get", "--raw", "/readyz"]);
            if output.status.success() {
                return;
            }
            if started.elapsed() > START_DEADLINE {
                panic!(
                    "kube-apiserver not ready after {START_DEADLINE:?}: {}\n{}",
                    String::from_utf8_lossy(&output.stderr),
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The end of kube-apiserver's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut text = String::new();
        if let Ok(mut file) = std::fs::File::open(self.dir.path().join("apiserver.log")) {
            let _ = file.read_to_string(&mut text);
        }
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn log_file(dir: &Path, name: &str) -> Stdio {
    Stdio::from(std::fs::File::create(dir.join(name)).expect("log file"))
}

fn start_etcd(dir: &Path, client_port: u16) -> Child {
    let peer = format!("http://127.0.0.1:{}", free_port());
    let client = format!("http://127.0.0.1:{client_port}");
    Command::new(tool("etcd"))
        .arg("--name=e2e")
        .arg(format!("--data-dir={}", dir.join("etcd").display()))
        .arg(format!("--listen-client-urls={client}"))
        .arg(format!("--advertise-client-urls={client}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=e2e={peer}"))
        .arg("--unsafe-no-fsync")
        .arg("--log-level=warn")
        .stdout(log_file(dir, "etcd.log"))
        .stderr(log_file(dir, "etcd.err.log"))
        .spawn()
        .expect("start etcd")
}

fn start_apiserver(
    dir: &Path,
    port: u16,
    etcd_port: u16,
    tls: &LoopbackTls,
    admission_config: &str,
) -> Child {
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).expect("write control-plane file");
        path.display().to_string()
    };
    let cert = write("apiserver.crt", &format!("{}{}", tls.cert_pem, tls.ca_pem));
    let key = write("apiserver.key", &tls.key_pem);
    let sa_key = KeyPair::generate().expect("service-account key");
    let sa_private = write("sa.key", &sa_key.serialize_pem());
    let sa_public = write("sa.pub", &sa_key.public_key_pem());
    let tokens = write(
        "tokens.csv",
        &format!("{ADMIN_TOKEN},admin,admin-uid,system:masters\n"),
    );
    let audit_policy = write(
        "audit-policy.yaml",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\n\
         rules:\n- level: Metadata\n",
    );
    Command::new(tool("kube-apiserver"))
        .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--advertise-address=127.0.0.1")
        .arg(format!("--secure-port={port}"))
        .arg(format!("--tls-cert-file={cert}"))
        .arg(format!("--tls-private-key-file={key}"))
        .arg(format!("--cert-dir={}", dir.join("certs").display()))
        .arg(format!("--token-auth-file={tokens}"))
        .arg("--authorization-mode=RBAC")
        .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
        .arg(format!("--service-account-key-file={sa_public}"))
        .arg(format!("--service-account-signing-key-file={sa_private}"))
        .arg("--service-cluster-ip-range=10.96.0.0/16")
        .arg("--enable-priority-and-fairness=false")
        .arg(format!("--audit-policy-file={audit_policy}"))
        .arg(format!(
            "--audit-log-path={}",
            dir.join("audit.log").display()
        ))
        .arg("--audit-log-mode=blocking")
        .arg(format!(
            "--admission-control-config-file={admission_config}"
        ))
        .stdout(log_file(dir, "apiserver.out.log"))
        .stderr(log_file(dir, "apiserver.log"))
        .spawn()
        .expect("start kube-apiserver")
}
