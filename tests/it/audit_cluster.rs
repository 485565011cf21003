//! `signet audit` against a cluster: the real binary reads Pods and workloads from the test API
//! server (tests/common/apiserver.rs) through a kubeconfig, verifies against the real registry,
//! reports what each Pod actually runs (its `imageID` digest), counts Pods that run what their
//! workload verified under the workload, and writes PolicyReports back with `--write-reports`.
//!
//! The objects are the recorded real API objects of kubernetes/api's round-trip test data
//! (../shared/fixtures/third_party/kubernetes-api/testdata/HEAD, every field filled), with names,
//! owners, images and statuses set for the scenario.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::common::apiserver::TestApiServer;
use crate::common::audit::{AuditRepo, SIGNET, find, object_of, text};
use crate::common::push_image;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party/kubernetes-api/testdata/HEAD/"
);

/// A recorded object of kubernetes/api, e.g. `apps.v1.Deployment`.
fn recorded(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}{name}.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn metadata(object: &mut Value, namespace: &str, name: &str, owner: Option<(&str, &str)>) {
    let meta = &mut object["metadata"];
    meta["name"] = json!(name);
    meta["namespace"] = json!(namespace);
    meta["uid"] = json!(format!("uid-{name}"));
    meta.as_object_mut().unwrap().remove("deletionTimestamp");
    meta["ownerReferences"] = match owner {
        Some((kind, owner)) => json!([{ "apiVersion": "apps/v1", "kind": kind, "name": owner,
            "uid": format!("uid-{owner}"), "controller": true, "blockOwnerDeletion": true }]),
        None => json!([]),
    };
}

/// The recorded pod spec with one container and nothing else that names an image.
fn pod_spec(spec: &mut Value, container: &str, image: &str) {
    let mut one = spec["containers"][0].clone();
    one["name"] = json!(container);
    one["image"] = json!(image);
    spec["containers"] = json!([one]);
    spec["initContainers"] = json!([]);
    spec["ephemeralContainers"] = json!([]);
    spec["volumes"] = json!([]);
}

/// A running Pod whose container runs `image_id`.
fn pod(
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    image: &str,
    image_id: &str,
) -> Value {
    let mut pod = recorded("core.v1.Pod");
    metadata(&mut pod, namespace, name, owner);
    pod_spec(&mut pod["spec"], "app", image);
    let mut status = pod["status"]["containerStatuses"][0].clone();
    status["name"] = json!("app");
    status["image"] = json!(image);
    status["imageID"] = json!(image_id);
    pod["status"]["containerStatuses"] = json!([status]);
    pod["status"]["initContainerStatuses"] = json!([]);
    pod["status"]["ephemeralContainerStatuses"] = json!([]);
    pod["status"]["phase"] = json!("Running");
    pod
}

