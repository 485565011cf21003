//! Real AdmissionReview bodies from other projects go through Signet's admission edge (kube's
//! wire types, then the engine): each parses, or is refused with a clear error where the body is
//! broken, and every image the object runs gets a verdict at its path.
//!
//! Sources (see ../shared/fixtures/third_party/README.md): connaisseur
//! `test/testdata/admission_requests/*.json`; kubewarden verify-image-signatures
//! `test_data/*.json` (request member only); kube-rs `extracted/admission_review_v1_pod_create_gke.json`.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use signet::admission::{decide, parse_review};
use signet::engine::{Engine, EngineSettings};
use signet::policy::PolicySet;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::workload::{WorkloadKind, extract_images};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party"
);

/// An engine that admits every image by a static authority: no network, verdicts for all.
fn engine() -> Engine {
    let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";
    let policies = PolicySet::from_yaml(policy, "test").unwrap();
    Engine::new(
        policies,
        Registry::new(RegistryConfig::default(), Credentials::default()),
        EngineSettings::default(),
    )
}

fn files(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(Path::new(FIXTURES).join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    out.sort();
    out
}

/// Connaisseur fixtures that are deliberately broken (not AdmissionReviews Signet can answer),
/// and two hand-edited ones whose `oldObject` is the string `"None"` (a Python leftover) or `""`
/// where kube-apiserver sends `null` on CREATE: Signet refuses those bodies (400) rather than
/// guess, which kube-apiserver turns into a denial under `failurePolicy: Fail`. `13` has
/// `creationTimestamp: ""`, which kube-apiserver never sends (it sends `null`) and k8s-openapi's
/// strict time type refuses.
const BROKEN: [&str; 7] = [
    "13_unknown_parent.json",
    "21_broken_admission_request.json",
    "25_null_request.json",
    "26_broken_update_admission_request.json",
    "12_err_pod.json",
    "04_cronjob.json",
    "09_dply_multi_image.json",
];

async fn check(body: &[u8], name: &str, engine: &Engine) -> usize {
    let request = parse_review(body).unwrap_or_else(|e| panic!("{name}: {e}"));
    let decision = decide(engine, &request).await;
    let kind = WorkloadKind::from_kind(&request.kind.group, &request.kind.kind);
    let expected = match (kind, &request.object) {
        (Some(kind), Some(object))
            if request.operation != kube::core::admission::Operation::Delete =>
        {
            extract_images(kind, &object.data).unwrap()
        }
        _ => Vec::new(),
    };
    let paths: Vec<&str> = decision
        .verdicts
        .iter()
        .map(|v| v.usage.path.as_str())
        .collect();
    let want: Vec<&str> = expected.iter().map(|u| u.path.as_str()).collect();
    assert_eq!(paths, want, "{name}");
    assert!(decision.allowed(), "{name}: {:?}", decision.deny_message());
    decision.verdicts.len()
}

#[tokio::test]
async fn connaisseur_admission_requests_parse_and_every_image_gets_a_verdict() {
    let engine = engine();
    let mut images = 0;
    let mut reviewed = 0;
    for path in files("connaisseur/test/testdata/admission_requests") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let body = std::fs::read(&path).unwrap();
        if BROKEN.contains(&name.as_str()) {
            continue;
        }
        images += check(&body, &name, &engine).await;
        reviewed += 1;
    }
    assert_eq!(reviewed, 22);
    assert_eq!(images, 23, "images found across the fixtures");
}

#[tokio::test]
async fn broken_connaisseur_requests_are_refused_or_denied_never_admitted_by_accident() {
    let engine = engine();
    for name in BROKEN {
        let body = std::fs::read(
            Path::new(FIXTURES)
                .join("connaisseur/test/testdata/admission_requests")
                .join(name),
        )
        .unwrap();
        match parse_review(&body) {
            Err(_) => {}
            Ok(request) => {
                let decision = decide(&engine, &request).await;
                assert!(!decision.allowed(), "{name} admitted");
            }
        }
    }
}

#[tokio::test]
async fn kubewarden_requests_wrapped_as_reviews_parse_and_every_image_gets_a_verdict() {
    let engine = engine();
    let mut reviewed = 0;
    for path in files("kubewarden-verify-image-signatures/test_data") {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let request: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let review = serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request});
        let count = check(review.to_string().as_bytes(), &name, &engine).await;
        assert!(count >= 1, "{name}");
        reviewed += 1;
    }
    assert_eq!(reviewed, 20);
}

#[tokio::test]
async fn gke_capture_from_kube_rs_parses_and_its_image_is_found() {
    let body = std::fs::read(
        Path::new(FIXTURES).join("kube-rs/extracted/admission_review_v1_pod_create_gke.json"),
    )
    .unwrap();
    assert_eq!(check(&body, "gke", &engine()).await, 1);
}

/// kubernetes/website's documented request (a `deployments/scale` UPDATE, YAML) parses and is
/// admitted untouched: a Scale cannot change an image.
#[tokio::test]
async fn kubernetes_docs_scale_request_is_admitted_without_review() {
    let text =
        std::fs::read_to_string(Path::new(FIXTURES).join(
            "kubernetes-website/docs-examples/admissionreview-request-scale-subresource.yaml",
        ))
        .unwrap();
    let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
    let request = parse_review(value.to_string().as_bytes()).unwrap();
    assert_eq!(request.sub_resource.as_deref(), Some("scale"));
    let decision = decide(&engine(), &request).await;
    assert!(decision.allowed());
    assert!(decision.verdicts.is_empty());
}

