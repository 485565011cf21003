//! `signet audit` against a cluster: the real binary reads Pods and workloads from a real
//! kube-apiserver (tests/common/control_plane.rs) through the administrator's kubeconfig,
//! verifies against the real registry, reports what each Pod actually runs (its `imageID`
//! digest, set through the Pod's status subresource as a kubelet would), counts Pods that run
//! what their workload verified under the workload, follows the API server's own pagination,
//! and writes PolicyReports back with `--write-reports` under the Policy Working Group's CRDs
//! (tests/fixtures/policy-report), read back with kubectl.
//!
//! There is no controller manager: the ReplicaSets, Jobs and owner references a controller
//! would make are created by the test, so the scenario is exactly the one described.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::common::audit::{AuditRepo, SIGNET, find, object_of, text};
use crate::common::control_plane::ControlPlane;
use crate::common::push_image;
use signet::audit::cluster::PAGE_SIZE;

/// Metadata with a controller owner reference (`kind`, `name`), as a controller writes it.
fn metadata(namespace: &str, name: &str, owner: Option<(&str, &str)>) -> Value {
    let mut meta = json!({"name": name, "namespace": namespace, "labels": {"app": name}});
    if let Some((kind, owner)) = owner {
        let api_version = match kind {
            "CronJob" | "Job" => "batch/v1",
            _ => "apps/v1",
        };
        meta["ownerReferences"] = json!([{ "apiVersion": api_version, "kind": kind,
            "name": owner, "uid": format!("00000000-0000-4000-8000-{:012}", owner.len()),
            "controller": true, "blockOwnerDeletion": true }]);
    }
    meta
}

fn pod_spec(image: &str) -> Value {
    json!({"containers": [{"name": "app", "image": image}]})
}

fn pod(namespace: &str, name: &str, owner: Option<(&str, &str)>, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata(namespace, name, owner),
           "spec": pod_spec(image)})
}

