//! Sigstore bundles (cosign 3) stored as OCI 1.1 referrers of an image digest: found through the
//! referrers API (`GET /v2/<name>/referrers/<digest>`), or, where a registry has none (it answers
//! 404, or 400/405/406/501), through the referrers tag schema (`<name>:sha256-<hex>` holding an
//! image index). Everything is bounded before it is parsed: the index bytes, then the number of
//! index entries (counted while parsing, so a huge index is refused without allocating for its
//! entries), the number of bundles, each referrer manifest, and each bundle blob. Returns the raw
//! bundle bytes; what they prove is the signature stage's business.

mod index;

use std::collections::BTreeMap;

use oci_client::Reference;
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use serde::Deserialize;

use super::content;
use super::http::{Answer, Get};
use super::{Registry, RegistryError};
use crate::reference::{Digest, ImageReference};
use index::{Descriptor, parse_index};

/// The artifact (and layer) media type of a Sigstore bundle as cosign 3 attaches it.
pub const SIGSTORE_BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Every artifact type that announces a Sigstore bundle (the older spelling included).
pub const SIGSTORE_BUNDLE_TYPES: &[&str] = &[
    SIGSTORE_BUNDLE_MEDIA_TYPE,
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
];
/// Largest bundle blob accepted (real ones are 5–12 KiB).
pub const MAX_BUNDLE_BYTES: usize = 64 * 1024;

/// One Sigstore bundle attached to an image digest, as fetched: the blob (checked against its
/// descriptor digest), the artifact type it was announced with, and the referrer manifest's
/// annotations (`dev.sigstore.bundle.predicateType`, ...), which are hints only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureBundle {
    /// The bundle JSON, exactly as stored.
    pub bytes: Vec<u8>,
    /// The referrer's `artifactType`.
    pub artifact_type: String,
    /// The digest of the referrer manifest that carried it.
    pub manifest_digest: String,
    /// The referrer manifest's annotations (unsigned).
    pub annotations: BTreeMap<String, String>,
}

