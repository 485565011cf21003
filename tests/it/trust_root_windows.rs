//! Retired keys stay retired (issue 24): each `trusted_root.json` entry is judged on its own, as
//! sigstore-go judges it. A certificate chains only through one entry's own certificates, never
//! through ones the signer presents in their place, and that entry's `validFor` must hold the
//! signing time; a timestamp must be signed by a timestamp authority entry's own leaf inside that
//! entry's window; every certificate up to and including the root must be valid at the signing
//! time. Each window (Fulcio CA, TSA, Rekor key) is signed just inside and just outside, at both
//! ends. Everything is made offline with the test Fulcio, Rekor and TSA of `tests/common`, and
//! checked through the library calls the webhook uses (`.sig` layers and Sigstore bundles).
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{CertifiedIssuer, KeyPair};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::common::bundles::{Forgery, PROVED_LOG_INDEX, dsse_bundle, image_statement};
use crate::common::keyless::{
    BUNDLE_ANNOTATION, CERTIFICATE_ANNOTATION, CHAIN_ANNOTATION, GITHUB_ISSUER, Leaf, SIGNED_AT,
    TestCtLog, TestFulcio, TestRekor, TestSigner, issue_by, issue_with_sct,
};
use crate::common::simple_signing_payload;
use crate::common::tsa::{self, Binding, Stamp, TestTsa};
use signet::policy::{
    CertificateIdentity, IdentityRule, KeylessAuthority, KeylessTrust, Matcher, TrustRoots,
};
use signet::reference::{Digest, ImageReference};
use signet::signature::bundle::{Signer, verify_sigstore_bundle};
use signet::signature::{
    Acceptance, Mismatch, SIGNATURE_ANNOTATION, SignatureLayer, Subject, check_keyless_authority,
};

const EMAIL: &str = "release@example.com";
const IMAGE: &str = "registry.test/demo/app";
const DIGEST: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const YEAR: i64 = 365 * 86_400;
/// When the log records signatures unless a test says otherwise (the leaf lives 10 minutes
/// from `SIGNED_AT`).
const LOGGED: i64 = SIGNED_AT + 60;
/// Where every window that is not under test starts.
const LONG_AGO: i64 = SIGNED_AT - 5 * YEAR;

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// A `validFor` from `start` to `end` (open when `None`).
fn window(start: i64, end: Option<i64>) -> Value {
    match end {
        Some(end) => json!({ "start": rfc3339(start), "end": rfc3339(end) }),
        None => json!({ "start": rfc3339(start) }),
    }
}

/// A certificate authority (or timestamp authority) entry: `chain` leaf-most first, root last.
fn authority_entry(chain: &[&[u8]], valid_for: Value) -> Value {
    let certificates: Vec<Value> = chain
        .iter()
        .map(|der| json!({ "rawBytes": BASE64.encode(der) }))
        .collect();
    json!({ "uri": "https://ca.test", "certChain": { "certificates": certificates }, "validFor": valid_for })
}

fn tlog_entry(rekor: &TestRekor, valid_for: Value) -> Value {
    json!({
        "baseUrl": "https://rekor.test",
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": BASE64.encode(rekor.spki()),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": valid_for,
        },
        "logId": { "keyId": BASE64.encode(hex::decode(rekor.log_id()).unwrap()) },
    })
}

/// A `trusted_root.json` with these entries, loaded as Signet loads `--trust-root` files.
fn trust_root(cas: Vec<Value>, tsas: Vec<Value>, tlogs: Vec<Value>) -> Arc<KeylessTrust> {
    with_ct_logs(cas, tsas, tlogs, vec![])
}

/// [`trust_root`] with CT logs.
fn with_ct_logs(
    cas: Vec<Value>,
    tsas: Vec<Value>,
    tlogs: Vec<Value>,
    ctlogs: Vec<Value>,
) -> Arc<KeylessTrust> {
    let root = json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": tlogs,
        "certificateAuthorities": cas,
        "timestampAuthorities": tsas,
        "ctlogs": ctlogs,
    });
    let roots = TrustRoots::from_text(&root.to_string(), "test.json", "test").unwrap();
    Arc::clone(roots.get("test").unwrap())
}

fn der(issuer: &CertifiedIssuer<'static, KeyPair>) -> Vec<u8> {
    issuer.der().to_vec()
}

