//! Signet installed into a real control plane: `manifests/` applied through an e2e overlay that
//! points the ValidatingWebhookConfiguration at a `signet serve` running out of the cluster (by
//! URL, with its caBundle), and that `signet serve` running with a token of the manifests' own
//! ServiceAccount, so the RBAC it gets is the shipped RBAC.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tempfile::TempDir;

use super::control_plane::{ControlPlane, LoopbackTls, free_port};
use super::tls::{https_client, install_crypto_provider};

const READY_DEADLINE: Duration = Duration::from_secs(60);

/// `manifests/` applied to `plane`, with the webhook sent to `https://127.0.0.1:<port>`.
pub struct Installed {
    pub webhook_port: u16,
    pub tls: LoopbackTls,
    dir: TempDir,
}

impl Installed {
    /// Applies the CRDs, then `manifests/base` through an overlay that replaces the webhook's
    /// service reference with this URL and CA. `failure_policy` replaces the shipped one when
    /// given.
    pub fn apply(plane: &ControlPlane, failure_policy: Option<&str>) -> Installed {
        // kustomize takes only relative paths to other kustomizations: the overlay lives under
        // the build directory, and names the base relative to itself.
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-overlay-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temporary directory");
        let webhook_port = free_port();
        let tls = LoopbackTls::generate("signet");
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let base = relative(dir.path(), &repo.join("manifests/base"));
        let overlay = overlay(&base, webhook_port, &tls, failure_policy);
        std::fs::write(dir.path().join("kustomization.yaml"), overlay).expect("write overlay");
        // The CRD steps: Signet's, and policy-controller's (opt-in, as on a cluster without it).
        for crds in ["manifests/crds", "manifests/crds/policy-controller"] {
            plane.kubectl_ok(&["apply", "-k", &repo.join(crds).to_string_lossy()]);
        }
        plane.kubectl_ok(&["wait", "--for=condition=Established", "crd", "--all"]);
        plane.kubectl_ok(&["apply", "-k", &dir.path().to_string_lossy()]);
        Installed {
            webhook_port,
            tls,
            dir,
        }
    }

    /// Installed some other way (`helm install`, tests/it/helm_install.rs): the webhook is sent to
    /// `https://127.0.0.1:<webhook_port>` with `tls`'s CA, and `serve` runs there.
    pub fn external(webhook_port: u16, tls: LoopbackTls) -> Installed {
        let dir = tempfile::Builder::new()
            .prefix("signet-e2e-external-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temporary directory");
        Installed {
            webhook_port,
            tls,
            dir,
        }
    }

    /// Starts `signet serve` on the webhook port as the manifests' ServiceAccount.
    pub fn serve(&self, plane: &ControlPlane, args: &[String]) -> SignetProcess {
        let kubeconfig = plane.service_account_kubeconfig("signet-system", "signet");
        let write = |name: &str, content: &str| {
            let path = self.dir.path().join(name);
            std::fs::write(&path, content).expect("write TLS file");
            path
        };
        let cert = write(
            "tls.crt",
            &format!("{}{}", self.tls.cert_pem, self.tls.ca_pem),
        );
        let key = write("tls.key", &self.tls.key_pem);
        let log = self.dir.path().join(format!("signet-{}.log", free_port()));
        let child = Command::new(env!("CARGO_BIN_EXE_signet"))
            .arg("serve")
            .arg(format!("--listen=127.0.0.1:{}", self.webhook_port))
            .arg(format!("--metrics-listen=127.0.0.1:{}", free_port()))
            .arg("--tls-cert")
            .arg(&cert)
            .arg("--tls-key")
            .arg(&key)
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .env("POD_NAME", "signet-e2e")
            // As the Deployment sets it from the downward API: the namespace whose Secrets
            // policies may name (--secrets-namespace).
            .env("SIGNET_NAMESPACE", "signet-system")
            .stdout(Stdio::null())
            .stderr(Stdio::from(std::fs::File::create(&log).expect("log")))
            .spawn()
            .expect("start signet serve");
        let process = SignetProcess { child, log };
        process.wait_ready(self.webhook_port, &self.tls.ca_pem);
        process
    }
}

/// `to` as a path relative to the directory `from` (both absolute).
fn relative(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path: PathBuf = from[common..].iter().map(|_| "..").collect();
    path.extend(&to[common..]);
    path
}

/// The overlay: the shipped base, the webhook by URL with our CA, and optionally another
/// failurePolicy. Deployment, Service and the rest are applied as they are (no node runs them).
fn overlay(base: &Path, port: u16, tls: &LoopbackTls, failure_policy: Option<&str>) -> String {
    let ca_bundle = STANDARD.encode(&tls.ca_pem);
    let failure = failure_policy
        .map(|policy| {
            format!("      - op: replace\n        path: /webhooks/0/failurePolicy\n        value: {policy}\n")
        })
        .unwrap_or_default();
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {}\n\
         patches:\n  - target:\n      kind: ValidatingWebhookConfiguration\n      name: signet\n    \
         patch: |-\n      - op: replace\n        path: /webhooks/0/clientConfig\n        value:\n          \
         url: https://127.0.0.1:{port}/validate\n          caBundle: {ca_bundle}\n{failure}",
        base.display()
    )
}

/// A `signet serve` child process; killed when dropped.
pub struct SignetProcess {
    child: Child,
    log: PathBuf,
}

impl SignetProcess {
    fn wait_ready(&self, port: u16, ca_pem: &str) {
        install_crypto_provider();
        let client = https_client(ca_pem.as_bytes());
        let url = format!("https://127.0.0.1:{port}/readyz");
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        let started = Instant::now();
        loop {
            let ready = runtime.block_on(async {
                client
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            if ready {
                return;
            }
            assert!(
                started.elapsed() < READY_DEADLINE,
                "signet serve not ready after {READY_DEADLINE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// What Signet logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Stops it (SIGKILL: an outage, not a graceful rollout).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SignetProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
