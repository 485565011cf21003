//! The child manifests of a multi-platform image: fetch the manifest a digest names (bounded,
//! checked against the digest) and, when it is an image index or a Docker manifest list, list
//! each child's digest and platform. Which children matter is the engine's decision.

use oci_client::Reference;
use oci_client::manifest::{
    IMAGE_MANIFEST_LIST_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_INDEX_MEDIA_TYPE,
    OCI_IMAGE_MEDIA_TYPE,
};
use serde_json::{Map, Value};

use super::content;
use super::http::{Answer, Get};
use super::{Registry, RegistryError};
use crate::reference::{Digest, ImageReference};
use crate::workload::json_type;

/// Most children of one index examined; more is refused, not truncated.
pub const MAX_INDEX_CHILDREN: usize = 128;

mod go_json;
mod normalise;

pub use normalise::Pull;

/// An OCI platform: `os/architecture[/variant]`, as written (see [`Platform::normalised`] for
/// how the runtimes read it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`, ...
    pub os: String,
    /// `amd64`, `arm64`, `arm`, ...
    pub architecture: String,
    /// `v7`, `v8`, ...
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `os/architecture[/variant]` (`linux/arm64/v8.2`, `linux/x86_64`), as written.
    pub fn parse(text: &str) -> Option<Platform> {
        let mut parts = text.split('/');
        let (os, architecture) = (parts.next()?, parts.next()?);
        let variant = parts.next().map(str::to_string);
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        };
        let ok = valid(os) && valid(architecture) && variant.as_deref().is_none_or(valid);
        (ok && parts.next().is_none()).then(|| Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant,
        })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        match &self.variant {
            Some(variant) => write!(f, "/{variant}"),
            None => Ok(()),
        }
    }
}

/// One child of an index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformManifest {
    /// The child's digest.
    pub digest: Digest,
    /// Its platform; `None` when the index names none (a runtime may then pull it anywhere).
    pub platform: Option<Platform>,
}