/// One Fulcio entry `[intermediate, root]` open since long ago, and the log.
fn fulcio_entry(fulcio: &TestFulcio) -> Value {
    let (i, r) = (der(&fulcio.intermediate), der(&fulcio.root));
    authority_entry(&[&i, &r], window(LONG_AGO, None))
}

/// `fulcio`'s entry and `rekor`, both open since long ago.
fn fulcio_trust(fulcio: &TestFulcio, rekor: &TestRekor) -> Arc<KeylessTrust> {
    let open = window(LONG_AGO, None);
    trust_root(
        vec![fulcio_entry(fulcio)],
        vec![],
        vec![tlog_entry(rekor, open)],
    )
}

fn keyless(trust: Arc<KeylessTrust>) -> KeylessAuthority {
    KeylessAuthority {
        identities: vec![CertificateIdentity {
            issuer: Matcher::Exact(GITHUB_ISSUER.into()),
            subject: Matcher::Exact(EMAIL.into()),
        }],
        trust,
        identity: IdentityRule::MatchRepository,
        threshold: 1,
    }
}

fn signer(fulcio_intermediate: &CertifiedIssuer<'static, KeyPair>) -> TestSigner {
    issue_by(fulcio_intermediate, &Leaf::email(EMAIL, GITHUB_ISSUER))
}

/// A cosign `.sig` layer by `signer`, logged at `logged`, with `chain` as its chain annotation.
fn sig_layer(
    signer: &TestSigner,
    rekor: &TestRekor,
    chain: Option<String>,
    logged: i64,
) -> SignatureLayer {
    let payload = simple_signing_payload(IMAGE, DIGEST);
    let signature = signer.sign(&payload);
    let bundle = rekor.log(&signature, &signer.cert_pem, &payload, logged);
    let mut annotations = BTreeMap::from([
        (SIGNATURE_ANNOTATION.to_string(), signature),
        (CERTIFICATE_ANNOTATION.to_string(), signer.cert_pem.clone()),
        (BUNDLE_ANNOTATION.to_string(), bundle),
    ]);
    if let Some(chain) = chain {
        annotations.insert(CHAIN_ANNOTATION.to_string(), chain);
    }
    SignatureLayer {
        payload,
        annotations,
    }
}

fn review_sig(trust: &Arc<KeylessTrust>, layer: SignatureLayer) -> Result<Acceptance, Mismatch> {
    let image = ImageReference::parse(IMAGE).unwrap();
    let digest = Digest::parse(DIGEST).unwrap();
    let subject = Subject {
        image: &image,
        digest: &digest,
    };
    check_keyless_authority(&keyless(Arc::clone(trust)), subject, &[layer])
}

/// A cosign 3 bundle for the test digest: `(log index, signing time)` when it verifies.
fn review_bundle(trust: &Arc<KeylessTrust>, bundle: &[u8]) -> Result<(i64, i64), String> {
    let verified =
        verify_sigstore_bundle(bundle, None, Signer::Keyless(trust)).map_err(|e| e.to_string())?;
    verified.log.ok_or_else(|| "no log".to_string())
}

fn denied_with<T: std::fmt::Debug, E: std::fmt::Display>(verdict: Result<T, E>, words: &str) {
    match verdict {
        Ok(admitted) => panic!("admitted ({admitted:?}), want denied with {words:?}"),
        Err(e) => assert!(e.to_string().contains(words), "{e}"),
    }
}

/// A window from `START` to `END` is signed at these times: one second outside, each end
/// (inclusive), one second outside.
const START: i64 = SIGNED_AT + 100;
const END: i64 = SIGNED_AT + 200;
const EDGES: [(i64, bool); 4] = [
    (START - 1, false),
    (START, true),
    (END, true),
    (END + 1, false),
];

/// One edge of a window: admitted inside, denied with `words` outside.
fn judged<T: std::fmt::Debug, E: std::fmt::Display>(
    verdict: Result<T, E>,
    at: i64,
    admitted: bool,
    words: &str,
) {
    match admitted {
        true => assert!(
            verdict.is_ok(),
            "signed at {at}: {:?}",
            verdict.err().map(|e| e.to_string())
        ),
        false => denied_with(verdict, words),
    }
}

/// The Fulcio, log and signer every case starts from.
struct Parties {
    fulcio: TestFulcio,
    rekor: TestRekor,
    signer: TestSigner,
}

fn parties() -> Parties {
    let fulcio = TestFulcio::new();
    let signer = signer(&fulcio.intermediate);
    Parties {
        fulcio,
        rekor: TestRekor::new(),
        signer,
    }
}