/// A Deployment, ReplicaSet or DaemonSet of one container.
fn workload(
    kind: &str,
    namespace: &str,
    name: &str,
    owner: Option<(&str, &str)>,
    image: &str,
) -> Value {
    json!({"apiVersion": "apps/v1", "kind": kind, "metadata": metadata(namespace, name, owner),
           "spec": {"selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}}, "spec": pod_spec(image)}}})
}

fn job_spec(image: &str) -> Value {
    let mut spec = pod_spec(image);
    spec["restartPolicy"] = json!("Never");
    json!({"template": {"spec": spec}})
}

/// Creates `objects` in one `kubectl create` of a List.
fn create(plane: &ControlPlane, objects: Vec<Value>) {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
    let output = plane.kubectl_stdin(&["create"], &list.to_string());
    assert!(
        output.status.success(),
        "kubectl create: {}",
        text(&output.stderr)
    );
}

/// What a kubelet reports for a Pod whose one container runs `image_id` (`phase` Running, or a
/// finished phase).
fn set_status(
    plane: &ControlPlane,
    namespace: &str,
    name: &str,
    phase: &str,
    image: &str,
    image_id: &str,
) {
    let state = match phase {
        "Running" => json!({"running": {"startedAt": "2026-01-01T00:00:00Z"}}),
        _ => json!({"terminated": {"exitCode": 0, "startedAt": "2026-01-01T00:00:00Z",
                                   "finishedAt": "2026-01-01T00:01:00Z"}}),
    };
    let status = json!({"status": {"phase": phase, "containerStatuses": [{
        "name": "app", "image": image, "imageID": image_id, "ready": phase == "Running",
        "restartCount": 0, "state": state}]}});
    plane.kubectl_ok(&[
        "patch",
        "pod",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
}

struct Cluster {
    repo: AuditRepo,
    plane: ControlPlane,
    /// The digest of the unsigned older build of demo/app.
    old: String,
}

/// shop: Deployment web (signed app) with ReplicaSet web-1 and three Pods, two running the
/// signed digest and one still running an older unsigned build; a finished Pod. ops: DaemonSet agent
/// (unsigned tool) and its Pod; a bare Pod debug running the unsigned digest. batch: CronJob
/// nightly (signed) and its Job.
async fn cluster() -> Cluster {
    let repo = AuditRepo::start().await;
    let plane = tokio::task::block_in_place(ControlPlane::start);
    let app = format!("{}:v1", repo.image("demo/app"));
    let tool = format!("{}:v1", repo.image("demo/tool"));
    let app_id = format!("{}@{}", repo.image("demo/app"), repo.signed);
    // An older, unsigned build of demo/app that one Pod still runs.
    let old = push_image(&repo.registry, "demo/app", "app-old").await;
    let old_id = format!("{}@{old}", repo.image("demo/app"));
    let tool_running = format!("{}@{}", repo.image("demo/tool"), repo.unsigned);
    tokio::task::block_in_place(|| {
        for namespace in ["shop", "ops", "batch"] {
            plane.namespace(namespace);
        }
        let by_rs = Some(("ReplicaSet", "web-1"));
        let cronjob = json!({"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": metadata("batch", "nightly", None),
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job_spec(&app)}}});
        let job = json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": metadata("batch", "nightly-1", Some(("CronJob", "nightly"))),
            "spec": job_spec(&app)});
        create(
            &plane,
            vec![
                workload("Deployment", "shop", "web", None, &app),
                workload(
                    "ReplicaSet",
                    "shop",
                    "web-1",
                    Some(("Deployment", "web")),
                    &app,
                ),
                pod("shop", "web-1-a", by_rs, &app),
                pod("shop", "web-1-b", by_rs, &app),
                pod("shop", "web-1-c", by_rs, &app),
                pod("shop", "migrate", None, &app),
                workload("DaemonSet", "ops", "agent", None, &tool),
                pod("ops", "agent-x", Some(("DaemonSet", "agent")), &tool),
                pod("ops", "debug", None, &tool),
                cronjob,
                job,
            ],
        );
        set_status(&plane, "shop", "web-1-a", "Running", &app, &app_id);
        let pullable = format!("docker-pullable://{app_id}");
        set_status(&plane, "shop", "web-1-b", "Running", &app, &pullable);
        set_status(&plane, "shop", "web-1-c", "Running", &app, &old_id);
        set_status(&plane, "shop", "migrate", "Succeeded", &app, &old_id);
        set_status(&plane, "ops", "agent-x", "Running", &tool, &tool_running);
        set_status(&plane, "ops", "debug", "Running", &tool, &tool_running);
    });
    Cluster { repo, plane, old }
}

impl Cluster {
    /// Run `signet audit` with the administrator's kubeconfig of the real API server.
    async fn audit(&self, extra: &[&str]) -> std::process::Output {
        let policy = self.repo.policy();
        let host = self.repo.registry.host();
        let mut args = vec!["audit", "--policy", &policy, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        tokio::process::Command::new(SIGNET)
            .args(&args)
            .env("KUBECONFIG", self.plane.admin_kubeconfig())
            .env("RUST_LOG", "warn")
            .output()
            .await
            .unwrap()
    }

    /// `kubectl get <resource> -A -o json`, the items.
    fn items(&self, resource: &str) -> Vec<Value> {
        let json = tokio::task::block_in_place(|| {
            self.plane
                .kubectl_ok(&["get", resource, "-A", "-o", "json"])
        });
        let list: Value = serde_json::from_str(&json).unwrap();
        list["items"].as_array().unwrap().clone()
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
    let source = report["source"].as_str().unwrap();
    assert_eq!(
        source,
        format!("cluster:{}/", cluster.plane.url()),
        "{report:#}"
    );
}

/// The reports as the API server stored them under the Policy WG's CRDs: one `signet-audit`
/// per namespace with findings, counts that match the results, one result per object and
/// container with its image, digest, object and namespace; a second run replaces them (same
/// object, new content) instead of adding or failing.
#[tokio::test(flavor = "multi_thread")]
async fn write_reports_stores_one_policy_report_per_namespace_in_the_cluster() {
    let cluster = cluster().await;
    tokio::task::block_in_place(|| {
        let crds = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/policy-report");
        cluster.plane.kubectl_ok(&["apply", "-f", crds]);
        cluster.plane.kubectl_ok(&[
            "wait",
            "--for=condition=Established",
            "crd",
            "policyreports.wgpolicyk8s.io",
            "clusterpolicyreports.wgpolicyk8s.io",
        ]);
    });
    let out = cluster.audit(&["--write-reports"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let reports = cluster.items("policyreports.wgpolicyk8s.io");
    let placed: Vec<(String, String)> = reports
        .iter()
        .map(|r| {
            let meta = &r["metadata"];
            (
                meta["namespace"].as_str().unwrap().to_string(),
                meta["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        placed,
        [
            ("batch", "signet-audit"),
            ("ops", "signet-audit"),
            ("shop", "signet-audit")
        ]
        .map(|(n, r)| (n.to_string(), r.to_string())),
        "{reports:#?}"
    );
    assert!(
        cluster
            .items("clusterpolicyreports.wgpolicyk8s.io")
            .is_empty()
    );
    let report = |namespace: &str| {
        cluster
            .items("policyreports.wgpolicyk8s.io")
            .into_iter()
            .find(|r| r["metadata"]["namespace"] == namespace)
            .unwrap_or_else(|| panic!("no PolicyReport in {namespace}"))
    };
    let shop = report("shop");
    assert_eq!(
        shop["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "signet"
    );
    assert_eq!(
        shop["summary"],
        json!({"pass": 1, "fail": 1, "warn": 0, "error": 0, "skip": 0}),
        "{shop:#}"
    );
    let result_for = |report: &Value, object: &str| -> Value {
        report["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| {
                format!(
                    "{}/{}",
                    r["resources"][0]["kind"].as_str().unwrap(),
                    r["resources"][0]["name"].as_str().unwrap()
                ) == object
            })
            .unwrap_or_else(|| panic!("no result for {object}: {report:#}"))
            .clone()
    };
    let app = format!("{}:v1", cluster.repo.image("demo/app"));
    let web = result_for(&shop, "Deployment/web");
    assert_eq!(
        (&web["result"], &web["rule"], &web["policy"], &web["source"]),
        (
            &json!("pass"),
            &json!("Verified"),
            &json!("signet"),
            &json!("signet")
        ),
        "{web:#}"
    );
    assert_eq!(
        web["resources"][0],
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "namespace": "shop"})
    );
    assert_eq!(web["properties"]["image"], app.as_str());
    assert_eq!(web["properties"]["container"], "app");
    assert_eq!(web["properties"]["digest"], cluster.repo.signed.as_str());
    assert!(
        web["timestamp"]["seconds"].as_i64().unwrap() > 1_700_000_000,
        "{web:#}"
    );
    let stray = result_for(&shop, "Pod/web-1-c");
    assert_eq!(
        (&stray["result"], &stray["rule"]),
        (&json!("fail"), &json!("NoSignature"))
    );
    assert_eq!(
        stray["properties"]["digest"],
        cluster.old.as_str(),
        "{stray:#}"
    );
    assert_eq!(stray["properties"]["running"], "true");
    assert_eq!(stray["resources"][0]["namespace"], "shop");
    assert_eq!(shop["results"].as_array().unwrap().len(), 2, "{shop:#}");

    let ops = report("ops");
    assert_eq!(ops["summary"]["fail"], 2, "{ops:#}");
    let tool = format!("{}:v1", cluster.repo.image("demo/tool"));
    for object in ["DaemonSet/agent", "Pod/debug"] {
        let result = result_for(&ops, object);
        assert_eq!(result["result"], "fail", "{result:#}");
        assert!(
            result["properties"]["image"]
                .as_str()
                .unwrap()
                .starts_with(&tool[..tool.len() - 3]),
            "{result:#}"
        );
    }
    assert_eq!(report("batch")["summary"]["pass"], 1);

    // The bare unsigned Pod goes away; the second run replaces the ops report in place.
    let before = ops["metadata"].clone();
    tokio::task::block_in_place(|| {
        cluster
            .plane
            .kubectl_ok(&["delete", "pod", "debug", "-n", "ops", "--wait=false"]);
    });
    let again = cluster.audit(&["--write-reports"]).await;
    assert_eq!(again.status.code(), Some(1), "{}", text(&again.stderr));
    assert_eq!(cluster.items("policyreports.wgpolicyk8s.io").len(), 3);
    let ops = report("ops");
    assert_eq!(
        ops["metadata"]["uid"], before["uid"],
        "replaced, not deleted and created"
    );
    assert_ne!(
        ops["metadata"]["resourceVersion"],
        before["resourceVersion"]
    );
    assert_eq!(ops["summary"]["fail"], 1, "{ops:#}");
    assert_eq!(ops["results"].as_array().unwrap().len(), 1, "{ops:#}");
    result_for(&ops, "DaemonSet/agent");
}

/// The audit follows `metadata.continue` through every page of the real API server: more Pods
/// than one page of the audit's list calls ([`PAGE_SIZE`]) all count under their Deployment,
/// and the objects sorted after the first page (every namespace after `fill`) are reported.
#[tokio::test(flavor = "multi_thread")]
async fn cluster_audit_reads_every_page_of_every_list() {
    let cluster = cluster().await;
    let app = format!("{}:v1", cluster.repo.image("demo/app"));
    let tool = format!("{}:v1", cluster.repo.image("demo/tool"));
    let fillers = PAGE_SIZE as usize + 20;
    tokio::task::block_in_place(|| {
        cluster.plane.namespace("fill");
        cluster.plane.namespace("zoo");
        let by_rs = Some(("ReplicaSet", "fill-1"));
        let mut objects = vec![
            workload("Deployment", "fill", "fill", None, &app),
            workload(
                "ReplicaSet",
                "fill",
                "fill-1",
                Some(("Deployment", "fill")),
                &app,
            ),
        ];
        objects.extend((0..fillers).map(|i| pod("fill", &format!("fill-1-{i:04}"), by_rs, &app)));
        create(&cluster.plane, objects);
        create(
            &cluster.plane,
            vec![
                workload("Deployment", "zoo", "last", None, &tool),
                pod("zoo", "last", None, &tool),
            ],
        );
    });

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
            "Deployment/fill",
            "Deployment/last",
            "Deployment/web",
            "Pod/debug",
            "Pod/last",
            "Pod/web-1-c"
        ],
        "{report:#}"
    );
    assert_eq!(
        find(&report, "Deployment/fill", None)["pods"],
        fillers,
        "every page's Pods"
    );
    assert_eq!(find(&report, "Deployment/last", None)["outcome"], "deny");
    assert_eq!(find(&report, "Pod/last", None)["outcome"], "deny");
    // web-1-a and web-1-b, on the second page of Pods, still count under their Deployment.
    assert_eq!(find(&report, "Deployment/web", None)["pods"], 2);
    // The API server's audit log: the audit asked for the next page with the token it was given.
    let continued = tokio::task::block_in_place(|| {
        crate::common::shared_plane::requests_to(&cluster.plane, "/api/v1/pods?")
    })
    .into_iter()
    .filter(|r| r.uri.contains("continue="))
    .count();
    assert_eq!(continued, 1, "one page of Pods after the first");
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(&format!("{} running Pods run exactly", fillers + 3)),
        "{notes}"
    );
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
