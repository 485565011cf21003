//! `signet serve --client-ca`: only a caller with a client certificate from that CA gets past the
//! TLS handshake. In-process: every kind of wrong certificate is refused and counted, the CA
//! bundle is reloaded like the serving certificate, probes answer on the metrics port. Against
//! the real kube-apiserver: its AdmissionConfiguration presents a client certificate to the
//! webhook's address (tests/common/webhook_client.rs), its reviews are served; curl without a
//! certificate or with another CA's is refused; and a webhook whose address the kubeconfig does
//! not name gets no certificate, so with failurePolicy Fail the API server refuses the Pod. The
//! chart's `clientAuth.caSecret` and docs/hardening.md's kustomize patch render the same wiring.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{ExtendedKeyUsagePurpose, date_time_ymd};

use crate::common::control_plane::{ControlPlane, LoopbackTls, free_port};
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::shared_plane::{shared, wait_until};
use crate::common::tls::{install_crypto_provider, loopback_serve_config};
use crate::common::tools::run;
use crate::common::webhook::{container, key_policy, pod_review};
use crate::common::webhook_client::{ClientCa, ClientIdentity};
use crate::common::{TestRegistry, replace_file, temp_file_in};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::server::{self, Metrics, ServeConfig, TlsSource};

/// Writes the serving chain, its key and the client CA bundle into `dir`; returns their paths.
fn write_tls_files(
    dir: &Path,
    serving: &LoopbackTls,
    client_ca: &str,
) -> (PathBuf, PathBuf, PathBuf) {
    let write = |name: &str, content: &str| {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    };
    let chain = format!("{}{}", serving.cert_pem, serving.ca_pem);
    (
        write("tls.crt", &chain),
        write("tls.key", &serving.key_pem),
        write("client-ca.crt", client_ca),
    )
}

fn pass_all_engine() -> Arc<Engine> {
    let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";
    let policies = PolicySet::from_yaml(policy, "test").unwrap();
    let registry = Registry::new(RegistryConfig::default(), Credentials::default());
    Arc::new(Engine::new(policies, registry, EngineSettings::default()))
}

/// An HTTPS client trusting `ca_pem`, presenting `identity` when given.
fn client(ca_pem: &str, identity: Option<&ClientIdentity>, http1: bool) -> reqwest::Client {
    install_crypto_provider();
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).unwrap();
    let mut builder = reqwest::Client::builder()
        .tls_certs_only(roots)
        .no_proxy()
        .timeout(Duration::from_secs(10));
    if let Some(identity) = identity {
        builder = builder.identity(reqwest::Identity::from_pem(identity.pem().as_bytes()).unwrap());
    }
    if http1 {
        builder = builder.http1_only();
    }
    builder.build().unwrap()
}