impl Parties {
    /// The Fulcio entry open since long ago, `tsas`, and the log valid for `tlog`.
    fn trust(&self, tsas: Vec<Value>, tlog: Value) -> Arc<KeylessTrust> {
        trust_root(
            vec![fulcio_entry(&self.fulcio)],
            tsas,
            vec![tlog_entry(&self.rekor, tlog)],
        )
    }

    /// A SET-less bundle stamped by a fresh TSA under a long-lived root, with the TSA entry
    /// valid for `tsa_window` and the log for `tlog_window`: the verdict.
    fn stamped(
        &self,
        stamp: Stamp,
        tsa_window: Value,
        tlog_window: Value,
    ) -> Result<(i64, i64), String> {
        let root = tsa_root();
        let tsa = tsa_leaf(&root, "TSA");
        let trust = self.trust(vec![tsa_entry(&tsa, tsa_window)], tlog_window);
        review_bundle(
            &trust,
            &stamped_bundle(&self.signer, &self.rekor, tsa, stamp),
        )
    }
}

/// Issue 24 case 1: `[I1, R]` retired two years ago, `[I2, R]` current. A leaf of I1 with a
/// valid SET is denied whether I1 is presented in the chain annotation, in a bundle's
/// certificate chain, or not at all; a leaf of I2 is admitted without presenting anything.
#[test]
fn an_intermediate_the_trust_root_retired_does_not_sign_even_when_presented() {
    let fulcio = TestFulcio::new();
    let retired = fulcio.intermediate.pem();
    let current = fulcio.another_intermediate();
    let rekor = TestRekor::new();
    let (i1, i2, r) = (der(&fulcio.intermediate), der(&current), der(&fulcio.root));
    let trust = trust_root(
        vec![
            authority_entry(&[&i1, &r], window(LONG_AGO, Some(SIGNED_AT - 2 * YEAR))),
            authority_entry(&[&i2, &r], window(SIGNED_AT - 2 * YEAR + 1, None)),
        ],
        vec![],
        vec![tlog_entry(&rekor, window(LONG_AGO, None))],
    );
    let old = signer(&fulcio.intermediate);
    let presented = [
        Some(retired.clone()),
        Some(format!("{retired}{}", fulcio.root.pem())),
        None,
    ];
    for chain in presented {
        let layer = sig_layer(&old, &rekor, chain.clone(), LOGGED);
        denied_with(review_sig(&trust, layer), "does not chain");
    }
    let bundle = dsse_bundle(
        &old,
        &rekor,
        &image_statement(DIGEST),
        Forgery {
            presented_chain: Some(vec![i1.clone()]),
            ..Forgery::default()
        },
    );
    denied_with(review_bundle(&trust, &bundle), "does not chain");
    let new = signer(&current);
    review_sig(&trust, sig_layer(&new, &rekor, None, LOGGED)).unwrap();
    let chained = sig_layer(&new, &rekor, Some(current.pem()), LOGGED);
    review_sig(&trust, chained).unwrap();
    let bundle = dsse_bundle(
        &new,
        &rekor,
        &image_statement(DIGEST),
        Forgery {
            presented_chain: Some(vec![i2.clone()]),
            ..Forgery::default()
        },
    );
    review_bundle(&trust, &bundle).unwrap();
}

/// The Fulcio CA window, both ends inclusive: an entry valid from S to E admits signatures
/// logged at S and at E, and denies them at S - 1 and E + 1.
#[test]
fn the_certificate_authority_window_admits_its_ends_and_nothing_outside() {
    let p = parties();
    let (i, r) = (der(&p.fulcio.intermediate), der(&p.fulcio.root));
    let trust = trust_root(
        vec![authority_entry(&[&i, &r], window(START, Some(END)))],
        vec![],
        vec![tlog_entry(&p.rekor, window(LONG_AGO, None))],
    );
    for (logged, admitted) in EDGES {
        let verdict = review_sig(&trust, sig_layer(&p.signer, &p.rekor, None, logged));
        let words = "no certificate authority of trusted root test is trusted";
        judged(verdict, logged, admitted, words);
    }
}

