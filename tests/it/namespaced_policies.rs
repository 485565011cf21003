//! Namespaced `ImagePolicy` objects only add requirements: whatever a namespace's users write
//! (`static: pass`, `mode: warn`, `onRegistryError: warn`, extension fields, a cluster policy's
//! name, placeholders, a kind the object's resource does not serve, keys of their own), an image
//! the cluster's policies and `--no-match deny` would deny stays denied. A namespace has a budget
//! of them apart from the cluster policies'. Each test runs the real watch against the real
//! kube-apiserver (tests/common/shared_plane.rs) with the shipped CRDs, which store every field
//! these variants use (`multiArch`, `requireDigest`, `placeholders` on an ImagePolicy). Two
//! kinds of object the real API server refuses at the door, yet Signet must still judge safely
//! where the CRDs installed are older or schemaless, run against the recorded-shapes server
//! (tests/common/apiserver.rs): a ClusterImagePolicy sent to the namespaced resource, and a
//! `static` action outside the enum. `--namespaced-policies-may-admit` restores the older rule.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::policy_objects::{
    Cluster, SIGNET, SIGSTORE, WatchOptions, decide, eventually, policy_names, policy_object,
    ready_condition, start, start_recorded_with, start_with, static_policy, verdict,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};
use serde_json::{Value, json};
use signet::engine::{Engine, EngineSettings, NamespacedPolicies};

/// Images here are never reached: a connection to port 1 is refused at once, so an image a
/// policy sends to the registry fails fast instead of waiting for a deadline.
const HOST: &str = "127.0.0.1:1";

fn may_admit() -> WatchOptions {
    WatchOptions {
        settings: EngineSettings {
            namespaced: NamespacedPolicies::MayAdmit,
            ..EngineSettings::default()
        },
        ..WatchOptions::default()
    }
}

fn image_policy(namespace: &str, name: &str, spec: Value) -> (&'static str, Value) {
    let object = policy_object(SIGNET, "ImagePolicy", Some(namespace), name, spec);
    ("imagepolicies", object)
}

fn pass(glob: &str) -> Value {
    json!({"images": [{"glob": glob}], "authorities": [{"static": {"action": "pass"}}]})
}

fn with(mut spec: Value, field: &str, value: Value) -> Value {
    spec[field] = value;
    spec
}

fn key_spec(glob: &str, key: &TestKey) -> Value {
    json!({"images": [{"glob": glob}], "authorities": [{"key": {"data": key.public_pem}}]})
}

/// The variant the real API server refuses (a kind its resource does not serve): judged on the
/// recorded-shapes server, as a cluster with schemaless CRDs would store it.
const SPOOFED_KIND: &str = "kind ClusterImagePolicy served by the namespaced resource";

/// The watch over `objects`: the real API server, or the recorded one for [`SPOOFED_KIND`].
async fn start_variant(
    variant: &str,
    objects: Vec<(&str, Value)>,
    options: WatchOptions,
) -> Cluster {
    if variant == SPOOFED_KIND {
        start_recorded_with(objects, options).await
    } else {
        start_with(objects, options).await
    }
}

/// Ways a namespace's users might try to admit what no cluster policy covers, each as the
/// objects they would create in namespace `tenant`.
fn lifting_attempts() -> Vec<(&'static str, Vec<(&'static str, Value)>)> {
    let everything = || pass("**");
    let key = TestKey::generate();
    let spoofed = {
        let mut object = static_policy(
            SIGNET,
            "ClusterImagePolicy",
            Some("tenant"),
            "spoofed",
            "**",
            "pass",
        );
        object["metadata"]["namespace"] = json!("tenant");
        ("imagepolicies", object)
    };
    vec![
        (
            "static pass, glob **",
            vec![image_policy("tenant", "all", everything())],
        ),
        (
            "static pass, glob for the registry",
            vec![image_policy("tenant", "reg", pass(&format!("{HOST}/**")))],
        ),
        (
            "static pass, the exact repository",
            vec![image_policy(
                "tenant",
                "repo",
                pass(&format!("{HOST}/tenant/app")),
            )],
        ),
        (
            "mode warn, static fail",
            vec![image_policy(
                "tenant",
                "warn",
                with(
                    json!({"images": [{"glob": "**"}], "authorities": [{"static": {"action": "fail"}}]}),
                    "mode",
                    json!("warn"),
                ),
            )],
        ),
        (
            "mode warn, a key that signed nothing",
            vec![image_policy(
                "tenant",
                "warn-key",
                with(key_spec("**", &key), "mode", json!("warn")),
            )],
        ),
        (
            "onRegistryError warn, a registry that refuses connections",
            vec![image_policy(
                "tenant",
                "registry-warn",
                with(key_spec("**", &key), "onRegistryError", json!("warn")),
            )],
        ),
        (
            "multiArch index, requireDigest false",
            vec![image_policy(
                "tenant",
                "ext",
                with(
                    with(everything(), "multiArch", json!("index")),
                    "requireDigest",
                    json!(false),
                ),
            )],
        ),
        (
            "the cluster policy's name",
            vec![image_policy("tenant", "release", everything())],
        ),
        (
            "two namespaced policies, both passing",
            vec![
                image_policy("tenant", "one", everything()),
                image_policy("tenant", "two", pass(&format!("{HOST}/**"))),
            ],
        ),
        (SPOOFED_KIND, vec![spoofed]),
    ]
}

