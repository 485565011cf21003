//! `signet audit --manifests DIR` on a GitOps repository against a real registry: one finding
//! per container with the webhook's own reason text, exit codes, the JSON schema held to a
//! checked-in snapshot, and PolicyReport output.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;

use crate::common::audit::{AuditRepo, deployment, find, signet, text};
use crate::common::{push_index, sign_image};

/// A repository with a signed Deployment, an unsigned CronJob, a Pod whose init container's
/// image does not exist, a Helm template and a `.git` directory.
async fn gitops_repo() -> AuditRepo {
    let repo = AuditRepo::start().await;
    let app = format!("{}:v1", repo.image("demo/app"));
    let tool = format!("{}:v1", repo.image("demo/tool"));
    let missing = format!("{}:v1", repo.image("demo/missing"));
    repo.write(
        "apps/shop/web.yaml",
        &deployment("shop", "web", &[("web", &app)]),
    );
    repo.write(
        "apps/shop/nightly.yaml",
        &format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: nightly, namespace: shop}}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{{name: job, image: \"{tool}\"}}]\n"
        ),
    );
    repo.write(
        "apps/billing/pod.json",
        &serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "invoice", "namespace": "billing"},
            "spec": {"initContainers": [{"name": "fetch", "image": missing}],
                     "containers": [{"name": "app", "image": app}]}
        })
        .to_string(),
    );
    repo.write("charts/web/templates/d.yaml", "x: {{ .Values.image }}\n");
    repo.write(".git/objects/not-a-manifest.yaml", "kind: Pod\n");
    repo
}

fn findings(report: &Value) -> Vec<&Value> {
    report["findings"].as_array().unwrap().iter().collect()
}