/// Issue 24 case 3: a root that expired 30 days before the signing time, with a valid
/// intermediate and leaf, anchors nothing, from a trust-root entry or as a bare PEM anchor
/// (`keyless.ca-cert`), and a root valid again from one second after the signing time neither.
#[test]
fn an_expired_or_not_yet_valid_root_anchors_nothing() {
    let rekor = TestRekor::new();
    for (not_before, not_after) in [
        (LONG_AGO, LOGGED - 30 * 86_400),
        (LONG_AGO, LOGGED - 1),
        (LOGGED + 1, LOGGED + YEAR),
    ] {
        let fulcio = TestFulcio::with_root_validity(not_before, not_after);
        let signer = signer(&fulcio.intermediate);
        let entry = fulcio_trust(&fulcio, &rekor);
        let layer = sig_layer(&signer, &rekor, None, LOGGED);
        denied_with(
            review_sig(&entry, layer),
            "the root of the certificate authority",
        );
        let pem = KeylessTrust::from_pem(
            "ca-cert",
            fulcio.root_pem().as_bytes(),
            &[rekor.public_pem().as_bytes()],
        )
        .unwrap();
        let layer = sig_layer(&signer, &rekor, Some(fulcio.chain_pem()), LOGGED);
        denied_with(
            review_sig(&Arc::new(pem), layer),
            "the root of the certificate authority",
        );
    }
    // The same root valid through the signing time (to the second) anchors.
    let fulcio = TestFulcio::with_root_validity(LONG_AGO, LOGGED);
    let signer = signer(&fulcio.intermediate);
    let trust = fulcio_trust(&fulcio, &rekor);
    review_sig(&trust, sig_layer(&signer, &rekor, None, LOGGED)).unwrap();
}

/// The Rekor key window, both ends inclusive, on the SET's integratedTime.
#[test]
fn the_rekor_key_window_admits_its_ends_and_nothing_outside() {
    let p = parties();
    let trust = p.trust(vec![], window(START, Some(END)));
    for (logged, admitted) in EDGES {
        let verdict = review_sig(&trust, sig_layer(&p.signer, &p.rekor, None, logged));
        let words = "was not trusted at the entry's integratedTime";
        judged(verdict, logged, admitted, words);
    }
}

/// The Rekor key window for an entry without a SET (Rekor v2), judged at the timestamp's time.
#[test]
fn the_rekor_key_window_without_a_set_is_judged_at_the_timestamp() {
    let p = parties();
    for (gen_time, admitted) in EDGES {
        let tlog = window(START, Some(END));
        let verdict = p.stamped(Stamp::at(gen_time), window(LONG_AGO, None), tlog);
        let words = "the log's key was not trusted at the timestamp's time";
        judged(verdict, gen_time, admitted, words);
    }
}

/// A time-stamping root valid for ten years around the test time.
fn tsa_root() -> CertifiedIssuer<'static, KeyPair> {
    tsa::ca("test TSA root", LONG_AGO, SIGNED_AT + 5 * YEAR)
}

fn tsa_leaf(root: &CertifiedIssuer<'static, KeyPair>, name: &str) -> TestTsa {
    TestTsa::new(root, name, LONG_AGO, SIGNED_AT + 2 * YEAR)
}

fn tsa_entry(tsa: &TestTsa, valid_for: Value) -> Value {
    authority_entry(&[&tsa.leaf_der, &tsa.root_der], valid_for)
}

/// A bundle without a SET (as Rekor v2 logs them) whose signing time is `stamp` by `tsa`.
fn stamped_bundle(signer: &TestSigner, rekor: &TestRekor, tsa: TestTsa, stamp: Stamp) -> Vec<u8> {
    dsse_bundle(
        signer,
        rekor,
        &image_statement(DIGEST),
        Forgery {
            without_set: true,
            timestamps: vec![Box::new(move |signature| tsa.stamp(signature, stamp))],
            ..Forgery::default()
        },
    )
}

/// Issue 24 case 2: entries `[TSA1, RT]` (ended a year ago) and `[TSA2, RT]` (current). A
/// SET-less bundle stamped now by TSA1 is denied; by TSA2 it is admitted at the stamped time.
#[test]
fn a_timestamp_authority_leaf_the_trust_root_retired_does_not_stamp() {
    let fulcio = TestFulcio::new();
    let rekor = TestRekor::new();
    let signer = signer(&fulcio.intermediate);
    let root = tsa_root();
    let (tsa1, tsa2) = (tsa_leaf(&root, "TSA1"), tsa_leaf(&root, "TSA2"));
    let trust = trust_root(
        vec![fulcio_entry(&fulcio)],
        vec![
            tsa_entry(&tsa1, window(LONG_AGO, Some(SIGNED_AT - YEAR))),
            tsa_entry(&tsa2, window(SIGNED_AT - YEAR + 1, None)),
        ],
        vec![tlog_entry(&rekor, window(LONG_AGO, None))],
    );
    let bundle = stamped_bundle(&signer, &rekor, tsa1, Stamp::at(LOGGED));
    denied_with(review_bundle(&trust, &bundle), "untrusted timestamp");
    let bundle = stamped_bundle(&signer, &rekor, tsa2, Stamp::at(LOGGED));
    assert_eq!(review_bundle(&trust, &bundle).unwrap().1, LOGGED);
}

