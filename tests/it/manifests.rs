//! The deployment manifests agree with the code: the policies they ship load, and the ConfigMap
//! carries exactly the example policy the binary embeds.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use signet::policy::PolicySet;

/// The file manifests/base's configMapGenerator puts into ConfigMap signet-policies-<hash>.
const POLICY: &str = include_str!("../../manifests/base/policies/policy.yaml");

#[test]
fn configmap_policy_is_the_embedded_example_and_loads() {
    let policy = POLICY;
    assert_eq!(
        policy.trim_end(),
        signet::EMBEDDED_POLICY.trim_end(),
        "manifests/base/policies/policy.yaml is out of date with examples/policy.yaml"
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

/// The `spec` schema of each version of each CRD in `file`, by `name/version`.
fn crd_spec_schemas(file: &str) -> Vec<(String, serde_yaml::Value)> {
    let text = std::fs::read_to_string(format!("{}/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let mut schemas = Vec::new();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let crd: serde_yaml::Value = serde::Deserialize::deserialize(document).unwrap();
        let name = crd["metadata"]["name"].as_str().unwrap().to_owned();
        for version in crd["spec"]["versions"].as_sequence().unwrap() {
            let schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"].clone();
            let version = version["name"].as_str().unwrap();
            schemas.push((format!("{name}/{version}"), schema));
        }
    }
    schemas
}

/// Every property name anywhere in `schema`.
fn property_names(schema: &serde_yaml::Value, names: &mut std::collections::BTreeSet<String>) {
    match schema {
        serde_yaml::Value::Mapping(map) => {
            if let Some(serde_yaml::Value::Mapping(properties)) = map.get("properties") {
                names.extend(
                    properties
                        .keys()
                        .filter_map(|k| k.as_str().map(str::to_owned)),
                );
            }
            map.values().for_each(|value| property_names(value, names));
        }
        serde_yaml::Value::Sequence(items) => items.iter().for_each(|v| property_names(v, names)),
        _ => {}
    }
}

/// The field names the ClusterImagePolicy parser accepts under `spec`, read from its serde
/// attributes (`rename_all = "camelCase"`, `rename = "..."`), so a field added to the parser
/// and not to the CRDs fails here instead of being pruned by a real API server.
fn parser_field_names() -> Vec<(String, String)> {
    let source = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/policy/sigstore/cluster_image_policy.rs"
    ))
    .unwrap();
    let (mut fields, mut structure, mut camel, mut attributes) =
        (Vec::new(), String::new(), false, String::new());
    for line in source.lines().map(str::trim) {
        if line.starts_with("#[serde(") {
            attributes.push_str(line);
        } else if let Some(rest) = line.strip_prefix("pub struct ") {
            structure = rest.trim_end_matches(" {").to_owned();
            camel = attributes.contains("rename_all = \"camelCase\"");
            attributes.clear();
        } else if let Some(rest) = line.strip_prefix("pub ").filter(|r| r.contains(": ")) {
            let field = rest.split(':').next().unwrap();
            let name = match attributes.split("rename = \"").nth(1) {
                Some(renamed) => renamed.split('"').next().unwrap().to_owned(),
                None if camel => camel_case(field),
                None => field.to_owned(),
            };
            if !matches!(structure.as_str(), "Document" | "ObjectMeta") {
                fields.push((format!("{structure}.{field}"), name));
            }
            attributes.clear();
        }
    }
    fields
}

fn camel_case(snake: &str) -> String {
    let mut parts = snake.split('_');
    let first = parts.next().unwrap_or_default().to_owned();
    parts.fold(first, |mut name, part| {
        let mut chars = part.chars();
        name.extend(chars.next().map(|c| c.to_ascii_uppercase()));
        name.push_str(chars.as_str());
        name
    })
}

#[test]
fn every_field_the_policy_parser_knows_is_in_every_crd_schema() {
    let fields = parser_field_names();
    assert!(fields.len() > 40, "the parser scan found only {fields:?}");
    for expected in [
        "requireDigest",
        "multiArch",
        "placeholders",
        "ca-cert",
        "source",
    ] {
        assert!(
            fields.iter().any(|(_, name)| name == expected),
            "{expected}"
        );
    }
    for file in [
        "manifests/crds/policy-controller/clusterimagepolicies.yaml",
        "manifests/crds/signet.dev.yaml",
    ] {
        for (crd, schema) in crd_spec_schemas(file) {
            let mut names = std::collections::BTreeSet::new();
            property_names(&schema, &mut names);
            let missing: Vec<_> = fields.iter().filter(|(_, n)| !names.contains(n)).collect();
            assert!(
                missing.is_empty(),
                "{crd}: a real API server would prune {missing:?}: add them to {file}"
            );
        }
    }
}

#[test]
fn signet_dev_schemas_are_policy_controllers_v1beta1_schema() {
    let upstream = crd_spec_schemas("manifests/crds/policy-controller/clusterimagepolicies.yaml");
    let (_, v1beta1) = upstream
        .iter()
        .find(|(n, _)| n.ends_with("/v1beta1"))
        .unwrap();
    let ours = crd_spec_schemas("manifests/crds/signet.dev.yaml");
    assert_eq!(ours.len(), 2);
    for (crd, schema) in ours {
        assert!(
            &schema == v1beta1,
            "{crd}'s spec schema differs from v1beta1's"
        );
    }
}

/// `kubectl kustomize` of a kustomization written into a temporary directory beside nothing
/// else: `resources`/`components` name directories of manifests/ by absolute path turned
/// relative (kustomize refuses absolute ones).
fn build(kustomization: &str, files: &[(&str, &str)]) -> Vec<serde_yaml::Value> {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let manifests = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("manifests");
    let up = dir.path().components().count() - 1;
    let absolute = manifests.display().to_string();
    let manifests = format!("{}{}", "../".repeat(up), absolute.trim_start_matches('/'));
    let text = kustomization.replace("MANIFESTS", &manifests);
    std::fs::write(dir.path().join("kustomization.yaml"), text).unwrap();
    for (name, content) in files {
        std::fs::write(dir.path().join(name), content).unwrap();
    }
    let built = crate::common::tools::run_ok(
        std::process::Command::new(crate::common::tools::tool("kubectl"))
            .arg("kustomize")
            .arg(dir.path()),
    );
    serde_yaml::Deserializer::from_str(&built)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

fn one<'a>(objects: &'a [serde_yaml::Value], kind: &str) -> &'a serde_yaml::Value {
    let found: Vec<_> = objects.iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "{kind}: {found:?}");
    found[0]
}

