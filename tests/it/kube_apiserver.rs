//! A real `kube::Client` and kube-runtime watcher against the real kube-apiserver (one shared
//! control plane for this file, tests/common/shared_plane.rs): lists, gets, Status errors, watch
//! events and status patches, and the Secret and ServiceAccount shapes of
//! tests/common/kube_objects.rs accepted by the API server's validation as other tests use them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use crate::common::kube_objects::{docker_config_secret, service_account};
use crate::common::shared_plane::{apply, client, get, requests_to, shared};
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

#[tokio::test(flavor = "multi_thread")]
async fn kube_client_lists_and_gets_core_objects_in_one_namespace() {
    let plane = shared();
    plane.namespace("kube-team-a");
    plane.namespace("kube-team-b");
    apply(
        plane,
        &[
            docker_config_secret("kube-team-a", "pull", "r.example:5000", "u", "p"),
            docker_config_secret("kube-team-b", "pull", "r.example:5000", "x", "y"),
            service_account("kube-team-a", "builder", &["pull"]),
        ],
    );
    let client = client(plane).await;

    let secrets: Api<Secret> = Api::namespaced(client.clone(), "kube-team-a");
    let list = secrets.list(&Default::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    let secret = secrets.get("pull").await.unwrap();
    assert_eq!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson")
    );
    assert!(secret.data.unwrap().contains_key(".dockerconfigjson"));

    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "kube-team-a");
    let sa = accounts.get("builder").await.unwrap();
    assert_eq!(sa.image_pull_secrets.unwrap()[0].name, "pull");

    let missing = secrets.get_opt("absent").await.unwrap();
    assert!(missing.is_none(), "a 404 Status is None for get_opt");
    let err = secrets.get("absent").await.unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let asked = requests_to(plane, "/namespaces/kube-team-a/secrets");
    assert!(
        asked.len() >= 4,
        "the audit log records the client: {asked:?}"
    );
    assert_eq!(requests_to(plane, "/namespaces/kube-team-b/").len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn watcher_sees_existing_then_live_changes_and_status_patches_land() {
    // Policies are cluster-wide and the plane is every test area's: wait for a turn at them
    // (the CRDs installed, no policy object left by another test).
    let _turn = crate::common::policy_objects::policy_turn().await;
    let plane = shared();
    let policy = |name: &str, glob: &str| {
        json!({"apiVersion": "policy.sigstore.dev/v1beta1", "kind": "ClusterImagePolicy",
               "metadata": {"name": name}, "spec": {"images": [{"glob": glob}], "authorities": [{"static": {"action": "pass"}}]}})
    };
    apply(plane, &[policy("first", "a/*")]);
    let api: Api<DynamicObject> = Api::all_with(client(plane).await, &cip_resource());
    let mut events = watcher(api.clone(), watcher::Config::default()).boxed();

    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
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
                apply(plane, &[policy("second", "b/*")]);
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
    let stored = get(
        plane,
        "clusterimagepolicies.policy.sigstore.dev",
        None,
        "first",
    )
    .unwrap();
    assert_eq!(stored["status"]["conditions"][0]["status"], "False");
}