/// The TSA window, both ends inclusive, on the timestamp's genTime.
#[test]
fn the_timestamp_authority_window_admits_its_ends_and_nothing_outside() {
    let p = parties();
    for (gen_time, admitted) in EDGES {
        let tsa = window(START, Some(END));
        let verdict = p.stamped(Stamp::at(gen_time), tsa, window(LONG_AGO, None));
        let words = "no timestamp authority of trusted root test is trusted";
        judged(verdict, gen_time, admitted, words);
    }
}

/// Issue 24 case 3 for timestamps: a TSA root that expired before genTime anchors nothing.
#[test]
fn an_expired_timestamp_authority_root_anchors_nothing() {
    let fulcio = TestFulcio::new();
    let rekor = TestRekor::new();
    let signer = signer(&fulcio.intermediate);
    let root = tsa::ca("expired TSA root", LONG_AGO, LOGGED - 30 * 86_400);
    let tsa = tsa_leaf(&root, "TSA");
    let trust = trust_root(
        vec![fulcio_entry(&fulcio)],
        vec![tsa_entry(&tsa, window(LONG_AGO, None))],
        vec![tlog_entry(&rekor, window(LONG_AGO, None))],
    );
    let bundle = stamped_bundle(&signer, &rekor, tsa, Stamp::at(LOGGED));
    denied_with(
        review_bundle(&trust, &bundle),
        "the root of the timestamp authority",
    );
}

/// Issue 24 case 6: the ESS signingCertificateV2 (SHA-256) or signingCertificate (SHA-1)
/// attribute must name the certificate that signed (missing, or naming another certificate, is
/// refused) and TSTInfo must be version 1;
/// a token that does not embed its signer is verified with the entry's leaf.
#[test]
fn a_timestamp_must_name_its_signer_and_be_version_1() {
    let p = parties();
    let cases = [
        (
            Binding::Missing,
            1,
            true,
            Some("names no signing certificate"),
        ),
        (Binding::Other, 1, true, Some("names another certificate")),
        (Binding::OtherV1, 1, true, Some("names another certificate")),
        (Binding::SignerV1, 1, true, None),
        (Binding::Signer, 2, true, Some("version 2")),
        (Binding::Signer, 0, true, Some("version 0")),
        (Binding::Signer, 1, false, None),
        (Binding::Signer, 1, true, None),
    ];
    for (binding, version, embed, refusal) in cases {
        let stamp = Stamp {
            gen_time: LOGGED,
            version,
            binding,
            embed,
        };
        let open = || window(LONG_AGO, None);
        let verdict = p.stamped(stamp, open(), open());
        match refusal {
            Some(words) => denied_with(verdict, words),
            None => assert_eq!(verdict.unwrap().1, LOGGED, "{binding:?} embed={embed}"),
        }
    }
}

/// Issue 24 case 5: an entry without a SET states its `logIndex` unsigned (4242 here, while its
/// inclusion proof is for leaf 3); Signet reports the index the proof proves.
#[test]
fn an_entry_without_a_set_reports_the_index_its_inclusion_proof_proves() {
    let fulcio = TestFulcio::new();
    let rekor = TestRekor::new();
    let signer = signer(&fulcio.intermediate);
    let root = tsa_root();
    let tsa = tsa_leaf(&root, "TSA");
    let trust = trust_root(
        vec![fulcio_entry(&fulcio)],
        vec![tsa_entry(&tsa, window(LONG_AGO, None))],
        vec![tlog_entry(&rekor, window(LONG_AGO, None))],
    );
    let bundle = dsse_bundle(
        &signer,
        &rekor,
        &image_statement(DIGEST),
        Forgery {
            without_set: true,
            stated_log_index: Some(4242),
            timestamps: vec![Box::new(move |s| tsa.stamp(s, Stamp::at(LOGGED)))],
            ..Forgery::default()
        },
    );
    assert_eq!(
        review_bundle(&trust, &bundle).unwrap(),
        (PROVED_LOG_INDEX, LOGGED)
    );
    // With a SET, the signed index is the one reported.
    let bundle = dsse_bundle(
        &signer,
        &rekor,
        &image_statement(DIGEST),
        Forgery {
            stated_log_index: Some(4242),
            ..Forgery::default()
        },
    );
    assert_eq!(review_bundle(&trust, &bundle).unwrap(), (4242, LOGGED));
}

