//! Why the signatures of an image did not satisfy an authority: one value per failure, carrying
//! what was required and what was found, with a stable code and the message text. It never
//! decides anything; the checks in `mod.rs`, `keyless.rs`, `bundle.rs` and `threshold.rs`
//! produce these values.

use crate::reference::Digest;

/// Most identities listed as found in one message.
const MAX_FOUND: usize = 8;
/// Most per-signature reasons listed in one message.
const MAX_REASONS: usize = 8;

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
    /// Keyless, or a key authority that requires Rekor: the signature carries no Rekor bundle,
    /// so nothing proves it was logged.
    TransparencyLogMissing,
    /// The Rekor bundle is not valid proof for this signature (unknown log, bad SET, or an entry
    /// that records another signature, payload, certificate or key).
    TransparencyLogInvalid {
        /// What was wrong.
        detail: String,
    },
    /// `rfc3161timestamp`: the signature carries no RFC 3161 timestamp, or one that does not
    /// verify with a trusted timestamp authority over the signature's bytes.
    TimestampInvalid {
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
    /// Keyless, containers-policy.json `fulcio`: the certificate was issued for another OIDC
    /// issuer than `oidcIssuer` (`None`: it names none).
    UnexpectedIssuer {
        /// The issuer the certificate names.
        found: Option<String>,
    },
    /// Keyless, containers-policy.json `fulcio`: no email SAN of the certificate is
    /// `subjectEmail`.
    EmailNotFound {
        /// `subjectEmail`.
        required: String,
        /// The certificate's email SANs.
        found: Vec<String>,
    },
    /// Several signatures, none accepted: why each one was not (containers/image's words).
    NoneAccepted {
        /// The most informative of them, which gives the stable code.
        best: Box<Mismatch>,
        /// Each signature's reason, in the order the signatures were examined.
        reasons: Vec<Mismatch>,
    },
    /// A Sigstore bundle that cannot be read (bad JSON, unknown version, inconsistent material).
    BundleInvalid {
        /// What was wrong.
        detail: String,
    },
    /// A Sigstore bundle that needs what Signet does not verify (TSA-only time, Rekor v2).
    BundleUnsupported {
        /// What it needs.
        detail: String,
    },
    /// A valid signature over something that is not an image signature (an attestation, a blob).
    NotAnImageSignature {
        /// What it signs.
        detail: String,
    },
    /// Signet extension `threshold`: valid signatures, but from fewer distinct signers than
    /// required.
    ThresholdNotMet {
        /// Distinct signers required.
        required: usize,
        /// Each distinct signer found (`key sha256:…` or an identity), at most a few.
        found: Vec<String>,
        /// How many distinct signers were found.
        count: usize,
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
            Self::TimestampInvalid { .. } => "TimestampInvalid",
            Self::CertificateInvalid { .. } => "CertificateInvalid",
            Self::CertificateKeyMismatch => "CertificateKeyMismatch",
            Self::CertificateUntrusted { .. } => "CertificateUntrusted",
            Self::IdentityNotAllowed { .. }
            | Self::UnexpectedIssuer { .. }
            | Self::EmailNotFound { .. } => "IdentityNotAllowed",
            Self::NoneAccepted { best, .. } => best.code(),
            Self::BundleInvalid { .. } => "BundleInvalid",
            Self::BundleUnsupported { .. } => "BundleUnsupported",
            Self::NotAnImageSignature { .. } => "NotAnImageSignature",
            Self::ThresholdNotMet { .. } => "ThresholdNotMet",
        }
    }

    /// The verdict over every examined layer: no layer is no signature; one layer is its own
    /// reason; several are [`Mismatch::NoneAccepted`] around the most informative one.
    pub(super) fn over_layers(reasons: Vec<Mismatch>, empty: Mismatch) -> Mismatch {
        let mut iter = reasons.iter().cloned();
        let Some(first) = iter.next() else {
            return empty;
        };
        let best = iter.fold(first, Mismatch::merge);
        match reasons.len() {
            1 => best,
            _ => Self::NoneAccepted {
                best: Box::new(best),
                reasons,
            },
        }
    }

    /// How far a layer got before it failed; the furthest failure is the most useful to report.
    /// Key and keyless checks share the payload steps at the end.
    pub(super) fn depth(&self) -> u8 {
        match self {
            Self::NoSignature => 0,
            Self::UntrustedSigner { .. }
            | Self::TransparencyLogMissing
            | Self::BundleInvalid { .. }
            | Self::BundleUnsupported { .. } => 1,
            Self::TransparencyLogInvalid { .. } | Self::TimestampInvalid { .. } => 2,
            Self::CertificateInvalid { .. } => 3,
            Self::CertificateKeyMismatch => 4,
            Self::CertificateUntrusted { .. } => 5,
            Self::IdentityNotAllowed { .. }
            | Self::UnexpectedIssuer { .. }
            | Self::EmailNotFound { .. } => 6,
            Self::NoneAccepted { best, .. } => best.depth(),
            Self::MalformedPayload { .. } | Self::NotAnImageSignature { .. } => 7,
            Self::DigestMismatch { .. } => 8,
            Self::IdentityMismatch { .. } => 9,
            Self::ThresholdNotMet { .. } => 10,
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
                "the signature has no Rekor bundle (dev.sigstore.cosign/bundle); \
                 the policy needs proof of its transparency-log entry",
            ),
            Self::TransparencyLogInvalid { detail } => {
                write!(f, "invalid transparency-log proof: {detail}")
            }
            Self::TimestampInvalid { detail } => write!(f, "RFC 3161 timestamp: {detail}"),
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
            Self::UnexpectedIssuer {
                found: Some(issuer),
            } => {
                write!(f, "Unexpected Fulcio OIDC issuer {issuer:?}")
            }
            Self::UnexpectedIssuer { found: None } => {
                f.write_str("Fulcio certificate is missing the issuer extension")
            }
            Self::EmailNotFound { required, found } => write!(
                f,
                "Required email {required} not found (got {})",
                go_string_slice(found)
            ),
            Self::NoneAccepted { reasons, .. } => write_none_accepted(f, reasons),
            Self::BundleInvalid { detail } => write!(f, "invalid Sigstore bundle: {detail}"),
            Self::BundleUnsupported { detail } => {
                write!(f, "Sigstore bundle not supported: {detail}")
            }
            Self::NotAnImageSignature { detail } => {
                write!(f, "signature is not an image signature: it signs {detail}")
            }
            Self::ThresholdNotMet {
                required,
                found,
                count,
            } => write!(
                f,
                "signed by {count} of {required} required signers ({}); each signer counts once",
                found.join(", ")
            ),
        }
    }
}

