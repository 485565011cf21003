//! The COSE envelope (`application/cose`, signature-envelope-cose.md): a tagged COSE_Sign1.
use super::envelope::Envelope;
use super::errors::{NotationEnvelopeError, unsupported};

/// Decode a COSE envelope.
pub(super) fn parse(_bytes: &[u8]) -> Result<Envelope, NotationEnvelopeError> {
    Err(unsupported("COSE envelopes are not read yet"))
}