/// The parts of a referrer manifest we read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReferrerManifest {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    artifact_type: Option<String>,
    config: Descriptor,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    subject: Option<Descriptor>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Registry {
    /// Every Sigstore bundle attached to `digest` in `repository`. No referrers (or no API and no
    /// tag) means no bundles: an empty list.
    pub(super) async fn fetch_bundles(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<SignatureBundle>, RegistryError> {
        let reference = Reference::with_digest(
            repository.registry().to_string(),
            repository.repository().to_string(),
            digest.to_string(),
        );
        // 1. The index: the referrers API, else the tag schema.
        let Some(entries) = self.referrers_index(&reference, digest).await? else {
            return Ok(Vec::new());
        };
        // 2. Only bundles, and not too many of them.
        let bundles: Vec<Descriptor> = entries
            .into_iter()
            .filter(|e| is_bundle_type(e.artifact_type.as_deref()))
            .collect();
        if bundles.len() > self.config.max_signatures {
            return Err(RegistryError::TooManySignatures {
                count: bundles.len(),
                limit: self.config.max_signatures,
            });
        }
        // 3. Each referrer manifest and its bundle blob.
        let mut out = Vec::with_capacity(bundles.len());
        for entry in bundles {
            if let Some(bundle) = self.bundle(&reference, digest, entry).await? {
                out.push(bundle);
            }
        }
        Ok(out)
    }

    /// The referrers index entries, from the API or the tag schema; `None` when neither exists.
    async fn referrers_index(
        &self,
        reference: &Reference,
        digest: &Digest,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let name = reference.repository();
        let api = Get {
            reference,
            path: format!(
                "/v2/{name}/referrers/{digest}?artifactType={}",
                SIGSTORE_BUNDLE_MEDIA_TYPE.replace('+', "%2B")
            ),
            accept: &[OCI_IMAGE_INDEX_MEDIA_TYPE],
            limit: self.config.max_manifest_bytes,
            what: "referrers index",
            head: false,
        };
        let fetched = match self.bounded_get(&api).await? {
            Answer::Found(fetched) => fetched,
            Answer::NotFound | Answer::Unsupported => {
                let tag = Get {
                    reference,
                    path: format!("/v2/{name}/manifests/{}", digest.tag_prefix()),
                    accept: &[OCI_IMAGE_INDEX_MEDIA_TYPE],
                    limit: self.config.max_manifest_bytes,
                    what: "referrers tag index",
                    head: false,
                };
                match self.bounded_get(&tag).await? {
                    Answer::Found(fetched) => fetched,
                    Answer::NotFound | Answer::Unsupported => return Ok(None),
                }
            }
        };
        let registry = reference.registry();
        parse_index(&fetched.bytes, self.config.max_referrers, registry).map(Some)
    }

    /// The bundle one index entry announces, or `None` when the referrer is gone or names another
    /// subject (a referrers tag can list anything; such an entry is not this image's).
    async fn bundle(
        &self,
        reference: &Reference,
        digest: &Digest,
        entry: Descriptor,
    ) -> Result<Option<SignatureBundle>, RegistryError> {
        let registry = reference.registry().to_string();
        let invalid = |detail: String| RegistryError::Invalid {
            registry: registry.clone(),
            detail,
        };
        let manifest_digest =
            Digest::parse(&entry.digest).map_err(|e| invalid(format!("referrer digest: {e}")))?;
        let get = Get {
            reference,
            path: format!("/v2/{}/manifests/{manifest_digest}", reference.repository()),
            accept: &[OCI_IMAGE_MEDIA_TYPE],
            limit: self.config.max_manifest_bytes,
            what: "referrer manifest",
            head: false,
        };
        let fetched = match self.bounded_get(&get).await? {
            Answer::Found(fetched) => fetched,
            // A stale index entry (the referrer was deleted) is no signature, not an error.
            Answer::NotFound => return Ok(None),
            Answer::Unsupported => {
                return Err(invalid(format!(
                    "referrer {manifest_digest} cannot be fetched"
                )));
            }
        };
        content::check_digests(
            &fetched,
            Some(&manifest_digest),
            &registry,
            "referrer manifest",
        )?;
        let bytes = fetched.bytes;
        let manifest: ReferrerManifest = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(format!("referrer {manifest_digest} is not a manifest: {e}")))?;
        if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest.as_str()) {
            return Ok(None);
        }
        let layer = bundle_layer(&manifest, &manifest_digest).map_err(invalid)?;
        let layer_digest =
            Digest::parse(&layer.digest).map_err(|e| invalid(format!("bundle digest: {e}")))?;
        if layer.size > MAX_BUNDLE_BYTES as u64 {
            return Err(RegistryError::TooLarge {
                what: format!("Sigstore bundle {layer_digest} ({} bytes)", layer.size),
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let bundle = self
            .read_blob(
                reference,
                &layer_digest,
                MAX_BUNDLE_BYTES,
                "Sigstore bundle",
            )
            .await?;
        Ok(Some(SignatureBundle {
            bytes: bundle,
            artifact_type: manifest.artifact_type.unwrap_or(manifest.config.media_type),
            manifest_digest: manifest_digest.to_string(),
            annotations: manifest.annotations,
        }))
    }
}

/// The one bundle layer of a referrer manifest that announces a bundle.
fn bundle_layer<'m>(
    manifest: &'m ReferrerManifest,
    digest: &Digest,
) -> Result<&'m Descriptor, String> {
    if manifest
        .media_type
        .as_deref()
        .is_some_and(|t| t != OCI_IMAGE_MEDIA_TYPE)
    {
        return Err(format!("referrer {digest} is not an OCI image manifest"));
    }
    let announced = manifest
        .artifact_type
        .as_deref()
        .or(Some(manifest.config.media_type.as_str()));
    if !is_bundle_type(announced) {
        return Err(format!("referrer {digest} is not a Sigstore bundle"));
    }
    let mut layers = manifest
        .layers
        .iter()
        .filter(|l| is_bundle_type(Some(&l.media_type)));
    match (layers.next(), layers.next()) {
        (Some(layer), None) => Ok(layer),
        _ => Err(format!(
            "referrer {digest} must carry exactly one Sigstore bundle layer"
        )),
    }
}

pub(super) fn is_bundle_type(artifact_type: Option<&str>) -> bool {
    artifact_type.is_some_and(|t| SIGSTORE_BUNDLE_TYPES.contains(&t))
}
