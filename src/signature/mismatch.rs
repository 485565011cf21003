//! Why the signatures of an image did not satisfy an authority: one value per failure, carrying
//! what was required and what was found, with a stable code and the message text. It never
//! decides anything; the checks in `mod.rs` and `keyless.rs` produce these values.

use crate::reference::Digest;

/// Most identities listed as found in one message.
const MAX_FOUND: usize = 8;

/// Why the signatures of an image did not satisfy an authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The image has no signature at all.
    NoSignature,
    /// Signatures exist, but none verifies with any trusted key.
    UntrustedSigner {
        /// How many keys the authority trusts.
        trusted_keys: usize,
        /// How many signatures were examined.
        signatures: usize,
    },
    /// A trusted key signed a payload for another digest (a copied signature).
    DigestMismatch {
        /// The digest this review resolved.
        expected: Digest,
        /// The digest the signed payload names.
        found: String,
    },
    /// A trusted key signed this digest under another name.
    IdentityMismatch {
        /// What the identity rule requires, in words.
        required: String,
        /// The `docker-reference` the payload carries.
        found: String,
    },
    /// A trusted key signed something that is not a cosign simple-signing payload.
    MalformedPayload {
        /// What was wrong with it.
        detail: String,
    },
    /// Keyless: the signature carries no Rekor bundle, so nothing proves it was logged.
    TransparencyLogMissing,
    /// Keyless: the Rekor bundle is not valid proof for this signature (unknown log, bad SET,
    /// or an entry that records another signature, payload or certificate).
    TransparencyLogInvalid {
        /// What was wrong.
        detail: String,
    },
    /// Keyless: no signing certificate, or one that cannot be used (malformed, too large, not
    /// for code signing, ambiguous issuer).
    CertificateInvalid {
        /// What was wrong.
        detail: String,
    },
    /// Keyless: the signature does not verify with the public key of the certificate it carries
    /// (a certificate replayed from another signature).
    CertificateKeyMismatch,
    /// Keyless: the certificate does not chain to a trusted CA, or was not valid when the log
    /// recorded the signature.
    CertificateUntrusted {
        /// What was wrong.
        detail: String,
    },
    /// Keyless: valid certificates, but for none of the identities the authority allows.
    IdentityNotAllowed {
        /// Each allowed identity, as `issuer "…" subject "…"`.
        required: Vec<String>,
        /// Each identity found on a valid certificate, in the same words.
        found: Vec<String>,
    },
}