/// The cluster's one policy: `HOST/release/**` passes.
fn cluster_release() -> (&'static str, Value) {
    let object = static_policy(
        SIGSTORE,
        "ClusterImagePolicy",
        None,
        "release",
        &format!("{HOST}/release/**"),
        "pass",
    );
    ("clusterimagepolicies", object)
}

async fn denied_as(engine: &Engine, namespace: Option<&str>, path: &str, image: &str) -> String {
    let decision = decide(engine, namespace, path, image).await;
    let verdict = &decision.verdicts[0];
    assert!(
        !decision.allowed(),
        "{image} in {namespace:?} at {path} is admitted: {:?}",
        verdict.outcome
    );
    let reason = verdict.outcome.reason().unwrap();
    format!(
        "{}: {}",
        verdict.outcome.code(),
        verdict.reason_text(reason)
    )
}

#[tokio::test]
async fn a_namespaced_policy_never_admits_an_image_no_cluster_policy_covers() {
    let image = format!("{HOST}/tenant/app:v1");
    for (variant, objects) in lifting_attempts() {
        let mut all = vec![cluster_release()];
        all.extend(objects);
        let c = start_variant(variant, all.clone(), WatchOptions::default()).await;
        assert_applied(&c, &all);
        let pod = "spec.containers[0]";
        let denied = denied_as(&c.engine, Some("tenant"), pod, &image).await;
        assert!(denied.starts_with("NoPolicyMatch: "), "{variant}: {denied}");
        assert!(
            denied.contains("no cluster policy covers this image")
                && denied.contains("ImagePolicy tenant/"),
            "{variant}: the message names the namespaced policy: {denied}"
        );
        for namespace in [Some("other"), None] {
            let denied = denied_as(&c.engine, namespace, pod, &image).await;
            assert!(denied.starts_with("NoPolicyMatch: "), "{variant}: {denied}");
        }
        let template = "spec.template.spec.containers[0]";
        denied_as(&c.engine, Some("tenant"), template, &image).await;
        let released = format!("{HOST}/release/app:v1");
        assert!(
            verdict(&c.engine, "tenant", &released).await.0,
            "{variant}: the cluster policy still admits its own images"
        );
    }
}

#[tokio::test]
async fn with_namespaced_policies_may_admit_they_decide_what_no_cluster_policy_covers() {
    let image = format!("{HOST}/tenant/app:v1");
    let admitted = [
        "static pass, glob **",
        "mode warn, static fail",
        "onRegistryError warn, a registry that refuses connections",
        "the cluster policy's name",
        SPOOFED_KIND,
    ];
    for (variant, objects) in lifting_attempts() {
        if !admitted.contains(&variant) {
            continue;
        }
        let mut all = vec![cluster_release()];
        all.extend(objects);
        let c = start_variant(variant, all, may_admit()).await;
        let (allowed, code) = verdict(&c.engine, "tenant", &image).await;
        assert!(allowed, "{variant}: the older rule admits ({code})");
        let (allowed, code) = verdict(&c.engine, "other", &image).await;
        assert!(!allowed, "{variant}: only in its own namespace ({code})");
        assert_eq!(code, "NoPolicyMatch", "{variant}");
    }
}

