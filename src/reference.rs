//! Image references, parsed and normalised the way container runtimes read them.
//!
//! This module owns the grammar of `name[:tag][@digest]` (the rules of
//! github.com/distribution/reference, `ParseNormalizedNamed`) and the [`Digest`] type. It
//! turns what a person wrote (`nginx`) into what a runtime pulls
//! (`docker.io/library/nginx:latest`), so that policy matching and signature lookup see the
//! same repository the kubelet will. It makes no network calls.
//!
//! Where upstream is loose and a runtime would still pull something, this parser is strict
//! and returns an error instead (an error can only ever become a denial):
//! - the first path component is taken as the registry only if it is one (it contains `.` or
//!   `:`, is `localhost`, or has uppercase letters); it must then be a valid host, where
//!   upstream would quietly fall back to a registry-less name (`foo_bar.com/app`);
//! - a bare `sha256:<hex>` is an image ID, not the repository `library/sha256`;
//! - digests are `sha256` or `sha512` only;
//! - the whole normalised name (`registry/repository`) is at most 255 characters.
//!
//! One normalisation goes further than upstream: registry host names are lowercased
//! (`GHCR.IO/app` is `ghcr.io/app`, `DOCKER.IO/nginx` is `docker.io/library/nginx`), because DNS
//! ignores case and a runtime pulls `GHCR.IO/app` from `ghcr.io`; a policy written for `ghcr.io`
//! must cover it. Only a single-label host such as `Foo` keeps its case, since `foo/bar` would
//! name a Docker Hub repository.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// The registry Docker Hub images are normalised to.
const DEFAULT_REGISTRY: &str = "docker.io";
/// Docker Hub's legacy name, normalised to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
/// The tag a reference without tag or digest gets.
const DEFAULT_TAG: &str = "latest";
/// Longest allowed `registry/repository`.
const NAME_MAX_LEN: usize = 255;
/// Longest allowed tag.
const TAG_MAX_LEN: usize = 128;
/// Docker Hub's names: containerd's resolver reaches `docker.io` at `registry-1.docker.io`, and
/// `index.docker.io` is its legacy name; all three are one registry.
const DOCKER_HUB_NAMES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
/// HTTPS's default port: `https://host:443/v2/` is `https://host/v2/`.
const HTTPS_DEFAULT_PORT: &str = ":443";
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

