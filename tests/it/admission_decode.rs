//! The review decoder (`admission::parse_review`, which reads only what a review needs) against
//! the full one (`admission::parse_review_full`, kube's types and the whole object) on every
//! captured AdmissionReview in ../shared/fixtures/third_party and tests/fixtures, and on
//! variants of them with the pod spec bent out of shape: both must read the same request
//! fields, the same metadata, the same images (or the same error) at every pod spec path of
//! every workload kind, the same pull identity, and give the same decision and answer.

use std::path::{Path, PathBuf};

use kube::core::DynamicObject;
use kube::core::admission::AdmissionRequest;
use serde_json::{Value, json};
use signet::admission::{answer_bytes, decide, parse_review, parse_review_full, respond};
use signet::cluster::PullIdentity;
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::workload::{WorkloadKind, extract_images};

const THIRD_PARTY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);
const OWN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

const ALL_KINDS: [WorkloadKind; 9] = [
    WorkloadKind::Pod,
    WorkloadKind::Deployment,
    WorkloadKind::ReplicaSet,
    WorkloadKind::StatefulSet,
    WorkloadKind::DaemonSet,
    WorkloadKind::Job,
    WorkloadKind::CronJob,
    WorkloadKind::ReplicationController,
    WorkloadKind::PodTemplate,
];

/// Bodies read differently on purpose: none (a key repeated in the request or the metadata is
/// refused by the review decoder, where the full one took the last: no fixture has one).
const READ_ONLY_BY_THE_REVIEW_DECODER: [&str; 0] = [];

/// Engines without network: one passes every image, one fails every image.
fn engines() -> [Engine; 2] {
    ["pass", "fail"].map(|action| {
        let policy = format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: all}}\nspec:\n  images: [{{glob: \"**\"}}]\n  authorities: [{{static: {{action: {action}}}}}]\n"
        );
        Engine::new(
            PolicySet::from_yaml(&policy, "test").unwrap(),
            Registry::new(RegistryConfig::default(), Credentials::default()),
            EngineSettings::default(),
        )
    })
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "json" || e == "yaml") {
            out.push(path);
        }
    }
}

/// Every file that holds an AdmissionReview (or, as kubewarden's test data, only its request),
/// as a JSON body; with its name.
fn captured_reviews() -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    walk(Path::new(THIRD_PARTY), &mut paths);
    walk(Path::new(OWN), &mut paths);
    paths.sort();
    let mut bodies = Vec::new();
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let name = path.display().to_string();
        let is_yaml = path.extension().is_some_and(|e| e == "yaml");
        let value: Option<Value> = match is_yaml {
            true => serde_yaml::from_slice(&bytes).ok(),
            false => serde_json::from_slice(&bytes).ok(),
        };
        let looks_like_review =
            |v: &Value| v.get("request").is_some() || v["kind"] == "AdmissionReview";
        match value {
            Some(v) if v.get("uid").is_some() && v.get("operation").is_some() => {
                let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": v});
                bodies.push((name, review.to_string().into_bytes()));
            }
            // The raw bytes, so both decoders see exactly what was captured.
            Some(v) if looks_like_review(&v) && !is_yaml => bodies.push((name, bytes)),
            Some(v) if looks_like_review(&v) => bodies.push((name, v.to_string().into_bytes())),
            // Not JSON at all, but named like a review: both must refuse it.
            None if name.contains("admission") && !is_yaml => bodies.push((name, bytes)),
            _ => {}
        }
    }
    bodies
}

