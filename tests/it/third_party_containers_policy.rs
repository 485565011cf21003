//! containers-policy.json conformance: containers/image's fixture policy files, and its
//! signature fixtures judged under requirements written as CRI-O's `policy.json` (keys by
//! `keyPath`/`keyPaths`/`keyData`/`keyDatas`, `fulcio` + `rekorPublicKey*`, `signedIdentity`),
//! loaded by `PolicySet` exactly as `--policy policy.json` loads them. Rows 24–50 of the table
//! at the top of `tests/it/third_party_containers_image.rs`; the upstream case each row comes from
//! is named there. Fixtures: `../shared/fixtures/third_party/containers-image` (containers/image
//! @ `df7e80d2d198`, Apache-2.0).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use signet::policy::{AuthorityKind, LoadErrorKind, PolicySet};
use signet::reference::ImageReference;
use signet::signature::{
    Acceptance, Mismatch, SignatureLayer, Subject, check_key_authority, check_keyless_authority,
};

use crate::common::containers_image::{FIXTURES, layers, manifest_digest, signature};

const SINGLE_SAMPLE: &str = "192.168.64.2:5000/cosign-signed-single-sample";
const FULCIO_IMAGE: &str = "192.168.64.2:5000/cosign-signed/fulcio-rekor-1";
const OAUTH: &str = "https://github.com/login/oauth";
const SET: &str = "dev.sigstore.cosign/bundle";
const CERT: &str = "dev.sigstore.cosign/certificate";
const CHAIN: &str = "dev.sigstore.cosign/chain";

fn path(file: &str) -> String {
    format!("{FIXTURES}/{file}")
}

fn data(file: &str) -> String {
    BASE64.encode(std::fs::read(path(file)).unwrap())
}

/// A policy.json whose scope `192.168.64.2:5000` holds `requirement`; everything else is
/// rejected.
fn policy(requirement: Value) -> Result<PolicySet, signet::policy::LoadError> {
    let text = json!({
        "default": [{"type": "reject"}],
        "transports": {"docker": {"192.168.64.2:5000": [requirement]}},
    });
    PolicySet::from_yaml(&text.to_string(), "policy.json")
}

/// Signet's verdict for `image` (digest of `fixture`) with `layers` under the one requirement
/// that `policy.json` selects for it.
fn verdict(
    set: &PolicySet,
    image: &str,
    fixture: &str,
    layers: &[SignatureLayer],
) -> Result<Acceptance, Mismatch> {
    let image = ImageReference::parse(image).unwrap();
    let digest = manifest_digest(fixture);
    let matching = set.matching(&image, None);
    assert_eq!(matching.len(), 1, "one requirement");
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    match &matching[0].authorities[0].kind {
        AuthorityKind::Key(k) => check_key_authority(k, subject, layers),
        AuthorityKind::Keyless(k) => check_keyless_authority(k, subject, layers),
        AuthorityKind::Static(_) | AuthorityKind::Notation(_) => {
            panic!("not a signature requirement")
        }
    }
}

/// Print each row (whether Signet behaves as the table at the top of
/// `third_party_containers_image.rs` says), then assert all do.
fn tally(rows: Vec<(&str, bool)>) {
    let ok = rows.iter().filter(|(_, ok)| *ok).count();
    for (row, ok) in &rows {
        println!(
            "{} {row}",
            if *ok {
                "as documented"
            } else {
                "NOT AS DOCUMENTED"
            }
        );
    }
    println!("{ok}/{} rows as documented", rows.len());
    let off: Vec<&str> = rows.iter().filter(|(_, ok)| !ok).map(|(r, _)| *r).collect();
    assert!(off.is_empty(), "rows not as documented: {off:?}");
}