#[tokio::test]
async fn a_namespaced_policy_never_weakens_a_cluster_policy() {
    let refused = format!("{HOST}/app/**");
    let spec = json!({
        "images": [{"glob": refused}, {"glob": "docker.io/library/web"}],
        "authorities": [{"static": {"action": "fail"}}],
    });
    let cluster = policy_object(SIGNET, "ClusterImagePolicy", None, "release", spec);
    // `web` is a placeholder's bare word and docker.io/library/web:latest too.
    let placeholder = json!([{"image": "web", "injector": "mine", "namespaces": ["tenant"]}]);
    let attempts: Vec<(&str, Value)> = vec![
        ("static pass, the same glob", pass(&refused)),
        ("static pass, glob **", pass("**")),
        ("mode warn", with(pass("**"), "mode", json!("warn"))),
        (
            "onRegistryError warn",
            with(pass("**"), "onRegistryError", json!("warn")),
        ),
        (
            "multiArch allPlatforms",
            with(pass("**"), "multiArch", json!("allPlatforms")),
        ),
        (
            "the image as a placeholder",
            with(pass("**"), "placeholders", placeholder),
        ),
    ];
    for (variant, spec) in attempts {
        for name in ["mine", "release"] {
            let objects = vec![
                ("clusterimagepolicies", cluster.clone()),
                image_policy("tenant", name, spec.clone()),
            ];
            let c = start(objects.clone()).await;
            assert_applied(&c, &objects);
            for path in ["spec.containers[0]", "spec.template.spec.containers[0]"] {
                for image in [format!("{HOST}/app/web:v1"), "web".to_string()] {
                    let denied = denied_as(&c.engine, Some("tenant"), path, &image).await;
                    assert!(
                        denied.starts_with("StaticFail: "),
                        "{variant}, named {name}, {image} at {path}: {denied}"
                    );
                }
            }
        }
    }
}

/// Every object is in force: a test of what it could weaken is not vacuous.
fn assert_applied(c: &Cluster, objects: &[(&str, Value)]) {
    for (plural, object) in objects {
        let metadata = &object["metadata"];
        let name = metadata["name"].as_str().unwrap();
        let namespace = metadata["namespace"].as_str();
        let api_version = object["apiVersion"].as_str().unwrap();
        let ready = ready_condition(&c.api, api_version, plural, namespace, name);
        assert_eq!(
            ready["reason"], "Applied",
            "{plural} {namespace:?}/{name}: {ready}"
        );
    }
}

/// A placeholder is an exemption, so an admission: only cluster policies may name one, unless
/// namespaced policies may admit.
#[tokio::test]
async fn a_namespaced_placeholder_exempts_nothing() {
    let entry = json!([{"image": "auto", "injector": "mine", "containers": ["app"]}]);
    let spec = with(pass(&format!("{HOST}/mesh/**")), "placeholders", entry);
    let template = "spec.template.spec.containers[0]";
    let c = start(vec![image_policy("tenant", "mesh", spec.clone())]).await;
    let denied = denied_as(&c.engine, Some("tenant"), template, "auto").await;
    assert!(denied.starts_with("NoPolicyMatch: "), "{denied}");

    // One turn at the shared API server at a time: this one ends before the next is taken.
    drop(c);
    let c = start_with(vec![image_policy("tenant", "mesh", spec)], may_admit()).await;
    let decision = decide(&c.engine, Some("tenant"), template, "auto").await;
    assert!(decision.allowed());
    assert_eq!(decision.verdicts[0].outcome.code(), "Placeholder");
}

/// An image needs what the cluster requires and what its namespace adds: key A cluster-wide,
/// key B as well in namespace `strict`; a namespace's own key never admits alone.
#[tokio::test(flavor = "multi_thread")]
async fn namespaced_policies_add_requirements_to_the_cluster_ones() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let (a, b) = (TestKey::generate(), TestKey::generate());
    for (repo, keys) in [
        ("demo/by-a", vec![&a]),
        ("demo/by-both", vec![&a, &b]),
        ("other/by-b", vec![&b]),
    ] {
        let digest = push_image(&registry, &format!("{repo}:v1"), repo).await;
        for key in keys {
            sign_image(&registry, repo, &digest, key).await;
        }
    }
    let cluster = policy_object(
        SIGSTORE,
        "ClusterImagePolicy",
        None,
        "release",
        key_spec(&format!("{host}/demo/**"), &a),
    );
    let objects = vec![
        ("clusterimagepolicies", cluster),
        image_policy("strict", "team-key", key_spec(&format!("{host}/**"), &b)),
    ];
    let options = WatchOptions {
        insecure: vec![host.clone()],
        ..WatchOptions::default()
    };
    let c = start_with(objects, options).await;
    let image = |repo: &str| format!("{host}/{repo}:v1");
    for (namespace, repo, admitted) in [
        ("open", "demo/by-a", true),
        ("open", "demo/by-both", true),
        ("strict", "demo/by-a", false),
        ("strict", "demo/by-both", true),
        ("strict", "other/by-b", false),
        ("open", "other/by-b", false),
    ] {
        let (allowed, code) = verdict(&c.engine, namespace, &image(repo)).await;
        assert_eq!(allowed, admitted, "{repo} in {namespace}: {code}");
    }
    let denied = denied_as(
        &c.engine,
        Some("strict"),
        "spec.containers[0]",
        &image("other/by-b"),
    )
    .await;
    assert!(denied.starts_with("NoPolicyMatch: "), "{denied}");
}

