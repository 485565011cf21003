//! Keyless authorities at load: what resolves, and what is refused by field.

use crate::policy::{AuthorityKind, LoadErrorKind, Matcher, PolicySet, TrustRoots};

const FIXTURES: &str = "../shared/fixtures/third_party";

fn roots() -> TrustRoots {
    let text = std::fs::read_to_string(format!(
        "{FIXTURES}/sigstore-rs/trust_root/prod/trusted_root.json"
    ))
    .unwrap();
    let mut roots = TrustRoots::from_text(&text, "pg.json", "sigstore-public-good").unwrap();
    roots.insert("default", crio_trust("crio"));
    roots
}

/// containers/image's `fulcio_v1.crt.pem` and `rekor.pub` as trust named `origin`.
fn crio_trust(origin: &str) -> crate::policy::KeylessTrust {
    let read = |name: &str| {
        std::fs::read(format!(
            "{FIXTURES}/containers-image/signature/fixtures/{name}"
        ))
        .unwrap()
    };
    let rekor = read("rekor.pub");
    crate::policy::KeylessTrust::from_pem(origin, &read("fulcio_v1.crt.pem"), &[&rekor]).unwrap()
}

fn policy(keyless: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: p}}\n\
         spec:\n  images: [{{glob: '**'}}]\n  authorities:\n  - keyless:\n{keyless}"
    )
}

const IDENTITY: &str =
    "      identities: [{issuer: https://accounts.google.com, subject: a@b.c}]\n";

fn load(keyless: &str) -> Result<PolicySet, crate::policy::LoadError> {
    PolicySet::from_yaml_with_trust_roots(&policy(keyless), "p.yaml", &roots())
}

fn refused(keyless: &str) -> (String, String) {
    let err = load(keyless).unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
    (err.field.clone().unwrap_or_default(), err.to_string())
}

#[test]
fn trust_root_ref_resolves_fulcio_rekor_and_ct_material() {
    let set = load(&format!(
        "{IDENTITY}      trustRootRef: sigstore-public-good\n"
    ))
    .unwrap();
    let AuthorityKind::Keyless(k) = &set.policies()[0].authorities[0].kind else {
        panic!("keyless expected")
    };
    assert_eq!(k.trust.certificate_authorities.len(), 2);
    assert_eq!(k.trust.rekor_keys.len(), 1);
    assert_eq!(k.trust.ct_keys.len(), 2);
    assert!(
        matches!(&k.identities[0].issuer, Matcher::Exact(i) if i == "https://accounts.google.com")
    );
}

#[test]
fn ca_cert_takes_rekor_keys_from_the_default_trust_root() {
    let pem = std::fs::read_to_string(format!(
        "{FIXTURES}/containers-image/signature/fixtures/fulcio_v1.crt.pem"
    ))
    .unwrap();
    let indented: String = pem.lines().map(|l| format!("          {l}\n")).collect();
    let keyless = format!("{IDENTITY}      ca-cert:\n        data: |\n{indented}");
    let set = load(&keyless).unwrap();
    let AuthorityKind::Keyless(k) = &set.policies()[0].authorities[0].kind else {
        panic!("keyless expected")
    };
    assert!(
        k.trust.origin.contains("Rekor keys of crio"),
        "{}",
        k.trust.origin
    );
    // Without a `default` root, public Rekor (policy-controller's default ctlog).
    let without_default =
        PolicySet::from_yaml_with_trust_roots(&policy(&keyless), "p.yaml", &TrustRoots::default())
            .unwrap();
    let AuthorityKind::Keyless(k) = &without_default.policies()[0].authorities[0].kind else {
        panic!("keyless expected")
    };
    assert!(
        k.trust
            .origin
            .contains("Rekor keys of embedded Sigstore public-good"),
        "{}",
        k.trust.origin
    );
}

/// The example: no trustRootRef, no ca-cert, with or without Fulcio's URL.
#[test]
fn keyless_naming_no_trust_uses_the_embedded_public_good_root() {
    let url = "      url: https://fulcio.sigstore.dev\n";
    for keyless in [IDENTITY.to_string(), format!("{IDENTITY}{url}")] {
        let set = PolicySet::from_yaml_with_trust_roots(
            &policy(&keyless),
            "p.yaml",
            &TrustRoots::default(),
        )
        .unwrap();
        let AuthorityKind::Keyless(k) = &set.policies()[0].authorities[0].kind else {
            panic!("keyless expected")
        };
        assert_eq!(
            k.trust.origin,
            format!(
                "embedded Sigstore public-good trust root (snapshot {})",
                crate::policy::PUBLIC_GOOD_SNAPSHOT
            )
        );
        assert_eq!(k.trust.certificate_authorities.len(), 2);
        assert_eq!(k.trust.rekor_keys.len(), 1);
        assert_eq!(k.trust.ct_keys.len(), 2);
    }
    // `trustRootRef: sigstore-public-good` names the embedded root too.
    let named = format!("{IDENTITY}      trustRootRef: sigstore-public-good\n");
    assert!(
        PolicySet::from_yaml_with_trust_roots(&policy(&named), "p.yaml", &TrustRoots::default())
            .is_ok()
    );
}

