//! The deployment manifests agree with the code: the policies they ship load, and the ConfigMap
//! carries exactly the example policy the binary embeds.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet::policy::PolicySet;

const CONFIGMAP: &str = include_str!("../../manifests/base/configmap-policies.yaml");

#[test]
fn configmap_policy_is_the_embedded_example_and_loads() {
    let configmap: serde_yaml::Value = serde_yaml::from_str(CONFIGMAP).unwrap();
    let policy = configmap["data"]["policy.yaml"]
        .as_str()
        .expect("data.policy.yaml");
    assert_eq!(
        policy.trim_end(),
        signet::EMBEDDED_POLICY.trim_end(),
        "manifests/base/configmap-policies.yaml is out of date with examples/policy.yaml"
    );
    let set = PolicySet::from_yaml(policy, "configmap").unwrap();
    assert_eq!(set.policies().len(), 2);
}

/// `--events` is on in the shipped Deployment, and the ClusterRole grants exactly what the Event
/// writer does (create and patch `events.k8s.io` Events) and nothing on the core group's events.
#[test]
fn deployment_records_events_with_least_privilege() {
    let deployment: serde_yaml::Value =
        serde_yaml::from_str(include_str!("../../manifests/base/deployment.yaml")).unwrap();
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(
        args.as_sequence()
            .unwrap()
            .iter()
            .any(|a| a.as_str() == Some("--events")),
        "{args:?}"
    );
    let role = cluster_role();
    let event_rules: Vec<&serde_yaml::Value> = role["rules"]
        .as_sequence()
        .unwrap()
        .iter()
        .filter(|r| {
            r["resources"]
                .as_sequence()
                .unwrap()
                .iter()
                .any(|x| x.as_str() == Some("events"))
        })
        .collect();
    assert_eq!(event_rules.len(), 1, "{event_rules:?}");
    let rule = event_rules[0];
    assert_eq!(
        rule["apiGroups"],
        serde_yaml::from_str::<serde_yaml::Value>("[events.k8s.io]").unwrap()
    );
    assert_eq!(
        rule["verbs"],
        serde_yaml::from_str::<serde_yaml::Value>("[create, patch]").unwrap()
    );
}

/// The webhook's ClusterRole writes only what the webhook writes: Events and its policies'
/// status. Everything else (workloads, secrets, its own webhook configuration, PolicyReports,
/// which `signet audit --write-reports` writes with its user's credentials) is read or absent.
#[test]
fn cluster_role_writes_only_events_and_policy_status() {
    let role = cluster_role();
    let read = ["get", "list", "watch"];
    let mut written = Vec::new();
    for rule in role["rules"].as_sequence().unwrap() {
        let verbs: Vec<&str> = rule["verbs"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!verbs.contains(&"*"), "{rule:?}");
        if verbs.iter().all(|v| read.contains(v)) {
            continue;
        }
        for resource in rule["resources"].as_sequence().unwrap() {
            written.push(resource.as_str().unwrap().to_string());
        }
    }
    written.sort();
    assert_eq!(
        written,
        [
            "clusterimagepolicies/status",
            "events",
            "imagepolicies/status"
        ],
        "the ClusterRole grants writes beyond Events and policy status"
    );
}

/// The ClusterRole, the first document of `manifests/base/rbac.yaml`.
fn cluster_role() -> serde_yaml::Value {
    let rbac = include_str!("../../manifests/base/rbac.yaml");
    serde_yaml::from_str(rbac.split("\n---\n").next().unwrap()).unwrap()
}
