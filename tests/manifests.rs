//! The deployment manifests agree with the code: the policies they ship load, and the ConfigMap
//! carries exactly the example policy the binary embeds.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet::policy::PolicySet;

const CONFIGMAP: &str = include_str!("../manifests/base/configmap-policies.yaml");

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
