//! Keyless signing material made inside the test suite, offline: an rcgen "Fulcio" (root and
//! intermediate, named like Sigstore's) issuing 10-minute leaf certificates with the Fulcio
//! extensions, and a P-256 "Rekor" that logs `hashedrekord` entries and signs SETs over the
//! canonical JSON `{body,integratedTime,logID,logIndex}`, as sigstore-rs verifies them
//! (`src/cosign/bundle.rs`). Everything is data: tests can also make the forgeries.

use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, CustomExtension, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SigningKey,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::signing::{SIGNATURE_ANNOTATION, SigLayer};

pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
pub const CHAIN_ANNOTATION: &str = "dev.sigstore.cosign/chain";
pub const BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// When test certificates start (Unix seconds); signatures are logged a minute later.
pub const SIGNED_AT: i64 = 1_760_000_000;
/// Fulcio certificates live 10 minutes.
pub const LIFETIME: i64 = 600;
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";
pub const GOOGLE_ISSUER: &str = "https://accounts.google.com";

/// How the OIDC issuer is written into a leaf.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IssuerEncoding {
    /// 1.3.6.1.4.1.57264.1.1, raw UTF-8 (Fulcio before 2023).
    Raw,
    /// 1.3.6.1.4.1.57264.1.8, DER UTF8String.
    Der,
    /// Both, as current Fulcio writes them.
    Both,
}

/// What a leaf certificate says.
#[derive(Clone, Debug)]
pub struct Leaf {
    pub email: Option<String>,
    pub uri: Option<String>,
    pub issuer: Option<String>,
    pub encoding: IssuerEncoding,
    pub not_before: i64,
    pub code_signing: bool,
    /// Extra Fulcio extensions: (arc under 1.3.6.1.4.1.57264.1, DER or raw content).
    pub extensions: Vec<(u64, Vec<u8>)>,
}

impl Leaf {
    pub fn email(email: &str, issuer: &str) -> Leaf {
        Leaf {
            email: Some(email.into()),
            uri: None,
            issuer: Some(issuer.into()),
            encoding: IssuerEncoding::Both,
            not_before: SIGNED_AT,
            code_signing: true,
            extensions: Vec::new(),
        }
    }

    pub fn uri(uri: &str, issuer: &str) -> Leaf {
        Leaf {
            email: None,
            uri: Some(uri.into()),
            ..Leaf::email("", issuer)
        }
    }

    pub fn encoded(mut self, encoding: IssuerEncoding) -> Leaf {
        self.encoding = encoding;
        self
    }
}

/// A DER UTF8String, as Fulcio writes extensions 1.8 and up.
pub fn utf8_der(text: &str) -> Vec<u8> {
    let mut out = vec![0x0c];
    match text.len() {
        n if n < 0x80 => out.push(n as u8),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(text.as_bytes());
    out
}

fn fulcio_extension(arc: u64, content: Vec<u8>) -> CustomExtension {
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 4, 1, 57264, 1, arc], content)
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).expect("valid time")
}

fn ca_params(common_name: &str, path_len: u8) -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "sigstore.dev");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at(SIGNED_AT - 86_400 * 365);
    params.not_after = at(SIGNED_AT + 86_400 * 365 * 5);
    params
}

/// A certificate authority shaped like Sigstore's Fulcio: `O=sigstore.dev, CN=sigstore` root,
/// `CN=sigstore-intermediate` intermediate with the code-signing EKU.
pub struct TestFulcio {
    pub root: CertifiedIssuer<'static, KeyPair>,
    pub intermediate: CertifiedIssuer<'static, KeyPair>,
}

impl TestFulcio {
    pub fn new() -> TestFulcio {
        let root_key = KeyPair::generate().expect("root key");
        let root = CertifiedIssuer::self_signed(ca_params("sigstore", 1), root_key).expect("root");
        let intermediate = Self::intermediate_of(&root);
        TestFulcio { root, intermediate }
    }

    /// What an attacker can make at will: a self-signed root with Sigstore's names that carries
    /// Fulcio's issuer extensions, and an intermediate like Fulcio's under it.
    pub fn self_made() -> TestFulcio {
        let oids = vec![
            fulcio_extension(1, GITHUB_ISSUER.as_bytes().to_vec()),
            fulcio_extension(8, utf8_der(GITHUB_ISSUER)),
        ];
        let mut params = ca_params("sigstore", 1);
        params.custom_extensions = oids.clone();
        let root = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key"))
            .expect("self-made root");
        let mut params = ca_params("sigstore-intermediate", 0);
        params.custom_extensions = oids;
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let intermediate =
            CertifiedIssuer::signed_by(params, KeyPair::generate().expect("key"), &root)
                .expect("self-made intermediate");
        TestFulcio { root, intermediate }
    }

