#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! A verdict is reused only for the trust material it was judged with (issue 15, item 9):
//! change any one piece (a CA, an intermediate, a Rekor, CT or timestamp-authority key or chain,
//! a validity window, a key, an identity, a threshold, a signed-identity rule, the signature
//! source, `multiArch`, `requireDigest`, mode, `onRegistryError`, the cluster's platforms) and
//! the next review verifies again instead of taking the cached verdict.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};

use super::*;
use crate::policy::{
    AuthorityKind, CertificateAuthority, CertificateIdentity, FailureAction, IdentityRule,
    KeylessAuthority, KeylessTrust, LogKey, Matcher, Mode, MultiArch, PolicySet, SignatureLocation,
    SignatureSource, TimeRange,
};

const KEY_POLICY: &str = "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: p
spec:
  images:
  - glob: \"r.example/**\"
  authorities:
  - key:
      data: |
        -----BEGIN PUBLIC KEY-----
        MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEcADXle5omhqhdo1tFxxBgPyIwYw0
        jiGBde24SqsxIOov7X10o1zkBGLdkZr+oG8mB1oeZloVPcutNYeRDy1W6A==
        -----END PUBLIC KEY-----
";

fn ca(byte: u8) -> CertificateAuthority {
    CertificateAuthority {
        uri: None,
        root: vec![byte; 16],
        intermediates: vec![vec![byte.wrapping_add(1); 16]],
        valid_for: TimeRange {
            start: Some(1_600_000_000),
            end: None,
        },
        presented_intermediates: false,
    }
}

/// A key policy whose key also carries Rekor trust, next to a keyless authority with every
/// kind of trust material.
fn base() -> ImagePolicy {
    let set = PolicySet::from_yaml(KEY_POLICY, "p.yaml").unwrap();
    let mut policy = set.policies()[0].clone();
    let AuthorityKind::Key(key) = &mut policy.authorities[0].kind else {
        panic!("a key authority");
    };
    let verification = Arc::clone(&key.keys[0].key);
    let log = |id: &str| LogKey {
        log_id: id.to_string(),
        base_url: None,
        spki: id.as_bytes().to_vec(),
        key: Arc::clone(&verification),
        valid_for: TimeRange {
            start: Some(1_600_000_000),
            end: None,
        },
    };
    let trust = Arc::new(KeylessTrust {
        origin: "TrustRoot test".into(),
        certificate_authorities: vec![ca(1)],
        rekor_keys: BTreeMap::from([("rekor".to_string(), log("rekor"))]),
        ct_keys: BTreeMap::from([("ct".to_string(), log("ct"))]),
        timestamp_authorities: vec![ca(10)],
        sct_required: true,
    });
    key.rekor = Some(Arc::clone(&trust));
    let mut keyless = policy.authorities[0].clone();
    keyless.name = "keyless".into();
    keyless.kind = AuthorityKind::Keyless(KeylessAuthority {
        identities: vec![CertificateIdentity {
            issuer: Matcher::Exact("https://issuer.example".into()),
            subject: Matcher::Exact("ci@example.com".into()),
        }],
        trust,
        identity: IdentityRule::MatchRepository,
        threshold: 1,
    });
    policy.authorities.push(keyless);
    policy
}

fn keyless(policy: &mut ImagePolicy) -> &mut KeylessAuthority {
    match &mut policy.authorities[1].kind {
        AuthorityKind::Keyless(keyless) => keyless,
        _ => panic!("a keyless authority"),
    }
}

fn keyless_trust(policy: &mut ImagePolicy) -> &mut KeylessTrust {
    Arc::make_mut(&mut keyless(policy).trust)
}

fn key_trust(policy: &mut ImagePolicy) -> &mut KeylessTrust {
    match &mut policy.authorities[0].kind {
        AuthorityKind::Key(key) => Arc::make_mut(key.rekor.as_mut().unwrap()),
        _ => panic!("a key authority"),
    }
}

