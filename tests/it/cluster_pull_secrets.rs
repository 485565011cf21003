//! The pod's own registry credentials, read through a real kube client from the real
//! kube-apiserver (one shared control plane for this file, tests/common/shared_plane.rs; its
//! audit log tells which objects were read) and presented to a real registry that requires
//! htpasswd auth. Each test works in namespaces of its own.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::control_plane::ControlPlane;
use crate::common::kube_objects::{docker_config_secret, service_account};
use crate::common::shared_plane::{apply, client, requests_to, shared};
use crate::common::{TestRegistry, push_image};
use oci_client::secrets::RegistryAuth;
use serde_json::json;
use signet::cluster::{PullIdentity, PullSecrets};
use signet::reference::ImageReference;
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::workload::WorkloadKind;

fn pod(namespace: &str, service_account: Option<&str>, pull_secrets: &[&str]) -> PullIdentity {
    let mut spec = json!({"containers": [{"name": "app", "image": "x"}]});
    if let Some(sa) = service_account {
        spec["serviceAccountName"] = json!(sa);
    }
    spec["imagePullSecrets"] = json!(
        pull_secrets
            .iter()
            .map(|n| json!({"name": n}))
            .collect::<Vec<_>>()
    );
    PullIdentity::from_object(WorkloadKind::Pod, namespace, &json!({"spec": spec}))
}

fn user_for(credentials: &Credentials, registry: &str) -> Option<String> {
    match credentials.auth_for(registry, "demo/app") {
        RegistryAuth::Basic(user, _) => Some(user),
        _ => None,
    }
}

/// Whether `credentials` let the registry stage resolve `image` on the htpasswd registry.
async fn can_resolve(registry: &TestRegistry, credentials: Credentials, image: &str) -> bool {
    let config = RegistryConfig {
        insecure: vec![registry.host()],
        ..RegistryConfig::default()
    };
    let client = Registry::new(config, credentials);
    let reference = ImageReference::parse(&format!("{}/{image}", registry.host())).unwrap();
    client.resolve_digest(&reference).await.is_ok()
}

#[tokio::test]
async fn the_pods_pull_secret_opens_the_private_registry_and_nothing_else_does() {
    let registry = TestRegistry::start_with_htpasswd("tenant-a", "s3cret");
    push_image(&registry, "private/app:v1", "pull-secret").await;
    let plane = shared();
    let host = registry.host();
    for namespace in ["ps-team-a", "ps-team-b", "ps-team-c"] {
        plane.namespace(namespace);
    }
    apply(
        plane,
        &[
            docker_config_secret("ps-team-a", "regcred", &host, "tenant-a", "s3cret"),
            docker_config_secret("ps-team-b", "regcred", &host, "tenant-a", "s3cret"),
        ],
    );
    let secrets = real_plane_secrets(plane).await;

    let with = secrets
        .credentials(&pod("ps-team-a", None, &["regcred"]))
        .await
        .unwrap();
    assert_eq!(user_for(&with, &host).as_deref(), Some("tenant-a"));
    assert_eq!(
        user_for(&with, "127.0.0.1:1"),
        None,
        "never presented to another registry"
    );
    assert!(can_resolve(&registry, with, "private/app:v1").await);

    let without = secrets
        .credentials(&pod("ps-team-c", None, &[]))
        .await
        .unwrap();
    assert!(without.is_empty());
    assert!(
        !can_resolve(&registry, without, "private/app:v1").await,
        "anonymous is refused"
    );

    let named_elsewhere = secrets
        .credentials(&pod("ps-team-c", None, &["regcred"]))
        .await
        .unwrap();
    assert!(
        named_elsewhere.is_empty(),
        "a secret of the same name in another namespace is not used"
    );
    let reads: Vec<String> = requests_to(plane, "/namespaces/ps-team-")
        .into_iter()
        .map(|r| r.uri)
        .collect();
    assert!(
        reads.iter().all(|p| !p.contains("/namespaces/ps-team-b/")),
        "{reads:?}"
    );
    assert!(
        reads
            .iter()
            .any(|p| p.starts_with("/api/v1/namespaces/ps-team-c/secrets/regcred")),
        "{reads:?}"
    );
}

#[tokio::test]
async fn service_account_pull_secrets_are_used_and_the_default_account_when_none_is_named() {
    let plane = shared();
    let ns = "sa-team-a";
    plane.namespace(ns);
    apply(
        plane,
        &[
            docker_config_secret(ns, "sa-cred", "a.example", "from-sa", "p"),
            docker_config_secret(ns, "pod-cred", "a.example", "from-pod", "p"),
            docker_config_secret(ns, "builder-cred", "b.example", "builder", "p"),
            service_account(ns, "default", &["sa-cred"]),
            service_account(ns, "builder", &["builder-cred"]),
        ],
    );
    let secrets = real_plane_secrets(plane).await;

    let default_sa = secrets.credentials(&pod(ns, None, &[])).await.unwrap();
    assert_eq!(
        user_for(&default_sa, "a.example").as_deref(),
        Some("from-sa")
    );

    let pod_first = secrets
        .credentials(&pod(ns, None, &["pod-cred"]))
        .await
        .unwrap();
    assert_eq!(
        user_for(&pod_first, "a.example").as_deref(),
        Some("from-pod"),
        "the pod's own secret comes first"
    );

    let builder = secrets
        .credentials(&pod(ns, Some("builder"), &["missing"]))
        .await
        .unwrap();
    assert_eq!(user_for(&builder, "b.example").as_deref(), Some("builder"));
    assert_eq!(
        user_for(&builder, "a.example"),
        None,
        "only the named account's secrets"
    );

    let before = requests_to(plane, "/namespaces/sa-team-a/").len();
    secrets
        .credentials(&pod(ns, Some("builder"), &["missing"]))
        .await
        .unwrap();
    assert_eq!(
        requests_to(plane, "/namespaces/sa-team-a/").len(),
        before,
        "a second look-up is served from the cache"
    );
}

/// Lookups through the shared real API server, with room for it being slow on a busy machine
/// (the default two seconds are the webhook's, not a test's).
async fn real_plane_secrets(plane: &ControlPlane) -> PullSecrets {
    let secrets = PullSecrets::new(client(plane).await, Duration::from_secs(30), 100);
    secrets.with_timeout(Duration::from_secs(10))
}