/// 1,001 `ImagePolicy` objects in one namespace: 100 are enforced, the rest refused in their
/// status, the namespace's images denied with a reason that names the limit, and a cluster
/// policy created afterwards is applied as if they were not there.
#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_and_one_image_policies_in_one_namespace_never_crowd_out_cluster_policies() {
    let flood: Vec<(&str, Value)> = (0..1001)
        .map(|i| {
            image_policy(
                "flood",
                &format!("p{i:04}"),
                pass(&format!("{HOST}/flood/{i}")),
            )
        })
        .collect();
    let c = start(flood).await;
    let late = static_policy(
        SIGNET,
        "ClusterImagePolicy",
        None,
        "late",
        &format!("{HOST}/late/**"),
        "pass",
    );
    c.api.apply("clusterimagepolicies", late);
    eventually("the new cluster policy is applied", || {
        policy_names(&c.engine).contains(&"late".to_string())
    })
    .await;
    eventually("its status says Applied", || {
        ready_condition(&c.api, SIGNET, "clusterimagepolicies", None, "late")["reason"] == "Applied"
    })
    .await;
    let image = format!("{HOST}/late/app:v1");
    assert!(verdict(&c.engine, "other", &image).await.0);

    let denied = denied_as(&c.engine, Some("flood"), "spec.containers[0]", &image).await;
    assert!(denied.starts_with("NamespacePolicyLimit: "), "{denied}");
    assert!(
        denied.contains("limit of 100") && denied.contains("--max-policies-per-namespace"),
        "{denied}"
    );
    assert!(denied.contains("901 of them"), "{denied}");
    let enforced = ready_condition(&c.api, SIGNET, "imagepolicies", Some("flood"), "p0099");
    assert_eq!(enforced["reason"], "Applied");
    let refused = ready_condition(&c.api, SIGNET, "imagepolicies", Some("flood"), "p1000");
    assert_eq!(refused["status"], "False");
    assert_eq!(refused["reason"], "NamespaceLimit");
    let message = refused["message"].as_str().unwrap();
    assert!(
        message.contains("--max-policies-per-namespace"),
        "{message}"
    );
}

/// The verdict code of `HOST/<repo>/app:v1` in namespace `team`.
async fn code_in(engine: &Engine, repo: &str) -> String {
    verdict(engine, "team", &format!("{HOST}/{repo}/app:v1"))
        .await
        .1
}

fn fail_spec(glob: String) -> Value {
    json!({"images": [{"glob": glob}], "authorities": [{"static": {"action": "fail"}}]})
}

/// A cluster policy passing everything under HOST, and `team`'s ImagePolicies named `names`,
/// each failing `HOST/<name>/**`.
fn team_policies(names: &[&str]) -> Vec<(&'static str, Value)> {
    let mut objects = vec![(
        "clusterimagepolicies",
        static_policy(
            SIGNET,
            "ClusterImagePolicy",
            None,
            "all",
            &format!("{HOST}/**"),
            "pass",
        ),
    )];
    for name in names {
        objects.push(image_policy(
            "team",
            name,
            fail_spec(format!("{HOST}/{name}/**")),
        ));
    }
    objects
}

fn limit_of_two() -> WatchOptions {
    WatchOptions {
        max_policies_per_namespace: 2,
        ..WatchOptions::default()
    }
}

