//! Why a reference or digest was rejected, and how much of the input a message repeats.

/// How much of a rejected input an error message repeats.
const QUOTE_MAX_CHARS: usize = 200;

/// Why a reference or digest was rejected. Every message quotes the input.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing was given.
    #[error("image reference is empty")]
    Empty,
    /// Spaces, tabs or newlines around the reference.
    #[error("image reference {input:?} has leading or trailing whitespace")]
    Whitespace {
        /// The rejected input (shortened if very long).
        input: String,
    },
    /// A URL such as `https://registry.example/app`.
    #[error(
        "image reference {input:?} must not start with a URL scheme such as \"https://\"; \
         write registry/repository[:tag][@digest]"
    )]
    Scheme {
        /// The rejected input (shortened if very long).
        input: String,
    },
    /// A bare image ID (`<64 hex>` or `sha256:<hex>`), which names no repository.
    #[error(
        "{input:?} is an image ID, not a reference; name the repository, \
         as in registry.example/app@sha256:<hex>"
    )]
    ImageId {
        /// The rejected input (shortened if very long).
        input: String,
    },
    /// Only a tag or digest, no repository (`:tag`, `@sha256:…`).
    #[error("image reference {input:?} has no repository name")]
    MissingName {
        /// The rejected input (shortened if very long).
        input: String,
    },
    /// An `@` with nothing after it.
    #[error("image reference {input:?} has '@' but no digest after it")]
    MissingDigest {
        /// The rejected input (shortened if very long).
        input: String,
    },
    /// A digest of a known algorithm, but malformed.
    #[error("invalid digest {digest:?}{}: {reason}", in_reference(.input, .digest))]
    InvalidDigest {
        /// The whole input the digest came from (shortened if very long).
        input: String,
        /// The digest part (shortened if very long).
        digest: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A digest algorithm other than sha256 or sha512.
    #[error(
        "unsupported digest algorithm {algorithm:?} in {digest:?}{}: \
         only sha256 and sha512 are accepted",
        in_reference(.input, .digest)
    )]
    UnsupportedDigestAlgorithm {
        /// The whole input the digest came from (shortened if very long).
        input: String,
        /// The digest part (shortened if very long).
        digest: String,
        /// The algorithm named before the `:`.
        algorithm: String,
    },
    /// A tag outside `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
    #[error(
        "invalid tag {tag:?} in image reference {input:?}: a tag has 1 to 128 letters, digits, \
         '_', '.' or '-' and does not start with '.' or '-'"
    )]
    InvalidTag {
        /// The rejected input (shortened if very long).
        input: String,
        /// The tag part (shortened if very long).
        tag: String,
    },
    /// Uppercase letters in the repository path.
    #[error("repository name {repository:?} in image reference {input:?} must be lowercase")]
    Uppercase {
        /// The rejected input (shortened if very long).
        input: String,
        /// The repository path (shortened if very long).
        repository: String,
    },
    /// A registry that is not `host[:port]`.
    #[error(
        "invalid registry {registry:?} in image reference {input:?}: a registry is a host name, \
         an IPv4 address or a bracketed IPv6 address, with an optional numeric port"
    )]
    InvalidRegistry {
        /// The rejected input (shortened if very long).
        input: String,
        /// The registry part (shortened if very long).
        registry: String,
    },
    /// A repository path outside the path-component grammar.
    #[error(
        "invalid repository name {repository:?} in image reference {input:?}: a repository is \
         '/'-separated components of lowercase letters and digits, joined inside a component \
         by one '.', one or two '_', or dashes"
    )]
    InvalidRepository {
        /// The rejected input (shortened if very long).
        input: String,
        /// The repository path (shortened if very long).
        repository: String,
    },
    /// `registry/repository` longer than 255 characters.
    #[error(
        "image reference {input:?} names a repository of {length} characters \
         (registry included); at most 255 are allowed"
    )]
    NameTooLong {
        /// The rejected input (shortened if very long).
        input: String,
        /// Length of the normalised `registry/repository`.
        length: usize,
    },
}

/// ` in image reference "…"` when the digest was part of a larger input.
fn in_reference(input: &str, digest: &str) -> String {
    if input == digest {
        String::new()
    } else {
        format!(" in image reference {input:?}")
    }
}

/// The input as an error message repeats it: at most [`QUOTE_MAX_CHARS`] characters. Also
/// for other text from outside that a message quotes.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX_CHARS) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}
