//! The COSE envelope (`application/cose`, signature-envelope-cose.md): a COSE_Sign1 (tagged,
//! as Notation writes it, or untagged) with the signed attributes in the protected header
//! (times as CBOR tag 1 epoch values), the certificate chain in the unprotected `x5chain`
//! (label 33) and the timestamp countersignature as unprotected
//! `io.cncf.notary.timestampSignature`. The signature covers the `Sig_structure` over the
//! protected header's original bytes. Decoding by the `coset` crate, which refuses duplicate
//! header labels.

use coset::cbor::value::Value;
use coset::iana::EnumI64;
use coset::{
    CborSerializable, CoseSign1, Label, RegisteredLabel, RegisteredLabelWithPrivate,
    TaggedCborSerializable,
};

use super::envelope::{
    AUTHENTIC_SIGNING_TIME, Algorithm, EXPIRY, Envelope, MAX_CERTIFICATE_BYTES,
    MAX_CHAIN_CERTIFICATES, PAYLOAD_CONTENT_TYPE, SIGNING_SCHEME, SIGNING_TIME, Scheme,
    TIMESTAMP_SIGNATURE,
};
use super::errors::{NotationEnvelopeError, malformed, unsupported};

/// The `x5chain` header label (RFC 9360).
const X5CHAIN: i64 = 33;

/// Decode a COSE envelope.
pub(super) fn parse(bytes: &[u8]) -> Result<Envelope, NotationEnvelopeError> {
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|e| malformed(format!("not a COSE_Sign1: {e}")))?;
    let protected = &sign1.protected.header;
    let algorithm = match &protected.alg {
        Some(RegisteredLabelWithPrivate::Assigned(alg)) => Algorithm::from_cose(alg.to_i64()),
        Some(RegisteredLabelWithPrivate::PrivateUse(number)) => Algorithm::from_cose(*number),
        _ => None,
    }
    .ok_or_else(|| {
        unsupported(format!(
            "signature algorithm {:?} (the specification allows PS256, PS384, PS512, ES256, \
             ES384, ES512)",
            protected.alg
        ))
    })?;
    match &protected.content_type {
        Some(RegisteredLabel::Text(text)) if text == PAYLOAD_CONTENT_TYPE => {}
        other => {
            return Err(unsupported(format!(
                "payload content type {other:?} (want {PAYLOAD_CONTENT_TYPE:?})"
            )));
        }
    }
    let value = |name: &str| {
        protected
            .rest
            .iter()
            .find(|(label, _)| matches!(label, Label::Text(t) if t == name))
            .map(|(_, value)| value)
    };
    let scheme_name = match value(SIGNING_SCHEME) {
        Some(Value::Text(text)) => text.as_str(),
        _ => "",
    };
    let scheme = Scheme::parse(scheme_name)
        .ok_or_else(|| unsupported(format!("signing scheme {scheme_name:?}")))?;
    let time = |name: &str| value(name).map(|v| epoch(name, v)).transpose();
    let critical = protected
        .crit
        .iter()
        .map(|label| match label {
            RegisteredLabel::Text(text) => text.clone(),
            RegisteredLabel::Assigned(param) => param.to_i64().to_string(),
        })
        .collect();
    let payload = sign1
        .payload
        .clone()
        .ok_or_else(|| malformed("the COSE payload is detached; Notation embeds it"))?;
    let unprotected = |label: &Label| {
        sign1
            .unprotected
            .rest
            .iter()
            .find(|(l, _)| l == label)
            .map(|(_, v)| v)
    };
    let chain = match unprotected(&Label::Int(X5CHAIN)) {
        None => Vec::new(),
        Some(Value::Bytes(one)) => vec![bounded(one)?],
        Some(Value::Array(items)) => {
            if items.len() > MAX_CHAIN_CERTIFICATES {
                return Err(NotationEnvelopeError::Oversized {
                    what: "the certificate chain (x5chain)",
                    limit: MAX_CHAIN_CERTIFICATES,
                });
            }
            items
                .iter()
                .map(|item| match item {
                    Value::Bytes(der) => bounded(der),
                    _ => Err(malformed("an x5chain entry is not a byte string")),
                })
                .collect::<Result<_, _>>()?
        }
        Some(_) => {
            return Err(malformed(
                "the x5chain header is not a byte string or array",
            ));
        }
    };
    let timestamp = match unprotected(&Label::Text(TIMESTAMP_SIGNATURE.into())) {
        None => None,
        Some(Value::Bytes(token)) if token.is_empty() => None,
        Some(Value::Bytes(token)) => Some(token.clone()),
        Some(_) => {
            return Err(malformed(format!(
                "the COSE {TIMESTAMP_SIGNATURE:?} header is not a byte string"
            )));
        }
    };
    Ok(Envelope {
        algorithm,
        scheme,
        signing_time: time(SIGNING_TIME)?,
        authentic_signing_time: time(AUTHENTIC_SIGNING_TIME)?,
        expiry: time(EXPIRY)?,
        critical,
        signed_bytes: sign1.tbs_data(&[]),
        signature: sign1.signature.clone(),
        payload,
        chain,
        timestamp,
    })
}

fn bounded(der: &[u8]) -> Result<Vec<u8>, NotationEnvelopeError> {
    if der.len() > MAX_CERTIFICATE_BYTES {
        return Err(NotationEnvelopeError::Oversized {
            what: "a certificate of the chain",
            limit: MAX_CERTIFICATE_BYTES,
        });
    }
    Ok(der.to_vec())
}

/// A CBOR tag 1 epoch time (integer seconds; a float's fraction dropped) to Unix seconds: the
/// only time form notation-core-go accepts.
fn epoch(name: &str, value: &Value) -> Result<i64, NotationEnvelopeError> {
    let bad = || {
        malformed(format!(
            "the COSE header {name:?} is not a tag 1 epoch time"
        ))
    };
    let Value::Tag(1, inner) = value else {
        return Err(bad());
    };
    match inner.as_ref() {
        Value::Integer(seconds) => i64::try_from(*seconds).map_err(|_| bad()),
        Value::Float(seconds) if seconds.is_finite() && seconds.abs() < 1e15 => {
            Ok(seconds.trunc() as i64)
        }
        _ => Err(bad()),
    }
}
