//! charts/signet, rendered by the real `helm` (built by scripts/tools.sh): it lints clean, its
//! default values render the objects of manifests/base (as `kubectl kustomize` renders them), its
//! values schema refuses typos and wrong types with a message naming the key, and every
//! certificate mode gives the webhooks a caBundle that the serving certificate verifies under.
//! (scripts/validate-manifests.sh validates the rendered objects against the Kubernetes schemas.)

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::tools::{run, run_ok, tool};
use serde::Deserialize;
use serde_yaml::Value;

const RELEASE: &str = "signet";
const NAMESPACE: &str = "signet-system";

/// The labels helm's conventions add to every chart object, and only the chart's: the one
/// difference from manifests/base the parity test forgives on every object.
const HELM_LABELS: [&str; 4] = [
    "helm.sh/chart",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/version",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("charts/signet")
}

/// `helm` with its configuration, cache and data directories in a temporary directory, so the
/// test neither reads nor writes the user's.
fn helm(home: &Path) -> Command {
    let mut command = Command::new(tool("helm"));
    command
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"));
    command
}

/// `helm template signet charts/signet -n signet-system --include-crds` with more arguments.
fn template(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    run(helm(home.path())
        .args(["template", RELEASE])
        .arg(chart())
        .args(["--namespace", NAMESPACE, "--include-crds"])
        .args(args))
}

fn objects(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|document| Value::deserialize(document).unwrap())
        .filter(|object| !object.is_null())
        .collect()
}

/// The chart's objects with these arguments; the render must succeed.
fn render(args: &[&str]) -> Vec<Value> {
    let output = template(args);
    assert!(
        output.status.success(),
        "helm template {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    objects(&String::from_utf8_lossy(&output.stdout))
}

fn key(object: &Value) -> String {
    let meta = &object["metadata"];
    format!(
        "{} {} {}/{}",
        object["apiVersion"].as_str().unwrap_or(""),
        object["kind"].as_str().unwrap_or(""),
        meta["namespace"].as_str().unwrap_or(""),
        meta["name"].as_str().unwrap_or("")
    )
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render"))
}

/// What the chart renders differently from manifests/base by necessity, removed:
/// - helm's own labels (`HELM_LABELS`) on each object: helm's release bookkeeping;
/// - Secret signet-tls: the chart generates the serving certificate (a fresh key pair each
///   render); the base leaves the Secret to certs/generate-openssl.sh or cert-manager;
/// - `webhooks[].clientConfig.caBundle`: the CA of that generated certificate; the base gets
///   it from the same overlay;
/// - the pod template's `checksum/policies` annotation: helm's way of rolling the Deployment
///   when the policies change, where kustomize renames the ConfigMap (`same_policies_name`).
///
/// Nothing else is forgiven: the remaining objects must be equal, field for field.
fn without_generated_parts(mut objects: Vec<Value>) -> Vec<Value> {
    objects.retain(|o| !(o["kind"] == "Secret" && o["metadata"]["name"] == "signet-tls"));
    for object in &mut objects {
        if let Some(template) =
            at_mut(object, &["spec", "template", "metadata"]).and_then(Value::as_mapping_mut)
        {
            let annotations = template
                .get_mut("annotations")
                .and_then(Value::as_mapping_mut);
            if let Some(annotations) = annotations {
                annotations.remove("checksum/policies");
                if annotations.is_empty() {
                    template.remove("annotations");
                }
            }
        }
        if let Some(labels) = object["metadata"]
            .get_mut("labels")
            .and_then(Value::as_mapping_mut)
        {
            for label in HELM_LABELS {
                labels.remove(label);
            }
        }
        if let Some(hooks) = object.get_mut("webhooks").and_then(Value::as_sequence_mut) {
            for hook in hooks {
                if let Some(config) = hook.get_mut("clientConfig").and_then(Value::as_mapping_mut) {
                    config.remove("caBundle");
                }
            }
        }
    }
    objects
}

/// The objects of `kubectl kustomize` of manifests/base and of the two CRD steps
/// (manifests/crds, manifests/crds/policy-controller), which the chart installs from `crds/`.
fn kustomize_base() -> Vec<Value> {
    let mut all = Vec::new();
    for dir in [
        "manifests/base",
        "manifests/crds",
        "manifests/crds/policy-controller",
    ] {
        let built = run_ok(
            Command::new(tool("kubectl"))
                .arg("kustomize")
                .arg(root().join(dir)),
        );
        all.extend(same_policies_name(objects(&built)));
    }
    all
}

/// The value at `path` (mapping keys), if every step is there; never inserts.
fn at_mut<'a>(value: &'a mut Value, path: &[&str]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, key| v.get_mut(*key))
}

