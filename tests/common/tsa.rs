//! An RFC 3161 timestamp authority made inside the test suite, offline: an rcgen root and a
//! time-stamping leaf under it, signing `TSTInfo`s over a bundle's signature bytes as CMS
//! SignedData with the ESS `signingCertificateV2` attribute, as sigstore's timestamp-authority
//! does. Every field is data, so tests can stamp any time, version or signer binding.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode, Sequence};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SigningKey,
};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;
use x509_cert::spki::AlgorithmIdentifierOwned;

const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const POLICY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.2");

#[derive(Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    gen_time: GeneralizedTime,
}

#[derive(Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `SigningCertificateV2` with `ESSCertIDv2`s of the default hash (SHA-256); the same shape
/// encodes RFC 2634's `SigningCertificate` with SHA-1 `ESSCertID`s.
#[derive(Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

#[derive(Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
}

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).expect("valid time")
}

/// A CA certificate valid from `not_before` to `not_after` (Unix seconds).
pub fn ca(common_name: &str, not_before: i64, not_after: i64) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(1));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = at(not_before);
    params.not_after = at(not_after);
    CertifiedIssuer::self_signed(params, KeyPair::generate().expect("key")).expect("CA")
}

/// Which certificate the ESS attribute names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binding {
    /// The signing certificate, as a TSA writes it (`signingCertificateV2`, SHA-256).
    Signer,
    /// The signing certificate in the older `signingCertificate` (SHA-1 ESSCertID).
    SignerV1,
    /// Another certificate (the root), in the older attribute.
    OtherV1,
    /// No ESS attribute at all.
    Missing,
    /// Another certificate (the root).
    Other,
}

/// What one timestamp says; `Stamp::at(t)` is a valid one.
#[derive(Clone, Copy, Debug)]
pub struct Stamp {
    pub gen_time: i64,
    pub version: u8,
    pub binding: Binding,
    /// Embed the signing certificate in the token.
    pub embed: bool,
}

impl Stamp {
    pub fn at(gen_time: i64) -> Stamp {
        Stamp {
            gen_time,
            version: 1,
            binding: Binding::Signer,
            embed: true,
        }
    }
}

/// A timestamp authority: its leaf (id-kp-timeStamping) issued by `root`.
pub struct TestTsa {
    pub leaf_der: Vec<u8>,
    pub root_der: Vec<u8>,
    key: KeyPair,
}

impl TestTsa {
    /// A leaf valid from `not_before` to `not_after`, issued by `root`.
    pub fn new(
        root: &CertifiedIssuer<'static, KeyPair>,
        name: &str,
        not_before: i64,
        not_after: i64,
    ) -> TestTsa {
        let mut params = CertificateParams::default();
        params.distinguished_name.push(DnType::CommonName, name);
        params.not_before = at(not_before);
        params.not_after = at(not_after);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::TimeStamping];
        let key = KeyPair::generate().expect("TSA key");
        let leaf = params.signed_by(&key, root).expect("TSA leaf");
        TestTsa {
            leaf_der: leaf.der().to_vec(),
            root_der: root.der().to_vec(),
            key,
        }
    }

    /// A DER `TimeStampToken` (ContentInfo) over `signature` (the bundle's signature bytes).
    pub fn stamp(&self, signature: &[u8], stamp: Stamp) -> Vec<u8> {
        let sha256 = AlgorithmIdentifierOwned {
            oid: SHA256,
            parameters: None,
        };
        let tst = TstInfo {
            version: stamp.version,
            policy: POLICY,
            message_imprint: MessageImprint {
                hash_algorithm: sha256.clone(),
                hashed_message: OctetString::new(Sha256::digest(signature).to_vec())
                    .expect("imprint"),
            },
            serial_number: Int::new(&[1]).expect("serial"),
            gen_time: GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(
                u64::try_from(stamp.gen_time).expect("positive time"),
            ))
            .expect("genTime"),
        };
        let tst_der = tst.to_der().expect("TSTInfo");
        let leaf = Certificate::from_der(&self.leaf_der).expect("leaf");
        let mut attributes = vec![
            attribute(CONTENT_TYPE, Any::encode_from(&TST_INFO).expect("oid")),
            attribute(
                MESSAGE_DIGEST,
                Any::encode_from(&octets(&Sha256::digest(&tst_der))).expect("digest"),
            ),
        ];
        let sha1 = |der: &[u8]| octets(&<sha1::Sha1 as sha1::Digest>::digest(der));
        let ess = |oid, hash: OctetString| {
            let ess = SigningCertificateV2 {
                certs: vec![EssCertIdV2 { cert_hash: hash }],
            };
            attribute(oid, Any::encode_from(&ess).expect("ESS"))
        };
        match stamp.binding {
            Binding::Signer => attributes.push(ess(
                SIGNING_CERTIFICATE_V2,
                octets(&Sha256::digest(&self.leaf_der)),
            )),
            Binding::Other => attributes.push(ess(
                SIGNING_CERTIFICATE_V2,
                octets(&Sha256::digest(&self.root_der)),
            )),
            Binding::SignerV1 => attributes.push(ess(SIGNING_CERTIFICATE, sha1(&self.leaf_der))),
            Binding::OtherV1 => attributes.push(ess(SIGNING_CERTIFICATE, sha1(&self.root_der))),
            Binding::Missing => {}
        }
        let signed_attrs = SetOfVec::try_from(attributes).expect("attributes");
        let signature = self
            .key
            .sign(&signed_attrs.to_der().expect("attributes DER"))
            .expect("sign");
        let tbs = leaf.tbs_certificate();
        let signer = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: tbs.issuer().clone(),
                serial_number: tbs.serial_number().clone(),
            }),
            digest_alg: sha256.clone(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm: AlgorithmIdentifierOwned {
                oid: ECDSA_SHA256,
                parameters: None,
            },
            signature: octets(&signature),
            unsigned_attrs: None,
        };
        let certificates = stamp.embed.then(|| {
            let set = SetOfVec::try_from(vec![CertificateChoices::Certificate(leaf.clone())]);
            CertificateSet(set.expect("certificates"))
        });
        let signed = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![sha256]).expect("algorithms"),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: TST_INFO,
                econtent: Some(Any::encode_from(&octets(&tst_der)).expect("content")),
            },
            certificates,
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer]).expect("signers")),
        };
        let token = ContentInfo {
            content_type: SIGNED_DATA,
            content: Any::encode_from(&signed).expect("SignedData"),
        };
        token.to_der().expect("token")
    }
}

fn octets(bytes: &[u8]) -> OctetString {
    OctetString::new(bytes.to_vec()).expect("octets")
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Attribute {
    Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).expect("value"),
    }
}
