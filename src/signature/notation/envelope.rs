//! What both envelope formats carry once decoded (the Notary Project's "signer info"), and the
//! rules on signed attributes that do not depend on the format: the signing scheme's time
//! attribute, the critical list, the expiry after the signing time.

/// Most certificates accepted in an envelope's chain.
pub(super) const MAX_CHAIN_CERTIFICATES: usize = crate::policy::MAX_CHAIN_CERTIFICATES;
/// Largest certificate accepted (real ones are 1 to 2 KiB).
pub(super) const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// The only payload content type the specification defines.
pub(super) const PAYLOAD_CONTENT_TYPE: &str = "application/vnd.cncf.notary.payload.v1+json";
pub(super) const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(super) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(super) const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(super) const EXPIRY: &str = "io.cncf.notary.expiry";
pub(super) const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// The signature algorithms of the specification (RSASSA-PSS and ECDSA, by hash size).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Algorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

impl Algorithm {
    /// The JWS `alg` name.
    pub(super) fn from_jws(name: &str) -> Option<Self> {
        Some(match name {
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            _ => return None,
        })
    }

    /// The COSE algorithm number (RFC 9053, RFC 8230).
    pub(super) fn from_cose(number: i64) -> Option<Self> {
        Some(match number {
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            -7 => Self::Es256,
            -35 => Self::Es384,
            -36 => Self::Es512,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }
}

/// The two signing schemes of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scheme {
    /// `notary.x509`: signing time is the signer's claim; a timestamp makes it authentic.
    X509,
    /// `notary.x509.signingAuthority`: the signing authority vouches for the signing time.
    SigningAuthority,
}

impl Scheme {
    pub(super) fn parse(name: &str) -> Option<Self> {
        match name {
            "notary.x509" => Some(Self::X509),
            "notary.x509.signingAuthority" => Some(Self::SigningAuthority),
            _ => None,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Self::X509 => "notary.x509",
            Self::SigningAuthority => "notary.x509.signingAuthority",
        }
    }
}

/// One decoded envelope. Times are Unix seconds (fractions dropped).
#[derive(Debug)]
pub(super) struct Envelope {
    pub algorithm: Algorithm,
    pub scheme: Scheme,
    /// `io.cncf.notary.signingTime`.
    pub signing_time: Option<i64>,
    /// `io.cncf.notary.authenticSigningTime`.
    pub authentic_signing_time: Option<i64>,
    /// `io.cncf.notary.expiry`.
    pub expiry: Option<i64>,
    /// The `crit` list, COSE integer labels as decimal text.
    pub critical: Vec<String>,
    /// The signed payload bytes.
    pub payload: Vec<u8>,
    /// The bytes the signature is over (JWS signing input, COSE `Sig_structure`).
    pub signed_bytes: Vec<u8>,
    /// The raw signature (ECDSA as fixed-size `r || s`).
    pub signature: Vec<u8>,
    /// DER certificates, signing certificate first.
    pub chain: Vec<Vec<u8>>,
    /// The RFC 3161 timestamp token over `signature`, if any.
    pub timestamp: Option<Vec<u8>>,
}

impl Envelope {
    /// The signing time the scheme defines (the signer's claim for `notary.x509`).
    pub(super) fn scheme_signing_time(&self) -> Option<i64> {
        match self.scheme {
            Scheme::X509 => self.signing_time,
            Scheme::SigningAuthority => self.authentic_signing_time,
        }
    }

    /// Why the signed attributes break the specification's rules, as notation-core-go checks
    /// them: the scheme's time attribute present (and the other absent), exactly the required
    /// attributes marked critical (no unknown critical attribute: Signet understands no
    /// extended attribute and runs no plugin), expiry after the signing time.
    pub(super) fn attribute_problem(&self) -> Option<String> {
        let (wanted, unwanted) = match self.scheme {
            Scheme::X509 => (SIGNING_TIME, AUTHENTIC_SIGNING_TIME),
            Scheme::SigningAuthority => (AUTHENTIC_SIGNING_TIME, SIGNING_TIME),
        };
        let present = |name: &str| match name {
            SIGNING_TIME => self.signing_time.is_some(),
            _ => self.authentic_signing_time.is_some(),
        };
        if present(unwanted) {
            return Some(format!(
                "the {unwanted:?} header must not be present for the {} signing scheme",
                self.scheme.name()
            ));
        }
        if !present(wanted) {
            return Some(format!(
                "the {wanted:?} header must be present for the {} signing scheme",
                self.scheme.name()
            ));
        }
        if let Some(problem) = self.critical_problem() {
            return Some(problem);
        }
        match (self.scheme_signing_time(), self.expiry) {
            (Some(signed), Some(expiry)) if expiry <= signed => {
                Some("the signature's expiry is not after its signing time".to_string())
            }
            _ => None,
        }
    }

    fn critical_problem(&self) -> Option<String> {
        let mut required = vec![SIGNING_SCHEME];
        if self.scheme == Scheme::SigningAuthority {
            required.push(AUTHENTIC_SIGNING_TIME);
        }
        if self.expiry.is_some() {
            required.push(EXPIRY);
        }
        if self.critical.is_empty() {
            return Some("the signature has no \"crit\" header".to_string());
        }
        let mut seen: Vec<&str> = Vec::new();
        for name in &self.critical {
            if seen.contains(&name.as_str()) {
                return Some(format!("{name:?} is listed twice as critical"));
            }
            if !required.contains(&name.as_str()) {
                return Some(format!(
                    "the signature marks {name:?} critical, which Signet does not understand \
                     (the Notary Project specification requires a verifier to refuse unknown \
                     critical attributes; Signet runs no verification plugin)"
                ));
            }
            seen.push(name);
        }
        let missing: Vec<&&str> = required.iter().filter(|r| !seen.contains(r)).collect();
        match missing.is_empty() {
            true => None,
            false => Some(format!(
                "these headers must be marked critical but are not: {missing:?}"
            )),
        }
    }
}