/// kustomize's generated ConfigMap `signet-policies-<hash of the content>`, and the
/// Deployment's reference to it, under the chart's name `signet-policies`: the hash is how an
/// edit rolls the Deployment in kustomize (the chart's `checksum/policies` annotation in helm).
fn same_policies_name(mut objects: Vec<Value>) -> Vec<Value> {
    let hashed = |name: &Value| {
        name.as_str().is_some_and(|n| {
            n.strip_prefix("signet-policies-")
                .is_some_and(|h| h.len() == 10 && h.bytes().all(|b| b.is_ascii_alphanumeric()))
        })
    };
    for object in &mut objects {
        if object["kind"] == "ConfigMap" && hashed(&object["metadata"]["name"]) {
            object["metadata"]["name"] = "signet-policies".into();
        }
        let volumes = at_mut(object, &["spec", "template", "spec", "volumes"])
            .and_then(Value::as_sequence_mut);
        for volume in volumes.into_iter().flatten() {
            if hashed(&volume["configMap"]["name"]) {
                volume["configMap"]["name"] = "signet-policies".into();
            }
        }
    }
    objects
}

/// One line per object present on one side only or different on the two, with the first
/// differing field.
fn differences(chart: &[Value], base: &[Value]) -> Vec<String> {
    let chart: BTreeMap<String, &Value> = chart.iter().map(|o| (key(o), o)).collect();
    let base: BTreeMap<String, &Value> = base.iter().map(|o| (key(o), o)).collect();
    let mut found = Vec::new();
    for (name, object) in &base {
        match chart.get(name) {
            None => found.push(format!("{name}: in manifests/base only")),
            Some(rendered) if rendered != object => found.push(format!(
                "{name}: {}",
                first_difference(rendered, object, String::new())
            )),
            Some(_) => {}
        }
    }
    for name in chart.keys().filter(|name| !base.contains_key(*name)) {
        found.push(format!("{name}: in the chart only"));
    }
    found
}