/// Rows 24–26: the fixture policy files.
#[test]
fn fixture_policy_files_load_or_are_refused_by_field() {
    let text = std::fs::read_to_string(path("policy.json")).unwrap();
    let err = PolicySet::from_yaml(&text, "policy.json").unwrap_err();
    let row24 = matches!(err.kind, LoadErrorKind::Unsupported(_))
        && err.field.as_deref() == Some("transports.docker[\"example.com/production\"][0].type")
        && err
            .to_string()
            .contains("signedBy (GPG \"simple signing\" signatures) is not supported");
    let default = std::fs::read_to_string(format!("{FIXTURES}/../../default-policy.json")).unwrap();
    let set = PolicySet::from_yaml(&default, "default-policy.json").unwrap();
    let any = set.matching(&ImageReference::parse("quay.io/any/image:1").unwrap(), None);
    let row25 = set.is_containers_policy()
        && any.len() == 1
        && any[0].authorities[0].name == "insecureAcceptAnything";
    // The fixture without its GPG and base-layer scopes: `keyData` "nonsense" is not a key.
    let mut value: Value = serde_json::from_str(&text).unwrap();
    let docker = value["transports"]["docker"].as_object_mut().unwrap();
    docker.retain(|_, reqs| {
        reqs.to_string().contains("sigstoreSigned")
            || reqs.to_string().contains("insecureAcceptAnything")
    });
    let err = PolicySet::from_yaml(&value.to_string(), "policy.json").unwrap_err();
    let row26 = err.field.as_deref()
        == Some("transports.docker[\"example.com/sigstore/key-data-example\"][0].keyData")
        && err.to_string().contains("no PEM block found");
    tally(vec![
        ("24 policy.json refused at its first signedBy", row24),
        (
            "25 default-policy.json loads: insecureAcceptAnything",
            row25,
        ),
        (
            "26 policy.json's sigstore keyData \"nonsense\" refused",
            row26,
        ),
    ]);
}

/// Rows 27–31: key requirements from policy.json text, rows 1, 2, 6, 11 and 20/22 again.
#[test]
fn key_requirements_from_policy_json_get_the_upstream_verdicts() {
    let key = |source: Value, identity: Value| {
        let mut req = json!({"type": "sigstoreSigned", "signedIdentity": identity});
        req.as_object_mut()
            .unwrap()
            .extend(source.as_object().unwrap().clone());
        policy(req).unwrap()
    };
    let repo = json!({"type": "matchRepository"});
    let forms = [
        json!({"keyPath": path("cosign.pub")}),
        json!({"keyPaths": [path("cosign2.pub"), path("cosign.pub")]}),
        json!({"keyData": data("cosign.pub")}),
        json!({"keyDatas": [data("cosign.pub"), data("cosign2.pub")]}),
    ];
    let valid = layers("dir-img-cosign-valid");
    let row27 = forms.iter().all(|form| {
        verdict(
            &key(form.clone(), repo.clone()),
            SINGLE_SAMPLE,
            "dir-img-cosign-valid",
            &valid,
        )
        .is_ok()
    });
    let with_tag = layers("dir-img-cosign-valid-with-tag");
    let exact = key(forms[0].clone(), json!({"type": "matchExact"}));
    let tagged = |tag: &str| format!("192.168.64.2:5000/skopeo-signed:{tag}");
    let row28 = verdict(
        &exact,
        &tagged("tag"),
        "dir-img-cosign-valid-with-tag",
        &with_tag,
    )
    .is_ok()
        && matches!(
            verdict(
                &exact,
                &tagged("othertag"),
                "dir-img-cosign-valid-with-tag",
                &with_tag
            ),
            Err(Mismatch::IdentityMismatch { .. })
        );
    let row29 = matches!(
        verdict(&exact, SINGLE_SAMPLE, "dir-img-cosign-valid", &valid),
        Err(Mismatch::IdentityMismatch { .. })
    );
    // No signedIdentity: matchRepoDigestOrExact, which refuses cosign's tag-less signatures.
    let default_identity =
        policy(json!({"type": "sigstoreSigned", "keyPath": path("cosign.pub")})).unwrap();
    let row30 = matches!(
        verdict(&default_identity, SINGLE_SAMPLE, "dir-img-cosign-valid", &valid),
        Err(Mismatch::IdentityMismatch { required, .. }) if required.contains("matchRepoDigestOrExact")
    ) && verdict(
        &default_identity,
        &tagged("tag"),
        "dir-img-cosign-valid-with-tag",
        &with_tag,
    )
    .is_ok();
    let unknown = vec![signature("unknown-cosign-key.signature").layer];
    let row31 = matches!(
        verdict(
            &key(forms[0].clone(), repo),
            SINGLE_SAMPLE,
            "dir-img-cosign-valid",
            &unknown
        ),
        Err(Mismatch::UntrustedSigner { .. })
    );
    tally(vec![
        (
            "27 keyPath / keyPaths / keyData / keyDatas accept dir-img-cosign-valid",
            row27,
        ),
        (
            "28 matchExact: matching tag accepted, other tag rejected",
            row28,
        ),
        ("29 matchExact refuses a cosign (tag-less) signature", row29),
        ("30 default signedIdentity is matchRepoDigestOrExact", row30),
        ("31 unknown key rejected", row31),
    ]);
}

