//! `spec.match` as policy-controller's `GetMatchingPolicies` decides: its own cases
//! (`pkg/apis/config/image_policies_test.go`, "resource matching": a Pod at `v1` matches
//! `{version: v1, resource: pods}`, at `apps/v1` or `blah/v1alpha1` it does not) and
//! `valid-policy-match-resource-label.yaml`'s selector, plus the selector operators.

use serde_json::json;

use crate::policy::{LoadErrorKind, PolicySet};
use crate::reference::ImageReference;
use crate::workload::ResourceIdentity;

const KEY: &str = "-----BEGIN PUBLIC KEY-----
          MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExB6+H6054/W1SJgs5JR6AJr6J35J
          RCTfQ5s1kD+hGMSE1rH7s46hmXEeyhnlRnaGF8eMU/SBJE/2NKPnxE7WzQ==
          -----END PUBLIC KEY-----";

fn policy(name: &str, glob: &str, matches: &str) -> String {
    format!(
        "---\napiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\n\
         spec:\n  match:\n{matches}\n  images: [{{glob: '{glob}'}}]\n  authorities:\n  - key:\n      data: |\n        {KEY}\n"
    )
}

fn set() -> PolicySet {
    let text = [
        policy("match-pods", "match-pods*", "  - {version: v1, resource: pods}"),
        policy(
            "match-deployments",
            "match-deployments*",
            "  - {group: apps, version: v1, resource: deployments}",
        ),
        policy(
            "labelled",
            "labelled*",
            "  - resource: deployments\n    version: v1\n    group: apps\n    selector:\n      matchLabels: {match: match}",
        ),
        policy(
            "any-version",
            "any*",
            "  - resource: cronjobs\n    version: '*'\n    group: batch\n    selector:\n      matchExpressions:\n      - {key: team, operator: In, values: [a, b]}\n      - {key: legacy, operator: DoesNotExist}",
        ),
    ]
    .concat();
    PolicySet::from_yaml(&text, "p.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn names(set: &PolicySet, image: &str, object: Option<&ResourceIdentity>) -> Vec<String> {
    let image = ImageReference::parse(image).unwrap();
    set.matching_for(&image, None, object)
        .iter()
        .map(|p| p.name.clone())
        .collect()
}

fn object(api_version: &str, kind: &str, labels: serde_json::Value) -> ResourceIdentity {
    ResourceIdentity::new(api_version, kind, &json!({"metadata": {"labels": labels}}))
}

#[test]
fn policy_controller_resource_matching_cases() {
    let set = set();
    let labels = json!({"match": "match"});
    for (api_version, want) in [("v1", 1), ("apps/v1", 0), ("blah/v1alpha1", 0)] {
        let pod = object(api_version, "Pod", labels.clone());
        assert_eq!(
            names(&set, "match-pods", Some(&pod)).len(),
            want,
            "{api_version}"
        );
    }
    let deployment = object("apps/v1", "Deployment", labels.clone());
    assert_eq!(
        names(&set, "match-deployments", Some(&deployment)),
        ["match-deployments"]
    );
    let pod = object("v1", "Pod", labels);
    assert!(names(&set, "match-deployments", Some(&pod)).is_empty());
}

#[test]
fn selectors_read_the_object_s_own_labels() {
    let set = set();
    let labelled = |labels| object("apps/v1", "Deployment", labels);
    assert_eq!(
        names(&set, "labelled", Some(&labelled(json!({"match": "match"})))).len(),
        1
    );
    assert!(names(&set, "labelled", Some(&labelled(json!({"match": "other"})))).is_empty());
    assert!(names(&set, "labelled", Some(&labelled(json!({})))).is_empty());
    // The template's labels are not the Deployment's.
    let template_only = ResourceIdentity::of_object(&json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "spec": {"template": {"metadata": {"labels": {"match": "match"}}}}
    }));
    assert!(names(&set, "labelled", Some(&template_only)).is_empty());
    let cronjob = |labels| object("batch/v1beta1", "CronJob", labels);
    assert_eq!(
        names(&set, "any", Some(&cronjob(json!({"team": "b"})))).len(),
        1
    );
    assert!(names(&set, "any", Some(&cronjob(json!({"team": "c"})))).is_empty());
    assert!(
        names(
            &set,
            "any",
            Some(&cronjob(json!({"team": "a", "legacy": "y"})))
        )
        .is_empty()
    );
}

/// An unknown object (`signet verify IMAGE`) is covered by every policy whose glob matches:
/// more policies never admit more.
#[test]
fn an_unknown_object_is_matched_by_every_policy() {
    let set = set();
    assert_eq!(names(&set, "match-pods", None), ["match-pods"]);
    assert_eq!(names(&set, "labelled", None), ["labelled"]);
}

#[test]
fn selectors_policy_controller_would_fail_on_are_refused_at_load() {
    for (expression, why) in [
        ("{key: a, operator: In}", "needs values"),
        ("{key: a, operator: Exists, values: [x]}", "takes no values"),
        ("{key: a, operator: Gt, values: ['1']}", "is not In"),
        ("{operator: Exists}", "needs a key"),
    ] {
        let text = policy(
            "p",
            "**",
            &format!(
                "  - resource: pods\n    version: v1\n    selector:\n      matchExpressions: [{expression}]"
            ),
        );
        let err = PolicySet::from_yaml(&text, "p.yaml").unwrap_err();
        assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
        assert_eq!(
            err.field.as_deref(),
            Some("spec.match[0].selector.matchExpressions[0]"),
            "{err}"
        );
        assert!(err.to_string().contains(why), "{err}");
    }
}
