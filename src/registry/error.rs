//! Registry failures, classified so that policy can decide on them and messages can say what
//! happened without leaking credentials.

use std::time::Duration;

/// Why a registry call did not give a usable answer.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    /// The manifest (tag or digest) does not exist.
    #[error("{reference} not found at the registry")]
    NotFound {
        /// What was asked for.
        reference: String,
    },
    /// The registry refused our credentials (or their absence).
    #[error("registry {registry} refused access (check pull credentials)")]
    Unauthorized {
        /// The registry host.
        registry: String,
    },
    /// The registry asked us to slow down.
    #[error("registry {registry} is rate limiting requests (429)")]
    RateLimited {
        /// The registry host.
        registry: String,
    },
    /// No answer within the per-call deadline.
    #[error("registry call to {operation} timed out after {after:?}")]
    Timeout {
        /// Which step timed out.
        operation: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// Connection failure, TLS failure or a server error.
    #[error("registry {registry} unavailable: {detail}")]
    Unavailable {
        /// The registry host.
        registry: String,
        /// What the transport said.
        detail: String,
    },
    /// Something larger than we accept.
    #[error("{what} is larger than the {limit}-byte limit")]
    TooLarge {
        /// What was too large.
        what: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// More signature layers than the configured cap.
    #[error("{count} signatures exceed the limit of {limit} per image")]
    TooManySignatures {
        /// Layers declared by the manifest.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// A referrers index listing more entries than Signet examines.
    #[error("the referrers index lists more than {limit} entries (Signet's limit)")]
    TooManyReferrers {
        /// The cap.
        limit: usize,
    },
    /// TLS with the registry failed: its certificate is not valid for it (there is no insecure
    /// fallback), or it does not speak TLS at all.
    #[error("registry {registry}: {detail}")]
    Tls {
        /// The registry host.
        registry: String,
        /// What rustls said.
        detail: String,
    },
    /// The registry redirected to a place Signet does not go (`redirect.rs`).
    #[error("registry {registry} sent a refused redirect: {detail}")]
    RedirectRefused {
        /// The registry host.
        registry: String,
        /// Where to, and which rule refused it.
        detail: String,
    },
    /// Content whose SHA-256 is not the digest asked for or the one the registry announced.
    #[error("registry {registry} sent content that does not match its digest: {detail}")]
    DigestMismatch {
        /// The registry host.
        registry: String,
        /// Which digests disagree.
        detail: String,
    },
    /// The registry's Bearer challenge names a token service (realm) Signet does not use, or
    /// cannot be read. `why` is a fixed text: nothing the registry or the realm sent is shown.
    #[error(
        "registry {registry} asks for a token from a place Signet does not go: {why} (the registry's token service is misconfigured or hostile)"
    )]
    TokenRealmRefused {
        /// The registry host.
        registry: String,
        /// Which rule refused it.
        why: &'static str,
    },
    /// The registry's token service gave no usable token. `why` is a fixed text: what the
    /// service answered is only in the webhook's log (no oracle of internal endpoints).
    #[error(
        "registry {registry}: no token from its token service: {why} (the webhook's log names the service and the cause)"
    )]
    TokenUnavailable {
        /// The registry host.
        registry: String,
        /// What went wrong.
        why: &'static str,
    },
    /// An answer that breaks the distribution spec.
    #[error("registry {registry} sent invalid content: {detail}")]
    Invalid {
        /// The registry host.
        registry: String,
        /// What was wrong.
        detail: String,
    },
}

impl RegistryError {
    /// Stable code for messages and metric labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound { .. } => "ImageNotFound",
            Self::Unauthorized { .. } => "RegistryUnauthorized",
            Self::RateLimited { .. } => "RegistryRateLimited",
            Self::Timeout { .. } => "Timeout",
            Self::Unavailable { .. } => "RegistryUnavailable",
            Self::TooLarge { .. }
            | Self::TooManySignatures { .. }
            | Self::TooManyReferrers { .. } => "LimitExceeded",
            Self::Tls { .. } => "RegistryTlsInvalid",
            Self::RedirectRefused { .. } => "RegistryRedirectRefused",
            Self::TokenRealmRefused { .. } => "RegistryTokenRealmRefused",
            Self::TokenUnavailable { .. } => "RegistryTokenUnavailable",
            Self::DigestMismatch { .. } => "DigestMismatch",
            Self::Invalid { .. } => "RegistryInvalidResponse",
        }
    }
}

/// Classify a transport failure: a certificate problem and a refused redirect have their own
/// codes; anything else is the registry being unavailable.
pub(super) fn from_transport(registry: &str, error: &reqwest::Error) -> RegistryError {
    let registry = registry.to_string();
    if let Some(refused) = find_source::<super::redirect::RedirectRefused>(error) {
        return RegistryError::RedirectRefused {
            registry,
            detail: refused.to_string(),
        };
    }
    if let Some(tls) = find_source::<rustls::Error>(error) {
        let plain_http = matches!(
            tls,
            rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)
        );
        let detail = match plain_http {
            true => format!(
                "it answered in plain HTTP, not TLS ({tls}); if {registry} is a plain-HTTP \
                 registry, list it with --insecure-registry {registry}"
            ),
            false => match tls {
                rustls::Error::InvalidCertificate(_) => format!("invalid TLS certificate: {tls}"),
                _ => format!("TLS failed: {tls}"),
            },
        };
        return RegistryError::Tls { registry, detail };
    }
    if refused(error) {
        let detail = format!(
            "connection refused: nothing accepts connections at {registry} (check the host and \
             port; without a port, 443, or 80 with --insecure-registry)"
        );
        return RegistryError::Unavailable { registry, detail };
    }
    RegistryError::Unavailable {
        registry,
        detail: transport_detail(error),
    }
}

/// Whether `error`'s source chain holds an `E`.
pub(super) fn has_source<E: std::error::Error + 'static>(error: &reqwest::Error) -> bool {
    find_source::<E>(error).is_some()
}

/// Whether an `io::Error` of kind `ConnectionRefused` is in `error`'s source chain.
fn refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
                continue;
            }
        }
        current = e.source();
    }
    false
}

/// The first error of type `E` in `error`'s source chain, looking inside `io::Error`s too (their
/// `source()` skips the error they wrap).
fn find_source<'a, E: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a E> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|inner| inner as &(dyn std::error::Error + 'static));
        current = wrapped.or_else(|| e.source());
    }
    None
}

/// A short transport description without URLs that might carry credentials.
pub(super) fn transport_detail(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "connection failed"
    } else if error.is_body() || error.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    match std::error::Error::source(error) {
        Some(source) => format!("{kind}: {source}"),
        None => kind.to_string(),
    }
}