/// A content digest, validated: `sha256:` + exactly 64 lowercase hex, or `sha512:` + exactly
/// 128 lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, ParseError> {
        parse_digest(s, s)
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The digest as written: `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm: `sha256` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.split().0
    }

    /// The lowercase hex encoding of the hash.
    pub fn hex(&self) -> &str {
        self.split().1
    }

    /// `sha256-<hex>`: the tag prefix cosign uses for `.sig`/`.att` and the referrers tag schema.
    pub fn tag_prefix(&self) -> String {
        format!("{}-{}", self.algorithm(), self.hex())
    }

    /// Does `bytes` hash to this digest (supports sha256 and sha512)?
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let actual = match self.algorithm() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => return false,
        };
        actual == self.hex()
    }

    /// The 32 hash bytes of a sha256 digest (`None` for other algorithms): how the verdict
    /// cache holds digests, at a third of the text's size.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        let mut bytes = [0u8; 32];
        match self.algorithm() {
            "sha256" => hex::decode_to_slice(self.hex(), &mut bytes)
                .ok()
                .map(|()| bytes),
            _ => None,
        }
    }

    /// The sha256 digest whose hash bytes are `bytes`.
    pub fn from_sha256_bytes(bytes: &[u8; 32]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    fn split(&self) -> (&str, &str) {
        self.0.split_once(':').unwrap_or((self.0.as_str(), ""))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The hex length an algorithm's digest has, for the algorithms we accept.
fn hex_len(algorithm: &str) -> Option<usize> {
    match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    }
}

fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `digest`, naming `input` (the whole reference) in errors.
fn parse_digest(input: &str, digest: &str) -> Result<Digest, ParseError> {
    let invalid = |reason: String| ParseError::InvalidDigest {
        input: clip(input),
        digest: clip(digest),
        reason,
    };
    let Some((algorithm, hex)) = digest.split_once(':').filter(|(a, _)| !a.is_empty()) else {
        return Err(invalid(
            "expected <algorithm>:<hex>, as in sha256:<64 hex>".into(),
        ));
    };
    let Some(expected) = hex_len(algorithm) else {
        return Err(ParseError::UnsupportedDigestAlgorithm {
            input: clip(input),
            digest: clip(digest),
            algorithm: clip(algorithm),
        });
    };
    if hex.len() != expected {
        let found = hex.chars().count();
        return Err(invalid(format!(
            "{algorithm} needs exactly {expected} hex characters, found {found}"
        )));
    }
    if !is_lower_hex(hex) {
        return Err(invalid(
            "the hex part may only hold 0-9 and a-f (lowercase)".into(),
        ));
    }
    Ok(Digest(digest.to_owned()))
}

/// An image reference, normalised: `registry/repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageReference {
    /// Parses and normalises a reference as a container runtime does: `nginx` becomes
    /// `docker.io/library/nginx:latest`; `name:tag@digest` keeps both.
    pub fn parse(s: &str) -> Result<ImageReference, ParseError> {
        check_whole(s)?;
        let (rest, digest) = split_digest(s)?;
        let (name, tag) = split_tag(s, rest)?;
        let (registry, repository) = normalise_name(s, name)?;
        let tag = match (tag, &digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag.map(str::to_owned),
        };
        Ok(ImageReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The registry host and optional port after normalisation: `docker.io`, `ghcr.io`,
    /// `127.0.0.1:5000`, `localhost:5000`, `[::1]:5000`. Lowercase, except a single-label
    /// uppercase host such as `Foo` (see the module docs).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path within the registry: `library/nginx`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag; `None` only when a digest was given without a tag.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, when one was given. It is what a runtime pulls, whatever the tag says.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `registry/repository`, without tag or digest: `docker.io/library/nginx`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// `registry/repository` with the registry named as the runtimes reach it, for policy
    /// matching: Docker Hub's other names (`registry-1.docker.io`, `index.docker.io`) are
    /// `docker.io` (where a one-segment repository is an official image, `library/...`), and an
    /// explicit HTTPS default port is dropped (`ghcr.io:443` is `ghcr.io`). The reference itself
    /// keeps the name as written, which is what Signet reads from and what signatures name.
    pub fn canonical_name(&self) -> String {
        let registry = same_registry(&self.registry);
        match registry == DEFAULT_REGISTRY && !self.repository.contains('/') {
            true => format!("{registry}/{OFFICIAL_PREFIX}{}", self.repository),
            false => format!("{registry}/{}", self.repository),
        }
    }

    /// The same reference pinned to `digest`; the tag, if any, is kept.
    pub fn with_digest(&self, digest: Digest) -> ImageReference {
        ImageReference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// `name:tag` with no digest, as used for cosign's `sha256-<hex>.sig` tags.
    pub fn with_tag(&self, tag: &str) -> Result<ImageReference, ParseError> {
        if !is_valid_tag(tag) {
            return Err(ParseError::InvalidTag {
                input: clip(&format!("{}:{tag}", self.name())),
                tag: clip(tag),
            });
        }
        Ok(ImageReference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same tag and digest in another repository, for mirrors. The registry must read as
    /// a registry when the result is printed and parsed again (so `mirror.local` or
    /// `mirror:5000`, not `mirror`); Docker Hub names are normalised as in [`Self::parse`].
    pub fn with_name(
        &self,
        registry: &str,
        repository: &str,
    ) -> Result<ImageReference, ParseError> {
        let input = format!("{registry}/{repository}");
        check_whole(&input)?;
        let (registry_found, repository) = normalise_name(&input, &input)?;
        if registry_found != canonical_registry(registry) {
            return Err(ParseError::InvalidRegistry {
                input: clip(&input),
                registry: clip(registry),
            });
        }
        Ok(ImageReference {
            registry: registry_found,
            repository,
            ..self.clone()
        })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageReference {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ImageReference::parse(s)
    }
}

/// Checks that concern the input as a whole, before it is split.
fn check_whole(s: &str) -> Result<(), ParseError> {
    if s.is_empty() {
        return Err(ParseError::Empty);
    }
    if s.trim() != s {
        return Err(ParseError::Whitespace { input: clip(s) });
    }
    if s.contains("://") {
        return Err(ParseError::Scheme { input: clip(s) });
    }
    if is_image_id(s) {
        return Err(ParseError::ImageId { input: clip(s) });
    }
    Ok(())
}

/// `<64 lowercase hex>` (upstream's identifier), or a bare `sha256:`/`sha512:` digest-like
/// string that upstream would read as the repository `library/sha256` with a hex tag.
fn is_image_id(s: &str) -> bool {
    if s.len() == 64 && is_lower_hex(s) {
        return true;
    }
    match s.split_once(':') {
        Some((algorithm, hex)) => {
            hex_len(algorithm).is_some()
                && hex.len() >= 32
                && hex.bytes().all(|b| b.is_ascii_hexdigit())
        }
        None => false,
    }
}

/// Splits off `@digest`: the first `@` ends the name, as neither name nor tag holds one.
fn split_digest(input: &str) -> Result<(&str, Option<Digest>), ParseError> {
    match input.split_once('@') {
        None => Ok((input, None)),
        Some((_, "")) => Err(ParseError::MissingDigest { input: clip(input) }),
        Some((rest, digest)) => Ok((rest, Some(parse_digest(input, digest)?))),
    }
}

/// Splits off `:tag`: the last `:` starts a tag unless a `/` follows it (then it is a port).
fn split_tag<'a>(input: &str, rest: &'a str) -> Result<(&'a str, Option<&'a str>), ParseError> {
    let Some((name, tag)) = rest.rsplit_once(':') else {
        return Ok((rest, None));
    };
    if tag.contains('/') {
        return Ok((rest, None));
    }
    if !is_valid_tag(tag) {
        return Err(ParseError::InvalidTag {
            input: clip(input),
            tag: clip(tag),
        });
    }
    Ok((name, Some(tag)))
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            bytes.len() <= TAG_MAX_LEN
                && word(*first)
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

/// Applies Docker's normalisation to `name` and validates the result.
fn normalise_name(input: &str, name: &str) -> Result<(String, String), ParseError> {
    if name.is_empty() {
        return Err(ParseError::MissingName { input: clip(input) });
    }
    let (registry, repository) = split_registry(name);
    validate_name(input, &registry, &repository)?;
    Ok((registry, repository))
}

/// Docker's `splitDockerDomain`: which part is the registry, and the Docker Hub defaults.
fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (canonical_registry(first), rest),
        _ => (DEFAULT_REGISTRY.to_owned(), name),
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_owned()
    };
    (registry, repository)
}

/// Is the first component of a name a registry rather than a path component?
fn looks_like_registry(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// A registry as it is kept: host names lowercased (DNS ignores case, so `GHCR.IO` is the
/// host `ghcr.io`, and a policy for `ghcr.io` must see it), and Docker Hub's legacy name mapped
/// to `docker.io`. A single label such as `Foo` keeps its case: lowercased it would no longer
/// read as a registry when printed and parsed again.
fn canonical_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    if lower == LEGACY_DEFAULT_REGISTRY {
        DEFAULT_REGISTRY.to_owned()
    } else if lower != registry && looks_like_registry(&lower) {
        lower
    } else {
        registry.to_owned()
    }
}

/// The registry `registry` (`host[:port]`, as parsed) is to a runtime that reaches it over
/// HTTPS: without the default port `:443`, and `docker.io` for Docker Hub's other names. Other
/// ports are other registries (`host:80` is `host` only over plain HTTP, which a name alone
/// does not say), so they stay.
pub fn same_registry(registry: &str) -> String {
    let host = registry
        .strip_suffix(HTTPS_DEFAULT_PORT)
        .unwrap_or(registry);
    let lower = host.to_ascii_lowercase();
    if DOCKER_HUB_NAMES.contains(&lower.as_str()) {
        DEFAULT_REGISTRY.to_owned()
    } else {
        host.to_owned()
    }
}

fn validate_name(input: &str, registry: &str, repository: &str) -> Result<(), ParseError> {
    if !is_valid_registry(registry) {
        return Err(ParseError::InvalidRegistry {
            input: clip(input),
            registry: clip(registry),
        });
    }
    validate_repository(input, repository)?;
    let length = registry.len() + 1 + repository.len();
    if length > NAME_MAX_LEN {
        return Err(ParseError::NameTooLong {
            input: clip(input),
            length,
        });
    }
    Ok(())
}

fn validate_repository(input: &str, repository: &str) -> Result<(), ParseError> {
    if is_valid_path(repository) {
        return Ok(());
    }
    let error = if is_valid_path(&repository.to_ascii_lowercase()) {
        ParseError::Uppercase {
            input: clip(input),
            repository: clip(repository),
        }
    } else {
        ParseError::InvalidRepository {
            input: clip(input),
            repository: clip(repository),
        }
    };
    Err(error)
}

/// `host[:port]`: a domain name, an IPv4 address or `[ipv6]`, then optional `:digits`.
fn is_valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ipv6, rest)) => (Host::Ipv6(ipv6), rest),
            None => return false,
        },
        None => match registry.find(':') {
            Some(i) => (Host::Name(&registry[..i]), &registry[i..]),
            None => (Host::Name(registry), ""),
        },
    };
    host.is_valid() && is_valid_port_suffix(port)
}

/// The host part of a registry.
enum Host<'a> {
    Name(&'a str),
    Ipv6(&'a str),
}

impl Host<'_> {
    fn is_valid(&self) -> bool {
        match self {
            Host::Name(name) => name.split('.').all(is_valid_domain_component),
            Host::Ipv6(address) => {
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            }
        }
    }
}

/// Empty, or `:` and one or more digits.
fn is_valid_port_suffix(suffix: &str) -> bool {
    match suffix.strip_prefix(':') {
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => suffix.is_empty(),
    }
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_valid_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        _ => false,
    }
}