    /// A Fulcio whose root is valid only from `not_before` to `not_after` (Unix seconds); the
    /// intermediate keeps the usual, longer validity.
    pub fn with_root_validity(not_before: i64, not_after: i64) -> TestFulcio {
        let mut params = ca_params("sigstore", 1);
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        let root = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("root key"))
            .expect("root");
        let intermediate = Self::intermediate_of(&root);
        TestFulcio { root, intermediate }
    }

    /// Another intermediate under the same root (a rotated Fulcio intermediate).
    pub fn another_intermediate(&self) -> CertifiedIssuer<'static, KeyPair> {
        Self::intermediate_of(&self.root)
    }

    fn intermediate_of(
        root: &CertifiedIssuer<'static, KeyPair>,
    ) -> CertifiedIssuer<'static, KeyPair> {
        let mut params = ca_params("sigstore-intermediate", 0);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        let key = KeyPair::generate().expect("intermediate key");
        CertifiedIssuer::signed_by(params, key, root).expect("intermediate")
    }

    pub fn root_pem(&self) -> String {
        self.root.pem()
    }

    /// `dev.sigstore.cosign/chain`: intermediate then root, as cosign writes it.
    pub fn chain_pem(&self) -> String {
        format!("{}{}", self.intermediate.pem(), self.root.pem())
    }

    /// A leaf for `leaf`, with a fresh P-256 key, issued by the intermediate.
    pub fn issue(&self, leaf: &Leaf) -> TestSigner {
        issue_by(&self.intermediate, leaf)
    }
}

/// A leaf for `leaf`, with a fresh P-256 key, issued by `intermediate`.
pub fn issue_by(intermediate: &CertifiedIssuer<'static, KeyPair>, leaf: &Leaf) -> TestSigner {
    let key = KeyPair::generate().expect("leaf key");
    let cert = leaf_params(leaf)
        .signed_by(&key, intermediate)
        .expect("leaf");
    TestSigner {
        cert_pem: cert.pem(),
        key,
    }
}

/// A certificate-transparency log: a P-256 key whose log ID is the SHA-256 of its SPKI.
pub struct TestCtLog {
    key: KeyPair,
}

impl TestCtLog {
    pub fn new() -> TestCtLog {
        TestCtLog {
            key: KeyPair::generate().expect("CT log key"),
        }
    }