/// Bent copies of `body`: every pod spec list, container, image and spec replaced by each odd
/// shape, at the Pod's and at a Deployment's paths, plus duplicated and escaped keys.
fn variants(body: &[u8]) -> Vec<Vec<u8>> {
    let Ok(review) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    if review["request"]["object"]["spec"].is_null() {
        return Vec::new();
    }
    let odd = [
        json!(null),
        json!(7),
        json!("x"),
        json!([]),
        json!({}),
        json!([{"image": 5}]),
        json!([{"name": "n"}]),
        json!([{"name": "v", "image": "str"}]),
        json!([{"name": "v", "image": {"reference": 3}}]),
        json!([["nested"]]),
        json!([{"name": "c", "image": "ghcr.io/o/a:1", "env": [{"name": "E"}]}]),
    ];
    let mut out = Vec::new();
    for field in [
        "containers",
        "initContainers",
        "ephemeralContainers",
        "volumes",
        "imagePullSecrets",
        "serviceAccountName",
        "template",
        "jobTemplate",
    ] {
        for value in &odd {
            let mut bent = review.clone();
            bent["request"]["object"]["spec"][field] = value.clone();
            out.push(bent.to_string().into_bytes());
            let mut deployment = review.clone();
            let spec = deployment["request"]["object"]["spec"].take();
            deployment["request"]["object"]["spec"] = json!({"template": {"spec": spec}});
            deployment["request"]["kind"] =
                json!({"group": "apps", "version": "v1", "kind": "Deployment"});
            deployment["request"]["object"]["spec"]["template"]["spec"][field] = value.clone();
            out.push(deployment.to_string().into_bytes());
        }
    }
    for value in &odd {
        let mut bent = review.clone();
        bent["request"]["object"]["spec"] = value.clone();
        out.push(bent.to_string().into_bytes());
        let mut bent = review.clone();
        bent["request"]["object"] = value.clone();
        out.push(bent.to_string().into_bytes());
    }
    // Metadata of the wrong types: refused by both, though only some of it is kept.
    for (field, value) in [
        ("", json!(null)),
        ("", json!("x")),
        ("name", json!(3)),
        ("labels", json!({"a": 1})),
        ("annotations", json!(["a"])),
        ("creationTimestamp", json!("")),
        ("creationTimestamp", json!("2026-12-05T10:00:00Z")),
        ("deletionTimestamp", json!("yesterday")),
        ("generation", json!("1")),
        ("finalizers", json!([1])),
        ("ownerReferences", json!([{"kind": "ReplicaSet"}])),
        ("managedFields", json!("x")),
        ("managedFields", json!([{"time": "x"}])),
        ("managedFields", json!([{"manager": 1}])),
        (
            "managedFields",
            json!([{"fieldsV1": [1, {"f:x": null}], "time": null}]),
        ),
        ("unknownField", json!({"any": ["thing"]})),
    ] {
        let mut bent = review.clone();
        match field {
            "" => bent["request"]["object"]["metadata"] = value,
            _ => bent["request"]["object"]["metadata"][field] = value,
        }
        out.push(bent.to_string().into_bytes());
    }
    // Duplicated keys (the last counts in both) and a key written with an escape.
    let text = String::from_utf8_lossy(body);
    out.push(
        text.replacen(
            "\"containers\":",
            "\"containers\":[{\"name\":\"first\",\"image\":\"first\"}],\"containers\":",
            1,
        )
        .into_bytes(),
    );
    out.push(
        text.replacen("\"containers\":", "\"contain\\u0065rs\":", 1)
            .into_bytes(),
    );
    out.push(
        text.replacen("\"image\":", "\"im\\u0061ge\":", 1)
            .into_bytes(),
    );
    out
}

/// What a review reads of an object, for comparison.
fn read(object: &Option<DynamicObject>, namespace: &str) -> Value {
    let Some(object) = object else {
        return Value::Null;
    };
    let m = &object.metadata;
    let per_kind: Vec<Value> = ALL_KINDS
        .iter()
        .map(|&kind| {
            let images = match extract_images(kind, &object.data) {
                Ok(uses) => json!(uses),
                Err(e) => json!(e.to_string()),
            };
            let who = PullIdentity::from_object(kind, namespace, &object.data);
            json!([images, who.service_account, who.pull_secrets])
        })
        .collect();
    json!({
        "types": object.types.as_ref().map(|t| (&t.api_version, &t.kind)),
        "name": m.name, "generateName": m.generate_name, "namespace": m.namespace, "uid": m.uid,
        "labels": m.labels, "annotations": m.annotations,
        "ownerReferences": m.owner_references,
        "kinds": per_kind,
    })
}

/// Everything a review reads of a request.
fn request_view(r: &AdmissionRequest<DynamicObject>) -> Value {
    let namespace = r.namespace.as_deref().unwrap_or("");
    json!({
        "types": (&r.types.api_version, &r.types.kind),
        "uid": r.uid, "kind": r.kind, "resource": r.resource, "subResource": r.sub_resource,
        "requestKind": r.request_kind, "requestResource": r.request_resource,
        "requestSubResource": r.request_sub_resource, "name": r.name, "namespace": r.namespace,
        "operation": r.operation, "userInfo": r.user_info, "dryRun": r.dry_run,
        "object": read(&r.object, namespace), "oldObject": read(&r.old_object, namespace),
    })
}

