//! Checks on a fetched manifest before anything reads it: its SHA-256 is the digest asked for and
//! the one the registry announced in `Docker-Content-Digest`; it is unambiguously one kind of
//! document (never both `layers` and `manifests`); its `mediaType` agrees with `Content-Type`.
//! A registry that breaks any of these is denied, never believed.

use serde::Deserialize;
use serde::de::IgnoredAny;

use super::RegistryError;
use super::http::Fetched;
use crate::reference::Digest;

/// Every manifest kind a runtime pulls, for tag resolution.
pub(super) const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// The outline of a manifest: which lists it has (entries are not kept: `IgnoredAny` is zero
/// sized, so counting them allocates nothing) and what it says it is.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Outline {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    layers: Option<Vec<IgnoredAny>>,
    #[serde(default)]
    manifests: Option<Vec<IgnoredAny>>,
}

impl Outline {
    /// Entries of `layers` (0 when absent).
    pub fn layer_count(&self) -> usize {
        self.layers.as_ref().map_or(0, Vec::len)
    }

    /// Whether it is an index (has `manifests`).
    pub fn is_index(&self) -> bool {
        self.manifests.is_some()
    }
}

/// Check `fetched` against the digest asked for (if fetched by digest) and the registry's own
/// headers, and return its outline.
pub(super) fn check_manifest(
    fetched: &Fetched,
    requested: Option<&Digest>,
    registry: &str,
    what: &str,
) -> Result<Outline, RegistryError> {
    check_digests(fetched, requested, registry, what)?;
    let invalid = |detail: String| RegistryError::Invalid {
        registry: registry.to_string(),
        detail,
    };
    let outline: Outline = serde_json::from_slice(&fetched.bytes)
        .map_err(|e| invalid(format!("{what} is not a manifest: {e}")))?;
    if outline.layers.is_some() && outline.manifests.is_some() {
        return Err(invalid(format!(
            "{what} is ambiguous: it has both layers and manifests"
        )));
    }
    if let (Some(declared), Some(served)) = (&outline.media_type, &fetched.content_type)
        && declared != served
    {
        return Err(invalid(format!(
            "{what} says mediaType {declared:?} but was served as {served:?}"
        )));
    }
    Ok(outline)
}

/// The bytes hash to the digest asked for and to `Docker-Content-Digest` when it is sent.
pub(super) fn check_digests(
    fetched: &Fetched,
    requested: Option<&Digest>,
    registry: &str,
    what: &str,
) -> Result<(), RegistryError> {
    let actual = Digest::sha256_of(&fetched.bytes);
    let mismatch = |expected: &str| RegistryError::DigestMismatch {
        registry: registry.to_string(),
        detail: format!("{what} hashes to {actual}, not {expected}"),
    };
    if let Some(requested) = requested
        && requested.algorithm() == "sha256"
        && *requested != actual
    {
        return Err(mismatch(requested.as_str()));
    }
    match fetched.docker_digest.as_deref().map(Digest::parse) {
        Some(Ok(announced)) if announced.algorithm() == "sha256" && announced != actual => {
            Err(mismatch(&format!("{announced} (Docker-Content-Digest)")))
        }
        Some(Err(e)) => Err(RegistryError::Invalid {
            registry: registry.to_string(),
            detail: format!("Docker-Content-Digest of the {what}: {e}"),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fetched(body: &str, content_type: Option<&str>, header: Option<String>) -> Fetched {
        Fetched {
            bytes: body.as_bytes().to_vec(),
            content_type: content_type.map(str::to_string),
            docker_digest: header,
            link: None,
        }
    }

    const MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[{},{}]}"#;
    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

    #[test]
    fn a_consistent_manifest_passes_and_counts_its_layers() {
        let digest = Digest::sha256_of(MANIFEST.as_bytes());
        let f = fetched(MANIFEST, Some(OCI), Some(digest.to_string()));
        let outline = check_manifest(&f, Some(&digest), "r", "m").unwrap();
        assert_eq!(outline.layer_count(), 2);
        assert!(!outline.is_index());
    }

    #[test]
    fn bytes_that_are_not_the_requested_digest_or_the_announced_one_are_refused() {
        let other = Digest::sha256_of(b"other");
        let f = fetched(MANIFEST, Some(OCI), None);
        let e = check_manifest(&f, Some(&other), "r", "m").unwrap_err();
        assert_eq!(e.code(), "DigestMismatch");
        let f = fetched(MANIFEST, Some(OCI), Some(other.to_string()));
        let e = check_manifest(&f, None, "r", "m").unwrap_err();
        assert_eq!(e.code(), "DigestMismatch");
        assert!(e.to_string().contains("Docker-Content-Digest"), "{e}");
    }

    #[test]
    fn layers_and_manifests_together_or_a_disagreeing_content_type_are_refused() {
        let both = r#"{"schemaVersion":2,"layers":[],"manifests":[]}"#;
        let e = check_manifest(&fetched(both, None, None), None, "r", "m").unwrap_err();
        assert!(e.to_string().contains("ambiguous"), "{e}");
        let index = "application/vnd.oci.image.index.v1+json";
        let e = check_manifest(&fetched(MANIFEST, Some(index), None), None, "r", "m").unwrap_err();
        assert!(e.to_string().contains("served as"), "{e}");
    }
}