    pub fn spki(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    /// An RFC 6962 v1 SCT at `time` (Unix seconds) over the precertificate `tbs` (DER) issued
    /// by the holder of `issuer_spki`, as a TLS `SignedCertificateTimestampList` of one.
    fn sct_list(&self, time: i64, issuer_spki: &[u8], tbs: &[u8]) -> Vec<u8> {
        let timestamp = (u64::try_from(time).expect("positive") * 1000).to_be_bytes();
        let mut signed = vec![0, 0];
        signed.extend_from_slice(&timestamp);
        signed.extend_from_slice(&[0, 1]);
        signed.extend_from_slice(&Sha256::digest(issuer_spki));
        signed.extend_from_slice(&u32::try_from(tbs.len()).expect("small").to_be_bytes()[1..]);
        signed.extend_from_slice(tbs);
        signed.extend_from_slice(&[0, 0]);
        let signature = self.key.sign(&signed).expect("sign SCT");
        let mut sct = vec![0];
        sct.extend_from_slice(&Sha256::digest(self.spki()));
        sct.extend_from_slice(&timestamp);
        sct.extend_from_slice(&[0, 0, 4, 3]);
        sct.extend_from_slice(&u16::try_from(signature.len()).expect("small").to_be_bytes());
        sct.extend_from_slice(&signature);
        let mut list = u16::try_from(sct.len() + 2)
            .expect("small")
            .to_be_bytes()
            .to_vec();
        list.extend_from_slice(&u16::try_from(sct.len()).expect("small").to_be_bytes());
        list.extend_from_slice(&sct);
        list
    }
}

/// A leaf like [`issue_by`]'s carrying an SCT by `log` at `sct_time` (Unix seconds), embedded
/// as Fulcio embeds it: the log signs the precertificate (the same TBS without the SCT
/// extension), then the extension is added.
pub fn issue_with_sct(
    intermediate: &CertifiedIssuer<'static, KeyPair>,
    leaf: &Leaf,
    log: &TestCtLog,
    sct_time: i64,
) -> TestSigner {
    use x509_cert::der::{Decode, Encode};
    let key = KeyPair::generate().expect("leaf key");
    let mut params = leaf_params(leaf);
    params.serial_number = Some(rcgen::SerialNumber::from(0x5c7_u64));
    let precert = params
        .signed_by(&key, intermediate)
        .expect("precertificate");
    let tbs = x509_cert::Certificate::from_der(precert.der())
        .expect("parse")
        .tbs_certificate()
        .to_der()
        .expect("TBS");
    let issuer_spki = x509_cert::Certificate::from_der(intermediate.der())
        .expect("parse")
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .expect("SPKI");
    let list = log.sct_list(sct_time, &issuer_spki, &tbs);
    let content = x509_cert::der::asn1::OctetString::new(list)
        .expect("octets")
        .to_der()
        .expect("DER");
    let oid = [1, 3, 6, 1, 4, 1, 11129, 2, 4, 2];
    params
        .custom_extensions
        .push(CustomExtension::from_oid_content(&oid, content));
    let cert = params.signed_by(&key, intermediate).expect("leaf");
    TestSigner {
        cert_pem: cert.pem(),
        key,
    }
}

/// The parameters of a Fulcio leaf for `leaf`.
fn leaf_params(leaf: &Leaf) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.not_before = at(leaf.not_before);
    params.not_after = at(leaf.not_before + LIFETIME);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if leaf.code_signing {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    }
    if let Some(email) = &leaf.email {
        let email = email.clone().try_into().expect("IA5 email");
        params.subject_alt_names.push(SanType::Rfc822Name(email));
    }
    if let Some(uri) = &leaf.uri {
        let uri = uri.clone().try_into().expect("IA5 URI");
        params.subject_alt_names.push(SanType::URI(uri));
    }
    if let Some(issuer) = &leaf.issuer {
        let (raw, der) = match leaf.encoding {
            IssuerEncoding::Raw => (true, false),
            IssuerEncoding::Der => (false, true),
            IssuerEncoding::Both => (true, true),
        };
        if raw {
            let raw = fulcio_extension(1, issuer.as_bytes().to_vec());
            params.custom_extensions.push(raw);
        }
        if der {
            params
                .custom_extensions
                .push(fulcio_extension(8, utf8_der(issuer)));
        }
    }
    for (arc, content) in &leaf.extensions {
        params
            .custom_extensions
            .push(fulcio_extension(*arc, content.clone()));
    }
    params
}

/// A signing certificate and its private key.
pub struct TestSigner {
    pub cert_pem: String,
    pub key: KeyPair,
}

impl TestSigner {
    /// Base64 ECDSA P-256 / SHA-256 (ASN.1) signature over `payload`, as cosign stores it.
    pub fn sign(&self, payload: &[u8]) -> String {
        sign_with(&self.key, payload)
    }
}

/// Base64 signature of `payload` by any rcgen key (a random key for forgeries).
pub fn sign_with(key: &KeyPair, payload: &[u8]) -> String {
    BASE64.encode(key.sign(payload).expect("sign"))
}

/// A transparency log that accepts whatever it is given (as a compromised or careless log
/// would): P-256 key, log ID = hex sha256 of its SPKI DER.
pub struct TestRekor {
    key: KeyPair,
    next_index: AtomicI64,
}

impl TestRekor {
    pub fn new() -> TestRekor {
        TestRekor {
            key: KeyPair::generate().expect("rekor key"),
            next_index: AtomicI64::new(1000),
        }
    }

    pub fn public_pem(&self) -> String {
        self.key.public_key_pem()
    }

    /// The log key's SubjectPublicKeyInfo DER.
    pub fn spki(&self) -> Vec<u8> {
        self.key.subject_public_key_info()
    }

    pub fn log_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.subject_public_key_info()))
    }

    /// A raw (ASN.1 DER) signature by the log key: for SETs and checkpoints of Sigstore bundles.
    pub fn sign_raw(&self, message: &[u8]) -> Vec<u8> {
        self.key.sign(message).expect("sign with the log key")
    }

    /// The next log index this log hands out.
    pub fn next_index(&self) -> i64 {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }

    /// The `dev.sigstore.cosign/bundle` for a `hashedrekord` entry recording `signature`
    /// (base64) by `verifier_pem` (certificate or public key PEM) over `payload`, at `time`.
    pub fn log(&self, signature: &str, verifier_pem: &str, payload: &[u8], time: i64) -> String {
        let body = hashedrekord(signature, verifier_pem, payload);
        self.bundle(&body, time)
    }

    /// A bundle for any base64 `body`, with a valid SET.
    pub fn bundle(&self, body: &str, time: i64) -> String {
        let index = self.next_index.fetch_add(1, Ordering::Relaxed);
        let payload = json!({
            "body": body, "integratedTime": time, "logID": self.log_id(), "logIndex": index,
        });
        // RFC 8785 for these values: keys sorted, no whitespace, base64/hex strings unescaped.
        let canonical = format!(
            r#"{{"body":"{body}","integratedTime":{time},"logID":"{}","logIndex":{index}}}"#,
            self.log_id()
        );
        let set = sign_with(&self.key, canonical.as_bytes());
        json!({ "SignedEntryTimestamp": set, "Payload": payload }).to_string()
    }
}