fn finding<'a>(report: &'a Value, object: &str, container: &str) -> &'a Value {
    find(report, object, Some(container))
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_of_a_gitops_repository_reports_every_container_and_exits_one() {
    let repo = gitops_repo().await;
    let dir = repo.manifests().display().to_string();
    let out = repo.audit(&["--manifests", &dir, "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report");
    assert_eq!(report["summary"]["admit"], 2, "{report:#}");
    assert_eq!(
        report["summary"]["deny"], 2,
        "a missing image is a denial, as in review: {report:#}"
    );
    assert_eq!(report["summary"]["error"], 0, "{report:#}");
    assert_eq!(report["summary"]["objects"], 3);
    assert_eq!(findings(&report).len(), 4, "the .git file is not read");

    let web = finding(&report, "Deployment/web", "web");
    assert_eq!(web["outcome"], "admit");
    assert_eq!(web["digest"], repo.signed.as_str());
    assert_eq!(web["source"], "apps/shop/web.yaml");
    let job = finding(&report, "CronJob/nightly", "job");
    assert_eq!(
        (&job["outcome"], &job["code"]),
        (&"deny".into(), &"NoSignature".into())
    );
    assert_eq!(job["digest"], repo.unsigned.as_str());
    let fetch = finding(&report, "Pod/invoice", "fetch");
    assert_eq!(
        (&fetch["outcome"], &fetch["code"]),
        (&"deny".into(), &"ImageNotFound".into())
    );

    let notes = report["notes"].to_string();
    assert!(notes.contains("charts/web/templates/d.yaml"), "{notes}");
    assert!(!notes.contains(".git"), "{notes}");
}

/// The audit and `signet review` (the webhook's dry run) word every refusal identically.
#[tokio::test(flavor = "multi_thread")]
async fn audit_reasons_are_the_webhook_reasons_word_for_word() {
    let repo = gitops_repo().await;
    let dir = repo.manifests().display().to_string();
    let audit: Value = serde_json::from_slice(
        &repo
            .audit(&["--manifests", &dir, "--output", "json"])
            .await
            .stdout,
    )
    .unwrap();
    let file = repo.manifests().join("apps/shop/nightly.yaml");
    let policy = repo.policy();
    let host = repo.registry.host();
    let review = signet(&[
        "review",
        "--policy",
        &policy,
        "--insecure-registry",
        &host,
        "--output",
        "json",
        file.to_str().unwrap(),
    ])
    .await;
    let review: Value = serde_json::from_slice(&review.stdout).unwrap();
    let job = finding(&audit, "CronJob/nightly", "job");
    assert_eq!(job["reason"], review[0]["images"][0]["detail"]);
    assert_eq!(
        job["message"], review[0]["message"],
        "the whole webhook answer"
    );
    assert!(
        job["reason"].as_str().unwrap().contains("no signature"),
        "{job:#}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_of_signed_images_only_exits_zero_with_a_table() {
    let repo = AuditRepo::start().await;
    let app = format!("{}:v1", repo.image("demo/app"));
    repo.write(
        "web.yaml",
        &deployment("shop", "web", &[("web", &app), ("side", &app)]),
    );
    let dir = repo.manifests().display().to_string();
    let out = repo.audit(&["--manifests", &dir]).await;
    let table = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{table}{}", text(&out.stderr));
    assert!(table.starts_with("OUTCOME  NAMESPACE  OBJECT"), "{table}");
    assert!(table.contains(&format!("{app}@{}", repo.signed)), "{table}");
    assert!(
        table.contains(
            "1 objects, 2 containers (1 distinct images): 2 admit, 0 warn, 0 deny, 0 error"
        ),
        "{table}"
    );
    assert!(
        text(&out.stderr).is_empty(),
        "no progress bar off a terminal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn policyreport_output_has_one_report_per_namespace_with_fail_and_error_results() {
    let repo = gitops_repo().await;
    let dir = repo.manifests().display().to_string();
    let out = repo
        .audit(&["--manifests", &dir, "--output", "policyreport"])
        .await;
    assert_eq!(out.status.code(), Some(1));
    let yaml = text(&out.stdout);
    let reports: Vec<Value> = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect();
    assert_eq!(reports.len(), 2, "{yaml}");
    for report in &reports {
        assert_eq!(report["apiVersion"], "wgpolicyk8s.io/v1alpha2");
        assert_eq!(report["kind"], "PolicyReport");
        assert_eq!(report["metadata"]["name"], "signet-audit");
    }
    let shop = reports
        .iter()
        .find(|r| r["metadata"]["namespace"] == "shop")
        .unwrap();
    assert_eq!(shop["summary"]["pass"], 1);
    assert_eq!(shop["summary"]["fail"], 1);
    let fail = &shop["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["result"] == "fail")
        .unwrap();
    assert_eq!(fail["rule"], "NoSignature");
    assert_eq!(fail["resources"][0]["kind"], "CronJob");
    assert_eq!(fail["properties"]["container"], "job");
    let billing = reports
        .iter()
        .find(|r| r["metadata"]["namespace"] == "billing")
        .unwrap();
    assert_eq!(billing["summary"]["fail"], 1, "a missing image fails");
    assert_eq!(billing["summary"]["pass"], 1);
}

/// The JSON schema is a contract: field names and shapes only change with a new apiVersion.
/// The report of a repository judged without any registry (static authorities, no policy, an
/// unreadable object, an unreachable registry) must equal `tests/snapshots/audit-report.json`
/// apart from the timestamp and the temporary directory.
#[tokio::test(flavor = "multi_thread")]
async fn json_report_matches_the_checked_in_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    std::fs::create_dir_all(root.join("apps")).unwrap();
    std::fs::write(dir.path().join("policy.yaml"), SNAPSHOT_POLICY).unwrap();
    std::fs::write(root.join("apps/shop.yaml"), SNAPSHOT_MANIFESTS).unwrap();
    let policy = dir.path().join("policy.yaml").display().to_string();
    let out = signet(&[
        "audit",
        "--policy",
        &policy,
        "--manifests",
        root.to_str().unwrap(),
        "--output",
        "json",
        "--insecure-registry",
        "127.0.0.1:1",
        "--registry-timeout",
        "2",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let mut report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["generatedAt"].as_str().unwrap().ends_with('Z'));
    report["generatedAt"] = "<time>".into();
    report["source"] = report["source"]
        .as_str()
        .unwrap()
        .replace(root.to_str().unwrap(), "<dir>")
        .into();
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/audit-report.json"
    );
    let actual = serde_json::to_string_pretty(&report).unwrap() + "\n";
    if std::env::var_os("SIGNET_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(snapshot, &actual).unwrap();
    }
    let expected = std::fs::read_to_string(snapshot).unwrap();
    assert_eq!(
        actual, expected,
        "the audit JSON changed; if on purpose, bump REPORT_API_VERSION or only add fields, \
         then rerun with SIGNET_UPDATE_SNAPSHOTS=1 and update docs/audit.md"
    );
}

const SNAPSHOT_POLICY: &str = r#"apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: pause}
spec:
  images: [{glob: "registry.k8s.io/pause*"}]
  authorities: [{name: by-name, static: {action: pass}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: no-evil}
spec:
  images: [{glob: "docker.io/evil/**"}]
  authorities: [{name: ban, static: {action: fail, message: evil images are banned}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: legacy}
spec:
  mode: warn
  images: [{glob: "quay.io/legacy/**"}]
  authorities: [{name: ban, static: {action: fail}}]
---
apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata: {name: offline}
spec:
  images: [{glob: "127.0.0.1:1/**"}]
  authorities:
  - name: key
    key:
      data: |
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcADXle5omhqhdo1tFxxBgPyIwYw0
        jiGBde24SqsxIOov7X10o1zkBGLdkZr+oG8mB1oeZloVPcutNYeRDy1W6A==
        -----END PUBLIC KEY-----
"#;

const SNAPSHOT_MANIFESTS: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    spec:
      initContainers: [{name: setup, image: "registry.k8s.io/pause:3.9"}]
      containers:
      - {name: web, image: "docker.io/evil/miner:1"}
      - {name: log, image: "quay.io/legacy/log:2"}
      - {name: cache, image: "127.0.0.1:1/cache:7"}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: shop}
spec: {jobTemplate: {spec: {template: {spec: {containers: [{name: job}]}}}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec: {template: {spec: {containers: [{name: agent, image: "nginx:1.25"}]}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
"#;

/// `--platforms` reaches the audit as it reaches the webhook: an unsigned index whose only signed
/// child is linux/arm64 is refused for the default platforms (amd64 too) and admitted for a
/// cluster of arm64 nodes.
#[tokio::test(flavor = "multi_thread")]
async fn audit_judges_an_index_for_the_platforms_given() {
    let repo = AuditRepo::start().await;
    // Signet's per-platform mode (a ClusterImagePolicy's default is policy-controller's `index`).
    let policy = repo.policy();
    let written = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, format!("{written}  multiArch: indexOrPlatform\n")).unwrap();
    let platforms = [("linux", "amd64"), ("linux", "arm64")];
    let (_, children) = push_index(&repo.registry, "demo/multi:v1", &platforms).await;
    sign_image(&repo.registry, "demo/multi", &children[1], &repo.key).await;
    let image = format!("{}:v1", repo.image("demo/multi"));
    repo.write(
        "multi.yaml",
        &deployment("shop", "multi", &[("app", &image)]),
    );
    let dir = repo.manifests().display().to_string();
    let base = ["--manifests", dir.as_str(), "--output", "json"];

    let both = repo.audit(&base).await;
    assert_eq!(both.status.code(), Some(1), "{}", text(&both.stderr));
    let report: Value = serde_json::from_slice(&both.stdout).unwrap();
    let refused = finding(&report, "Deployment/multi", "app");
    assert_eq!(refused["outcome"], "deny", "{report:#}");
    assert!(
        refused["reason"].as_str().unwrap().contains("linux/amd64"),
        "{report:#}"
    );

    let arm = repo
        .audit(&[&base[..], &["--platforms", "linux/arm64"][..]].concat())
        .await;
    assert_eq!(arm.status.code(), Some(0), "{}", text(&arm.stderr));
    let report: Value = serde_json::from_slice(&arm.stdout).unwrap();
    assert_eq!(
        finding(&report, "Deployment/multi", "app")["outcome"],
        "admit"
    );
}

/// A CI gate must not pass on garbage: a tree where every file was skipped, or with no
/// manifest file at all, is an error (exit 2) that says why.
#[tokio::test(flavor = "multi_thread")]
async fn a_tree_of_only_broken_files_or_no_files_fails_instead_of_passing() {
    let repo = AuditRepo::start().await;
    repo.write("a.yaml", "x: {{ .Values.image }}\n");
    repo.write("nested/b.yml", "kind: [unclosed\n");
    let dir = repo.manifests().display().to_string();
    let out = repo.audit(&["--manifests", &dir]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "signet: every one of the 2 file(s) under {dir} was skipped, so nothing was audited (first: skipped a.yaml: not a Kubernetes manifest"
        )),
        "{stderr}"
    );
    let empty = tempfile::tempdir().unwrap();
    let empty_dir = empty.path().display().to_string();
    std::fs::write(empty.path().join("README.md"), "# not a manifest\n").unwrap();
    let out = repo.audit(&["--manifests", &empty_dir]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "signet: found no .yaml, .yml or .json file under {empty_dir}: check the path given to --manifests"
        )),
        "{stderr}"
    );
}

/// A kustomization's `images:` override is not applied: the audit says so on stderr and in the
/// report, and judges the files as written.
#[tokio::test(flavor = "multi_thread")]
async fn a_kustomization_is_said_loudly_not_ignored() {
    let repo = AuditRepo::start().await;
    let app = format!("{}:v1", repo.image("demo/app"));
    repo.write(
        "base/web.yaml",
        &deployment("shop", "web", &[("web", &app)]),
    );
    repo.write(
        "base/kustomization.yaml",
        "resources: [web.yaml]\nimages:\n- name: app\n  newName: evil.example/app\n",
    );
    let dir = repo.manifests().display().to_string();
    let out = repo.audit(&["--manifests", &dir, "--output", "json"]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let words = "base/kustomization.yaml is a kustomization and is not rendered: its images:, patches and name prefixes are NOT applied, so the files beside it are audited as written; to audit what is deployed, run `kustomize build` and audit its output";
    assert!(
        stderr.contains(&format!("signet: warning: {words}")),
        "{stderr}"
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["notes"].to_string().contains(words), "{report:#}");
    assert_eq!(report["summary"]["admit"], 1, "{report:#}");
}
