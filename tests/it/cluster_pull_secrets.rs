//! The pod's own registry credentials, read through a real kube client from the test API server
//! (tests/common/apiserver.rs) and presented to a real registry that requires htpasswd auth.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::apiserver::{TestApiServer, docker_config_secret, service_account};
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
    let api = TestApiServer::start().await;
    let host = registry.host();
    api.apply(
        "secrets",
        docker_config_secret("team-a", "regcred", &host, "tenant-a", "s3cret"),
    );
    api.apply(
        "secrets",
        docker_config_secret("team-b", "regcred", &host, "tenant-a", "s3cret"),
    );
    let secrets = PullSecrets::new(api.client(), Duration::from_secs(30), 100);

    let with = secrets
        .credentials(&pod("team-a", None, &["regcred"]))
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
        .credentials(&pod("team-c", None, &[]))
        .await
        .unwrap();
    assert!(without.is_empty());
    assert!(
        !can_resolve(&registry, without, "private/app:v1").await,
        "anonymous is refused"
    );

    let named_elsewhere = secrets
        .credentials(&pod("team-c", None, &["regcred"]))
        .await
        .unwrap();
    assert!(
        named_elsewhere.is_empty(),
        "a secret of the same name in another namespace is not used"
    );
    let reads: Vec<String> = api
        .requests_to("/secrets/")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert!(
        reads.iter().all(|p| !p.contains("/namespaces/team-b/")),
        "{reads:?}"
    );
    assert!(
        reads.contains(&"/api/v1/namespaces/team-c/secrets/regcred".to_string()),
        "{reads:?}"
    );
}

#[tokio::test]
async fn service_account_pull_secrets_are_used_and_the_default_account_when_none_is_named() {
    let api = TestApiServer::start().await;
    api.apply(
        "secrets",
        docker_config_secret("team-a", "sa-cred", "a.example", "from-sa", "p"),
    );
    api.apply(
        "secrets",
        docker_config_secret("team-a", "pod-cred", "a.example", "from-pod", "p"),
    );
    api.apply(
        "secrets",
        docker_config_secret("team-a", "builder-cred", "b.example", "builder", "p"),
    );
    api.apply(
        "serviceaccounts",
        service_account("team-a", "default", &["sa-cred"]),
    );
    api.apply(
        "serviceaccounts",
        service_account("team-a", "builder", &["builder-cred"]),
    );
    let secrets = PullSecrets::new(api.client(), Duration::from_secs(30), 100);

    let default_sa = secrets
        .credentials(&pod("team-a", None, &[]))
        .await
        .unwrap();
    assert_eq!(
        user_for(&default_sa, "a.example").as_deref(),
        Some("from-sa")
    );

    let pod_first = secrets
        .credentials(&pod("team-a", None, &["pod-cred"]))
        .await
        .unwrap();
    assert_eq!(
        user_for(&pod_first, "a.example").as_deref(),
        Some("from-pod"),
        "the pod's own secret comes first"
    );

    let builder = secrets
        .credentials(&pod("team-a", Some("builder"), &["missing"]))
        .await
        .unwrap();
    assert_eq!(user_for(&builder, "b.example").as_deref(), Some("builder"));
    assert_eq!(
        user_for(&builder, "a.example"),
        None,
        "only the named account's secrets"
    );

    let before = api.requests().len();
    secrets
        .credentials(&pod("team-a", Some("builder"), &["missing"]))
        .await
        .unwrap();
    assert_eq!(
        api.requests().len(),
        before,
        "a second look-up is served from the cache"
    );
}