/// Base64 of a `hashedrekord` v0.0.1 body.
pub fn hashedrekord(signature: &str, verifier_pem: &str, payload: &[u8]) -> String {
    let body = json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex::encode(Sha256::digest(payload)) } },
            "signature": {
                "content": signature,
                "publicKey": { "content": BASE64.encode(verifier_pem) },
            },
        },
    });
    BASE64.encode(body.to_string())
}

/// A `.sig` layer with the keyless annotations that are `Some`.
pub fn keyless_layer(
    payload: Vec<u8>,
    signature: &str,
    cert_pem: Option<&str>,
    chain_pem: Option<&str>,
    bundle: Option<&str>,
) -> SigLayer {
    let mut layer = SigLayer::unsigned(payload).with_annotation(SIGNATURE_ANNOTATION, signature);
    for (name, value) in [
        (CERTIFICATE_ANNOTATION, cert_pem),
        (CHAIN_ANNOTATION, chain_pem),
        (BUNDLE_ANNOTATION, bundle),
    ] {
        if let Some(value) = value {
            layer = layer.with_annotation(name, value);
        }
    }
    layer
}

/// A complete, valid keyless signature of `payload` by `signer`, logged by `rekor` a minute
/// after the certificate was issued.
pub fn signed_layer(
    fulcio: &TestFulcio,
    signer: &TestSigner,
    rekor: &TestRekor,
    payload: Vec<u8>,
) -> SigLayer {
    let signature = signer.sign(&payload);
    let bundle = rekor.log(&signature, &signer.cert_pem, &payload, SIGNED_AT + 60);
    let chain = fulcio.chain_pem();
    keyless_layer(
        payload,
        &signature,
        Some(&signer.cert_pem),
        Some(&chain),
        Some(&bundle),
    )
}

/// A policy-controller `TrustRoot` (`spec.sigstoreKeys`, PEM base64-encoded as its `[]byte`
/// fields are) trusting `fulcio` and `rekor`.
pub fn trust_root_yaml(name: &str, fulcio: &TestFulcio, rekor: &TestRekor) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata:\n  name: {name}\n\
         spec:\n  sigstoreKeys:\n    certificateAuthorities:\n    - subject: {{organization: sigstore.dev, commonName: sigstore}}\n      \
         uri: https://fulcio.test\n      certChain: {}\n    tLogs:\n    - baseURL: https://rekor.test\n      \
         hashAlgorithm: sha-256\n      publicKey: {}\n",
        BASE64.encode(fulcio.chain_pem()),
        BASE64.encode(rekor.public_pem()),
    )
}

/// A ClusterImagePolicy with one keyless authority; `identities` is YAML flow for the list.
pub fn keyless_policy(name: &str, glob: &str, trust_root: &str, identities: &str) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: release-identity\n    keyless:\n      \
         trustRootRef: {trust_root}\n      identities: {identities}\n"
    )
}

/// The same trust as [`trust_root_yaml`] in sigstore's `trusted_root.json` form (DER, base64),
/// with validity windows around [`SIGNED_AT`].
pub fn trusted_root_json(fulcio: &TestFulcio, rekor: &TestRekor) -> String {
    let der = |c: &CertifiedIssuer<'static, KeyPair>| BASE64.encode(c.der());
    let from = "2020-01-01T00:00:00Z";
    json!({
        "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
        "tlogs": [{
            "baseUrl": "https://rekor.test",
            "hashAlgorithm": "SHA2_256",
            "publicKey": {
                "rawBytes": BASE64.encode(rekor.key.subject_public_key_info()),
                "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                "validFor": { "start": from },
            },
            "logId": { "keyId": BASE64.encode(hex::decode(rekor.log_id()).expect("hex")) },
        }],
        "certificateAuthorities": [{
            "subject": { "organization": "sigstore.dev", "commonName": "sigstore" },
            "uri": "https://fulcio.test",
            "certChain": { "certificates": [
                { "rawBytes": der(&fulcio.intermediate) },
                { "rawBytes": der(&fulcio.root) },
            ] },
            "validFor": { "start": from },
        }],
        "ctlogs": [],
    })
    .to_string()
}
