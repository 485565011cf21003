//! Export of ClusterImagePolicy sets to containers-policy.json: scopes, nesting, merging of
//! alternatives, and the findings for what cannot be expressed.

use super::*;

const KEY: &str = "
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcADXle5omhqhdo1tFxxBgPyIwYw0
        jiGBde24SqsxIOov7X10o1zkBGLdkZr+oG8mB1oeZloVPcutNYeRDy1W6A==
        -----END PUBLIC KEY-----";

fn policy(name: &str, globs: &[&str], authorities: &str, extra: &str) -> String {
    let globs: String = globs
        .iter()
        .map(|g| format!("  - glob: \"{g}\"\n"))
        .collect();
    format!(
        "---\napiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\nspec:\n  images:\n{globs}  authorities:\n{authorities}{extra}"
    )
}

fn key(name: &str) -> String {
    format!("  - name: {name}\n    key:\n      data: |{KEY}\n")
}

fn export(text: &str) -> CrioExport {
    let set = PolicySet::from_yaml(text, "p.yaml").unwrap();
    export_crio(&set, Unmatched::Reject).unwrap()
}

fn inexact(e: &CrioExport) -> Vec<String> {
    e.findings
        .iter()
        .filter(|f| f.severity >= Severity::Inexact)
        .map(|f| f.message.clone())
        .collect()
}

#[test]
fn ancestors_follow_containers_image_scope_order() {
    assert_eq!(
        ancestors("quay.io/a/b:v1"),
        ["quay.io/a/b", "quay.io/a", "quay.io", "*.io", ""]
    );
    assert_eq!(
        ancestors("example.com:8443/ns"),
        ["example.com:8443", "*.com", ""]
    );
    assert_eq!(ancestors("*.example.com"), ["*.com", ""]);
    assert_eq!(ancestors(""), Vec::<String>::new());
}

#[test]
fn nested_scopes_carry_every_covering_policy_and_default_rejects() {
    let text = policy("all", &["ghcr.io/**"], &key("a"), "")
        + &policy("org", &["ghcr.io/org", "ghcr.io/org/**"], &key("b"), "");
    let e = export(&text);
    assert!(inexact(&e).is_empty(), "{:?}", e.findings);
    assert_eq!(e.global["default"], json!([{"type": "reject"}]));
    let docker = &e.global["transports"]["docker"];
    assert_eq!(docker["ghcr.io"].as_array().unwrap().len(), 1);
    assert_eq!(docker["ghcr.io/org"].as_array().unwrap().len(), 2);
    let req = &docker["ghcr.io"][0];
    assert_eq!(req["type"], "sigstoreSigned");
    assert_eq!(req["signedIdentity"], json!({"type": "matchRepository"}));
    assert_eq!(req["keyDatas"].as_array().unwrap().len(), 1);
    assert!(e.namespaces.is_empty());
}

#[test]
fn key_alternatives_merge_and_static_pass_wins() {
    let e = export(&policy("two", &["**"], &(key("a") + &key("b")), ""));
    assert!(inexact(&e).is_empty(), "{:?}", e.findings);
    let req = &e.global["transports"]["docker"][""][0];
    assert_eq!(req["keyDatas"].as_array().unwrap().len(), 2);
    let pass = "  - static: {action: pass}\n";
    let e = export(&policy("p", &["**"], &(key("a") + pass), ""));
    assert_eq!(
        e.global["transports"]["docker"][""],
        json!([{"type": "insecureAcceptAnything"}])
    );
    assert_eq!(e.findings[0].severity, Severity::Note);
}

#[test]
fn what_cannot_be_said_is_reported_and_exported_narrowly() {
    let warn = policy("w", &["quay.io/**"], &key("a"), "  mode: warn\n");
    let e = export(&warn);
    assert!(inexact(&e)[0].contains("mode: warn"), "{:?}", e.findings);
    assert_eq!(
        e.global["transports"]["docker"]["quay.io"],
        json!([{"type": "insecureAcceptAnything"}])
    );
    let e = export(&policy("g", &["quay.io/*/app"], &key("a"), ""));
    assert!(
        inexact(&e)[0].contains("not a containers-policy.json scope"),
        "{:?}",
        e.findings
    );
    assert!(e.global.get("transports").is_none());
    let e = export(&policy("r", &["quay.io/team/app"], &key("a"), ""));
    assert!(
        inexact(&e)[0].contains("add the glob quay.io/team/app/**"),
        "{:?}",
        e.findings
    );
    let any = "    signedIdentity: {type: anyRepository}\n";
    let e = export(&policy("a", &["quay.io/**"], &(key("a") + any), ""));
    assert!(inexact(&e)[0].contains("anyRepository"), "{:?}", e.findings);
}