/// A `--trust-root` named sigstore-public-good replaces the snapshot, for both spellings.
#[test]
fn a_given_public_good_root_replaces_the_embedded_one() {
    for keyless in [
        IDENTITY.to_string(),
        format!("{IDENTITY}      trustRootRef: sigstore-public-good\n"),
    ] {
        let set = load(&keyless).unwrap();
        let AuthorityKind::Keyless(k) = &set.policies()[0].authorities[0].kind else {
            panic!("keyless expected")
        };
        assert_eq!(k.trust.origin, "trusted root sigstore-public-good");
    }
    // A replacement without Fulcio CAs is refused, never silently the embedded one.
    let mut roots = TrustRoots::default();
    let mut trust = crio_trust("mine");
    trust.certificate_authorities.clear();
    roots.insert("sigstore-public-good", trust);
    let err =
        PolicySet::from_yaml_with_trust_roots(&policy(IDENTITY), "p.yaml", &roots).unwrap_err();
    assert!(
        err.to_string().contains("no certificateAuthorities"),
        "{err}"
    );
}

#[test]
fn missing_trust_material_is_refused_naming_the_field() {
    let (field, shown) = refused(&format!("{IDENTITY}      trustRootRef: nope\n"));
    assert_eq!(field, "spec.authorities[0].keyless.trustRootRef");
    assert!(
        shown.contains("known: default, sigstore-public-good"),
        "{shown}"
    );
    let (field, _) = refused(&format!(
        "{IDENTITY}      trustRootRef: sigstore-public-good\n    ctlog: {{trustRootRef: gone}}\n"
    ));
    assert_eq!(field, "spec.authorities[0].ctlog.trustRootRef");
}

#[test]
fn an_identity_that_constrains_nothing_is_refused_at_load() {
    let err =
        load("      identities: [{}]\n      trustRootRef: sigstore-public-good\n").unwrap_err();
    assert!(matches!(err.kind, LoadErrorKind::Invalid(_)), "{err}");
    assert!(err.to_string().contains("subject"), "{err}");
    let err = load("      identities: []\n      trustRootRef: sigstore-public-good\n").unwrap_err();
    assert!(err.to_string().contains("identities"), "{err}");
}

/// SCTs (issue 24): a keyless authority that leaves `insecureIgnoreSCT` unset requires an SCT
/// where its trust root lists CT logs (public-good does) and loads silently; where it lists
/// none, the authority loads with a note saying SCTs are not verified, and
/// `insecureIgnoreSCT: false` there is refused; `true` never requires one.
#[test]
fn scts_are_required_where_the_trust_root_lists_ct_logs_and_noted_where_it_does_not() {
    let compiled = |keyless: &str, roots: &TrustRoots| {
        let set = PolicySet::from_yaml_with_trust_roots(&policy(keyless), "p.yaml", roots);
        let set = set.unwrap();
        let AuthorityKind::Keyless(k) = &set.policies()[0].authorities[0].kind else {
            panic!("keyless expected")
        };
        let notes: Vec<String> = set
            .describe()
            .into_iter()
            .filter(|l| l.starts_with("note: "))
            .collect();
        (k.trust.sct_required, notes)
    };
    let mut roots = roots();
    let no_ct = roots.get("default").unwrap().as_ref().clone();
    roots.insert("no-ct", no_ct);
    let public_good = "      trustRootRef: sigstore-public-good\n";
    let (required, notes) = compiled(&format!("{IDENTITY}{public_good}"), &roots);
    assert!(required && notes.is_empty(), "{notes:?}");
    let ignored = format!("{IDENTITY}{public_good}      insecureIgnoreSCT: true\n");
    assert_eq!(compiled(&ignored, &roots), (false, vec![]));
    let explicit = format!("{IDENTITY}{public_good}      insecureIgnoreSCT: false\n");
    assert!(compiled(&explicit, &roots).0);
    let (required, notes) = compiled(&format!("{IDENTITY}      trustRootRef: no-ct\n"), &roots);
    assert!(!required);
    let [note] = notes.as_slice() else {
        panic!("one note expected: {notes:?}")
    };
    for words in [
        "ClusterImagePolicy/p",
        "spec.authorities[0].keyless",
        "SCTs are not verified",
        "lists no CT log",
        "insecureIgnoreSCT: true",
    ] {
        assert!(note.contains(words), "{note}");
    }
    let refused = format!("{IDENTITY}      trustRootRef: no-ct\n      insecureIgnoreSCT: false\n");
    let err =
        PolicySet::from_yaml_with_trust_roots(&policy(&refused), "p.yaml", &roots).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("spec.authorities[0].keyless.insecureIgnoreSCT")
    );
    assert!(err.to_string().contains("lists no CT log"), "{err}");
}

#[test]
fn secret_and_kms_settings_that_cannot_be_honoured_are_refused() {
    let root = "      trustRootRef: sigstore-public-good\n";
    assert!(load(&format!("{IDENTITY}{root}      insecureIgnoreSCT: true\n")).is_ok());
    let (field, _) = refused(&format!(
        "{IDENTITY}      ca-cert: {{secretRef: {{name: s}}}}\n"
    ));
    assert_eq!(field, "spec.authorities[0].keyless.ca-cert.secretRef");
    let with_url = format!("{IDENTITY}{root}      url: https://fulcio.sigstore.dev\n");
    assert!(
        load(&with_url).is_ok(),
        "url is informational next to trustRootRef"
    );
}

#[test]
fn keyless_material_changes_the_fingerprint() {
    let a = load(&format!(
        "{IDENTITY}      trustRootRef: sigstore-public-good\n"
    ))
    .unwrap();
    let b = load(&format!(
        "{IDENTITY}      trustRootRef: sigstore-public-good\n    ctlog: {{trustRootRef: default}}\n"
    ))
    .unwrap();
    let c = load(
        "      identities: [{issuer: https://accounts.google.com, subjectRegExp: 'a@b.c'}]\n      trustRootRef: sigstore-public-good\n",
    )
    .unwrap();
    assert_ne!(a.fingerprint(), b.fingerprint());
    assert_ne!(a.fingerprint(), c.fingerprint());
}
