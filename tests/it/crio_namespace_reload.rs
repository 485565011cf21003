//! `--signature-policy-dir` files are re-read when they change, as `serve` watches them: a new
//! `<namespace>.json` takes over its namespace, a broken one is refused with the policy in force
//! kept, and a removed one hands the namespace back to the global policy. Real registry, real
//! engine, the reload watcher `serve` runs.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use signet::engine::{Engine, EngineSettings};
use signet::registry::{Credentials, Registry, RegistryConfig};
use signet::reload::{PolicySources, watch_sources};
use signet::workload::ImageUse;

use crate::common::crio::{key_requirement, policy_json};
use crate::common::{TestKey, TestRegistry, push_image, replace_file, sign_image};

async fn admitted(engine: &Engine, namespace: &str, image: &str) -> bool {
    let usage = ImageUse {
        path: "spec.containers[0]".into(),
        container: "app".into(),
        image: image.into(),
    };
    engine.review(Some(namespace), &[usage]).await.allowed()
}

/// The next reload's result, waited for with a deadline generous enough for a loaded machine.
async fn next_reload(reports: &mut mpsc::UnboundedReceiver<bool>) -> bool {
    tokio::time::timeout(Duration::from_secs(60), reports.recv())
        .await
        .expect("a reload within 60 s")
        .expect("the watcher runs")
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_files_are_reloaded_and_a_broken_one_keeps_the_policy_in_force() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let (global_key, team_key) = (TestKey::generate(), TestKey::generate());
    let a_digest = push_image(&registry, "team/a:v1", "a").await;
    let b_digest = push_image(&registry, "team/b:v1", "b").await;
    sign_image(&registry, "team/a", &a_digest, &global_key).await;
    sign_image(&registry, "team/b", &b_digest, &team_key).await;
    let (a, b) = (format!("{host}/team/a:v1"), format!("{host}/team/b:v1"));

    let dir = tempfile::tempdir().unwrap();
    let global = dir.path().join("policy.json");
    let namespaces = dir.path().join("namespaces");
    std::fs::create_dir(&namespaces).unwrap();
    let requirement = |key: &TestKey| vec![key_requirement(&key.public_pem, "matchRepository")];
    replace_file(&global, &policy_json(&[(&host, requirement(&global_key))]));
    let sources = PolicySources {
        paths: vec![global.clone()],
        trust_roots: Vec::new(),
        namespace_dir: Some(namespaces.clone()),
        notation: None,
    };
    let config = RegistryConfig {
        insecure: vec![host.clone()],
        ..RegistryConfig::default()
    };
    let registry_client = Registry::new(config, Credentials::default());
    let policies = sources.load(None).unwrap();
    let engine = Arc::new(Engine::new(
        policies,
        registry_client,
        EngineSettings::default(),
    ));
    let (tx, mut reports) = mpsc::unbounded_channel();
    let watcher = watch_sources(
        sources,
        None,
        engine.clone(),
        Duration::from_millis(100),
        move |ok| {
            let _ = tx.send(ok);
        },
    );
    let watching = tokio::spawn(watcher);

    assert!(
        admitted(&engine, "team-a", &a).await,
        "no file yet: the global policy"
    );
    assert!(!admitted(&engine, "team-a", &b).await);

    let team_file = namespaces.join("team-a.json");
    replace_file(&team_file, &policy_json(&[(&host, requirement(&team_key))]));
    assert!(next_reload(&mut reports).await, "the new file loads");
    assert!(!admitted(&engine, "team-a", &a).await);
    assert!(admitted(&engine, "team-a", &b).await);
    assert!(
        admitted(&engine, "default", &a).await,
        "other namespaces keep the global policy"
    );
    let before = engine.policies().fingerprint().to_string();

    replace_file(
        &team_file,
        r#"{"default": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/k"}]}"#,
    );
    assert!(!next_reload(&mut reports).await, "a broken file is refused");
    assert_eq!(
        engine.policies().fingerprint(),
        before,
        "the policy in force stays"
    );
    assert!(admitted(&engine, "team-a", &b).await);

    std::fs::remove_file(&team_file).unwrap();
    assert!(next_reload(&mut reports).await);
    assert!(
        admitted(&engine, "team-a", &a).await,
        "the namespace is back on the global policy"
    );
    watching.abort();
}
