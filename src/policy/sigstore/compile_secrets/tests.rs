//! Secrets a policy names, at load: inlined in cluster mode, an authority that admits nothing
//! when one cannot be used, refused in file mode, noted by `policy check`.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::policy::{
    AuthorityKind, ClusterSecrets, LoadErrorKind, PolicySecrets, PolicySet, SecretContent,
    StaticAction, TrustRoots,
};

const FIXTURES: &str = "../shared/fixtures/third_party";

const KEY: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEaEOVJCFtduYr3xqTxeRWSW32CY/s
TBNZj4oIUPl8JvhVPJ1TKDPlNcuT4YphSt6t3yOmMvkdQbCj8broX6vijw==
-----END PUBLIC KEY-----
";

fn document(kind: &str, authority: &str) -> String {
    let (api, namespace) = match kind {
        "ImagePolicy" => ("signet.dev/v1alpha1", ", namespace: team"),
        _ => ("policy.sigstore.dev/v1beta1", ""),
    };
    format!(
        "apiVersion: {api}\nkind: {kind}\nmetadata: {{name: p{namespace}}}\n\
         spec:\n  images: [{{glob: '**'}}]\n  authorities:\n{authority}"
    )
}

const KEY_REF: &str = "  - key: {secretRef: {name: release-key}}\n";
const CA_REF: &str = "  - keyless:\n      identities: [{issuer: https://i, subject: s}]\n      \
                      ca-cert: {secretRef: {name: ca}}\n";
const PULL_REF: &str = "  - key: {secretRef: {name: release-key}}\n    source:\n    - oci: \
                        r.example/sigs\n      signaturePullSecrets: [{name: pull}]\n";

/// A Secret: name, type, entries.
type Secret<'a> = (&'a str, &'a str, &'a [(&'a str, &'a [u8])]);

fn cluster(secrets: &[Secret<'_>]) -> TrustRoots {
    let secrets = secrets
        .iter()
        .map(|(name, kind, entries)| {
            let data = entries
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_vec()))
                .collect();
            let content = SecretContent::Data {
                kind: kind.to_string(),
                data,
            };
            (name.to_string(), content)
        })
        .collect::<BTreeMap<_, _>>();
    TrustRoots::default().with_secrets(PolicySecrets::Cluster(Arc::new(ClusterSecrets {
        namespace: "signet-system".into(),
        secrets,
        config_maps: BTreeMap::new(),
    })))
}

fn load(text: &str, roots: &TrustRoots) -> Result<PolicySet, crate::policy::LoadError> {
    PolicySet::from_yaml_with_trust_roots(text, "p.yaml", roots)
}

/// The static-fail message of the only authority, or `None` when it verifies signatures.
fn fails_with(set: &PolicySet) -> Option<String> {
    match &set.policies()[0].authorities[0].kind {
        AuthorityKind::Static(s) if s.action == StaticAction::Fail => s.message.clone(),
        _ => None,
    }
}

#[test]
fn file_mode_refuses_every_secret_field_naming_watch_policies() {
    for (authority, field) in [
        (KEY_REF, "spec.authorities[0].key.secretRef"),
        (CA_REF, "spec.authorities[0].keyless.ca-cert.secretRef"),
        (
            "  - key: {data: 'x'}\n    source: [{signaturePullSecrets: [{name: s}]}]\n",
            "spec.authorities[0].source[0].signaturePullSecrets",
        ),
    ] {
        let authority = authority.replace("{data: 'x'}", &format!("{{data: {KEY:?}}}"));
        let err = load(
            &document("ClusterImagePolicy", &authority),
            &TrustRoots::default(),
        )
        .unwrap_err();
        assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
        assert_eq!(err.field.as_deref(), Some(field), "{err}");
        assert!(err.to_string().contains("--watch-policies"), "{err}");
    }
}