fn workload(
    recorded_name: &str,
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    image: &str,
) -> Value {
    let mut object = recorded(recorded_name);
    metadata(&mut object, namespace, name, owner);
    let spec = if recorded_name.ends_with("CronJob") {
        &mut object["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    } else {
        &mut object["spec"]["template"]["spec"]
    };
    pod_spec(spec, "app", image);
    object
}

struct Cluster {
    repo: AuditRepo,
    api: TestApiServer,
    /// The digest of the unsigned older build of demo/app.
    old: String,
}

/// shop: Deployment web (signed app) with ReplicaSet web-1 and three Pods, two running the
/// signed digest and one still running an older unsigned build; a finished Pod. ops: DaemonSet agent
/// (unsigned tool) and its Pod; a bare Pod debug running the unsigned digest. batch: CronJob
/// nightly (signed) and its Job.
async fn cluster() -> Cluster {
    let repo = AuditRepo::start().await;
    let api = TestApiServer::start().await;
    let app = format!("{}:v1", repo.image("demo/app"));
    let tool = format!("{}:v1", repo.image("demo/tool"));
    let app_id = format!("{}@{}", repo.image("demo/app"), repo.signed);
    // An older, unsigned build of demo/app that one Pod still runs.
    let old = push_image(&repo.registry, "demo/app", "app-old").await;
    let old_id = format!("{}@{old}", repo.image("demo/app"));
    api.apply(
        "deployments",
        workload("apps.v1.Deployment", "shop", "web", None, &app),
    );
    api.apply(
        "replicasets",
        workload(
            "apps.v1.ReplicaSet",
            "shop",
            "web-1",
            Some(("Deployment", "web")),
            &app,
        ),
    );
    let by_rs = Some(("ReplicaSet", "web-1"));
    api.apply("pods", pod("shop", "web-1-a", by_rs, &app, &app_id));
    api.apply(
        "pods",
        pod(
            "shop",
            "web-1-b",
            by_rs,
            &app,
            &format!("docker-pullable://{app_id}"),
        ),
    );
    api.apply("pods", pod("shop", "web-1-c", by_rs, &app, &old_id));
    let mut finished = pod("shop", "migrate", None, &app, &old_id);
    finished["status"]["phase"] = json!("Succeeded");
    api.apply("pods", finished);
    api.apply(
        "daemonsets",
        workload("apps.v1.DaemonSet", "ops", "agent", None, &tool),
    );
    let tool_running = format!("{}@{}", repo.image("demo/tool"), repo.unsigned);
    api.apply(
        "pods",
        pod(
            "ops",
            "agent-x",
            Some(("DaemonSet", "agent")),
            &tool,
            &tool_running,
        ),
    );
    api.apply("pods", pod("ops", "debug", None, &tool, &tool_running));
    api.apply(
        "cronjobs",
        workload("batch.v1.CronJob", "batch", "nightly", None, &app),
    );
    api.apply(
        "jobs",
        workload(
            "batch.v1.Job",
            "batch",
            "nightly-1",
            Some(("CronJob", "nightly")),
            &app,
        ),
    );
    Cluster { repo, api, old }
}

impl Cluster {
    /// Run `signet audit` with a kubeconfig pointing at the test API server.
    async fn audit(&self, extra: &[&str]) -> std::process::Output {
        let kubeconfig = self.repo.dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster: {{server: \"{}\"}}\ncontexts:\n- name: test\n  context: {{cluster: test, user: test, namespace: default}}\ncurrent-context: test\nusers:\n- name: test\n  user: {{}}\n",
            self.api.url()
        )).unwrap();
        let policy = self.repo.policy();
        let host = self.repo.registry.host();
        let mut args = vec!["audit", "--policy", &policy, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        tokio::process::Command::new(SIGNET)
            .args(&args)
            .env("KUBECONFIG", &kubeconfig)
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn cluster_audit_reports_what_runs_and_counts_pods_under_their_workload() {
    let cluster = cluster().await;
    let out = cluster.audit(&["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(object_of)
        .collect();
    assert_eq!(
        objects,
        [
            "CronJob/nightly",
            "DaemonSet/agent",
            "Pod/debug",
            "Deployment/web",
            "Pod/web-1-c"
        ],
        "{report:#}"
    );
    let web = find(&report, "Deployment/web", None);
    assert_eq!(
        (&web["outcome"], &web["pods"]),
        (&json!("admit"), &json!(2))
    );
    assert_eq!(web["running"], false);
    let stray = find(&report, "Pod/web-1-c", None);
    assert_eq!(
        (&stray["outcome"], &stray["code"]),
        (&json!("deny"), &json!("NoSignature"))
    );
    assert_eq!(stray["running"], true);
    assert_eq!(
        stray["digest"],
        cluster.old.as_str(),
        "the digest that runs, not the tag's"
    );
    assert_eq!(find(&report, "DaemonSet/agent", None)["pods"], 1);
    let debug = find(&report, "Pod/debug", None);
    assert_eq!(
        (&debug["outcome"], &debug["running"]),
        (&json!("deny"), &json!(true))
    );
    assert_eq!(find(&report, "CronJob/nightly", None)["outcome"], "admit");
    let notes = report["notes"].to_string();
    assert!(notes.contains("2 ReplicaSets and Jobs"), "{notes}");
    assert!(notes.contains("1 finished Pods"), "{notes}");
    assert!(notes.contains("3 running Pods run exactly"), "{notes}");
    assert!(
        report["source"]
            .as_str()
            .unwrap()
            .starts_with("cluster:http://127.0.0.1:")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn write_reports_stores_one_policy_report_per_namespace_in_the_cluster() {
    let cluster = cluster().await;
    let out = cluster.audit(&["--write-reports"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let shop = cluster
        .api
        .get(
            "wgpolicyk8s.io/v1alpha2",
            "policyreports",
            Some("shop"),
            "signet-audit",
        )
        .expect("PolicyReport in shop");
    assert_eq!(shop["summary"]["pass"], 1);
    assert_eq!(shop["summary"]["fail"], 1);
    let ops = cluster
        .api
        .get(
            "wgpolicyk8s.io/v1alpha2",
            "policyreports",
            Some("ops"),
            "signet-audit",
        )
        .expect("PolicyReport in ops");
    assert_eq!(ops["summary"]["fail"], 2);
    // A second run replaces the reports rather than failing on existing ones.
    let again = cluster.audit(&["--write-reports"]).await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
}

/// The audit follows `metadata.continue` through every page: with pages of two, the Pods and the
/// Deployments each span several pages, and the objects on the last pages are in the report.
#[tokio::test(flavor = "multi_thread")]
async fn cluster_audit_reads_every_page_of_every_list() {
    let cluster = cluster().await;
    let app = format!("{}:v1", cluster.repo.image("demo/app"));
    let tool = format!("{}:v1", cluster.repo.image("demo/tool"));
    let deployment = |ns, name, image| workload("apps.v1.Deployment", ns, name, None, image);
    cluster
        .api
        .apply("deployments", deployment("shop", "api", &app));
    cluster
        .api
        .apply("deployments", deployment("zoo", "last", &tool));
    cluster.api.set_page_size(2);

    let out = cluster.audit(&["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut objects: Vec<String> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(object_of)
        .collect();
    objects.sort();
    assert_eq!(
        objects,
        [
            "CronJob/nightly",
            "DaemonSet/agent",
            "Deployment/api",
            "Deployment/last",
            "Deployment/web",
            "Pod/debug",
            "Pod/web-1-c"
        ],
        "{report:#}"
    );
    assert_eq!(find(&report, "Deployment/last", None)["outcome"], "deny");
    // web-1-a and web-1-b, on different pages, both count under their Deployment.
    assert_eq!(find(&report, "Deployment/web", None)["pods"], 2);
    let pages = |path: &str| {
        let mut continued: Vec<String> = cluster
            .api
            .requests_to(path)
            .into_iter()
            .filter_map(|r| {
                r.query
                    .split('&')
                    .find_map(|p| p.strip_prefix("continue=").map(str::to_string))
            })
            .collect();
        continued.sort();
        continued
    };
    assert_eq!(pages("/api/v1/pods"), ["page-2", "page-4"]);
    assert_eq!(pages("/apis/apps/v1/deployments"), ["page-2"]);
}

/// Without any kubeconfig, the audit says what to do instead of kube's chain of causes.
#[tokio::test(flavor = "multi_thread")]
async fn audit_without_a_cluster_says_what_to_audit_instead() {
    let home = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new(SIGNET)
        .args(["audit"])
        .env("HOME", home.path())
        .env("KUBECONFIG", home.path().join("absent"))
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().last().unwrap_or_default(),
        "signet: no Kubernetes cluster to audit: no in-cluster service account, and no kubeconfig ($KUBECONFIG or ~/.kube/config); audit a directory of manifests with --manifests DIR, the webhook's log with --from-logs FILE, or name a kubeconfig context with --context NAME",
        "{stderr}"
    );
}

/// An API server that accepts connections and never answers: `--timeout` bounds each call, and
/// the error names the flag.
#[tokio::test(flavor = "multi_thread")]
async fn audit_of_an_api_server_that_never_answers_ends_at_the_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: hang\n  cluster: {{server: \"http://{addr}\"}}\ncontexts:\n- name: hang\n  context: {{cluster: hang, user: u}}\ncurrent-context: hang\nusers:\n- name: u\n  user: {{}}\n"
    )).unwrap();
    let run = tokio::process::Command::new(SIGNET)
        .args(["audit", "--timeout", "1"])
        .env("KUBECONFIG", &kubeconfig)
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the audit ends by itself")
        .unwrap();
    held.abort();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "signet: reading the cluster at http://{addr}/ (each call waits at most --timeout 1s)"
        )),
        "{stderr}"
    );
}
