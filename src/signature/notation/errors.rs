//! Why an envelope could not be judged at all: it is too large, not the format its media type
//! says, or uses what the Notary Project specification does not define. Every such envelope is
//! refused (fail closed); a well-formed envelope that does not verify is reported instead as a
//! failed check (see [`super::NotationChecks`]).

/// An envelope Signet refuses to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotationEnvelopeError {
    /// Over a size or count limit.
    #[error("Notation signature envelope: {what} is over the limit of {limit}")]
    Oversized {
        /// What was too large.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// Not the JWS or COSE structure the Notary Project specification defines.
    #[error("malformed Notation signature envelope: {0}")]
    Malformed(String),
    /// Something the specification does not define (a media type, algorithm, signing scheme
    /// or payload content type): Signet refuses what it cannot check.
    #[error("unsupported Notation signature envelope: {0}")]
    Unsupported(String),
}

pub(super) fn malformed(detail: impl Into<String>) -> NotationEnvelopeError {
    NotationEnvelopeError::Malformed(detail.into())
}

pub(super) fn unsupported(detail: impl Into<String>) -> NotationEnvelopeError {
    NotationEnvelopeError::Unsupported(detail.into())
}