/// containers/image's `None of the signatures were accepted, reasons: r1; r2`, listing at most
/// [`MAX_REASONS`].
fn write_none_accepted(f: &mut std::fmt::Formatter<'_>, reasons: &[Mismatch]) -> std::fmt::Result {
    f.write_str("None of the signatures were accepted, reasons: ")?;
    for (i, reason) in reasons.iter().take(MAX_REASONS).enumerate() {
        let sep = if i == 0 { "" } else { "; " };
        write!(f, "{sep}{reason}")?;
    }
    if reasons.len() > MAX_REASONS {
        write!(f, "; and {} more", reasons.len() - MAX_REASONS)?;
    }
    Ok(())
}

/// Go's `%#v` of a `[]string`, as containers/image prints the emails it found.
fn go_string_slice(items: &[String]) -> String {
    if items.is_empty() {
        return "[]string(nil)".into();
    }
    let quoted: Vec<String> = items.iter().map(|s| format!("{s:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
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
    fn cri_o_words_for_fulcio_identities_and_several_signatures() {
        let email = Mismatch::EmailNotFound {
            required: "wrong@mail.com".into(),
            found: vec!["sgrunert@redhat.com".into()],
        };
        assert_eq!(
            email.to_string(),
            r#"Required email wrong@mail.com not found (got []string{"sgrunert@redhat.com"})"#
        );
        let issuer = Mismatch::UnexpectedIssuer {
            found: Some("https://accounts.google.com".into()),
        };
        assert_eq!(
            issuer.to_string(),
            r#"Unexpected Fulcio OIDC issuer "https://accounts.google.com""#
        );
        let several = Mismatch::over_layers(vec![email.clone(), issuer], Mismatch::NoSignature);
        assert_eq!(several.code(), "IdentityNotAllowed");
        assert!(
            several
                .to_string()
                .starts_with("None of the signatures were accepted, reasons: Required email"),
            "{several}"
        );
        assert_eq!(
            Mismatch::over_layers(vec![email.clone()], Mismatch::NoSignature),
            email
        );
        assert_eq!(
            Mismatch::over_layers(Vec::new(), Mismatch::NoSignature),
            Mismatch::NoSignature
        );
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