/// `signet_client_refusals_total{reason=...}` in `metrics` (0 when absent).
fn refusals(metrics: &str, reason: &str) -> u64 {
    let series = format!("signet_client_refusals_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_clients_with_a_certificate_from_the_client_ca_are_served() {
    install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let serving = LoopbackTls::generate("signet");
    let (trusted, other) = (ClientCa::generate("apiserver"), ClientCa::generate("other"));
    let (cert, key, client_ca) = write_tls_files(dir.path(), &serving, &trusted.pem());
    let config = ServeConfig {
        client_ca: Some(client_ca.clone()),
        ..loopback_serve_config(TlsSource::Files { cert, key })
    };
    let running = server::start(pass_all_engine(), Arc::new(Metrics::new()), config)
        .await
        .unwrap();
    let url = format!("https://127.0.0.1:{}/validate", running.addr.port());
    let review = pod_review("mtls", vec![container("a", "ghcr.io/org/app:1")], vec![]);
    let ca = serving.ca_pem.as_str();
    let answered = |identity: Option<&ClientIdentity>, http1: bool| {
        let request = client(ca, identity, http1).post(&url).json(&review);
        async move {
            match request.send().await {
                Ok(response) => {
                    let body: serde_json::Value = response.json().await.unwrap();
                    Some(body["response"]["allowed"] == true)
                }
                Err(_) => None,
            }
        }
    };

    let apiserver = trusted.issue("kube-apiserver");
    for http1 in [false, true] {
        assert_eq!(answered(Some(&apiserver), http1).await, Some(true));
        assert_eq!(answered(None, http1).await, None, "no certificate");
    }
    let wrong: Vec<(&str, ClientIdentity)> = vec![
        ("another CA's", other.issue("kube-apiserver")),
        // Same subject name as the trusted CA, another key: names prove nothing.
        (
            "a look-alike CA's",
            ClientCa::generate("apiserver").issue("kube-apiserver"),
        ),
        (
            "an expired",
            trusted.issue_with("kube-apiserver", |params| {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
                params.not_before = date_time_ymd(2020, 1, 1);
                params.not_after = date_time_ymd(2021, 1, 1);
            }),
        ),
        (
            "a server-only",
            trusted.issue_with("kube-apiserver", |params| {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
            }),
        ),
    ];
    for (what, identity) in &wrong {
        assert_eq!(
            answered(Some(identity), false).await,
            None,
            "{what} certificate"
        );
    }
    // Probes: kubelet has no client certificate; the metrics port answers them.
    let plain = reqwest::Client::builder().no_proxy().build().unwrap();
    let metrics_url = format!("http://{}", running.metrics_addr);
    let readyz = plain
        .get(format!("{metrics_url}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(readyz.status(), 200);
    let metrics = plain
        .get(format!("{metrics_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        refusals(&metrics, "client_certificate_missing"),
        2,
        "{metrics}"
    );
    assert_eq!(
        refusals(&metrics, "client_certificate_invalid"),
        wrong.len() as u64,
        "{metrics}"
    );

    // Rotation: the new CA is trusted without a restart, the old one no longer.
    let next = ClientCa::generate("apiserver next");
    let rotated = next.issue("kube-apiserver");
    replace_file(&client_ca, &next.pem());
    let deadline = Instant::now() + Duration::from_secs(10);
    while answered(Some(&rotated), false).await != Some(true) {
        assert!(
            Instant::now() < deadline,
            "the new client CA was never used"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answered(Some(&apiserver), false).await, None, "old CA");
    // A broken bundle is refused; the last good one stays.
    replace_file(
        &client_ca,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n",
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(answered(Some(&rotated), false).await, Some(true));
    assert_eq!(answered(None, false).await, None);
    replace_file(&client_ca, "");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        answered(None, false).await,
        None,
        "an empty bundle trusts no one"
    );
    assert_eq!(answered(Some(&rotated), false).await, Some(true));
    running.shutdown().await.unwrap();
}

/// A `signet serve` process; killed when dropped.
struct Signet {
    child: Child,
    log: std::path::PathBuf,
    metrics_port: u16,
}

impl Signet {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        String::from_utf8_lossy(&run(Command::new("curl").args(["-sS", &url])).stdout).into_owned()
    }
}

impl Drop for Signet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `signet serve --client-ca` on `port`, ready (asked on the metrics port, as a probe would).
fn serve(dir: &Path, port: u16, serving: &LoopbackTls, client_ca: &str, args: &[String]) -> Signet {
    let (cert, key, ca) = write_tls_files(dir, serving, client_ca);
    let log = dir.join("signet.log");
    let metrics_port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("serve")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(format!("--metrics-listen=127.0.0.1:{metrics_port}"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .arg("--client-ca")
        .arg(&ca)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
        .spawn()
        .unwrap();
    let signet = Signet {
        child,
        log,
        metrics_port,
    };
    let readyz = format!("http://127.0.0.1:{metrics_port}/readyz");
    let ready = wait_until(Duration::from_secs(60), || {
        run(Command::new("curl").args(["-sf", &readyz]))
            .status
            .success()
    });
    assert!(ready, "signet serve not ready:\n{}", signet.log());
    signet
}

/// curl POSTs an AdmissionReview to `url` trusting `ca` (a file), with `identity` when given;
/// returns the HTTP status, or None when no answer came.
fn curl_status(dir: &Path, url: &str, ca: &Path, identity: Option<&ClientIdentity>) -> Option<u16> {
    let body = dir.join("review.json");
    let review = pod_review("curl", vec![container("a", "ghcr.io/org/app:1")], vec![]);
    std::fs::write(&body, review.to_string()).unwrap();
    let mut command = Command::new("curl");
    command
        .args([
            "-sS",
            "--max-time",
            "10",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
        ])
        .arg("--cacert")
        .arg(ca)
        .args(["-H", "Content-Type: application/json", "--data-binary"])
        .arg(format!("@{}", body.display()));
    let pem = identity.map(|identity| temp_file_in(dir, ("identity-", ".pem"), &identity.pem()));
    if let Some(pem) = &pem {
        command.arg("--cert").arg(pem.path());
    }
    let output = run(command.arg(url));
    let code: u16 = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    (output.status.success() && code != 0).then_some(code)
}

fn pod(namespace: &str, name: &str, image: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  \
         containers:\n  - name: app\n    image: {image}\n"
    )
}

/// One validating webhook `name` at `url` for Pod creation in `namespace` only (the control
/// plane is every test area's), failing closed.
fn webhook(name: &str, url: &str, ca_bundle: &str, namespace: &str) -> String {
    format!(
        "- name: {name}\n  clientConfig:\n    url: {url}\n    caBundle: {ca_bundle}\n  \
         rules:\n  - operations: [CREATE]\n    apiGroups: [\"\"]\n    apiVersions: [v1]\n    \
         resources: [pods]\n  namespaceSelector:\n    matchLabels:\n      \
         kubernetes.io/metadata.name: {namespace}\n  failurePolicy: Fail\n  sideEffects: None\n  \
         admissionReviewVersions: [v1]\n  timeoutSeconds: 10\n"
    )
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Creates `yaml` (with `extra` kubectl arguments) until `done` holds of kubectl's output: the
/// API server picks up a new webhook configuration a moment after it is stored.
fn create_until(plane: &ControlPlane, yaml: &str, done: impl Fn(&Output) -> bool) -> Output {
    let started = Instant::now();
    loop {
        let output = plane.kubectl_stdin(&["create", "--dry-run=server"], yaml);
        if done(&output) || started.elapsed() > Duration::from_secs(60) {
            return output;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn the_api_server_presents_its_certificate_and_every_other_caller_is_refused() {
    let plane = shared();
    let apiserver = plane.webhook_client();
    let dir = tempfile::tempdir().unwrap();
    let registry = TestRegistry::start();
    let key = CosignKey::generate("client-ca");
    let signed = crane_push(&format!("{}/clientca/app:v1", registry.host()), "signed");
    key.sign(&signed, &[]);
    let unsigned = crane_push(
        &format!("{}/clientca/other:v1", registry.host()),
        "unsigned",
    );
    let policy = dir.path().join("policy.yaml");
    let glob = format!("{}/clientca/**", registry.host());
    std::fs::write(&policy, key_policy("clientca", &glob, &key.public_pem())).unwrap();
    let serving = LoopbackTls::generate("signet");
    let signet = serve(
        dir.path(),
        apiserver.port,
        &serving,
        &apiserver.ca_pem,
        &[
            format!("--policy={}", policy.display()),
            format!("--insecure-registry={}", registry.host()),
        ],
    );

    // Other callers: curl with no certificate or another CA's is refused in the handshake.
    let url = format!("https://127.0.0.1:{}/validate", apiserver.port);
    let serving_ca = dir.path().join("serving-ca.crt");
    std::fs::write(&serving_ca, &serving.ca_pem).unwrap();
    let stranger =
        ClientCa::generate("kube-apiserver webhook").issue("kube-apiserver-webhook-client");
    assert_eq!(curl_status(dir.path(), &url, &serving_ca, None), None);
    assert_eq!(
        curl_status(dir.path(), &url, &serving_ca, Some(&stranger)),
        None
    );
    // The same curl with the API server's own certificate is answered: the refusals are the
    // certificate's, not curl's.
    assert_eq!(
        curl_status(dir.path(), &url, &serving_ca, Some(&apiserver.identity)),
        Some(200)
    );

    let (served, uncertified) = ("clientca-served", "clientca-uncertified");
    plane.namespace(served);
    plane.namespace(uncertified);
    let ca_bundle = STANDARD.encode(&serving.ca_pem);
    // The kubeconfig names 127.0.0.1:<port>; `localhost:<port>` is the same server at an
    // address it does not name, so the API server calls it without a certificate.
    let configuration = format!(
        "apiVersion: admissionregistration.k8s.io/v1\nkind: ValidatingWebhookConfiguration\n\
         metadata:\n  name: signet-client-ca\nwebhooks:\n{}{}",
        webhook("clientca.signet.dev", &url, &ca_bundle, served),
        webhook(
            "uncertified.signet.dev",
            &format!("https://localhost:{}/validate", apiserver.port),
            &ca_bundle,
            uncertified
        ),
    );
    let applied = plane.kubectl_stdin(&["apply"], &configuration);
    assert!(applied.status.success(), "{}", stderr(&applied));

    let denied = "admission webhook \"clientca.signet.dev\" denied the request";
    let output = create_until(plane, &pod(served, "unsigned", &unsigned), |o| {
        stderr(o).contains(denied)
    });
    assert!(
        stderr(&output).contains(denied),
        "{}\n{}",
        stderr(&output),
        signet.log()
    );
    let created = plane.kubectl_stdin(&["create"], &pod(served, "signed", &signed));
    assert!(
        created.status.success(),
        "{}\n{}",
        stderr(&created),
        signet.log()
    );
    let refused = plane.kubectl_stdin(&["create"], &pod(served, "unsigned", &unsigned));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains(denied) && stderr(&refused).contains("SignatureValidationFailed"),
        "{}",
        stderr(&refused)
    );

    let failed = "failed calling webhook \"uncertified.signet.dev\"";
    let before = refusals(&signet.metrics(), "client_certificate_missing");
    let output = create_until(plane, &pod(uncertified, "signed", &signed), |o| {
        stderr(o).contains(failed)
    });
    assert!(stderr(&output).contains(failed), "{}", stderr(&output));
    let refused = plane.kubectl_stdin(&["create"], &pod(uncertified, "signed", &signed));
    assert!(
        !refused.status.success(),
        "admitted without Signet's review"
    );
    assert!(stderr(&refused).contains(failed), "{}", stderr(&refused));
    let absent = plane.kubectl_ok(&["get", "pods", "-n", uncertified, "-o", "name"]);
    assert_eq!(absent.trim(), "");
    let after = refusals(&signet.metrics(), "client_certificate_missing");
    assert!(
        after > before,
        "the API server's calls were refused for want of a certificate: {before} -> {after}"
    );
    assert_eq!(
        refusals(&signet.metrics(), "client_certificate_invalid"),
        1,
        "curl with the stranger's certificate"
    );
    plane.kubectl_ok(&[
        "delete",
        "validatingwebhookconfiguration",
        "signet-client-ca",
    ]);
}

/// The objects of a multi-document YAML stream.
fn yaml_objects(text: &str) -> Vec<serde_json::Value> {
    use serde::Deserialize as _;
    serde_yaml::Deserializer::from_str(text)
        .map(|document| serde_json::Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

/// The Deployment of `objects` runs `signet serve --client-ca` with the CA Secret `secret`
/// mounted at the path the flag names, and probes the metrics port over plain HTTP.
fn assert_client_auth_wired(objects: &[serde_json::Value], secret: &str, what: &str) {
    let deployment = objects
        .iter()
        .find(|o| o["kind"] == "Deployment")
        .unwrap_or_else(|| panic!("{what}: no Deployment"));
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let args: Vec<&str> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--client-ca=/etc/signet/client-ca/ca.crt"),
        "{what}: {args:?}"
    );
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["mountPath"] == "/etc/signet/client-ca")
        .unwrap_or_else(|| panic!("{what}: the CA is not mounted"));
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(volume["secret"]["secretName"], secret, "{what}");
    for probe in ["readinessProbe", "livenessProbe"] {
        let get = &container[probe]["httpGet"];
        assert_eq!(
            (&get["port"], &get["scheme"]),
            (&serde_json::json!("metrics"), &serde_json::json!("HTTP")),
            "{what}: {probe} must not need a client certificate"
        );
    }
}

#[test]
fn the_chart_value_and_the_documented_kustomize_patch_wire_client_auth() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let home = tempfile::tempdir().unwrap();
    let helm = |args: &[&str]| {
        let output = run(Command::new(crate::common::tools::tool("helm"))
            .env("HELM_CONFIG_HOME", home.path().join("config"))
            .env("HELM_CACHE_HOME", home.path().join("cache"))
            .env("HELM_DATA_HOME", home.path().join("data"))
            .args(["template", "signet"])
            .arg(repo.join("charts/signet"))
            .args(["--namespace", "signet-system"])
            .args(args));
        assert!(output.status.success(), "{}", stderr(&output));
        yaml_objects(&String::from_utf8_lossy(&output.stdout))
    };
    let objects = helm(&["--set", "clientAuth.caSecret=apiserver-client-ca"]);
    assert_client_auth_wired(&objects, "apiserver-client-ca", "helm");
    let default = serde_json::to_string(&helm(&[])).unwrap();
    assert!(!default.contains("client-ca"), "off by default");

    // docs/hardening.md's kustomization, and its NetworkPolicy patch after it.
    let doc = std::fs::read_to_string(repo.join("docs/hardening.md")).unwrap();
    let start = doc
        .find("# kustomization.yaml: client-certificate authentication")
        .expect("the kustomize example in docs/hardening.md");
    let block = &doc[start..start + doc[start..].find("```").unwrap()];
    let policy_at = doc
        .find("  - target: {kind: NetworkPolicy, name: signet}")
        .expect("the NetworkPolicy patch in docs/hardening.md");
    let policy_patch = &doc[policy_at..policy_at + doc[policy_at..].find("```").unwrap()];
    let dir = tempfile::Builder::new()
        .prefix("signet-client-ca-overlay-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap();
    // kustomize takes a relative path: the overlay names manifests/ from its own directory.
    let depth = dir.path().strip_prefix(repo).unwrap().components().count();
    let manifests = format!("{}manifests", "../".repeat(depth));
    let kustomization = block.replace("../manifests", &manifests) + policy_patch;
    std::fs::write(dir.path().join("kustomization.yaml"), kustomization).unwrap();
    let output = run(Command::new(crate::common::tools::tool("kubectl"))
        .arg("kustomize")
        .arg(dir.path()));
    assert!(output.status.success(), "{}", stderr(&output));
    let objects = yaml_objects(&String::from_utf8_lossy(&output.stdout));
    assert_client_auth_wired(&objects, "signet-client-ca", "kustomize");
    let network = objects
        .iter()
        .find(|o| o["kind"] == "NetworkPolicy")
        .unwrap();
    let rule = &network["spec"]["ingress"][0];
    assert_eq!(rule["ports"][0]["port"], 8443);
    assert_eq!(rule["from"][0]["ipBlock"]["cidr"], "10.0.0.0/24");
}