fn fulcio(ca: Value, email: &str, issuer: &str, rekor: Value) -> Value {
    let mut fulcio = json!({"oidcIssuer": issuer, "subjectEmail": email});
    fulcio
        .as_object_mut()
        .unwrap()
        .extend(ca.as_object().unwrap().clone());
    let mut req = json!({"type": "sigstoreSigned", "fulcio": fulcio, "signedIdentity": {"type": "matchRepository"}});
    req.as_object_mut()
        .unwrap()
        .extend(rekor.as_object().unwrap().clone());
    req
}

/// Rows 32–45: the Fulcio + Rekor fixture under `fulcio` requirements.
#[test]
fn fulcio_requirements_from_policy_json_get_the_upstream_verdicts() {
    let fixture = "dir-img-cosign-fulcio-rekor-valid";
    let layer = signature(&format!("{fixture}/signature-1")).layer;
    let ca = json!({"caPath": path("fulcio_v1.crt.pem")});
    let rekor = json!({"rekorPublicKeyPath": path("rekor.pub")});
    let run = |req: Value, layer: SignatureLayer| {
        verdict(&policy(req).unwrap(), FULCIO_IMAGE, fixture, &[layer])
    };
    let good = || fulcio(ca.clone(), "mitr@redhat.com", OAUTH, rekor.clone());
    let edit = |name: &str, value: Option<&str>| {
        let mut l = layer.clone();
        match value {
            Some(v) => l.annotations.insert(name.into(), v.into()),
            None => l.annotations.remove(name),
        };
        l
    };
    let rejected = |r: Result<Acceptance, Mismatch>| r.is_err();
    let chain = layer.annotations[CHAIN].clone();
    let row33 = [
        json!({"rekorPublicKeyData": data("rekor.pub")}),
        json!({"rekorPublicKeyPaths": [path("cosign.pub"), path("rekor.pub")]}),
        json!({"rekorPublicKeyDatas": [data("rekor.pub"), data("cosign.pub")]}),
    ]
    .into_iter()
    .all(|r| {
        run(
            fulcio(
                json!({"caData": data("fulcio_v1.crt.pem")}),
                "mitr@redhat.com",
                OAUTH,
                r,
            ),
            layer.clone(),
        )
        .is_ok()
    });
    let other_email = run(
        fulcio(
            ca.clone(),
            "this-does-not-match@example.com",
            OAUTH,
            rekor.clone(),
        ),
        layer.clone(),
    );
    let row35 = other_email
        .as_ref()
        .err()
        .map(ToString::to_string)
        .as_deref()
        == Some(
            r#"Required email this-does-not-match@example.com not found (got []string{"mitr@redhat.com"})"#,
        );
    let other_issuer = run(
        fulcio(
            ca.clone(),
            "mitr@redhat.com",
            "https://accounts.google.com",
            rekor.clone(),
        ),
        layer.clone(),
    );
    let row36 = matches!(other_issuer, Err(Mismatch::UnexpectedIssuer { found: Some(ref i) }) if i == OAUTH);
    let chain_ca = json!({"caData": BASE64.encode(&chain)});
    let row37 = run(
        fulcio(chain_ca, "mitr@redhat.com", OAUTH, rekor.clone()),
        edit(CHAIN, None),
    )
    .is_ok();
    let refused = |req: Value, field: &str| {
        policy(req).is_err_and(|e| e.field.as_deref().is_some_and(|f| f.ends_with(field)))
    };
    let mut no_rekor = good();
    no_rekor
        .as_object_mut()
        .unwrap()
        .remove("rekorPublicKeyPath");
    let rsa = json!({"rekorPublicKeyPath": path("some-rsa-key.pub")});
    let pki = json!({"type": "sigstoreSigned", "pki": {"caRootsPath": path("pki_root_crts.pem"), "subjectEmail": "qiwan@redhat.com"}});
    tally(vec![
        (
            "32 fulcio caPath + rekorPublicKeyPath accepted",
            run(good(), layer.clone()).is_ok(),
        ),
        (
            "33 caData, rekorPublicKeyData/Paths/Datas forms accepted",
            row33,
        ),
        (
            "34 missing SET rejected",
            rejected(run(good(), edit(SET, None))),
        ),
        ("35 other email: Required email … not found (got …)", row35),
        ("36 other issuer: Unexpected Fulcio OIDC issuer", row36),
        (
            "37 chain as CA data, chain annotation missing: accepted",
            row37,
        ),
        (
            "38 missing certificate rejected",
            rejected(run(good(), edit(CERT, None))),
        ),
        (
            "39 missing chain rejected",
            rejected(run(good(), edit(CHAIN, None))),
        ),
        (
            "40 invalid certificate rejected",
            rejected(run(
                good(),
                edit(CERT, Some("this is not a valid certificate")),
            )),
        ),
        (
            "41 invalid SET rejected",
            rejected(run(good(), edit(SET, Some("this is not a valid SET")))),
        ),
        (
            "42 cosign.pub as the Rekor key rejected",
            rejected(run(
                fulcio(
                    ca.clone(),
                    "mitr@redhat.com",
                    OAUTH,
                    json!({"rekorPublicKeyPath": path("cosign.pub")}),
                ),
                layer.clone(),
            )),
        ),
        (
            "43 fulcio without a Rekor key refused at load",
            refused(no_rekor, "[0]"),
        ),
        (
            "44 RSA Rekor key refused at load",
            refused(
                fulcio(ca.clone(), "mitr@redhat.com", OAUTH, rsa),
                "rekorPublicKeyPath",
            ),
        ),
        (
            "45 pki refused at load (not supported)",
            refused(pki, "pki"),
        ),
    ]);
}

