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
//!
//! Layout: the reference and its parse here; `digest` the [`Digest`] type, `normalise` Docker's
//! normalisation and the spellings of one registry, `grammar` the syntax of tags, registries and
//! repository paths, `error` the [`ParseError`] every step returns.

mod digest;
mod error;
mod grammar;
mod normalise;

use std::fmt;
use std::str::FromStr;

pub use digest::Digest;
pub use error::ParseError;
pub(crate) use error::clip;
pub use normalise::same_registry;

use digest::{hex_len, is_lower_hex, parse_digest};
use grammar::{is_valid_tag, validate_name};
use normalise::{DEFAULT_REGISTRY, OFFICIAL_PREFIX, canonical_registry, split_registry};

/// The tag a reference without tag or digest gets.
const DEFAULT_TAG: &str = "latest";

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
        let mut name = String::with_capacity(self.registry.len() + 1 + self.repository.len());
        name.push_str(&self.registry);
        name.push('/');
        name.push_str(&self.repository);
        name
    }

    /// The reference's text (its `Display`) in one allocation of the right size: reviews
    /// write it for every image they answer.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(self.text_len());
        self.pieces().for_each(|piece| text.push_str(piece));
        text
    }

    /// The length in bytes of the reference's text, without writing it.
    pub fn text_len(&self) -> usize {
        self.pieces().map(str::len).sum()
    }

    /// The pieces of the reference's text, in order: `registry`, `/`, `repository`, then `:`
    /// and the tag, `@` and the digest where present. Concatenated they are its `Display`.
    pub fn pieces(&self) -> impl Iterator<Item = &str> + '_ {
        let tag = self.tag.as_deref().map(|t| [":", t]);
        let digest = self.digest.as_ref().map(|d| ["@", d.as_str()]);
        [self.registry.as_str(), "/", self.repository.as_str()]
            .into_iter()
            .chain(tag.into_iter().flatten())
            .chain(digest.into_iter().flatten())
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
        // Pieces written whole: a review formats every reference several times.
        for piece in self.pieces() {
            f.write_str(piece)?;
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

/// Applies Docker's normalisation to `name` and validates the result.
fn normalise_name(input: &str, name: &str) -> Result<(String, String), ParseError> {
    if name.is_empty() {
        return Err(ParseError::MissingName { input: clip(input) });
    }
    let (registry, repository) = split_registry(name);
    validate_name(input, &registry, &repository)?;
    Ok((registry, repository))
}

#[cfg(test)]
mod tests;