#[test]
fn namespaced_policies_get_their_own_file() {
    let namespaced = "---\napiVersion: policy.sigstore.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: team, namespace: team-a}\nspec:\n  images: [{glob: 'quay.io/**'}]\n  authorities: [{static: {action: fail}}]\n";
    let text = policy("all", &["ghcr.io/**"], &key("a"), "") + namespaced;
    let e = export(&text);
    assert_eq!(e.namespaces.len(), 1);
    let team = &e.namespaces["team-a"]["transports"]["docker"];
    assert_eq!(team["quay.io"], json!([{"type": "reject"}]));
    assert!(team.get("ghcr.io").is_some());
    assert!(e.global["transports"]["docker"].get("quay.io").is_none());
}

/// As Signet judges them, namespaced policies only add requirements: a scope only they cover is
/// unmatched (rejected under `--no-match deny`), one a cluster policy covers needs both.
#[test]
fn a_scope_only_namespaced_policies_cover_is_unmatched() {
    let namespaced = "---\napiVersion: signet.dev/v1alpha1\nkind: ImagePolicy\nmetadata: {name: team, namespace: team-a}\nspec:\n  images: [{glob: '**'}]\n  authorities: [{static: {action: pass}}]\n";
    let text = policy("all", &["ghcr.io/**"], &key("a"), "") + namespaced;
    let set = PolicySet::from_yaml(&text, "p.yaml").unwrap();
    let rejected = export_crio(&set, Unmatched::Reject).unwrap();
    let team = &rejected.namespaces["team-a"]["transports"]["docker"];
    assert_eq!(team[""], json!([{"type": "reject"}]), "{team}");
    let both = team["ghcr.io"].as_array().unwrap();
    assert_eq!(
        both.len(),
        2,
        "key a and the namespace's static pass: {team}"
    );
    let accepted = export_crio(&set, Unmatched::Accept).unwrap();
    let team = &accepted.namespaces["team-a"]["transports"]["docker"];
    assert_eq!(
        team[""],
        json!([{"type": "insecureAcceptAnything"}]),
        "{team}"
    );
}

#[test]
fn a_containers_policy_is_not_exported_again() {
    let set = PolicySet::from_yaml(r#"{"default": [{"type": "reject"}]}"#, "policy.json").unwrap();
    assert_eq!(
        export_crio(&set, Unmatched::Reject).unwrap_err(),
        ExportError::AlreadyContainersPolicy
    );
}

fn severities(text: &str, unmatched: Unmatched) -> Vec<(Severity, String)> {
    let set = PolicySet::from_yaml(text, "p.yaml").unwrap();
    let e = export_crio(&set, unmatched).unwrap();
    e.findings
        .into_iter()
        .map(|f| (f.severity, f.message))
        .collect()
}

#[test]
fn what_would_refuse_images_signet_admits_is_told_apart() {
    let pass = "  - name: pass\n    static:\n      action: pass\n";
    let dropped = policy("pause", &["registry.k8s.io/pause*"], pass, "");
    let under_reject = severities(&dropped, Unmatched::Reject);
    assert_eq!(under_reject[0].0, Severity::Refuses, "{under_reject:?}");
    assert!(
        under_reject[0]
            .1
            .contains("CRI-O would judge its images by `default`")
    );
    let under_accept = severities(&dropped, Unmatched::Accept);
    assert_eq!(under_accept[0].0, Severity::Inexact, "{under_accept:?}");
    let widened = policy("r", &["quay.io/team/app"], &key("a"), "");
    assert_eq!(
        severities(&widened, Unmatched::Reject)[0].0,
        Severity::Inexact
    );
    assert_eq!(
        severities(&widened, Unmatched::Accept)[0].0,
        Severity::Refuses
    );
}