/// Rows 46–50: key + Rekor (`dir-img-cosign-key-rekor-valid`, signed by cosign2.pub and logged
/// in the public-good Rekor).
#[test]
fn key_and_rekor_requirements_from_policy_json_get_the_upstream_verdicts() {
    const KEY_1: &str = "192.168.64.2:5000/cosign-signed/key-1";
    let fixture = "dir-img-cosign-key-rekor-valid";
    let layer = signature(&format!("{fixture}/signature-1")).layer;
    let req = |keys: &[&str], rekor: &str| {
        let keys: Vec<String> = keys.iter().map(|k| path(k)).collect();
        json!({"type": "sigstoreSigned", "keyPaths": keys, "rekorPublicKeyPath": path(rekor),
               "signedIdentity": {"type": "matchRepository"}})
    };
    let run = |req: Value, image: &str, fixture: &str, layer: SignatureLayer| {
        verdict(&policy(req).unwrap(), image, fixture, &[layer])
    };
    let row46 = [
        ["cosign2.pub"].as_slice(),
        &["cosign2.pub", "cosign.pub"],
        &["cosign.pub", "cosign2.pub"],
    ]
    .into_iter()
    .all(|keys| run(req(keys, "rekor.pub"), KEY_1, fixture, layer.clone()).is_ok());
    let mut no_set = layer.clone();
    no_set.annotations.remove(SET);
    let mut bad_set = layer.clone();
    bad_set
        .annotations
        .insert(SET.into(), "this is not a valid SET".into());
    // The key-1 SET on dir-img-cosign-valid's signature (by cosign.pub, also trusted).
    let mut moved = signature("dir-img-cosign-valid/signature-1").layer;
    moved
        .annotations
        .insert(SET.into(), layer.annotations[SET].clone());
    let both = ["cosign.pub", "cosign2.pub"];
    tally(vec![
        (
            "46 key + rekorPublicKeyPath accepted (three key sets)",
            row46,
        ),
        (
            "47 missing SET rejected",
            matches!(
                run(req(&["cosign2.pub"], "rekor.pub"), KEY_1, fixture, no_set),
                Err(Mismatch::TransparencyLogMissing)
            ),
        ),
        (
            "48 invalid SET rejected",
            matches!(
                run(req(&["cosign2.pub"], "rekor.pub"), KEY_1, fixture, bad_set),
                Err(Mismatch::TransparencyLogInvalid { .. })
            ),
        ),
        (
            "49 SET of a log we do not trust (cosign.pub as Rekor key) rejected",
            run(
                req(&["cosign2.pub"], "cosign.pub"),
                KEY_1,
                fixture,
                layer.clone(),
            )
            .is_err(),
        ),
        (
            "50 SET of another key's signature rejected",
            run(
                req(&both, "rekor.pub"),
                SINGLE_SAMPLE,
                "dir-img-cosign-valid",
                moved,
            )
            .is_err(),
        ),
    ]);
}