/// Over the limit the namespace is denied; deleting the refused object, or making room for it
/// (it is then applied by itself), brings its policies back into force.
#[tokio::test]
async fn a_namespace_back_within_its_limit_is_enforced_again() {
    let c = start_with(team_policies(&["a", "b", "c"]), limit_of_two()).await;
    let image = |repo: &str| format!("{HOST}/{repo}/app:v1");
    assert_eq!(code_in(&c.engine, "x").await, "NamespacePolicyLimit");
    assert!(verdict(&c.engine, "elsewhere", &image("c")).await.0);

    assert!(c.api.delete(SIGNET, "imagepolicies", Some("team"), "c"));
    eventually("the namespace is within its limit", || {
        c.engine.policies().namespace_over_limit("team").is_none()
    })
    .await;
    assert_eq!(code_in(&c.engine, "x").await, "AcceptedUnverified");
    assert_eq!(code_in(&c.engine, "a").await, "StaticFail");

    c.api.apply(
        "imagepolicies",
        image_policy("team", "c", fail_spec(format!("{HOST}/c/**"))).1,
    );
    eventually("the namespace is over its limit again", || {
        c.engine.policies().namespace_over_limit("team").is_some()
    })
    .await;
    assert!(c.api.delete(SIGNET, "imagepolicies", Some("team"), "a"));
    eventually("c is applied in a's place", || {
        ready_condition(&c.api, SIGNET, "imagepolicies", Some("team"), "c")["reason"] == "Applied"
    })
    .await;
    assert!(c.engine.policies().namespace_over_limit("team").is_none());
    assert_eq!(code_in(&c.engine, "a").await, "AcceptedUnverified");
    assert_eq!(code_in(&c.engine, "c").await, "StaticFail");
}

/// A refused object found invalid once there is room is refused for that, as any object is, and
/// no longer holds its namespace. (A `static` action outside the enum: the real API server
/// refuses it at the door, so the recorded-shapes server stores it, as schemaless CRDs would.)
#[tokio::test]
async fn an_object_refused_for_the_limit_is_refused_as_invalid_once_there_is_room() {
    let c = start_recorded_with(team_policies(&["a", "b"]), limit_of_two()).await;
    assert_eq!(code_in(&c.engine, "x").await, "AcceptedUnverified");
    let invalid =
        json!({"images": [{"glob": "**"}], "authorities": [{"static": {"action": "maybe"}}]});
    c.api
        .apply("imagepolicies", image_policy("team", "d", invalid).1);
    eventually("d is refused for the limit", || {
        ready_condition(&c.api, SIGNET, "imagepolicies", Some("team"), "d")["reason"]
            == "NamespaceLimit"
    })
    .await;
    assert_eq!(code_in(&c.engine, "x").await, "NamespacePolicyLimit");
    assert!(c.api.delete(SIGNET, "imagepolicies", Some("team"), "b"));
    eventually("d is refused as invalid", || {
        ready_condition(&c.api, SIGNET, "imagepolicies", Some("team"), "d")["reason"] == "Invalid"
    })
    .await;
    assert!(c.engine.policies().namespace_over_limit("team").is_none());
    assert_eq!(code_in(&c.engine, "x").await, "AcceptedUnverified");
}

/// Under `--no-match allow` or `warn` the cluster's floor admits (or warns about) what no cluster
/// policy covers, and namespaced policies still add their requirements there: a failing one
/// denies, a passing one changes nothing (the warning stays).
#[tokio::test]
async fn under_no_match_allow_or_warn_namespaced_policies_still_add_requirements() {
    use signet::engine::NoMatchAction;
    let fail = json!({"images": [{"glob": format!("{HOST}/no/**")}], "authorities": [{"static": {"action": "fail"}}]});
    let objects = vec![
        image_policy("tenant", "no", fail),
        image_policy("tenant", "yes", pass(&format!("{HOST}/yes/**"))),
    ];
    for (no_match, passing) in [
        (NoMatchAction::Allow, "admit"),
        (NoMatchAction::Warn, "warn"),
    ] {
        let options = WatchOptions {
            settings: EngineSettings {
                no_match,
                ..EngineSettings::default()
            },
            ..WatchOptions::default()
        };
        let c = start_with(objects.clone(), options).await;
        let label = |repo: &'static str| {
            let engine = c.engine.clone();
            async move {
                let image = format!("{HOST}/{repo}/app:v1");
                let decision = decide(&engine, Some("tenant"), "spec.containers[0]", &image).await;
                decision.verdicts[0].outcome.label()
            }
        };
        assert_eq!(label("no").await, "deny", "{no_match:?}");
        assert_eq!(label("yes").await, passing, "{no_match:?}");
        assert_eq!(label("unlisted").await, passing, "{no_match:?}");
    }
}