impl Mismatch {
    /// Stable code for messages, annotations and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSignature => "NoSignature",
            Self::UntrustedSigner { .. } => "UntrustedSigner",
            Self::DigestMismatch { .. } => "DigestMismatch",
            Self::IdentityMismatch { .. } => "IdentityMismatch",
            Self::MalformedPayload { .. } => "MalformedSignature",
            Self::TransparencyLogMissing => "TransparencyLogMissing",
            Self::TransparencyLogInvalid { .. } => "TransparencyLogInvalid",
            Self::CertificateInvalid { .. } => "CertificateInvalid",
            Self::CertificateKeyMismatch => "CertificateKeyMismatch",
            Self::CertificateUntrusted { .. } => "CertificateUntrusted",
            Self::IdentityNotAllowed { .. } => "IdentityNotAllowed",
        }
    }

    /// How far a layer got before it failed; the furthest failure is the most useful to report.
    /// Key and keyless checks share the payload steps at the end.
    pub(super) fn depth(&self) -> u8 {
        match self {
            Self::NoSignature => 0,
            Self::UntrustedSigner { .. } | Self::TransparencyLogMissing => 1,
            Self::TransparencyLogInvalid { .. } => 2,
            Self::CertificateInvalid { .. } => 3,
            Self::CertificateKeyMismatch => 4,
            Self::CertificateUntrusted { .. } => 5,
            Self::IdentityNotAllowed { .. } => 6,
            Self::MalformedPayload { .. } => 7,
            Self::DigestMismatch { .. } => 8,
            Self::IdentityMismatch { .. } => 9,
        }
    }

    /// The more informative of `self` and `other`; identities found on several layers are
    /// listed together.
    pub(super) fn merge(self, other: Mismatch) -> Mismatch {
        match (self, other) {
            (
                Self::IdentityNotAllowed { required, found },
                Self::IdentityNotAllowed { found: more, .. },
            ) => {
                let mut found = found;
                for identity in more {
                    if !found.contains(&identity) && found.len() < MAX_FOUND {
                        found.push(identity);
                    }
                }
                Self::IdentityNotAllowed { required, found }
            }
            (best, other) if other.depth() > best.depth() => other,
            (best, _) => best,
        }
    }
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoSignature => f.write_str("A signature was required, but no signature exists"),
            Self::UntrustedSigner {
                trusted_keys,
                signatures,
            } => write!(
                f,
                "signed by none of the {trusted_keys} trusted key(s) ({signatures} signature(s) examined)"
            ),
            Self::DigestMismatch { expected, found } => write!(
                f,
                "signature payload digest mismatch: signed {found}, image is {expected}"
            ),
            Self::IdentityMismatch { required, found } => write!(
                f,
                "signature identity mismatch: signed for {found:?}, required {required}"
            ),
            Self::MalformedPayload { detail } => write!(f, "malformed signature payload: {detail}"),
            Self::TransparencyLogMissing => f.write_str(
                "keyless: the signature has no Rekor bundle (dev.sigstore.cosign/bundle); \
                 a keyless signature needs proof of its transparency-log entry",
            ),
            Self::TransparencyLogInvalid { detail } => {
                write!(f, "keyless: invalid transparency-log proof: {detail}")
            }
            Self::CertificateInvalid { detail } => {
                write!(f, "keyless: unusable signing certificate: {detail}")
            }
            Self::CertificateKeyMismatch => f.write_str(
                "keyless: the signature does not verify with the key of the certificate it carries \
                 (a certificate copied from another signature?)",
            ),
            Self::CertificateUntrusted { detail } => {
                write!(f, "keyless: untrusted signing certificate: {detail}")
            }
            Self::IdentityNotAllowed { required, found } => write!(
                f,
                "keyless: no signature from a required identity (required {}; found {})",
                required.join(" or "),
                found.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_message_names_required_and_found_in_cri_o_words() {
        let m = Mismatch::IdentityNotAllowed {
            required: vec![
                r#"issuer "https://accounts.google.com" subject "krel-trust@k8s-releng-prod.iam.gserviceaccount.com""#
                    .into(),
            ],
            found: vec![r#"issuer "https://github.com/login/oauth" subject "mitr@redhat.com""#.into()],
        };
        assert_eq!(
            m.to_string(),
            "keyless: no signature from a required identity (required issuer \"https://accounts.google.com\" \
             subject \"krel-trust@k8s-releng-prod.iam.gserviceaccount.com\"; found issuer \
             \"https://github.com/login/oauth\" subject \"mitr@redhat.com\")"
        );
        assert_eq!(m.code(), "IdentityNotAllowed");
    }

    #[test]
    fn merging_keeps_the_deepest_and_lists_every_identity_found_once() {
        let id = |found: &str| Mismatch::IdentityNotAllowed {
            required: vec!["r".into()],
            found: vec![found.into()],
        };
        let merged = id("a").merge(id("b")).merge(id("a"));
        assert_eq!(
            merged,
            Mismatch::IdentityNotAllowed {
                required: vec!["r".into()],
                found: vec!["a".into(), "b".into()]
            }
        );
        let shallow = Mismatch::TransparencyLogMissing;
        assert_eq!(shallow.clone().merge(id("a")), id("a"));
        assert_eq!(id("a").merge(shallow), id("a"));
    }
}