/// Compare both decoders on `body`; `Err` says how they differ.
async fn compare(body: &[u8], engines: &[Engine]) -> Result<bool, String> {
    let (full, fast) = (parse_review_full(body), parse_review(body));
    let (full, fast) = match (full, fast) {
        (Err(_), Err(_)) => return Ok(false),
        (Ok(full), Ok(fast)) => (full, fast),
        (Ok(_), Err(e)) => {
            return Err(format!(
                "only the full decoder reads it; review decoder: {e}"
            ));
        }
        (Err(e), Ok(_)) => {
            return Err(format!(
                "only the review decoder reads it; full decoder: {e}"
            ));
        }
    };
    let (want, got) = (request_view(&full), request_view(&fast));
    if want != got {
        return Err(format!("read differently:\nfull:   {want}\nreview: {got}"));
    }
    for engine in engines {
        let (a, b) = (decide(engine, &full).await, decide(engine, &fast).await);
        if a != b {
            return Err(format!("decided differently:\n{a:?}\n{b:?}"));
        }
        for dry_run in [false, true] {
            let a = serde_json::to_value(respond(&full, &a, dry_run)).unwrap();
            let direct: Value = serde_json::from_slice(&answer_bytes(&fast, &b, dry_run)).unwrap();
            let b = serde_json::to_value(respond(&fast, &b, dry_run)).unwrap();
            if a != b {
                return Err(format!("answered differently:\n{a}\n{b}"));
            }
            if direct != a {
                return Err(format!("written differently:\n{a}\n{direct}"));
            }
        }
    }
    Ok(true)
}

#[tokio::test]
async fn the_review_decoder_reads_every_captured_review_as_the_full_decoder_does() {
    let engines = engines();
    let reviews = captured_reviews();
    let (mut read_by_both, mut bent, mut differences) = (0, 0, Vec::new());
    for (name, body) in &reviews {
        match compare(body, &engines).await {
            Ok(true) => read_by_both += 1,
            Ok(false) => {}
            Err(why) => differences.push((name.clone(), why)),
        }
        for variant in variants(body) {
            bent += 1;
            if let Err(why) = compare(&variant, &engines).await {
                differences.push((format!("{name} (bent)"), why));
            }
        }
    }
    let unexpected: Vec<&(String, String)> = differences
        .iter()
        .filter(|(name, why)| {
            let known = READ_ONLY_BY_THE_REVIEW_DECODER
                .iter()
                .any(|f| name.ends_with(f) || name.ends_with(&format!("{f} (bent)")));
            !(known && why.starts_with("only the review decoder"))
        })
        .collect();
    assert!(unexpected.is_empty(), "{unexpected:#?}");
    for file in READ_ONLY_BY_THE_REVIEW_DECODER {
        assert!(
            differences.iter().any(|(name, _)| name.ends_with(file)),
            "{file} is read by both decoders now: take it off the list"
        );
    }
    assert!(reviews.len() >= 50, "{} review files found", reviews.len());
    assert!(read_by_both >= 45, "{read_by_both} read by both");
    assert!(bent >= 1000, "{bent} bent variants");
}

/// The realistic body of the benchmarks: everything it carries beyond the pod spec's images
/// (managedFields, env, probes, status) is left out of the object the review decoder builds.
#[test]
fn the_review_decoder_keeps_only_what_reviews_read() {
    let body =
        std::fs::read_to_string(format!("{OWN}/admission/replicaset-pod-review.json")).unwrap();
    let request = parse_review(body.as_bytes()).unwrap();
    let object = request.object.unwrap();
    assert!(object.metadata.managed_fields.is_none());
    assert_eq!(
        object.metadata.labels.unwrap()["pod-template-hash"],
        "7c9d8f6b5d"
    );
    assert_eq!(
        object.metadata.owner_references.unwrap()[0].kind,
        "ReplicaSet"
    );
    let expected = json!({"spec": {
        "containers": [
            {"name": "web", "image": "@IMAGE_WEB@"},
            {"name": "sidecar", "image": "@IMAGE_SIDECAR@"},
            {"name": "metrics", "image": "@IMAGE_METRICS@"}
        ],
        "volumes": [{"name": "config"}, {"name": "kube-api-access-7xk2p"}],
        "serviceAccountName": "web"
    }});
    assert_eq!(object.data, expected);
}
