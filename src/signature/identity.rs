//! The signed identity rule: which `critical.identity.docker-reference` an authority accepts for
//! an image. The sigstore crate does not check this claim at all; without it a signature made for
//! `evil.io/tool` would admit `ghcr.io/org/app` whenever both were signed by the same key.
//!
//! The containers-policy.json rules follow containers/image `signature/policy_reference_match.go`
//! exactly: references are compared in their normalised form (`docker.io/library/busybox:1`),
//! "name-only" means neither tag nor digest, and the image's own reference is what CRI-O hands
//! containers/image: with a tag (`:latest` by default) or a digest, never both (a
//! `repo:tag@digest` image is judged as `repo@digest`).

use crate::policy::IdentityRule;
use crate::reference::ImageReference;

use super::Mismatch;

/// Does `signed` (the payload's docker-reference) satisfy `rule` for `image`?
pub fn identity_accepts(
    rule: &IdentityRule,
    image: &ImageReference,
    signed: &str,
) -> Result<(), Mismatch> {
    if accepts(rule, image, signed) {
        return Ok(());
    }
    Err(Mismatch::IdentityMismatch {
        required: required(rule, image),
        found: signed.to_string(),
    })
}

fn accepts(rule: &IdentityRule, image: &ImageReference, signed: &str) -> bool {
    let intended = Intended::of(image);
    let signature = match (rule, Signed::parse(signed)) {
        (IdentityRule::AnyRepository, _) => return true,
        (_, Some(signature)) => signature,
        (_, None) => return false,
    };
    match rule {
        IdentityRule::AnyRepository => true,
        IdentityRule::MatchRepository => signature.name == intended.name,
        IdentityRule::MatchExact => !signature.name_only && signature.text == intended.text,
        IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact(&intended, &signature),
        IdentityRule::ExactReference(reference) => {
            !signature.name_only && signature.text == normalised(reference)
        }
        IdentityRule::ExactRepository(repository) => signature.name == name_of(repository),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => match remap_reference(&intended, prefix, signed_prefix) {
            Some(remapped) => repo_digest_or_exact(&remapped, &signature),
            None => false,
        },
        IdentityRule::RemapRepository {
            prefix,
            signed_prefix,
        } => signature.name == remap_name(&intended.name, prefix, signed_prefix),
    }
}

/// The image as containers/image sees it: `name:tag`, or `name@digest` when it has a digest.
#[derive(Clone)]
struct Intended {
    name: String,
    text: String,
    by_digest: bool,
}

impl Intended {
    fn of(image: &ImageReference) -> Intended {
        let name = image.name();
        let (text, by_digest) = match (image.digest(), image.tag()) {
            (Some(digest), _) => (format!("{name}@{digest}"), true),
            (None, Some(tag)) => (format!("{name}:{tag}"), false),
            (None, None) => (name.clone(), false),
        };
        Intended {
            name,
            text,
            by_digest,
        }
    }
}

/// The signed reference, normalised, remembering whether it named a tag or digest.
struct Signed {
    name: String,
    text: String,
    name_only: bool,
}

impl Signed {
    fn parse(signed: &str) -> Option<Signed> {
        let parsed = ImageReference::parse(signed).ok()?;
        let name_only = is_name_only(signed);
        Some(Signed {
            name: parsed.name(),
            text: if name_only {
                parsed.name()
            } else {
                parsed.to_string()
            },
            name_only,
        })
    }
}

/// Neither `@digest` nor a `:tag` in the last path component (a `:` before a `/` is a port),
/// the split [`ImageReference::parse`] makes before it adds `:latest`.
fn is_name_only(text: &str) -> bool {
    let last = text.rsplit('/').next().unwrap_or(text);
    !text.contains('@') && !last.contains(':')
}

/// containers/image `matchRepoDigestOrExactReferenceValues`.
fn repo_digest_or_exact(intended: &Intended, signature: &Signed) -> bool {
    if signature.name_only {
        return false;
    }
    match intended.by_digest {
        true => signature.name == intended.name,
        false => signature.text == intended.text,
    }
}

/// containers/image `prmRemapIdentity.remapReferencePrefix`: when the image's repository is
/// `prefix` or under it (whole path components; a port is part of the host), replace `prefix`
/// with `signed_prefix` and re-read the result, which must already be in normalised form
/// (Go's `reference.ParseNamed`); `None` when it is not, which matches nothing. Otherwise the
/// image is kept as it is.
fn remap_reference(intended: &Intended, prefix: &str, signed_prefix: &str) -> Option<Intended> {
    if !under_prefix(&intended.name, prefix) {
        return Some(intended.clone());
    }
    let rewritten = format!("{signed_prefix}{}", &intended.text[prefix.len()..]);
    let parsed = ImageReference::parse(&rewritten).ok()?;
    if parsed.to_string() != rewritten {
        return None;
    }
    Some(Intended {
        name: parsed.name(),
        text: rewritten,
        by_digest: intended.by_digest,
    })
}

/// containers/image `refMatchesPrefix`: equal, or followed by `/`.
fn under_prefix(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Signet's repository-level remap: `prefix` replaced by `signed_prefix` in the repository name.
fn remap_name(name: &str, prefix: &str, signed_prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match under_prefix(name, prefix) {
        true => format!(
            "{}{}",
            signed_prefix.trim_end_matches('/'),
            &name[prefix.len()..]
        ),
        false => name.to_string(),
    }
}

/// The normalised form of a configured reference, or the text itself when it does not parse
/// (then nothing can equal it, which fails closed).
fn normalised(reference: &str) -> String {
    match ImageReference::parse(reference) {
        Ok(parsed) if !is_name_only(reference) => parsed.to_string(),
        _ => reference.to_string(),
    }
}

/// The normalised `registry/repository` of a configured repository, or the text itself.
fn name_of(repository: &str) -> String {
    ImageReference::parse(repository)
        .map(|r| r.name())
        .unwrap_or_else(|_| repository.to_string())
}

/// What `rule` requires for `image`, in words, for the mismatch message.
fn required(rule: &IdentityRule, image: &ImageReference) -> String {
    let intended = Intended::of(image);
    match rule {
        IdentityRule::AnyRepository | IdentityRule::MatchRepository => {
            format!("repository {}", intended.name)
        }
        IdentityRule::MatchExact => format!("exactly {} (matchExact)", intended.text),
        IdentityRule::MatchRepoDigestOrExact => repo_digest_or_exact_words(&intended),
        IdentityRule::ExactReference(reference) => {
            format!("exactly {} (exactReference)", normalised(reference))
        }
        IdentityRule::ExactRepository(repository) => format!("repository {}", name_of(repository)),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => match remap_reference(&intended, prefix, signed_prefix) {
            Some(remapped) => repo_digest_or_exact_words(&remapped),
            None => format!("an identity under {signed_prefix} (remapIdentity)"),
        },
        IdentityRule::RemapRepository {
            prefix,
            signed_prefix,
        } => format!(
            "repository {}",
            remap_name(&intended.name, prefix, signed_prefix)
        ),
    }
}

fn repo_digest_or_exact_words(intended: &Intended) -> String {
    match intended.by_digest {
        true => format!(
            "repository {} with a tag or digest (matchRepoDigestOrExact)",
            intended.name
        ),
        false => format!("exactly {} (matchRepoDigestOrExact)", intended.text),
    }
}

#[cfg(test)]
mod tests;