#[test]
fn cluster_mode_inlines_the_one_entry_of_a_key_secret() {
    let roots = cluster(&[("release-key", "Opaque", &[("cosign.pub", KEY.as_bytes())])]);
    let set = load(&document("ClusterImagePolicy", KEY_REF), &roots).unwrap();
    let AuthorityKind::Key(key) = &set.policies()[0].authorities[0].kind else {
        panic!(
            "not a key authority: {:?}",
            set.policies()[0].authorities[0]
        );
    };
    assert_eq!(key.keys.len(), 1);
    // Another key in the Secret is another policy content: cached verdicts do not carry over.
    let other = std::fs::read(format!(
        "{FIXTURES}/policy-controller/pkg/reconciler/trustroot/testdata/rekorPublicKey.pem"
    ))
    .unwrap();
    let changed = cluster(&[("release-key", "Opaque", &[("k", &other)])]);
    let changed = load(&document("ClusterImagePolicy", KEY_REF), &changed).unwrap();
    assert_ne!(
        set.policies()[0].fingerprint(),
        changed.policies()[0].fingerprint()
    );
}

#[test]
fn a_secret_that_cannot_be_used_makes_an_authority_that_admits_nothing() {
    let cases: [(&[Secret<'_>], &str); 5] = [
        (&[], "Secret signet-system/release-key not found"),
        (&[("release-key", "Opaque", &[])], "contains no data"),
        (
            &[("release-key", "Opaque", &[("a", b"x"), ("b", b"y")])],
            "contains 2 data entries",
        ),
        (
            &[("release-key", "Opaque", &[("a", b"not a key")])],
            "spec.authorities[0].key.data",
        ),
        (
            &[
                ("release-key", "Opaque", &[("a", KEY.as_bytes())]),
                ("pull", "Opaque", &[(".dockerconfigjson", b"{}")]),
            ],
            "not kubernetes.io/dockerconfigjson",
        ),
    ];
    for (secrets, says) in cases {
        let roots = cluster(secrets);
        let authority = match says {
            "not kubernetes.io/dockerconfigjson" => PULL_REF,
            _ => KEY_REF,
        };
        match load(&document("ClusterImagePolicy", authority), &roots) {
            Ok(set) => {
                let message = fails_with(&set).unwrap_or_default();
                assert!(message.contains(says), "{says}: {message}");
            }
            // A PEM that is not a key is refused by field, as in `data`.
            Err(err) => assert!(err.to_string().contains(says), "{says}: {err}"),
        }
    }
}

#[test]
fn an_image_policy_never_reads_signet_s_secrets() {
    let roots = cluster(&[("release-key", "Opaque", &[("cosign.pub", KEY.as_bytes())])]);
    let authority = "  - key: {secretRef: {name: release-key, namespace: team}}\n";
    let err = load(&document("ImagePolicy", authority), &roots).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].key.secretRef"),
        "{err}"
    );
}

#[test]
fn policy_check_accepts_secret_fields_with_a_note_and_admits_nothing_by_them() {
    let roots = TrustRoots::default().with_secrets(PolicySecrets::Checked);
    let set = load(&document("ClusterImagePolicy", PULL_REF), &roots).unwrap();
    assert!(fails_with(&set).unwrap().contains("--watch-policies"));
    let notes = set.describe().join("\n");
    for field in [
        "spec.authorities[0].key.secretRef: read from Secret release-key",
        "spec.authorities[0].source[0].signaturePullSecrets: read from Secret pull",
    ] {
        assert!(notes.contains(field), "{field} not in {notes}");
    }
}

/// policy-controller's `valid/` fixtures as `signet policy check` reads them: Secrets accepted.
#[test]
fn valid_fixtures_are_refused_only_for_kms_or_attestations_in_cluster_mode() {
    let dir = format!("{FIXTURES}/policy-controller/test/testdata/policy-controller/valid");
    let roots = TrustRoots::default().with_secrets(PolicySecrets::Checked);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 14);
    let mut loaded = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        match load(&text, &roots) {
            Ok(_) => loaded += 1,
            Err(err) => {
                let field = err.field.clone().unwrap_or_default();
                assert!(
                    [".kms", ".attestations"].iter().any(|f| field.ends_with(f)),
                    "{}: {err}",
                    file.display()
                );
                assert!(!err.to_string().contains("secretRef"), "{err}");
                assert!(!err.to_string().contains("signaturePullSecrets"), "{err}");
            }
        }
    }
    // valid-keyless-with-source.yaml and valid-policy-hash-algo-sha512.yaml.
    assert_eq!(loaded, 2);
}