/// Issue 24 case 4, at the bundle: the bundle's own signature is checked before its log entry,
/// so a bundle anyone can make (here a tampered payload and a checkpoint signed by another key)
/// is refused for its signature, before any checkpoint or SET is verified.
#[test]
fn a_bundle_signature_is_checked_before_its_log_entry() {
    let p = parties();
    let trust = p.trust(vec![], window(LONG_AGO, None));
    let bundle = dsse_bundle(
        &p.signer,
        &p.rekor,
        &image_statement(DIGEST),
        Forgery {
            payload_after_signing: Some(image_statement(&DIGEST.replace('1', "2"))),
            checkpoint_key: Some(KeyPair::generate().unwrap()),
            ..Forgery::default()
        },
    );
    denied_with(
        review_bundle(&trust, &bundle),
        "the signature does not verify with the certificate's key",
    );
}

/// A CT log entry of a `trusted_root.json` (`ctlogs`), found by the hash of its key.
fn ct_log_entry(log: &TestCtLog, valid_for: Value) -> Value {
    json!({
        "baseUrl": "https://ctfe.test",
        "hashAlgorithm": "SHA2_256",
        "publicKey": {
            "rawBytes": BASE64.encode(log.spki()),
            "keyDetails": "PKIX_ECDSA_P256_SHA_256",
            "validFor": valid_for,
        },
    })
}

/// The CT log window, both ends inclusive, on the SCT's own time, where the keyless authority
/// requires an SCT (as one that leaves `insecureIgnoreSCT` unset does when its trust root lists
/// CT logs): a certificate with an SCT by the log at S or E is admitted, at S - 1 or E + 1
/// denied; one without an SCT, or with an SCT by a log the trust root does not list, denied;
/// without the requirement, none is looked at.
#[test]
fn the_ct_log_window_admits_scts_from_its_ends_and_nothing_outside() {
    let p = parties();
    let log = TestCtLog::new();
    let mut trust = with_ct_logs(
        vec![fulcio_entry(&p.fulcio)],
        vec![],
        vec![tlog_entry(&p.rekor, window(LONG_AGO, None))],
        vec![ct_log_entry(&log, window(START, Some(END)))],
    );
    Arc::make_mut(&mut trust).sct_required = true;
    let leaf = Leaf::email(EMAIL, GITHUB_ISSUER);
    for (sct_time, admitted) in EDGES {
        let signer = issue_with_sct(&p.fulcio.intermediate, &leaf, &log, sct_time);
        let verdict = review_sig(&trust, sig_layer(&signer, &p.rekor, None, LOGGED));
        let words = "does not trust at the SCT's time";
        judged(verdict, sct_time, admitted, words);
    }
    let layer = sig_layer(&p.signer, &p.rekor, None, LOGGED);
    denied_with(review_sig(&trust, layer), "carries no SCT");
    let stranger = issue_with_sct(&p.fulcio.intermediate, &leaf, &TestCtLog::new(), START);
    let layer = sig_layer(&stranger, &p.rekor, None, LOGGED);
    denied_with(review_sig(&trust, layer), "none of its SCTs is by a CT log");
    Arc::make_mut(&mut trust).sct_required = false;
    let layer = sig_layer(&p.signer, &p.rekor, None, LOGGED);
    review_sig(&trust, layer).unwrap();
    // A bundle is held to the same requirement.
    Arc::make_mut(&mut trust).sct_required = true;
    let signer = issue_with_sct(&p.fulcio.intermediate, &leaf, &log, START);
    let bundle = dsse_bundle(
        &signer,
        &p.rekor,
        &image_statement(DIGEST),
        Forgery::default(),
    );
    review_bundle(&trust, &bundle).unwrap();
    let bundle = dsse_bundle(
        &p.signer,
        &p.rekor,
        &image_statement(DIGEST),
        Forgery::default(),
    );
    denied_with(review_bundle(&trust, &bundle), "carries no SCT");
}