/// An edit of the policies renames the generated ConfigMap (a hash of its content) and the
/// Deployment's volume with it, so `kubectl apply` rolls the Deployment: new pods that cannot
/// load the policies stall the rollout instead of failing at the next drain.
#[test]
fn a_policy_edit_renames_the_configmap_and_rolls_the_deployment() {
    let mounted = |objects: &[serde_yaml::Value]| {
        let deployment = one(objects, "Deployment");
        let volumes = deployment["spec"]["template"]["spec"]["volumes"]
            .as_sequence()
            .unwrap();
        let policies = volumes.iter().find(|v| v["name"] == "policies").unwrap();
        let name = policies["configMap"]["name"].as_str().unwrap().to_owned();
        assert_eq!(one(objects, "ConfigMap")["metadata"]["name"], name.as_str());
        name
    };
    let shipped = mounted(&build("resources: [MANIFESTS/base]\n", &[]));
    assert!(
        shipped.starts_with("signet-policies-") && shipped.len() == "signet-policies-".len() + 10,
        "{shipped}"
    );
    let edited = build(
        "resources: [MANIFESTS/base]\nconfigMapGenerator:\n  - name: signet-policies\n    namespace: signet-system\n    behavior: merge\n    files: [policy.yaml]\n",
        &[("policy.yaml", "# emptied\n")],
    );
    let renamed = mounted(&edited);
    assert!(
        renamed.starts_with("signet-policies-") && renamed != shipped,
        "{renamed} after an edit, {shipped} before"
    );
}

/// components/without-pull-secrets drops the flag and, with it, the cluster-wide `get` on
/// secrets and serviceaccounts and the FlowSchema for those reads; the base has all three.
#[test]
fn secrets_are_read_cluster_wide_only_with_pull_secrets() {
    let reads_secrets = |objects: &[serde_yaml::Value]| {
        let role = objects
            .iter()
            .find(|o| o["kind"] == "ClusterRole" && o["metadata"]["name"] == "signet")
            .unwrap();
        role["rules"].as_sequence().unwrap().iter().any(|r| {
            serde_yaml::to_string(&r["resources"])
                .unwrap()
                .contains("secrets")
        })
    };
    let flag = |objects: &[serde_yaml::Value]| {
        let args = &one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
        args.as_sequence()
            .unwrap()
            .iter()
            .any(|a| a == "--pull-secrets")
    };
    let kinds = |objects: &[serde_yaml::Value]| {
        objects
            .iter()
            .filter(|o| o["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1")
            .count()
    };
    let base = build("resources: [MANIFESTS/base]\n", &[]);
    assert!(reads_secrets(&base) && flag(&base));
    assert_eq!(kinds(&base), 2, "FlowSchema and PriorityLevelConfiguration");
    let without = build(
        "resources: [MANIFESTS/base]\ncomponents: [MANIFESTS/components/without-pull-secrets]\n",
        &[],
    );
    assert!(!reads_secrets(&without), "secrets still read cluster-wide");
    assert!(!flag(&without), "--pull-secrets still on");
    assert_eq!(kinds(&without), 0);
}

/// The first install is audit-only: manifests/ and overlays/cert-manager run `--dry-run` with
/// failurePolicy Ignore; enforcing is the separate overlays/cert-manager-enforcing; no install
/// carries a CRD (a separate step, so `kubectl delete -k` keeps the cluster's policies); and
/// with components/mutate the cert-manager component annotates both webhook configurations.
#[test]
fn first_install_audits_and_enforcing_is_a_separate_step() {
    let audits = |objects: &[serde_yaml::Value]| {
        let args = &one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
        let dry = args.as_sequence().unwrap().iter().any(|a| a == "--dry-run");
        let policy =
            &one(objects, "ValidatingWebhookConfiguration")["webhooks"][0]["failurePolicy"];
        assert_eq!(
            dry,
            policy == "Ignore",
            "--dry-run and failurePolicy disagree"
        );
        assert!(
            !objects
                .iter()
                .any(|o| o["kind"] == "CustomResourceDefinition"),
            "a CRD in an install"
        );
        dry
    };
    assert!(audits(&build("resources: [MANIFESTS]\n", &[])));
    assert!(audits(&build(
        "resources: [MANIFESTS/overlays/cert-manager]\n",
        &[]
    )));
    assert!(!audits(&build(
        "resources: [MANIFESTS/overlays/cert-manager-enforcing]\n",
        &[]
    )));
    let both = build(
        "resources: [MANIFESTS/base]\ncomponents: [MANIFESTS/components/mutate, MANIFESTS/components/cert-manager]\n",
        &[],
    );
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        assert_eq!(
            one(&both, kind)["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "signet-system/signet-serving",
            "{kind}"
        );
    }
}