fn first_difference(chart: &Value, base: &Value, path: String) -> String {
    match (chart, base) {
        (Value::Mapping(a), Value::Mapping(b)) => {
            for (k, v) in b {
                let field = format!("{path}.{}", k.as_str().unwrap_or("?"));
                match a.get(k) {
                    None => return format!("{field} missing from the chart"),
                    Some(w) if w != v => return first_difference(w, v, field),
                    Some(_) => {}
                }
            }
            let extra: Vec<_> = a.keys().filter(|k| !b.contains_key(*k)).collect();
            format!("{path}: the chart adds {extra:?}")
        }
        (Value::Sequence(a), Value::Sequence(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find(|(_, (x, y))| x != y)
            .map(|(i, (x, y))| first_difference(x, y, format!("{path}[{i}]")))
            .unwrap_or_default(),
        _ => format!("{path}: chart {chart:?}, base {base:?}"),
    }
}

#[test]
fn chart_lints_clean_in_strict_mode() {
    let home = tempfile::tempdir().unwrap();
    for args in [&[][..], &["--set", "mode=warn,mutate.enabled=true"][..]] {
        let out = run_ok(
            helm(home.path())
                .args(["lint", "--strict", "--namespace", NAMESPACE])
                .arg(chart())
                .args(args),
        );
        assert!(
            out.contains("1 chart(s) linted, 0 chart(s) failed") && !out.contains("[WARNING]"),
            "helm lint {args:?}:\n{out}"
        );
    }
}

/// The two install paths cannot drift: with default values the chart renders exactly the
/// objects (CRDs included) of `kubectl kustomize manifests/base`, but for the generated
/// certificate and helm's labels (`without_generated_parts` says why each).
#[test]
fn default_values_render_the_objects_of_manifests_base() {
    let chart = without_generated_parts(render(&[]));
    let base = kustomize_base();
    assert!(
        base.len() >= 14,
        "kubectl kustomize gave only {} objects",
        base.len()
    );
    let found = differences(&chart, &base);
    assert!(
        found.is_empty(),
        "charts/signet (default values) and manifests/base differ:\n{}",
        found.join("\n")
    );
}

/// The comparison above can fail: one changed value, one object added by a value, and one
/// helm label left in are each reported.
#[test]
fn parity_comparison_reports_a_changed_field_an_extra_object_and_a_label() {
    let base = kustomize_base();
    let changed = without_generated_parts(render(&["--set", "webhook.timeoutSeconds=11"]));
    let found = differences(&changed, &base);
    assert!(
        found
            .iter()
            .any(|d| d.contains("ValidatingWebhookConfiguration") && d.contains("timeoutSeconds"))
            && found.iter().any(|d| d.contains("--review-timeout")),
        "{found:?}"
    );
    let extra = without_generated_parts(render(&["--set", "serviceMonitor.enabled=true"]));
    assert_eq!(
        differences(&extra, &base),
        ["monitoring.coreos.com/v1 ServiceMonitor signet-system/signet: in the chart only"]
    );
    let labelled = render(&[])
        .into_iter()
        .filter(|o| o["kind"] != "Secret")
        .collect::<Vec<_>>();
    let found = differences(&labelled, &base);
    assert!(
        found.iter().any(|d| d.contains("helm.sh/chart")),
        "{found:?}"
    );
}

/// values.schema.json has `additionalProperties: false` at every level it describes: a typo'd
/// key, top-level or nested, fails the render naming the key, and so do a wrong type and a
/// value outside an enumeration or pattern.
#[test]
fn values_schema_refuses_typos_and_wrong_types() {
    let cases: [(&[&str], &str); 9] = [
        (&["--set", "replicaCont=3"], "replicaCont"),
        (&["--set", "webhook.timeoutSecond=5"], "timeoutSecond"),
        (
            &["--set", "certificates.generated.validityDay=1"],
            "validityDay",
        ),
        (&["--set", "autoscaling.minReplica=1"], "minReplica"),
        (&["--set-string", "replicaCount=three"], "replicaCount"),
        (&["--set", "pullSecrets.enabled=yes-please"], "enabled"),
        (&["--set", "mode=audit"], "mode"),
        (&["--set", "webhook.failurePolicy=fail"], "failurePolicy"),
        (&["--set", "image.digest=latest"], "digest"),
    ];
    for (args, named) in cases {
        let output = template(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "helm template {args:?} succeeded: the schema let it through"
        );
        assert!(
            stderr.contains("schema") && stderr.contains(named),
            "helm template {args:?}: the error does not name {named}:\n{stderr}"
        );
    }
}

/// Invariants the templates check themselves, with messages that say what to set.
#[test]
fn inconsistent_values_fail_with_what_to_set() {
    let cases: [(&[&str], &str); 5] = [
        (
            &["--set", "policies.source=none,watchPolicies=false"],
            "needs watchPolicies: true",
        ),
        (
            &["--set", "policies.source=existingConfigMap"],
            "policies.existingConfigMap",
        ),
        (
            &[
                "--set",
                "certificates.source=existingSecret,certificates.existingSecret.caBundle=-----BEGIN CERTIFICATE-----",
            ],
            "certificates.existingSecret.name",
        ),
        (
            &[
                "--set",
                "certificates.source=existingSecret,certificates.existingSecret.name=corp-tls",
            ],
            "certificates.existingSecret.caBundle",
        ),
        (
            &[
                "--set",
                "autoscaling.minReplicas=5,autoscaling.maxReplicas=4",
            ],
            "maxReplicas is below",
        ),
    ];
    for (args, message) in cases {
        let output = template(args);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(message),
            "helm template {args:?}: expected a failure saying {message:?}:\n{stderr}"
        );
    }
}

fn decoded(base64: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(base64.as_str().expect("a base64 string"))
        .unwrap()
}

fn ca_bundles(objects: &[Value]) -> Vec<&Value> {
    objects
        .iter()
        .filter(|o| {
            o["kind"] == "ValidatingWebhookConfiguration"
                || o["kind"] == "MutatingWebhookConfiguration"
        })
        .flat_map(|o| o["webhooks"].as_sequence().unwrap())
        .map(|hook| &hook["clientConfig"]["caBundle"])
        .collect()
}

/// `openssl verify` of `cert` under the CA `ca` for the Service's DNS name: what kube-apiserver
/// checks when it calls the webhook.
fn verifies(ca: &[u8], cert: &[u8], name: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), ca).unwrap();
    std::fs::write(dir.path().join("tls.crt"), cert).unwrap();
    let output = run(Command::new("openssl")
        .arg("verify")
        .args(["-verify_hostname", name, "-purpose", "sslserver", "-CAfile"])
        .arg(dir.path().join("ca.crt"))
        .arg(dir.path().join("tls.crt")));
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// Generated mode: the caBundle of both webhooks is the CA in the Secret, and the serving
/// certificate in the Secret verifies under it for both Service names; a certificate from
/// another render (another CA) does not, so the check can fail.
#[test]
fn generated_certificate_verifies_under_the_ca_bundle_of_every_webhook() {
    let objects = render(&["--set", "mutate.enabled=true"]);
    let secret = find(&objects, "Secret", "signet-tls");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let ca = decoded(&secret["data"]["ca.crt"]);
    let cert = decoded(&secret["data"]["tls.crt"]);
    assert!(!decoded(&secret["data"]["tls.key"]).is_empty());
    let bundles = ca_bundles(&objects);
    assert_eq!(bundles.len(), 2, "a validating and a mutating webhook");
    for bundle in bundles {
        assert_eq!(decoded(bundle), ca, "caBundle is not the Secret's CA");
    }
    for name in [
        "signet.signet-system.svc",
        "signet.signet-system.svc.cluster.local",
    ] {
        verifies(&ca, &cert, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(verifies(&ca, &cert, "signet.other.svc").is_err());
    let other = render(&[]);
    let other_ca = decoded(&find(&other, "Secret", "signet-tls")["data"]["ca.crt"]);
    assert!(
        verifies(&other_ca, &cert, "signet.signet-system.svc").is_err(),
        "a certificate verified under another render's CA"
    );
    let mounted = &find(&objects, "Deployment", "signet")["spec"]["template"]["spec"]["volumes"];
    assert!(
        mounted
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "signet-tls"),
        "the pods do not mount Secret signet-tls"
    );
}

/// cert-manager mode: no caBundle in the chart (the CA injector writes it) and no Secret;
/// both webhooks name the Certificate that writes the Secret the pods mount, for the Service's
/// names, issued by the chart's CA Issuer, or by the issuer given.
#[test]
fn cert_manager_injects_the_ca_of_the_mounted_certificate() {
    let objects = render(&[
        "--set",
        "certificates.source=certManager,mutate.enabled=true",
    ]);
    assert!(ca_bundles(&objects).iter().all(|b| b.is_null()));
    assert!(!objects.iter().any(|o| o["kind"] == "Secret"));
    for kind in [
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    ] {
        assert_eq!(
            find(&objects, kind, "signet")["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "signet-system/signet-serving"
        );
    }
    // cert-manager renews Signet's certificate: its namespace is never reviewed.
    let excluded = &find(&objects, "ValidatingWebhookConfiguration", "signet")["webhooks"][0]["namespaceSelector"]
        ["matchExpressions"][0];
    assert_eq!(excluded["key"], "kubernetes.io/metadata.name");
    assert_eq!(
        excluded["values"],
        serde_yaml::from_str::<Value>(
            "[signet-system, kube-system, calico-system, tigera-operator, kube-flannel, cilium, cert-manager]"
        )
        .unwrap()
    );
    let serving = find(&objects, "Certificate", "signet-serving");
    assert_eq!(serving["spec"]["secretName"], "signet-tls");
    assert_eq!(
        serving["spec"]["dnsNames"],
        serde_yaml::from_str::<Value>(
            "[signet.signet-system.svc, signet.signet-system.svc.cluster.local]"
        )
        .unwrap()
    );
    assert_eq!(serving["spec"]["issuerRef"]["name"], "signet-ca");
    find(&objects, "Issuer", "signet-ca");
    assert_eq!(
        find(&objects, "Certificate", "signet-ca")["spec"]["secretName"],
        "signet-ca"
    );

    let own = render(&[
        "--set",
        "certificates.source=certManager,certificates.certManager.issuerRef.name=corp-ca,certificates.certManager.issuerRef.kind=ClusterIssuer",
    ]);
    let serving = find(&own, "Certificate", "signet-serving");
    assert_eq!(serving["spec"]["issuerRef"]["name"], "corp-ca");
    assert_eq!(serving["spec"]["issuerRef"]["kind"], "ClusterIssuer");
    assert!(!own.iter().any(|o| o["kind"] == "Issuer"));
}

/// existingSecret mode: the pods mount the named Secret, the chart makes none, and caBundle is
/// exactly the CA given (PEM, base64-encoded once); base64 given instead of PEM is refused.
#[test]
fn existing_secret_gets_the_given_ca_as_ca_bundle() {
    let home = tempfile::tempdir().unwrap();
    // A CA and serving certificate of the user's own, made by `signet certs generate`'s code.
    let request = signet::certs::CertRequest {
        service: RELEASE.into(),
        namespace: NAMESPACE.into(),
        days: 30,
        ca_days: 60,
    };
    let dir = home.path().join("certs");
    signet::certs::generate(&request, &dir, &root().join("manifests/base")).unwrap();
    let ca = std::fs::read_to_string(dir.join("ca.crt")).unwrap();
    let cert = std::fs::read(dir.join("tls.crt")).unwrap();
    let values = home.path().join("values.yaml");
    std::fs::write(
        &values,
        serde_yaml::to_string(&serde_yaml::from_str::<Value>(&format!(
            "certificates:\n  source: existingSecret\n  existingSecret:\n    name: corp-tls\n    caBundle: {ca:?}\n"
        )).unwrap())
        .unwrap(),
    )
    .unwrap();
    let objects = render(&[
        "--set",
        "mutate.enabled=true",
        "-f",
        values.to_str().unwrap(),
    ]);
    assert!(!objects.iter().any(|o| o["kind"] == "Secret"));
    for bundle in ca_bundles(&objects) {
        assert_eq!(decoded(bundle), ca.as_bytes());
    }
    verifies(ca.as_bytes(), &cert, "signet.signet-system.svc").unwrap();
    let volumes = &find(&objects, "Deployment", "signet")["spec"]["template"]["spec"]["volumes"];
    assert!(
        volumes
            .as_sequence()
            .unwrap()
            .iter()
            .any(|v| v["secret"]["secretName"] == "corp-tls")
    );

    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&ca);
    let output = template(&[
        "--set",
        &format!(
            "certificates.source=existingSecret,certificates.existingSecret.name=corp-tls,certificates.existingSecret.caBundle={encoded}"
        ),
    ]);
    assert!(
        !output.status.success() && String::from_utf8_lossy(&output.stderr).contains("must be PEM"),
        "base64 of the CA was accepted as caBundle"
    );
}

fn args_of(objects: &[Value]) -> Vec<String> {
    find(objects, "Deployment", "signet")["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

fn failure_policy(objects: &[Value]) -> &Value {
    &find(objects, "ValidatingWebhookConfiguration", "signet")["webhooks"][0]["failurePolicy"]
}

/// mode: enforce fails closed; warn and dry-run run `--dry-run` and fail open unless
/// webhook.failurePolicy says otherwise; dry-run writes no Events (nor may).
#[test]
fn mode_sets_dry_run_events_and_failure_policy() {
    let enforce = render(&[]);
    assert_eq!(failure_policy(&enforce), "Fail");
    assert!(!args_of(&enforce).contains(&"--dry-run".into()));
    let warn = render(&["--set", "mode=warn"]);
    assert_eq!(failure_policy(&warn), "Ignore");
    assert!(
        args_of(&warn).contains(&"--dry-run".into()) && args_of(&warn).contains(&"--events".into())
    );
    let dry = render(&["--set", "mode=dry-run"]);
    assert!(
        args_of(&dry).contains(&"--dry-run".into()) && !args_of(&dry).contains(&"--events".into())
    );
    let rules = serde_yaml::to_string(&find(&dry, "ClusterRole", "signet")["rules"]).unwrap();
    assert!(!rules.contains("events"), "{rules}");
    let strict = render(&["--set", "mode=warn,webhook.failurePolicy=Fail"]);
    assert_eq!(failure_policy(&strict), "Fail");
}

fn checksum(objects: &[Value]) -> &Value {
    &find(objects, "Deployment", "signet")["spec"]["template"]["metadata"]["annotations"]["checksum/policies"]
}

/// An edit of the inline policies changes the pod template's checksum annotation, so `helm
/// upgrade` rolls the Deployment; the same policies give the same checksum; policies the chart
/// does not hold (an existing ConfigMap) give none.
#[test]
fn a_policy_edit_changes_the_checksum_and_rolls_the_deployment() {
    let shipped = render(&[]);
    let again = render(&[]);
    assert!(checksum(&shipped).as_str().is_some_and(|c| c.len() == 64));
    assert_eq!(checksum(&shipped), checksum(&again));
    let edited = render(&["--set-string", "policies.inline.policy\\.yaml=# emptied"]);
    assert_ne!(checksum(&edited), checksum(&shipped));
    let added = render(&["--set-string", "policies.inline.extra\\.yaml=# more"]);
    assert_ne!(checksum(&added), checksum(&shipped));
    let external = render(&[
        "--set",
        "policies.source=existingConfigMap,policies.existingConfigMap=corp-policies",
    ]);
    assert!(checksum(&external).is_null());
}

/// The exclude-label guard follows the label: rendered with the admin groups given (quoted as
/// CEL strings, a quote in a name escaped), and absent when the label is not honoured; the
/// FlowSchema for pull-secret reads exists only with pull secrets on.
#[test]
fn the_exclude_label_guard_and_the_flow_schema_follow_their_values() {
    let groups = |objects: &[Value]| {
        find(objects, "ValidatingAdmissionPolicy", "signet-exclude-label")["spec"]["variables"][0]
            ["expression"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        groups(&render(&[])),
        "['system:masters', 'signet:exclusion-admins']"
    );
    assert_eq!(
        groups(&render(&[
            "--set",
            "webhook.excludeLabelAdminGroups={platform-admins,o'brien}"
        ])),
        "['platform-admins', 'o\\'brien']"
    );
    let unguarded = render(&["--set", "webhook.honourExcludeLabel=false"]);
    assert!(
        !unguarded
            .iter()
            .any(|o| o["kind"] == "ValidatingAdmissionPolicy"
                || o["kind"] == "ValidatingAdmissionPolicyBinding")
    );
    let selector = serde_yaml::to_string(
        &find(&unguarded, "ValidatingWebhookConfiguration", "signet")["webhooks"][0]["namespaceSelector"],
    )
    .unwrap();
    assert!(!selector.contains("signet.dev/exclude"), "{selector}");
    find(&render(&[]), "FlowSchema", "signet-admission");
    let without = render(&["--set", "pullSecrets.enabled=false"]);
    assert!(
        !without
            .iter()
            .any(|o| o["apiVersion"] == "flowcontrol.apiserver.k8s.io/v1")
    );
}