/// Signet's deny answer has the shape kubernetes/website documents (`response.uid`, `allowed`,
/// `status.code`, `status.message`), plus `status.reason`; its warn answer carries `warnings`.
#[tokio::test]
async fn answers_have_the_documented_response_shape() {
    use signet::admission::respond;
    let docs = Path::new(FIXTURES).join("kubernetes-website/docs-examples");
    let documented: serde_json::Value = serde_json::from_slice(
        &std::fs::read(docs.join("admissionreview-response-deny-with-status.json")).unwrap(),
    )
    .unwrap();
    let body = std::fs::read(
        Path::new(FIXTURES).join("kube-rs/extracted/admission_review_v1_pod_create_gke.json"),
    )
    .unwrap();
    let request = parse_review(&body).unwrap();
    let fail = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: none}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: fail}}]\n";
    let engine = Engine::new(
        PolicySet::from_yaml(fail, "test").unwrap(),
        Registry::new(RegistryConfig::default(), Credentials::default()),
        EngineSettings::default(),
    );
    let answer =
        serde_json::to_value(respond(&request, &decide(&engine, &request).await, false)).unwrap();
    assert_eq!(answer["apiVersion"], documented["apiVersion"]);
    assert_eq!(answer["kind"], documented["kind"]);
    assert_eq!(answer["response"]["uid"], serde_json::json!(request.uid));
    assert_eq!(answer["response"]["allowed"], false);
    assert_eq!(
        answer["response"]["status"]["code"],
        documented["response"]["status"]["code"]
    );
    assert!(answer["response"]["status"]["message"].is_string());
    assert_eq!(
        answer["response"]["status"]["reason"],
        "SignatureValidationFailed"
    );
    let warned =
        serde_json::to_value(respond(&request, &decide(&engine, &request).await, true)).unwrap();
    assert_eq!(warned["response"]["allowed"], true);
    assert!(
        warned["response"]["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("dry-run, would deny")
    );
}

/// Every body the fixtures hold, plus edge cases kube-apiserver never sends, decodes exactly as
/// kube's derived decoder decodes it with `parse_review_full` (which skips that decoder's
/// buffering for speed), and fails where it fails. The review decoder, `parse_review`, is
/// compared with `parse_review_full` in `admission_decode`.
#[test]
fn the_fast_decoder_agrees_with_kubes_derived_one() {
    use kube::core::DynamicObject;
    use kube::core::admission::{AdmissionRequest, AdmissionReview};

    let reference = |body: &[u8]| -> Option<serde_json::Value> {
        let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).ok()?;
        let request: AdmissionRequest<DynamicObject> = review.try_into().ok()?;
        Some(serde_json::to_value(request).unwrap())
    };
    let mut bodies: Vec<(String, Vec<u8>)> = Vec::new();
    for dir in [
        "connaisseur/test/testdata/admission_requests",
        "kube-rs/extracted",
        "kubernetes-api/testdata/HEAD",
    ] {
        for path in files(dir) {
            let body = std::fs::read(&path).unwrap();
            if String::from_utf8_lossy(&body).contains("AdmissionReview") {
                bodies.push((path.display().to_string(), body));
            }
        }
    }
    let pod = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"operation":"CREATE","userInfo":{},"object":OBJ,"oldObject":OLD}}"#;
    let edges = [
        ("no types", r#"{"metadata":{"name":"a"},"spec":{}}"#, "null"),
        ("kind only", r#"{"kind":"Pod","spec":{}}"#, "null"),
        ("numeric kind", r#"{"apiVersion":"v1","kind":7}"#, "null"),
        ("no metadata", r#"{"apiVersion":"v1","kind":"Pod"}"#, "null"),
        (
            "null metadata",
            r#"{"apiVersion":"v1","kind":"Pod","metadata":null}"#,
            "null",
        ),
        ("bad metadata", r#"{"metadata":{"name":3}}"#, "null"),
        ("string object", r#""None""#, "null"),
        ("array object", "[]", "null"),
        (
            "both objects",
            r#"{"apiVersion":"v1","kind":"Pod"}"#,
            r#"{"kind":"Pod"}"#,
        ),
        (
            "null object",
            "null",
            r#"{"apiVersion":"v1","kind":"Pod","x":1}"#,
        ),
    ];
    for (name, object, old) in edges {
        let body = pod.replace("OBJ", object).replace("OLD", old);
        bodies.push((name.to_string(), body.into_bytes()));
    }
    bodies.push((
        "no request".into(),
        br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
    ));
    bodies.push(("not json".into(), b"{".to_vec()));
    let mut agreed = 0;
    for (name, body) in &bodies {
        let ours = signet::admission::parse_review_full(body)
            .ok()
            .map(|r| serde_json::to_value(r).unwrap());
        assert_eq!(ours, reference(body), "{name}");
        agreed += 1;
    }
    assert!(agreed >= 43, "{agreed} bodies compared");
}