type Change = (&'static str, fn(&mut ImagePolicy));

/// One change per piece of trust material or setting a verdict depends on.
const CHANGES: &[Change] = &[
    ("Fulcio root", |p| {
        keyless_trust(p).certificate_authorities[0].root[0] ^= 1
    }),
    ("Fulcio intermediate", |p| {
        keyless_trust(p).certificate_authorities[0].intermediates[0][0] ^= 1
    }),
    ("Fulcio validity", |p| {
        keyless_trust(p).certificate_authorities[0].valid_for.end = Some(1_900_000_000)
    }),
    ("presented intermediates accepted", |p| {
        keyless_trust(p).certificate_authorities[0].presented_intermediates = true
    }),
    ("SCT requirement", |p| keyless_trust(p).sct_required = false),
    ("another Fulcio CA", |p| {
        keyless_trust(p).certificate_authorities.push(ca(20))
    }),
    ("timestamp authority root", |p| {
        keyless_trust(p).timestamp_authorities[0].root[0] ^= 1
    }),
    ("timestamp authority chain", |p| {
        keyless_trust(p).timestamp_authorities[0]
            .intermediates
            .clear()
    }),
    ("timestamp authority validity", |p| {
        keyless_trust(p).timestamp_authorities[0].valid_for.start = Some(1)
    }),
    ("another timestamp authority", |p| {
        keyless_trust(p).timestamp_authorities.push(ca(30))
    }),
    ("no timestamp authority", |p| {
        keyless_trust(p).timestamp_authorities.clear()
    }),
    ("Rekor key", |p| {
        keyless_trust(p).rekor_keys.get_mut("rekor").unwrap().spki[0] ^= 1
    }),
    ("Rekor validity", |p| {
        keyless_trust(p)
            .rekor_keys
            .get_mut("rekor")
            .unwrap()
            .valid_for
            .end = Some(2)
    }),
    ("CT log key", |p| {
        keyless_trust(p).ct_keys.get_mut("ct").unwrap().spki[0] ^= 1
    }),
    ("CT log validity", |p| {
        keyless_trust(p)
            .ct_keys
            .get_mut("ct")
            .unwrap()
            .valid_for
            .start = None
    }),
    ("Rekor key of a key authority", |p| {
        key_trust(p).rekor_keys.get_mut("rekor").unwrap().spki[0] ^= 1
    }),
    ("timestamp authority of a key authority", |p| {
        key_trust(p).timestamp_authorities.clear()
    }),
    ("public key", |p| match &mut p.authorities[0].kind {
        AuthorityKind::Key(key) => key.keys[0].fingerprint.push('0'),
        _ => panic!(),
    }),
    ("key threshold", |p| match &mut p.authorities[0].kind {
        AuthorityKind::Key(key) => key.threshold = 2,
        _ => panic!(),
    }),
    ("certificate subject", |p| {
        keyless(p).identities[0].subject = Matcher::Exact("other@example.com".into())
    }),
    ("certificate issuer", |p| {
        keyless(p).identities[0].issuer = Matcher::Email("https://issuer.example".into())
    }),
    ("keyless threshold", |p| keyless(p).threshold = 2),
    ("signed identity rule", |p| {
        keyless(p).identity = IdentityRule::AnyRepository
    }),
    ("signature source", |p| {
        p.authorities[0].source = Some(SignatureSource {
            locations: vec![SignatureLocation {
                repository: Some("r.example/signatures".into()),
                tag_prefix: String::new(),
            }],
            pull_secrets: Vec::new(),
        })
    }),
    ("multiArch", |p| p.multi_arch = MultiArch::AllPlatforms),
    ("requireDigest", |p| p.require_digest = true),
    ("mode", |p| p.mode = Mode::Warn),
    ("onRegistryError", |p| {
        p.on_registry_error = FailureAction::Warn
    }),
];

fn key_of(policy: &ImagePolicy, platforms: &[Platform]) -> VerdictKey {
    let image = ImageReference::parse("r.example/app:v1").unwrap();
    let digest = Digest::sha256_of(b"app");
    VerdictKey::new(&[policy], &image, &digest, platforms)
}

#[tokio::test]
async fn changing_any_trust_material_verifies_again() {
    let cache = VerdictCache::new(&VerdictSettings::default());
    let verifications = AtomicUsize::new(0);
    let platforms = crate::engine::default_platforms();
    let review = |key: VerdictKey| {
        let verifications = &verifications;
        let cache = &cache;
        async move {
            cache
                .get_or_judge(key, || async {
                    verifications.fetch_add(1, AtomicOrdering::SeqCst);
                    Judged {
                        result: ImageResult {
                            digest: Some(Digest::sha256_of(b"app")),
                            outcome: Outcome::Admit("Verified", "signed".into()),
                        },
                        cacheable: true,
                    }
                })
                .await;
        }
    };
    let mut base = base();
    base.refresh_fingerprint();
    review(key_of(&base, &platforms)).await;
    review(key_of(&base, &platforms)).await;
    assert_eq!(
        verifications.load(AtomicOrdering::SeqCst),
        1,
        "the same material is cached"
    );
    let mut seen = HashSet::from([key_of(&base, &platforms)]);
    for (what, change) in CHANGES {
        let mut changed = base.clone();
        change(&mut changed);
        changed.refresh_fingerprint();
        let key = key_of(&changed, &platforms);
        assert!(seen.insert(key), "{what}: the key did not change");
        let before = verifications.load(AtomicOrdering::SeqCst);
        review(key).await;
        assert_eq!(
            verifications.load(AtomicOrdering::SeqCst),
            before + 1,
            "{what}: a cached verdict was reused"
        );
    }
    let arm_only: Vec<Platform> = Platform::parse("linux/arm64").into_iter().collect();
    let before = verifications.load(AtomicOrdering::SeqCst);
    review(key_of(&base, &arm_only)).await;
    assert_eq!(
        verifications.load(AtomicOrdering::SeqCst),
        before + 1,
        "platforms"
    );
}