impl Registry {
    /// The children of `digest` in `image`'s repository when it is an image index (or Docker
    /// manifest list); `None` when it is a single image manifest. Read through the mirrors of
    /// `--registries-conf`; the first answer wins (the content is checked against `digest`).
    pub async fn index_children(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<Option<Vec<PlatformManifest>>, RegistryError> {
        let mut last = None;
        for endpoint in self.endpoints(image, true)? {
            match self.index_children_at(&endpoint, digest).await {
                Ok(children) => return Ok(children),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| super::blocked(image)))
    }

    async fn index_children_at(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<Option<Vec<PlatformManifest>>, RegistryError> {
        let registry = image.registry().to_string();
        let reference = Reference::with_digest(
            registry.clone(),
            image.repository().to_string(),
            digest.to_string(),
        );
        let get = Get {
            reference: &reference,
            path: format!("/v2/{}/manifests/{digest}", image.repository()),
            accept: &[
                OCI_IMAGE_INDEX_MEDIA_TYPE,
                IMAGE_MANIFEST_LIST_MEDIA_TYPE,
                OCI_IMAGE_MEDIA_TYPE,
                IMAGE_MANIFEST_MEDIA_TYPE,
            ],
            limit: self.config.max_image_manifest_bytes,
            what: "image index",
            head: false,
        };
        let found = match self.bounded_get(&get).await? {
            Answer::Found(found) => found,
            Answer::NotFound | Answer::Unsupported => {
                return Err(RegistryError::NotFound {
                    reference: format!("{}@{digest}", image.name()),
                });
            }
        };
        // The same checks as every other manifest read: digest, Docker-Content-Digest, media
        // type, and never both layers and manifests.
        content::check_manifest(&found, Some(digest), &registry, "image index")?;
        let bytes = found.bytes;
        parse_children(&bytes, digest, &registry)
    }
}

/// The children listed by `bytes`, after checking the bytes are what `digest` names.
fn parse_children(
    bytes: &[u8],
    digest: &Digest,
    registry: &str,
) -> Result<Option<Vec<PlatformManifest>>, RegistryError> {
    let invalid = |detail: String| RegistryError::Invalid {
        registry: registry.to_string(),
        detail,
    };
    if !digest.matches(bytes) {
        return Err(invalid(format!("manifest content does not match {digest}")));
    }
    let document: Value =
        serde_json::from_slice(bytes).map_err(|e| invalid(format!("manifest {digest}: {e}")))?;
    let Value::Object(document) = document else {
        return Err(invalid(format!("manifest {digest} is not a JSON object")));
    };
    read_children(&document).map_err(|detail| invalid(format!("index {digest}: {detail}")))
}

/// The children of an index document, read as the runtimes' Go decoder reads them; `None` for
/// an image manifest.
fn read_children(document: &Map<String, Value>) -> Result<Option<Vec<PlatformManifest>>, String> {
    let media_type = go_json::string(document, "mediaType")?;
    let manifests = match go_json::field(document, "manifests")? {
        None => None,
        Some(Value::Array(manifests)) => Some(manifests),
        Some(other) => {
            let kind = json_type(other);
            return Err(format!("the field \"manifests\" is {kind}, not a list"));
        }
    };
    let is_index = matches!(
        media_type.as_str(),
        OCI_IMAGE_INDEX_MEDIA_TYPE | IMAGE_MANIFEST_LIST_MEDIA_TYPE
    ) || manifests.is_some();
    let Some(children) = manifests.filter(|_| is_index) else {
        return Ok(None);
    };
    if children.len() > MAX_INDEX_CHILDREN {
        return Err(format!(
            "it lists {} manifests, more than Signet's limit of {MAX_INDEX_CHILDREN}",
            children.len()
        ));
    }
    children
        .iter()
        .map(read_child)
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// One descriptor of an index.
fn read_child(child: &Value) -> Result<PlatformManifest, String> {
    let Value::Object(child) = child else {
        let kind = json_type(child);
        return Err(format!("a child is {kind}, not a descriptor"));
    };
    let digest = Digest::parse(&go_json::string(child, "digest")?)
        .map_err(|e| format!("index child digest: {e}"))?;
    let platform = match go_json::object(child, "platform")? {
        None => None,
        Some(platform) => Some(Platform {
            os: go_json::string(platform, "os")?,
            architecture: go_json::string(platform, "architecture")?,
            variant: Some(go_json::string(platform, "variant")?).filter(|v| !v.is_empty()),
        }),
    };
    Ok(PlatformManifest { digest, platform })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn platforms_parse_and_print_as_written() {
        let arm64_v8 = Platform::parse("linux/arm64/v8").unwrap();
        assert_eq!(arm64_v8.to_string(), "linux/arm64/v8");
        assert!(Platform::parse("linux").is_none());
        assert!(Platform::parse("linux/arm/v7/x").is_none());
    }

    #[test]
    fn an_image_manifest_has_no_children_and_an_index_lists_them() {
        let image = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]}"#;
        let digest = Digest::sha256_of(image);
        assert_eq!(parse_children(image, &digest, "r").unwrap(), None);
        let child = Digest::sha256_of(b"child");
        let index = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"digest":"{child}","platform":{{"os":"linux","architecture":"arm64"}}}}]}}"#
        );
        let digest = Digest::sha256_of(index.as_bytes());
        let children = parse_children(index.as_bytes(), &digest, "r")
            .unwrap()
            .unwrap();
        assert_eq!(children[0].digest, child);
        assert_eq!(children[0].platform, Platform::parse("linux/arm64"));
    }

    /// Two spellings of one field (as Go reads keys) refuse the index; what the author wrote
    /// is never echoed at length.
    #[test]
    fn ambiguous_or_ill_typed_indexes_are_refused_briefly() {
        let child = Digest::sha256_of(b"child");
        let long = "x".repeat(100_000);
        for (document, expected) in [
            (
                format!(r#"{{"manifests":[{{"digest":"{child}","Digest":"{child}"}}]}}"#),
                "more than once",
            ),
            (
                format!(r#"{{"Manifests":[],"manifests":[{{"digest":"{child}"}}]}}"#),
                "more than once",
            ),
            (
                format!(
                    r#"{{"manifests":[{{"digest":"{child}","platform":{{"os":"linux","architecture":["{long}"]}}}}]}}"#
                ),
                "not a string",
            ),
            (format!(r#"{{"manifests":{{"{long}":1}}}}"#), "not a list"),
        ] {
            let digest = Digest::sha256_of(document.as_bytes());
            let error = parse_children(document.as_bytes(), &digest, "r").unwrap_err();
            let text = error.to_string();
            assert!(text.contains(expected), "{text}");
            assert!(text.len() < 800, "{text}");
        }
        let platformless = format!(r#"{{"manifests":[{{"digest":"{child}","platform":null}}]}}"#);
        let digest = Digest::sha256_of(platformless.as_bytes());
        let children = parse_children(platformless.as_bytes(), &digest, "r")
            .unwrap()
            .unwrap();
        assert_eq!(children[0].platform, None);
    }

    #[test]
    fn bytes_that_do_not_match_the_digest_are_refused() {
        let digest = Digest::sha256_of(b"other");
        let error = parse_children(br#"{"manifests":[]}"#, &digest, "r").unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }
}