/// One or more path components joined by `/`.
fn is_valid_path(path: &str) -> bool {
    path.split('/').all(is_valid_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let lower_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.first().is_some_and(lower_alnum)
        && bytes.last().is_some_and(lower_alnum)
        && component
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .filter(|run| !run.is_empty())
            .all(is_separator)
}

/// `[._]|__|[-]+`.
fn is_separator(run: &str) -> bool {
    matches!(run, "." | "_" | "__") || run.bytes().all(|b| b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX_F: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
    const EMPTY_SHA256: &str =
        "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parse(input: &str) -> ImageReference {
        ImageReference::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
    }

    fn parse_err(input: &str) -> ParseError {
        match ImageReference::parse(input) {
            Ok(r) => panic!("{input:?} should be rejected, parsed as {r}"),
            Err(e) => e,
        }
    }

    /// Asserts registry, repository, tag and digest of `input`.
    fn check(
        input: &str,
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) {
        let r = parse(input);
        assert_eq!(r.registry(), registry, "registry of {input:?}");
        assert_eq!(r.repository(), repository, "repository of {input:?}");
        assert_eq!(r.tag(), tag, "tag of {input:?}");
        assert_eq!(
            r.digest().map(Digest::as_str),
            digest,
            "digest of {input:?}"
        );
    }

    /// Input, registry, repository, tag, digest.
    type Expected<'a> = (String, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

    /// Is this the error an input should give?
    type ErrorCheck = fn(&ParseError) -> bool;

    fn sha256_f() -> String {
        format!("sha256:{HEX_F}")
    }

    // ---- Digest ------------------------------------------------------------------------

    #[test]
    fn digest_accepts_sha256_and_sha512() {
        let d = Digest::parse(&sha256_f()).unwrap();
        assert_eq!(d.algorithm(), "sha256");
        assert_eq!(d.hex(), HEX_F);
        assert_eq!(d.as_str(), sha256_f());
        let long = format!("sha512:{}", "f".repeat(128));
        let d = Digest::parse(&long).unwrap();
        assert_eq!(d.algorithm(), "sha512");
        assert_eq!(d.hex().len(), 128);
    }

    #[test]
    fn digest_rejects_malformed_values() {
        let upper = format!("sha256:{}", HEX_F.to_uppercase());
        let short = format!("sha256:{}", &HEX_F[..63]);
        let long = format!("sha256:{HEX_F}f");
        let sha512_short = format!("sha512:{HEX_F}");
        let non_hex = format!("sha256:{}g", &HEX_F[..63]);
        let multibyte = format!("sha256:{}é", &HEX_F[..62]);
        for bad in [
            "",
            "sha256",
            "sha256:",
            ":",
            ":abc",
            "sha256:../x",
            "sha256:../../etc/passwd",
            &upper,
            &short,
            &long,
            &sha512_short,
            &non_hex,
            &multibyte,
        ] {
            assert!(
                matches!(Digest::parse(bad), Err(ParseError::InvalidDigest { .. })),
                "{bad:?} -> {:?}",
                Digest::parse(bad)
            );
        }
    }

    #[test]
    fn digest_rejects_unknown_algorithms() {
        for algorithm in [
            "md5",
            "sha1",
            "sha384",
            "SHA256",
            "sha256+b64",
            "invaliddigest",
        ] {
            let input = format!("{algorithm}:{HEX_F}");
            let err = Digest::parse(&input).unwrap_err();
            assert!(
                matches!(err, ParseError::UnsupportedDigestAlgorithm { .. }),
                "{input:?} -> {err:?}"
            );
        }
    }

    #[test]
    fn digest_of_bytes_and_matching() {
        let d = Digest::sha256_of(b"");
        assert_eq!(d.as_str(), EMPTY_SHA256);
        assert!(d.matches(b""));
        assert!(!d.matches(b"x"));
        let hello = Digest::parse(
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        )
        .unwrap();
        assert!(hello.matches(b"hello"));
        assert_eq!(Digest::sha256_of(b"hello"), hello);
        let hello512 = Digest::parse(
            "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7\
             2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
        )
        .unwrap();
        assert!(hello512.matches(b"hello"));
        assert!(!hello512.matches(b"hello!"));
    }

    #[test]
    fn digest_tag_prefix_display_fromstr_and_serialize() {
        let d: Digest = EMPTY_SHA256.parse().unwrap();
        assert_eq!(
            d.tag_prefix(),
            "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(d.to_string(), EMPTY_SHA256);
        assert_eq!(
            serde_json::to_string(&d).unwrap(),
            format!("\"{EMPTY_SHA256}\"")
        );
    }

    #[test]
    fn digest_error_names_the_digest_and_the_reference() {
        let err = Digest::parse("sha256:abc").unwrap_err().to_string();
        assert!(err.contains("\"sha256:abc\""), "{err}");
        assert!(err.contains("64"), "{err}");
        assert!(!err.contains("image reference"), "{err}");
        let err = parse_err("nginx@sha256:abc").to_string();
        assert!(err.contains("\"nginx@sha256:abc\""), "{err}");
    }

    // ---- normalisation (the brief's cases) ---------------------------------------------

    #[test]
    fn familiar_name_normalises_to_docker_hub_library_latest() {
        let r = parse("nginx");
        assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
        assert_eq!(r.name(), "docker.io/library/nginx");
    }

    #[test]
    fn docker_hub_spellings_normalise_to_one_name() {
        for input in [
            "nginx",
            "library/nginx",
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/nginx",
            "index.docker.io/library/nginx",
        ] {
            assert_eq!(parse(input).name(), "docker.io/library/nginx", "{input:?}");
        }
    }

    #[test]
    fn lookalike_registry_keeps_its_host() {
        check(
            "docker.io.evil.com/nginx",
            "docker.io.evil.com",
            "nginx",
            Some("latest"),
            None,
        );
        check(
            "evil.com/library/nginx",
            "evil.com",
            "library/nginx",
            Some("latest"),
            None,
        );
        check(
            "docker.io:443/nginx",
            "docker.io:443",
            "nginx",
            Some("latest"),
            None,
        );
    }

    #[test]
    fn registry_host_names_are_lowercased() {
        check("GHCR.IO/org/app:v1", "ghcr.io", "org/app", Some("v1"), None);
        check(
            "Asdf.com/foo/bar",
            "asdf.com",
            "foo/bar",
            Some("latest"),
            None,
        );
        check(
            "DOCKER.IO/nginx",
            "docker.io",
            "library/nginx",
            Some("latest"),
            None,
        );
        check(
            "Index.Docker.IO/nginx",
            "docker.io",
            "library/nginx",
            Some("latest"),
            None,
        );
        check("LOCALHOST/a", "localhost", "a", Some("latest"), None);
        check(
            "Registry:5000/a",
            "registry:5000",
            "a",
            Some("latest"),
            None,
        );
        check(
            "[FE80::1]:5000/a",
            "[fe80::1]:5000",
            "a",
            Some("latest"),
            None,
        );
        // A single label keeps its case: "foo/bar" would be a Docker Hub repository.
        check("Foo/bar", "Foo", "bar", Some("latest"), None);
        assert_eq!(parse("Foo/bar").to_string(), "Foo/bar:latest");
        // The repository path stays case-sensitive, and uppercase there is an error.
        assert!(matches!(
            parse_err("ghcr.io/Org/app"),
            ParseError::Uppercase { .. }
        ));
        let mirror = parse("nginx").with_name("MIRROR.example", "nginx").unwrap();
        assert_eq!(mirror.registry(), "mirror.example");
    }

    #[test]
    fn local_registries_with_ports() {
        check(
            "localhost:5000/a/b:t",
            "localhost:5000",
            "a/b",
            Some("t"),
            None,
        );
        check("localhost/a", "localhost", "a", Some("latest"), None);
        check(
            "127.0.0.1:5000/demo/hello:v1",
            "127.0.0.1:5000",
            "demo/hello",
            Some("v1"),
            None,
        );
        check(
            "[::1]:5000/repo",
            "[::1]:5000",
            "repo",
            Some("latest"),
            None,
        );
    }

    #[test]
    fn tag_and_digest_are_both_kept() {
        let input = format!("repo:tag@{}", sha256_f());
        check(
            &input,
            "docker.io",
            "library/repo",
            Some("tag"),
            Some(&sha256_f()),
        );
        assert_eq!(
            parse(&input).to_string(),
            format!("docker.io/library/{input}")
        );
    }

    #[test]
    fn digest_without_tag_has_no_tag() {
        let input = format!("ghcr.io/o/r@{}", sha256_f());
        check(&input, "ghcr.io", "o/r", None, Some(&sha256_f()));
        assert_eq!(parse(&input).to_string(), input);
    }

    #[test]
    fn rejects_whitespace_empty_schemes_and_dangling_at() {
        assert_eq!(parse_err(""), ParseError::Empty);
        for input in [" nginx", "nginx ", "\tnginx", "nginx\n", " ", "\u{a0}nginx"] {
            assert!(
                matches!(parse_err(input), ParseError::Whitespace { .. }),
                "{input:?}"
            );
        }
        for input in [
            "https://ghcr.io/o/r",
            "http://localhost:5000/a",
            "oci://x/y",
            "docker://nginx",
        ] {
            assert!(
                matches!(parse_err(input), ParseError::Scheme { .. }),
                "{input:?}"
            );
        }
        for input in ["nginx@", "ghcr.io/o/r:tag@"] {
            assert!(
                matches!(parse_err(input), ParseError::MissingDigest { .. }),
                "{input:?}"
            );
        }
        for input in ["nginx in between", "ng inx", "nginx:la test"] {
            assert!(ImageReference::parse(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn rejects_image_ids() {
        let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
        assert!(matches!(parse_err(id), ParseError::ImageId { .. }));
        assert!(matches!(
            parse_err(&format!("sha256:{id}")),
            ParseError::ImageId { .. }
        ));
        let sha512 = format!("sha512:{id}{id}");
        assert!(matches!(parse_err(&sha512), ParseError::ImageId { .. }));
        let upper = format!("sha256:{}", id.to_uppercase());
        assert!(matches!(parse_err(&upper), ParseError::ImageId { .. }));
        let message = parse_err(id).to_string();
        assert!(
            message.contains(id) && message.contains("image ID"),
            "{message}"
        );
    }

    #[test]
    fn rejects_bad_digests_in_references() {
        let cases = [
            format!("nginx@sha256:{}", HEX_F.to_uppercase()),
            format!("nginx@sha256:{}", &HEX_F[..63]),
            "nginx@sha256:../x".to_owned(),
            format!("nginx@md5:{HEX_F}"),
            format!("nginx@{HEX_F}"),
            format!("nginx@sha256:{HEX_F}@sha256:{HEX_F}"),
        ];
        for input in &cases {
            let err = parse_err(input);
            assert!(
                matches!(
                    err,
                    ParseError::InvalidDigest { .. }
                        | ParseError::UnsupportedDigestAlgorithm { .. }
                ),
                "{input:?} -> {err:?}"
            );
        }
    }

    #[test]
    fn error_messages_quote_the_input_and_stay_short() {
        let err = parse_err("docker/Docker").to_string();
        assert!(
            err.contains("\"docker/Docker\"") && err.contains("lowercase"),
            "{err}"
        );
        let huge = format!("{}\u{1F433}", "A".repeat(100_000));
        let err = parse_err(&huge).to_string();
        assert!(err.len() < 1_000, "message is {} bytes", err.len());
        let control = parse_err("ng\u{0}inx\n:x").to_string();
        assert!(
            !control.contains('\u{0}') && !control.contains('\n'),
            "{control:?}"
        );
    }

    // ---- with_* ------------------------------------------------------------------------

    #[test]
    fn with_digest_keeps_tag_and_replaces_digest() {
        let d = Digest::sha256_of(b"");
        let r = parse("ghcr.io/o/r:v1").with_digest(d.clone());
        assert_eq!(r.to_string(), format!("ghcr.io/o/r:v1@{EMPTY_SHA256}"));
        let other = Digest::parse(&sha256_f()).unwrap();
        let r = r.with_digest(other.clone());
        assert_eq!(r.digest(), Some(&other));
        assert_eq!(r.tag(), Some("v1"));
        let untagged = parse(&format!("ghcr.io/o/r@{}", sha256_f())).with_digest(d);
        assert_eq!(untagged.to_string(), format!("ghcr.io/o/r@{EMPTY_SHA256}"));
    }

    #[test]
    fn with_tag_builds_cosign_signature_tags() {
        let d = Digest::sha256_of(b"");
        let base = parse(&format!("ghcr.io/o/r:v1@{}", sha256_f()));
        let sig = base.with_tag(&format!("{}.sig", d.tag_prefix())).unwrap();
        assert_eq!(
            sig.to_string(),
            "ghcr.io/o/r:sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
        );
        assert_eq!(sig.digest(), None);
        assert_eq!(parse(&sig.to_string()), sig);
        // Upstream TestWithTag.
        assert_eq!(
            parse("test.com/foo").with_tag("tag").unwrap().to_string(),
            "test.com/foo:tag"
        );
        assert_eq!(
            parse("foo").with_tag("tag2").unwrap().to_string(),
            "docker.io/library/foo:tag2"
        );
        assert_eq!(
            parse("test.com:8000/foo")
                .with_tag("TAG5")
                .unwrap()
                .to_string(),
            "test.com:8000/foo:TAG5"
        );
        // Upstream TestInvalidReferenceComponents.
        for bad in ["-foo", "", ".x", "a/b", "a:b", "a@b", &"a".repeat(129)] {
            assert!(
                matches!(base.with_tag(bad), Err(ParseError::InvalidTag { .. })),
                "{bad:?}"
            );
        }
        assert!(base.with_tag(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn with_name_moves_tag_and_digest_to_a_mirror() {
        let input = format!("nginx:1.27@{}", sha256_f());
        let r = parse(&input);
        let m = r
            .with_name("mirror.example:5000", "dockerhub/library/nginx")
            .unwrap();
        assert_eq!(
            m.to_string(),
            format!(
                "mirror.example:5000/dockerhub/library/nginx:1.27@{}",
                sha256_f()
            )
        );
        let hub = parse("ghcr.io/o/r:v1")
            .with_name("index.docker.io", "nginx")
            .unwrap();
        assert_eq!(hub.to_string(), "docker.io/library/nginx:v1");
        assert_eq!(parse(&m.to_string()), m);
    }

    #[test]
    fn with_name_rejects_what_would_not_round_trip() {
        let r = parse("nginx");
        for (registry, repository) in [
            ("mirror", "nginx"),
            ("", "nginx"),
            ("mirror.example", ""),
            ("mirror.example", "Nginx"),
            ("mirror.example", "a:b"),
            ("mirror.example", "a@b"),
            ("mirror.example/x", "a"),
            ("bad_host.example", "a"),
            ("https://mirror.example", "a"),
            (" mirror.example", "a"),
        ] {
            assert!(
                r.with_name(registry, repository).is_err(),
                "{registry:?} {repository:?}"
            );
        }
    }

    // ---- distribution/reference reference_test.go: TestReferenceParse ------------------
    // Upstream runs `Parse` (no normalisation); the expectations below are what
    // `ParseNormalizedNamed` + `TagNameOnly` give for the same inputs.

    #[test]
    fn upstream_reference_parse_valid() {
        let d = sha256_f();
        let d512 = format!("sha512:{}", "f".repeat(128));
        let cases: Vec<Expected> = vec![
            (
                "test_com".into(),
                "docker.io",
                "library/test_com",
                Some("latest"),
                None,
            ),
            (
                "test.com:tag".into(),
                "docker.io",
                "library/test.com",
                Some("tag"),
                None,
            ),
            (
                "test.com:5000".into(),
                "docker.io",
                "library/test.com",
                Some("5000"),
                None,
            ),
            (
                "test.com/repo:tag".into(),
                "test.com",
                "repo",
                Some("tag"),
                None,
            ),
            (
                "test:5000/repo".into(),
                "test:5000",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "test:5000/repo:tag".into(),
                "test:5000",
                "repo",
                Some("tag"),
                None,
            ),
            (
                format!("test:5000/repo@{d}"),
                "test:5000",
                "repo",
                None,
                Some(&d),
            ),
            (
                format!("test:5000/repo:tag@{d}"),
                "test:5000",
                "repo",
                Some("tag"),
                Some(&d),
            ),
            (
                "lowercase:Uppercase".into(),
                "docker.io",
                "library/lowercase",
                Some("Uppercase"),
                None,
            ),
            (
                "sub-dom1.foo.com/bar/baz/quux".into(),
                "sub-dom1.foo.com",
                "bar/baz/quux",
                Some("latest"),
                None,
            ),
            (
                "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(),
                "sub-dom1.foo.com",
                "bar/baz/quux",
                Some("some-long-tag"),
                None,
            ),
            (
                "b.gcr.io/test.example.com/my-app:test.example.com".into(),
                "b.gcr.io",
                "test.example.com/my-app",
                Some("test.example.com"),
                None,
            ),
            (
                "xn--n3h.com/myimage:xn--n3h.com".into(),
                "xn--n3h.com",
                "myimage",
                Some("xn--n3h.com"),
                None,
            ),
            (
                format!("xn--7o8h.com/myimage:xn--7o8h.com@{d512}"),
                "xn--7o8h.com",
                "myimage",
                Some("xn--7o8h.com"),
                Some(&d512),
            ),
            (
                "foo_bar.com:8080".into(),
                "docker.io",
                "library/foo_bar.com",
                Some("8080"),
                None,
            ),
            (
                "foo/foo_bar.com:8080".into(),
                "docker.io",
                "foo/foo_bar.com",
                Some("8080"),
                None,
            ),
            (
                "192.168.1.1".into(),
                "docker.io",
                "library/192.168.1.1",
                Some("latest"),
                None,
            ),
            (
                "192.168.1.1:tag".into(),
                "docker.io",
                "library/192.168.1.1",
                Some("tag"),
                None,
            ),
            (
                "192.168.1.1:5000".into(),
                "docker.io",
                "library/192.168.1.1",
                Some("5000"),
                None,
            ),
            (
                "192.168.1.1/repo".into(),
                "192.168.1.1",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "192.168.1.1:5000/repo".into(),
                "192.168.1.1:5000",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "192.168.1.1:5000/repo:5050".into(),
                "192.168.1.1:5000",
                "repo",
                Some("5050"),
                None,
            ),
            (
                "[2001:db8::1]/repo".into(),
                "[2001:db8::1]",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "[2001:db8:1:2:3:4:5:6]/repo:tag".into(),
                "[2001:db8:1:2:3:4:5:6]",
                "repo",
                Some("tag"),
                None,
            ),
            (
                "[2001:db8::1]:5000/repo".into(),
                "[2001:db8::1]:5000",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "[2001:db8::1]:5000/repo:tag".into(),
                "[2001:db8::1]:5000",
                "repo",
                Some("tag"),
                None,
            ),
            (
                format!("[2001:db8::1]:5000/repo@{d}"),
                "[2001:db8::1]:5000",
                "repo",
                None,
                Some(&d),
            ),
            (
                format!("[2001:db8::1]:5000/repo:tag@{d}"),
                "[2001:db8::1]:5000",
                "repo",
                Some("tag"),
                Some(&d),
            ),
            (
                "[2001:db8::]:5000/repo".into(),
                "[2001:db8::]:5000",
                "repo",
                Some("latest"),
                None,
            ),
            (
                "[::1]:5000/repo".into(),
                "[::1]:5000",
                "repo",
                Some("latest"),
                None,
            ),
        ];
        for (input, registry, repository, tag, digest) in &cases {
            check(input, registry, repository, *tag, *digest);
        }
    }

    #[test]
    fn upstream_reference_parse_invalid() {
        let d = sha256_f();
        let cases: Vec<(String, ErrorCheck)> = vec![
            ("".into(), |e| *e == ParseError::Empty),
            (":justtag".into(), |e| {
                matches!(e, ParseError::MissingName { .. })
            }),
            (format!("@{d}"), |e| {
                matches!(e, ParseError::MissingName { .. })
            }),
            (
                "repo@sha256:ffffffffffffffffffffffffffffffffff".into(),
                |e| matches!(e, ParseError::InvalidDigest { .. }),
            ),
            (format!("validname@invaliddigest:{HEX_F}"), |e| {
                matches!(e, ParseError::UnsupportedDigestAlgorithm { .. })
            }),
            ("Uppercase:tag".into(), |e| {
                matches!(e, ParseError::Uppercase { .. })
            }),
            ("test:5000/Uppercase/lowercase:tag".into(), |e| {
                matches!(e, ParseError::Uppercase { .. })
            }),
            (format!("{}a:tag", "a/".repeat(128)), |e| {
                matches!(e, ParseError::NameTooLong { .. })
            }),
            ("aa/asdf$$^/aa".into(), |e| {
                matches!(e, ParseError::InvalidRepository { .. })
            }),
            ("[2001:db8::1]".into(), |e| {
                matches!(e, ParseError::InvalidTag { .. })
            }),
            ("[2001:db8::1]:5000".into(), |e| {
                matches!(e, ParseError::InvalidRepository { .. })
            }),
            ("[2001:db8::1]:tag".into(), |e| {
                matches!(e, ParseError::InvalidRepository { .. })
            }),
            ("[fe80::1%eth0]:5000/repo".into(), |e| {
                matches!(e, ParseError::InvalidRegistry { .. })
            }),
            ("[fe80::1%@invalidzone]:5000/repo".into(), |e| {
                matches!(e, ParseError::UnsupportedDigestAlgorithm { .. })
            }),
        ];
        for (input, expected) in &cases {
            let err = parse_err(input);
            assert!(expected(&err), "{input:?} -> {err:?}");
        }
    }

    /// Upstream's "RepoAlmostTooLong" case is 255 characters without a registry; normalised
    /// it becomes `docker.io/a/…` (265), over the limit on the whole name. distribution/reference
    /// v0.6 counts only the path and would accept it; we follow the stricter whole-name rule.
    #[test]
    fn name_length_counts_the_normalised_registry() {
        let almost = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
        assert!(matches!(
            parse_err(&almost),
            ParseError::NameTooLong { length: 265, .. }
        ));
        let path = format!("{}a", "a/".repeat(122)); // 245 characters
        check(
            &format!("docker.io/{path}:t"),
            "docker.io",
            &path,
            Some("t"),
            None,
        );
        let over = format!("{path}b"); // 246 + "docker.io/" = 256
        assert!(matches!(
            parse_err(&format!("docker.io/{over}")),
            ParseError::NameTooLong { length: 256, .. }
        ));
    }

    #[test]
    fn upstream_tag_length_limit() {
        let tag128 = "t".repeat(128);
        check(
            &format!("ghcr.io/o/r:{tag128}"),
            "ghcr.io",
            "o/r",
            Some(&tag128),
            None,
        );
        let tag129 = "t".repeat(129);
        assert!(matches!(
            parse_err(&format!("ghcr.io/o/r:{tag129}")),
            ParseError::InvalidTag { .. }
        ));
        for bad in [".t", "-t", "t~", "t!", "t/"] {
            assert!(
                ImageReference::parse(&format!("ghcr.io/o/r:{bad}")).is_err(),
                "{bad:?}"
            );
        }
        check("ghcr.io/o/r:_T.9-x", "ghcr.io", "o/r", Some("_T.9-x"), None);
    }

    // ---- normalize_test.go --------------------------------------------------------------

    #[test]
    fn upstream_validate_reference_name() {
        let valid = [
            "docker/docker",
            "library/debian",
            "debian",
            "docker.io/docker/docker",
            "docker.io/library/debian",
            "docker.io/debian",
            "index.docker.io/docker/docker",
            "index.docker.io/library/debian",
            "index.docker.io/debian",
            "127.0.0.1:5000/docker/docker",
            "127.0.0.1:5000/library/debian",
            "127.0.0.1:5000/debian",
            "192.168.0.1",
            "192.168.0.1:80",
            "192.168.0.1:8/debian",
            "192.168.0.2:25000/debian",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "[fc00::1]:5000/docker",
            "[fc00::1]:5000/docker/docker",
            "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
            "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "Docker/docker",
            "DOCKER/docker",
        ];
        for input in valid {
            parse(input);
        }
        let invalid = [
            "https://github.com/docker/docker",
            "docker/Docker",
            "-docker",
            "-docker/docker",
            "-docker.io/docker/docker",
            "docker///docker",
            "docker.io/docker/Docker",
            "docker.io/docker///docker",
            "[fc00::1]",
            "[fc00::1]:5000",
            "fc00::1:5000/debian",
            "[fe80::1%eth0]:5000/debian",
            "[2001:db8:3:4::192.0.2.33]:5000/debian",
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        ];
        for input in invalid {
            parse_err(input);
        }
    }

    #[test]
    fn upstream_validate_remote_name() {
        let valid = [
            "docker/docker",
            "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
            "docker-rules/docker",
            "docker---rules/docker",
            "doc/docker",
            "d/docker",
            "jess/t",
            "dock__er/docker",
        ];
        for input in valid {
            parse(input);
        }
        let long_namespace = format!(
            "{}/docker",
            ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4].join("_")
        );
        let invalid = [
            "docker/Docker",
            "docker///docker",
            "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
            "-docker/docker",
            "docker-/docker",
            "-docker-/docker",
            "____/____",
            "_docker/_docker",
            "dock..er/docker",
            "dock_.er/docker",
            "dock-.er/docker",
            "docker/",
            &long_namespace,
        ];
        for input in invalid {
            parse_err(input);
        }
        assert!(matches!(
            parse_err(&long_namespace),
            ParseError::NameTooLong { .. }
        ));
    }

    #[test]
    fn upstream_parse_repository_info() {
        // (full name, registry, repository, other spellings of the same name)
        let cases: [(&str, &str, &str, &[&str]); 16] = [
            (
                "docker.io/fooo/bar",
                "docker.io",
                "fooo/bar",
                &["fooo/bar", "index.docker.io/fooo/bar"],
            ),
            (
                "docker.io/library/ubuntu",
                "docker.io",
                "library/ubuntu",
                &["ubuntu", "library/ubuntu"],
            ),
            (
                "docker.io/nonlibrary/ubuntu",
                "docker.io",
                "nonlibrary/ubuntu",
                &["nonlibrary/ubuntu"],
            ),
            (
                "docker.io/other/library",
                "docker.io",
                "other/library",
                &["other/library"],
            ),
            (
                "127.0.0.1:8000/private/moonbase",
                "127.0.0.1:8000",
                "private/moonbase",
                &[],
            ),
            (
                "127.0.0.1:8000/privatebase",
                "127.0.0.1:8000",
                "privatebase",
                &[],
            ),
            (
                "example.com/private/moonbase",
                "example.com",
                "private/moonbase",
                &[],
            ),
            ("example.com/privatebase", "example.com", "privatebase", &[]),
            (
                "example.com:8000/private/moonbase",
                "example.com:8000",
                "private/moonbase",
                &[],
            ),
            (
                "example.com:8000/privatebasee",
                "example.com:8000",
                "privatebasee",
                &[],
            ),
            (
                "docker.io/library/ubuntu-12.04-base",
                "docker.io",
                "library/ubuntu-12.04-base",
                &[
                    "ubuntu-12.04-base",
                    "index.docker.io/library/ubuntu-12.04-base",
                ],
            ),
            (
                "docker.io/library/foo",
                "docker.io",
                "library/foo",
                &["foo", "docker.io/foo"],
            ),
            (
                "docker.io/library/foo/bar",
                "docker.io",
                "library/foo/bar",
                &["library/foo/bar"],
            ),
            (
                "docker.io/store/foo/bar",
                "docker.io",
                "store/foo/bar",
                &["store/foo/bar"],
            ),
            ("Foo/bar", "Foo", "bar", &[]),
            ("FOO/bar", "FOO", "bar", &[]),
        ];
        for (full, registry, repository, others) in cases {
            for input in std::iter::once(&full).chain(others) {
                let r = parse(input);
                assert_eq!(r.name(), full, "{input:?}");
                assert_eq!(r.registry(), registry, "{input:?}");
                assert_eq!(r.repository(), repository, "{input:?}");
            }
        }
    }

    #[test]
    fn upstream_parse_reference_with_tag_and_digest() {
        let short = "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
        let r = parse(short);
        assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
        assert_eq!(r.tag(), Some("latest"));
        assert!(r.digest().is_some());
    }

    #[test]
    fn upstream_parse_any_reference() {
        let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
        let cases = [
            ("redis".to_owned(), "docker.io/library/redis:latest".to_owned()),
            ("redis:latest".into(), "docker.io/library/redis:latest".into()),
            ("docker.io/library/redis:latest".into(), "docker.io/library/redis:latest".into()),
            (format!("redis@{d}"), format!("docker.io/library/redis@{d}")),
            (format!("docker.io/library/redis@{d}"), format!("docker.io/library/redis@{d}")),
            ("dmcgowan/myapp".into(), "docker.io/dmcgowan/myapp:latest".into()),
            ("dmcgowan/myapp:latest".into(), "docker.io/dmcgowan/myapp:latest".into()),
            ("docker.io/mcgowan/myapp:latest".into(), "docker.io/mcgowan/myapp:latest".into()),
            (format!("dmcgowan/myapp@{d}"), format!("docker.io/dmcgowan/myapp@{d}")),
            (format!("docker.io/dmcgowan/myapp@{d}"), format!("docker.io/dmcgowan/myapp@{d}")),
            (
                "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".into(),
                "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest"
                    .into(),
            ),
            ("dbcc1".into(), "docker.io/library/dbcc1:latest".into()),
        ];
        for (input, expected) in &cases {
            assert_eq!(parse(input).to_string(), *expected, "{input:?}");
        }
        // ParseAnyReference reads these as digest-only references; a pod image must name a
        // repository, so they are rejected as image IDs.
        for input in [&d[7..], d] {
            assert!(
                matches!(parse_err(input), ParseError::ImageId { .. }),
                "{input:?}"
            );
        }
    }

    #[test]
    fn upstream_normalized_split_hostname() {
        let cases = [
            ("test.com/foo", "test.com", "foo"),
            ("test_com/foo", "docker.io", "test_com/foo"),
            ("docker/migrator", "docker.io", "docker/migrator"),
            ("test.com:8080/foo", "test.com:8080", "foo"),
            ("test-com:8080/foo", "test-com:8080", "foo"),
            ("foo", "docker.io", "library/foo"),
            ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
            ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
            ("docker.io/foo", "docker.io", "library/foo"),
            ("docker.io/library/foo", "docker.io", "library/foo"),
            ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        ];
        for (input, registry, repository) in cases {
            check(input, registry, repository, Some("latest"), None);
        }
    }

    // ---- reference_test.go: TestDomainAndPath, TestSerialization, TestWithDigest ----------

    #[test]
    fn upstream_domain_and_path() {
        check("test.com/foo", "test.com", "foo", Some("latest"), None);
        check("test:8080/foo", "test:8080", "foo", Some("latest"), None);
        check(
            "test.com:8080/foo",
            "test.com:8080",
            "foo",
            Some("latest"),
            None,
        );
        check(
            "test-com:8080/foo",
            "test-com:8080",
            "foo",
            Some("latest"),
            None,
        );
        check(
            "xn--n3h.com:18080/foo",
            "xn--n3h.com:18080",
            "foo",
            Some("latest"),
            None,
        );
        // Upstream (no normalisation) reads "test_com" as a path component; so do we.
        check(
            "test_com/foo",
            "docker.io",
            "test_com/foo",
            Some("latest"),
            None,
        );
    }

    #[test]
    fn upstream_serialization_round_trips() {
        let d = "sha256:1234567890098765432112345667890098765432112345667890098765432112";
        for input in [
            "example.com:8000/named:latest".to_owned(),
            "example.com:8000/named:tagged".to_owned(),
            format!("other.com/named@{d}"),
        ] {
            assert_eq!(parse(&input).to_string(), input);
        }
    }

    #[test]
    fn upstream_with_digest() {
        let d = Digest::parse(&sha256_f()).unwrap();
        let f = sha256_f();
        let cases = [
            ("test.com/foo", format!("test.com/foo:latest@{f}")),
            ("foo", format!("docker.io/library/foo:latest@{f}")),
            (
                "test.com:8000/foo:latest",
                format!("test.com:8000/foo:latest@{f}"),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse(input).with_digest(d.clone()).to_string(), expected);
        }
    }

    // ---- regexp_test.go -------------------------------------------------------------------

    #[test]
    fn upstream_domain_regexp() {
        let cases = [
            ("test.com", true),
            ("test.com:10304", true),
            ("test.com:http", false),
            ("localhost", true),
            ("localhost:8080", true),
            ("a", true),
            ("a.b", true),
            ("ab.cd.com", true),
            ("a-b.com", true),
            ("-ab.com", false),
            ("ab-.com", false),
            ("ab.c-om", true),
            ("ab.-com", false),
            ("ab.com-", false),
            ("0101.com", true),
            ("001a.com", true),
            ("b.gbc.io:443", true),
            ("b.gbc.io", true),
            ("xn--n3h.com", true),
            ("Asdf.com", true),
            ("192.168.1.1:75050", true),
            ("192.168.1.1:750050", true),
            ("[fd00:1:2::3]:75050", true),
            ("[fd00:1:2::3]75050", false),
            ("[fd00:1:2::3]::75050", false),
            ("[fd00:1:2::3%eth0]:75050", false),
            ("[fd00123123123]:75050", true),
            ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
            ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
            ("fd00:1:2::3:75050", false),
            // Not upstream: edges of the same grammar.
            ("", false),
            ("test.com:", false),
            ("test.com.", false),
            (".test.com", false),
            ("[]", false),
            ("[::1", false),
            ("te_st.com", false),
        ];
        for (input, valid) in cases {
            assert_eq!(is_valid_registry(input), valid, "{input:?}");
        }
    }

    /// `anchoredNameRegexp`: an optional `domain/` then a path.
    fn name_regexp_matches(s: &str) -> bool {
        is_valid_path(s)
            || s.split_once('/')
                .is_some_and(|(domain, path)| is_valid_registry(domain) && is_valid_path(path))
    }

    #[test]
    fn upstream_full_name_regexp() {
        let cases = [
            ("", false),
            ("short", true),
            ("simple/name", true),
            ("library/ubuntu", true),
            ("docker/stevvooe/app", true),
            ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", true),
            ("aa/aa/bb/bb/bb", true),
            ("a/a/a/a", true),
            ("a/a/a/a/", false),
            ("a//a/a", false),
            ("a", true),
            ("a/aa", true),
            ("a/aa/a", true),
            ("foo.com", true),
            ("foo.com/", false),
            ("foo.com:8080/bar", true),
            ("foo.com:http/bar", false),
            ("foo.com/bar", true),
            ("foo.com/bar/baz", true),
            ("localhost:8080/bar", true),
            ("sub-dom1.foo.com/bar/baz/quux", true),
            ("blog.foo.com/bar/baz", true),
            ("a^a", false),
            ("aa/asdf$$^/aa", false),
            ("asdf$$^/aa", false),
            ("aa-a/a", true),
            ("a-/a/a/a", false),
            ("foo.com/a-/a/a", false),
            ("-foo/bar", false),
            ("foo/bar-", false),
            ("foo-/bar", false),
            ("foo/-bar", false),
            ("_foo/bar", false),
            ("foo_bar", true),
            ("foo_bar.com", true),
            ("foo_bar.com:8080", false),
            ("foo_bar.com:8080/app", false),
            ("foo.com/foo_bar", true),
            ("____/____", false),
            ("_docker/_docker", false),
            ("docker_/docker_", false),
            ("b.gcr.io/test.example.com/my-app", true),
            ("xn--n3h.com/myimage", true),
            ("xn--7o8h.com/myimage", true),
            ("example.com/xn--7o8h.com/myimage", true),
            ("example.com/some_separator__underscore/myimage", true),
            ("example.com/__underscore/myimage", false),
            ("example.com/..dots/myimage", false),
            ("example.com/.dots/myimage", false),
            ("example.com/nodouble..dots/myimage", false),
            ("docker./docker", false),
            (".docker/docker", false),
            ("docker-/docker", false),
            ("-docker/docker", false),
            ("do..cker/docker", false),
            ("do__cker:8080/docker", false),
            ("do__cker/docker", true),
            (
                "registry.io/foo/project--id.module--name.ver---sion--name",
                true,
            ),
            ("Asdf.com/foo/bar", true),
            ("Foo/FarB", false),
        ];
        for (input, matches) in cases {
            assert_eq!(name_regexp_matches(input), matches, "{input:?}");
        }
        assert!(name_regexp_matches(&format!("{}a", "a/".repeat(128))));
    }

    #[test]
    fn upstream_reference_regexp() {
        let d = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912";
        let valid = [
            (
                "registry.com:8080/myapp:tag".to_owned(),
                "registry.com:8080",
                "myapp",
                Some("tag"),
                None,
            ),
            (
                format!("registry.com:8080/myapp@{d}"),
                "registry.com:8080",
                "myapp",
                None,
                Some(d),
            ),
            (
                format!("registry.com:8080/myapp:tag2@{d}"),
                "registry.com:8080",
                "myapp",
                Some("tag2"),
                Some(d),
            ),
            // "localhost" without a slash is a Docker Hub name; 8080 is its tag.
            (
                format!("localhost:8080@{d}"),
                "docker.io",
                "library/localhost",
                Some("8080"),
                Some(d),
            ),
            (
                format!("localhost:8080/name@{d}"),
                "localhost:8080",
                "name",
                None,
                Some(d),
            ),
            (
                format!("localhost@{d}"),
                "docker.io",
                "library/localhost",
                None,
                Some(d),
            ),
        ];
        for (input, registry, repository, tag, digest) in &valid {
            check(input, registry, repository, *tag, *digest);
        }
        let invalid = [
            "registry.com:8080/myapp@sha256:badbadbadbad".to_owned(),
            "registry.com:8080/myapp:invalid~tag".into(),
            "bad_hostname.com:8080/myapp:tag".into(),
            format!("localhost:http/name@{d}"),
            "registry.com:8080/myapp@bad".into(),
            "registry.com:8080/myapp@2bad".into(),
        ];
        for input in &invalid {
            parse_err(input);
        }
    }

    #[test]
    fn upstream_identifier_regexp() {
        let id = "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821";
        assert!(matches!(parse_err(id), ParseError::ImageId { .. }));
        // Uppercase is not an identifier; as a name it is not lowercase.
        let upper = "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C";
        assert!(matches!(parse_err(upper), ParseError::Uppercase { .. }));
        // 60 and 68 hex characters are ordinary repository names.
        for name in [&id[..60], &format!("{id}8482")] {
            check(
                name,
                "docker.io",
                &format!("library/{name}"),
                Some("latest"),
                None,
            );
        }
        // Upstream reads this as library/sha256 with a hex tag; we call it an image ID.
        assert!(matches!(
            parse_err(&format!("sha256:{id}")),
            ParseError::ImageId { .. }
        ));
    }

    #[test]
    fn first_component_registry_must_be_a_valid_host() {
        // Upstream falls back to a registry-less name here; a runtime would dial the host.
        for input in ["foo_bar.com/app", "a.b_c/foo", "Foo_Bar/app"] {
            assert!(
                matches!(
                    parse_err(input),
                    ParseError::InvalidRegistry { .. } | ParseError::Uppercase { .. }
                ),
                "{input:?}"
            );
        }
    }

    // ---- never panic ------------------------------------------------------------------------

    /// Every successful parse prints to a string that parses back to the same reference.
    fn assert_round_trip(input: &str) {
        if let Ok(r) = ImageReference::parse(input) {
            let printed = r.to_string();
            assert_eq!(
                ImageReference::parse(&printed).as_ref(),
                Ok(&r),
                "{input:?} -> {printed:?}"
            );
        }
    }

    #[test]
    fn weird_inputs_never_panic_and_round_trip() {
        let hex = HEX_F;
        let weird = [
            "",
            " ",
            "\0",
            "\u{1F433}",
            "é",
            "\u{202e}nginx",
            ":",
            "::",
            "@",
            "@@",
            "/",
            "//",
            "///",
            ":/",
            "/:",
            "@:",
            ":@",
            "[",
            "]",
            "[]",
            "[:]",
            "[::]",
            "[::]/a",
            "[::1]:/a",
            "[::1]:a/b",
            "a:",
            "a@",
            "a/",
            "/a",
            "a//b",
            "a/b/",
            "a:b:c",
            "a:b/c:d",
            "a@b:c",
            "a@sha256:",
            "@sha256:",
            "localhost",
            "localhost:",
            "localhost:/a",
            "LOCALHOST/a",
            "docker.io",
            "docker.io/",
            "index.docker.io",
            "index.docker.io/",
            "index.docker.io/a/b:c",
            "http:",
            "http:/x",
            "https://",
            "file:///etc/passwd",
            "../../etc/passwd",
            "./a",
            "~a",
            "a b",
            "a\tb",
            "a\nb",
            "a%2fb",
            "a%00",
            "é.com/a",
            "a.é/b",
            "ex\u{0301}ample.com/a",
            "\u{ff0e}com/a",
            "xn--/a",
            "-/a",
            "a-/a",
            ".a/b",
            "a./b",
            "a..b/c",
            "1.2.3.4.5/a",
            "999999999999999999999:1/a",
            "a:99999999999999999999999999/b",
            "a:-1/b",
            "a:+1/b",
            "a:0x10/b",
            "[fe80::1%25eth0]/a",
            "sha256:",
            "sha256:x",
            "sha512:",
            "SHA256:abc",
            "a@SHA256:abc",
            "a@sha256:\u{1F433}",
        ];
        let long_inputs = [
            "a".repeat(10_000),
            "/".repeat(10_000),
            ":".repeat(10_000),
            "@".repeat(10_000),
            format!("{}b", "a/".repeat(5_000)),
            format!("x.com/{}", "a-".repeat(5_000)),
            format!("a:{}", "t".repeat(10_000)),
            format!("a@sha256:{}", hex.repeat(100)),
            "\u{1F433}".repeat(3_000),
        ];
        for input in weird
            .iter()
            .copied()
            .chain(long_inputs.iter().map(String::as_str))
        {
            assert_round_trip(input);
            let _ = Digest::parse(input);
            let _ = parse("nginx").with_tag(input);
            let _ = parse("nginx").with_name(input, input);
            let _ = parse("nginx").with_name("ghcr.io", input);
        }
    }

    #[test]
    fn combinations_of_fragments_never_panic_and_round_trip() {
        let fragments = [
            "",
            "a",
            "A",
            "0",
            "/",
            ":",
            "@",
            ".",
            "-",
            "_",
            "__",
            "[",
            "]",
            "::1",
            "5000",
            "sha256:",
            HEX_F,
            "localhost",
            "docker.io",
            "index.docker.io",
            "é",
            " ",
            "%",
            "\u{0}",
            "latest",
        ];
        for a in fragments {
            for b in fragments {
                for c in fragments {
                    assert_round_trip(&format!("{a}{b}{c}"));
                    assert_round_trip(&format!("{a}/{b}:{c}"));
                    assert_round_trip(&format!("{a}.{b}/{c}@sha256:{HEX_F}"));
                }
            }
        }
    }

    #[test]
    fn random_strings_never_panic_and_round_trip() {
        let alphabet: Vec<char> = "abcAZ09._-/:@[]% \u{0}é\u{1F433}".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            assert_round_trip(&s);
            let _ = Digest::parse(&s);
        }
    }
}
