//! `signet::workload::extract_images` against the workload objects other projects test with.
//!
//! Every AdmissionReview / AdmissionRequest in `../shared/fixtures/third_party` that carries a
//! workload object is read here, and the images it runs are written out by hand from the
//! fixture (path, container name, image as written). Provenance of each file is in
//! `../shared/fixtures/third_party/README.md`; each test names its source.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use signet::workload::{ExtractError, WorkloadKind, extract_images};

const THIRD_PARTY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);

/// The images one object runs: (path, container, image).
type Uses<'a> = &'a [(&'a str, &'a str, &'a str)];

fn load(relative: &str) -> Result<Value, String> {
    let path = format!("{THIRD_PARTY}/{relative}");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
}

/// The workload kind named by an AdmissionRequest's `kind` (group, version, kind).
fn request_kind(request: &Value) -> Option<WorkloadKind> {
    let kind = request.get("kind")?;
    WorkloadKind::from_kind(kind.get("group")?.as_str()?, kind.get("kind")?.as_str()?)
}

type Found = Vec<(String, String, String)>;

fn found(kind: WorkloadKind, object: &Value, source: &str) -> Result<Found, String> {
    let uses = extract_images(kind, object).map_err(|e| format!("{source}: {e}"))?;
    Ok(uses
        .into_iter()
        .map(|u| (u.path, u.container, u.image))
        .collect())
}

fn owned(expected: Uses) -> Found {
    expected
        .iter()
        .map(|(p, c, i)| (p.to_string(), c.to_string(), i.to_string()))
        .collect()
}

/// Checks `request.object` (and `request.oldObject` when `old` is given) of an AdmissionRequest.
fn check_request(
    source: &str,
    request: &Value,
    expected: Uses,
    old: Option<Uses>,
) -> Result<(), String> {
    let kind = request_kind(request).ok_or_else(|| format!("{source}: not a workload kind"))?;
    assert_eq!(
        found(kind, &request["object"], source)?,
        owned(expected),
        "{source} object"
    );
    if let Some(old) = old {
        assert_eq!(
            found(kind, &request["oldObject"], source)?,
            owned(old),
            "{source} oldObject"
        );
    }
    Ok(())
}

/// A full AdmissionReview: the request is its `request` member.
fn check_review(relative: &str, expected: Uses) -> Result<(), String> {
    check_request(relative, &load(relative)?["request"], expected, None)
}

// ---- connaisseur -----------------------------------------------------------------------------
// Source: github.com/sse-secure-systems/connaisseur @ 0c40cab1b8147585071c1b26bc9fb4b74677113d,
// test/testdata/admission_requests/<file> (AdmissionReview v1 bodies, copied verbatim).

const CONNAISSEUR: &str = "connaisseur/test/testdata/admission_requests";

const CHARLIE: &str = "securesystemsengineering/charlie-image@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff";

fn connaisseur(file: &str, expected: Uses) -> Result<(), String> {
    check_review(&format!("{CONNAISSEUR}/{file}"), expected)
}

#[test]
fn connaisseur_01_deployment() -> Result<(), String> {
    connaisseur(
        "01_deployment.json",
        &[(
            "spec.template.spec.containers[0]",
            "test-connaisseur",
            "securesystemsengineering/alice-image:test",
        )],
    )
}

#[test]
fn connaisseur_02_pod() -> Result<(), String> {
    connaisseur(
        "02_pod.json",
        &[("spec.containers[0]", "test-connaisseur", CHARLIE)],
    )
}

#[test]
fn connaisseur_03_replicaset() -> Result<(), String> {
    connaisseur(
        "03_replicaset.json",
        &[(
            "spec.template.spec.containers[0]",
            "test-connaisseur",
            "securesystemsengineering/sample-san-sama:hai",
        )],
    )
}

/// A `batch/v1beta1` CronJob: the legacy version has the same shape.
#[test]
fn connaisseur_04_cronjob() -> Result<(), String> {
    connaisseur(
        "04_cronjob.json",
        &[(
            "spec.jobTemplate.spec.template.spec.containers[0]",
            "yooob",
            "busybox",
        )],
    )
}

#[test]
fn connaisseur_05_replication_controller() -> Result<(), String> {
    connaisseur(
        "05_replication_controller.json",
        &[("spec.template.spec.containers[0]", "nginx", "nginx")],
    )
}

#[test]
fn connaisseur_06_daemonset() -> Result<(), String> {
    connaisseur(
        "06_daemonset.json",
        &[(
            "spec.template.spec.containers[0]",
            "fluentd-elasticsearch",
            "quay.io/fluentd_elasticsearch/fluentd:v2.5.2",
        )],
    )
}

#[test]
fn connaisseur_07_statefulset() -> Result<(), String> {
    connaisseur(
        "07_statefulset.json",
        &[(
            "spec.template.spec.containers[0]",
            "nginx",
            "registry.k8s.io/nginx-slim:0.8",
        )],
    )
}

#[test]
fn connaisseur_08_job() -> Result<(), String> {
    connaisseur(
        "08_job.json",
        &[("spec.template.spec.containers[0]", "pi", "perl:5.34.0")],
    )
}

#[test]
fn connaisseur_09_deployment_with_init_container_and_two_containers() -> Result<(), String> {
    connaisseur(
        "09_dply_multi_image.json",
        &[
            ("spec.template.spec.containers[0]", "redis", "redis:alpine"),
            ("spec.template.spec.containers[1]", "mysql", "mysql:8"),
            (
                "spec.template.spec.initContainers[0]",
                "init",
                "busybox:1.32",
            ),
        ],
    )
}

/// A ReplicaSet UPDATE: old and new object carry the same tag+digest image.
#[test]
fn connaisseur_10_update_reads_object_and_old_object() -> Result<(), String> {
    let relative = format!("{CONNAISSEUR}/10_update.json");
    let uses: Uses = &[(
        "spec.template.spec.containers[0]",
        "nginx",
        "docker.io/library/redis:latest@sha256:1111111111111111111111111111111111111111111111111111111111111111",
    )];
    check_request(&relative, &load(&relative)?["request"], uses, Some(uses))
}

#[test]
fn connaisseur_11_role_is_not_a_workload() -> Result<(), String> {
    let review = load(&format!("{CONNAISSEUR}/11_role.json"))?;
    assert_eq!(request_kind(&review["request"]), None);
    Ok(())
}

/// `kind` says Pod, but the object is `{"msg": "Expecting a Pod?"}`: no pod spec, an error.
#[test]
fn connaisseur_12_pod_without_spec_is_an_error() -> Result<(), String> {
    let review = load(&format!("{CONNAISSEUR}/12_err_pod.json"))?;
    let kind = request_kind(&review["request"]);
    assert_eq!(kind, Some(WorkloadKind::Pod));
    let err = extract_images(WorkloadKind::Pod, &review["request"]["object"]).unwrap_err();
    assert!(
        matches!(&err, ExtractError::PodSpecMissing { path, .. } if path == "spec"),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn connaisseur_13_unknown_parent() -> Result<(), String> {
    connaisseur(
        "13_unknown_parent.json",
        &[("spec.containers[0]", "test-connaisseur", CHARLIE)],
    )
}

/// Hand-edited: the image was changed but the last-applied annotation still says perl:5.34.0.
#[test]
fn connaisseur_14_deny_me_job() -> Result<(), String> {
    connaisseur(
        "14_deny_me_job.json",
        &[(
            "spec.template.spec.containers[0]",
            "pi",
            "my.reg/deny-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
        )],
    )
}

#[test]
fn connaisseur_15_allow_me_job() -> Result<(), String> {
    connaisseur(
        "15_allow_me_job.json",
        &[(
            "spec.template.spec.containers[0]",
            "pi",
            "my.reg/allow-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
        )],
    )
}

#[test]
fn connaisseur_16_mismatch_uid() -> Result<(), String> {
    connaisseur(
        "16_mismatch_uid.json",
        &[("spec.containers[0]", "test-connaisseur", CHARLIE)],
    )
}

#[test]
fn connaisseur_17_deny_me_pod() -> Result<(), String> {
    connaisseur(
        "17_deny_me_pod.json",
        &[(
            "spec.containers[0]",
            "test-connaisseur",
            "my.reg/deny-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
        )],
    )
}

#[test]
fn connaisseur_18_allow_me_pod() -> Result<(), String> {
    connaisseur(
        "18_allow_me_pod.json",
        &[(
            "spec.containers[0]",
            "test-connaisseur",
            "my.reg/allow-me@sha256:91ac9b26df583762234c1cdb2fc930364754ccc59bc752a2bfe298d2ea68f9ff",
        )],
    )
}

#[test]
fn connaisseur_19_pod_init_container() -> Result<(), String> {
    connaisseur(
        "19_pod_initcontainer.json",
        &[
            ("spec.containers[0]", "test-connaisseur", CHARLIE),
            ("spec.initContainers[0]", "my-initcontainer", "nginx"),
        ],
    )
}

/// The ephemeral container is (by copy and paste upstream) named "my-initcontainer".
#[test]
fn connaisseur_20_pod_ephemeral_container() -> Result<(), String> {
    connaisseur(
        "20_pod_ephemeralcontainer.json",
        &[
            ("spec.containers[0]", "test-connaisseur", CHARLIE),
            ("spec.ephemeralContainers[0]", "my-initcontainer", "nginx"),
        ],
    )
}

/// Broken and null requests name no kind at all: nothing to extract; the server must deny.
#[test]
fn connaisseur_21_25_26_broken_requests_name_no_workload() -> Result<(), String> {
    for file in [
        "21_broken_admission_request.json",
        "25_null_request.json",
        "26_broken_update_admission_request.json",
    ] {
        let review = load(&format!("{CONNAISSEUR}/{file}"))?;
        assert_eq!(request_kind(&review["request"]), None, "{file}");
    }
    Ok(())
}

/// Despite the file name, the image is the familiar name "test-image".
#[test]
fn connaisseur_22_allow_me_with_index_docker_io() -> Result<(), String> {
    connaisseur(
        "22_allow_me_with_index_docker_io.json",
        &[("spec.containers[0]", "test-connaisseur", "test-image")],
    )
}

#[test]
fn connaisseur_23_digest_deployment() -> Result<(), String> {
    connaisseur(
        "23_alice_digest_dpl.json",
        &[(
            "spec.template.spec.containers[0]",
            "test-connaisseur",
            "securesystemsengineering/alice-image@sha256:1234567890123456123456789012345612345678901234561234567890123456",
        )],
    )
}

#[test]
fn connaisseur_24_tag_and_digest_deployment() -> Result<(), String> {
    connaisseur(
        "24_alice_tag_digest_dpl.json",
        &[(
            "spec.template.spec.containers[0]",
            "test-connaisseur",
            "securesystemsengineering/alice-image:test@sha256:1234567890123456123456789012345612345678901234561234567890123456",
        )],
    )
}

#[test]
fn connaisseur_27_deleted_deployment() -> Result<(), String> {
    connaisseur(
        "27_deleted_deployment.json",
        &[(
            "spec.template.spec.containers[0]",
            "test-connaisseur",
            "busybox",
        )],
    )
}

#[test]
fn connaisseur_28_29_deleted_deployment_updates_read_both_objects() -> Result<(), String> {
    let uses: Uses = &[(
        "spec.template.spec.containers[0]",
        "test-connaisseur",
        "busybox",
    )];
    for file in [
        "28_deleted_deployment_updated.json",
        "29_deleted_deployment_update_for_delete.json",
    ] {
        let relative = format!("{CONNAISSEUR}/{file}");
        check_request(&relative, &load(&relative)?["request"], uses, Some(uses))?;
    }
    Ok(())
}

/// On CREATE these fixtures send `"oldObject": {}` (kube-apiserver sends null); reading it as a
/// workload fails, so callers must only read oldObject on UPDATE/DELETE.
#[test]
fn connaisseur_create_old_object_is_empty() -> Result<(), String> {
    let review = load(&format!("{CONNAISSEUR}/02_pod.json"))?;
    assert_eq!(review["request"]["oldObject"], serde_json::json!({}));
    assert!(extract_images(WorkloadKind::Pod, &review["request"]["oldObject"]).is_err());
    Ok(())
}

// ---- kubewarden verify-image-signatures --------------------------------------------------------
// Source: github.com/kubewarden/verify-image-signatures @ 7012e8accf741858ad558ac0c30a71c6c63f5f57,
// test_data/<file>. These are AdmissionRequests (the `request` member only); their objects carry
// no apiVersion/kind, so the kind comes from `request.kind`.

const KUBEWARDEN: &str = "kubewarden-verify-image-signatures/test_data";
const KW_SIGNED: &str = "ghcr.io/kubewarden/test-verify-image-signatures:signed";
const KW_UNSIGNED: &str = "ghcr.io/kubewarden/test-verify-image-signatures:unsigned";
const KW_NAME: &str = "test-verify-image-signatures";

fn kubewarden(file: &str, expected: Uses) -> Result<(), String> {
    let relative = format!("{KUBEWARDEN}/{file}");
    check_request(&relative, &load(&relative)?, expected, None)
}

#[test]
fn kubewarden_template_kinds_signed_and_unsigned() -> Result<(), String> {
    let template = "spec.template.spec.containers[0]";
    let cases = [
        (
            "cronjob",
            "spec.jobTemplate.spec.template.spec.containers[0]",
        ),
        ("daemonset", template),
        ("deployment", template),
        ("job", template),
        ("replicaset", template),
        ("replicationcontroller", template),
        ("statefulset", template),
        ("pod", "spec.containers[0]"),
    ];
    for (kind, path) in cases {
        kubewarden(
            &format!("{kind}_creation_signed.json"),
            &[(path, KW_NAME, KW_SIGNED)],
        )?;
        kubewarden(
            &format!("{kind}_creation_unsigned.json"),
            &[(path, KW_NAME, KW_UNSIGNED)],
        )?;
    }
    Ok(())
}

#[test]
fn kubewarden_pods_signed_with_certificate_and_keyless() -> Result<(), String> {
    for file in [
        "pod_creation_signed_with_certificate.json",
        "pod_creation_signed_with_keyless_mode.json",
    ] {
        kubewarden(
            file,
            &[(
                "spec.containers[0]",
                KW_NAME,
                "ghcr.io/kubewarden/tests/pod-privileged:v0.2.1",
            )],
        )?;
    }
    Ok(())
}

#[test]
fn kubewarden_pod_with_tag_and_digest() -> Result<(), String> {
    kubewarden(
        "pod_creation_with_digest.json",
        &[(
            "spec.containers[0]",
            "nginx",
            "nginx:v1.26@sha256:89102e348749bb17a6a651a4b2a17420e1a66d2a44a675b981973d49a5af3a5e",
        )],
    )
}

#[test]
fn kubewarden_pod_with_init_container() -> Result<(), String> {
    kubewarden(
        "pod_creation_with_init_container.json",
        &[
            ("spec.containers[0]", "nginx", "nginx"),
            ("spec.initContainers[0]", "init", "init"),
        ],
    )
}

// ---- kube-rs ------------------------------------------------------------------------------------
// Source: github.com/kube-rs/kube @ ac95b1999a549bb41aa9e467410f6d97c09341c2,
// kube-core/src/admission.rs L392 WEBHOOK_BODY (string literal, a Pod CREATE captured on GKE).

#[test]
fn kube_rs_gke_pod_create() -> Result<(), String> {
    check_review(
        "kube-rs/extracted/admission_review_v1_pod_create_gke.json",
        &[("spec.containers[0]", "echo-server", "jmalloc/echo-server")],
    )
}

// ---- kubernetes/api round-trip fixtures ---------------------------------------------------------
// Source: github.com/kubernetes/api @ 10b39a39bcee995dfe7cd5e8e7b922be5e46f1e2, testdata/HEAD/<file>.
// Every field is set with placeholder values: one entry in each container list and one volume
// that has every volume source, including `image` (an image volume) and `rbd.image` (a Ceph
// image name, not a container image, which must not be reported).

/// The four uses every kubernetes/api fixture holds, under `base`.
fn kubernetes_api_uses(base: &str) -> Vec<(String, String, String)> {
    [
        "containers[0]",
        "initContainers[0]",
        "ephemeralContainers[0]",
    ]
    .iter()
    .map(|list| {
        (
            format!("{base}.{list}"),
            "nameValue".to_owned(),
            "imageValue".to_owned(),
        )
    })
    .chain([(
        format!("{base}.volumes[0].image"),
        "nameValue".to_owned(),
        "referenceValue".to_owned(),
    )])
    .collect()
}

/// The kind of a bare object from its own apiVersion and kind.
fn object_kind(object: &Value) -> Option<WorkloadKind> {
    let api_version = object["apiVersion"].as_str()?;
    let group = api_version.rsplit_once('/').map_or("", |(group, _)| group);
    WorkloadKind::from_kind(group, object["kind"].as_str()?)
}

#[test]
fn kubernetes_api_every_pod_template_kind() -> Result<(), String> {
    let cases = [
        ("core.v1.Pod.json", WorkloadKind::Pod, "spec"),
        (
            "apps.v1.Deployment.json",
            WorkloadKind::Deployment,
            "spec.template.spec",
        ),
        (
            "apps.v1.ReplicaSet.json",
            WorkloadKind::ReplicaSet,
            "spec.template.spec",
        ),
        (
            "apps.v1.StatefulSet.json",
            WorkloadKind::StatefulSet,
            "spec.template.spec",
        ),
        (
            "apps.v1.DaemonSet.json",
            WorkloadKind::DaemonSet,
            "spec.template.spec",
        ),
        ("batch.v1.Job.json", WorkloadKind::Job, "spec.template.spec"),
        (
            "batch.v1.CronJob.json",
            WorkloadKind::CronJob,
            "spec.jobTemplate.spec.template.spec",
        ),
        (
            "core.v1.ReplicationController.json",
            WorkloadKind::ReplicationController,
            "spec.template.spec",
        ),
        (
            "core.v1.PodTemplate.json",
            WorkloadKind::PodTemplate,
            "template.spec",
        ),
    ];
    for (file, kind, base) in cases {
        let relative = format!("kubernetes-api/testdata/HEAD/{file}");
        let object = load(&relative)?;
        assert_eq!(object_kind(&object), Some(kind), "{file}");
        assert_eq!(
            found(kind, &object, &relative)?,
            kubernetes_api_uses(base),
            "{file}"
        );
    }
    Ok(())
}

/// The AdmissionReview fixtures carry a custom resource, not a workload.
#[test]
fn kubernetes_api_admission_reviews_hold_no_workload() -> Result<(), String> {
    for file in [
        "admission.k8s.io.v1.AdmissionReview.json",
        "admission.k8s.io.v1beta1.AdmissionReview.json",
    ] {
        let review = load(&format!("kubernetes-api/testdata/HEAD/{file}"))?;
        assert_eq!(request_kind(&review["request"]), None, "{file}");
        assert_eq!(object_kind(&review["request"]["object"]), None, "{file}");
    }
    Ok(())
}
