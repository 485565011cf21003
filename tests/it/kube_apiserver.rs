//! The test API server answers a real `kube::Client` and a kube-runtime watcher the way the
//! kube-apiserver does: lists, gets, Status errors, chunked watch events, status patches.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::apiserver::{TestApiServer, docker_config_secret, service_account};
use futures::StreamExt;
use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::api::{Api, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::discovery::ApiResource;
use kube::runtime::watcher;
use serde_json::json;

fn cip_resource() -> ApiResource {
    let gvk = GroupVersionKind::gvk("policy.sigstore.dev", "v1beta1", "ClusterImagePolicy");
    ApiResource::from_gvk_with_plural(&gvk, "clusterimagepolicies")
}

#[tokio::test]
async fn kube_client_lists_and_gets_core_objects_in_one_namespace() {
    let server = TestApiServer::start().await;
    server.apply(
        "secrets",
        docker_config_secret("team-a", "pull", "r.example:5000", "u", "p"),
    );
    server.apply(
        "secrets",
        docker_config_secret("team-b", "pull", "r.example:5000", "x", "y"),
    );
    server.apply(
        "serviceaccounts",
        service_account("team-a", "default", &["pull"]),
    );
    let client = server.client();

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    let list = secrets.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let secret = secrets.get("pull").await.unwrap();
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert!(secret.data.unwrap().contains_key(".dockerconfigjson"));

    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "team-a");
    let sa = accounts.get("default").await.unwrap();
    assert_eq!(sa.image_pull_secrets.unwrap()[0].name, "pull");

    let missing = secrets.get_opt("absent").await.unwrap();
    assert!(missing.is_none(), "a 404 Status is None for get_opt");
    let err = secrets.get("absent").await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    assert_eq!(server.requests_to("/namespaces/team-b/").len(), 0);
}

#[tokio::test]
async fn watcher_sees_existing_then_live_changes_and_status_patches_land() {
    let server = TestApiServer::start().await;
    let policy = |name: &str, glob: &str| {
        json!({"apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
               "metadata": {"name": name}, "spec": {"images": [{"glob": glob}], "authorities": [{"static": {"action": "pass"}}]}})
    };
    server.apply("clusterimagepolicies", policy("first", "a/*"));
    let api: Api<DynamicObject> = Api::all_with(server.client(), &cip_resource());
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(&"second".to_string()) {
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        match event {
            watcher::Event::InitApply(o) | watcher::Event::Apply(o) => {
                seen.push(o.metadata.name.unwrap())
            }
            watcher::Event::InitDone => {
                server.apply("clusterimagepolicies", policy("second", "b/*"));
            }
            _ => {}
        }
    }
    assert_eq!(seen, ["first", "second"]);

    let patch = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Invalid"}]}});
    let patched = api
        .patch_status("first", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    assert_eq!(patched.data["status"]["conditions"][0]["reason"], "Invalid");
    assert_eq!(
        patched.data["spec"]["images"][0]["glob"], "a/*",
        "a status patch leaves spec alone"
    );
    let stored = server
        .get(
            "policy.sigstore.dev/v1beta1",
            "clusterimagepolicies",
            None,
            "first",
        )
        .unwrap();
    assert_eq!(stored["status"]["conditions"][0]["status"], "False");
}
