//! Notary Project (Notation) signatures: OCI referrers of an image digest whose artifact type is
//! `application/vnd.cncf.notary.signature`, each a manifest with exactly one layer, the signature
//! envelope (`application/jose+json` or `application/cose`), as `notation sign` stores them. Found
//! like Sigstore bundles (the referrers API, else the referrers tag schema), bounded the same way:
//! the index entries, the number of signatures, each manifest, each envelope. What an envelope
//! proves is the signature stage's business.

use oci_client::Reference;
use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;

use super::super::content;
use super::super::http::{Answer, Get};
use super::super::{Registry, RegistryError};
use super::index::Descriptor;
use super::{ReferrerManifest, read_each};
use crate::reference::{Digest, ImageReference};

/// The artifact type of a Notation signature manifest.
pub const NOTATION_SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// The envelope media types a Notation signature layer may have.
pub const NOTATION_ENVELOPE_TYPES: &[&str] = &["application/jose+json", "application/cose"];
/// Largest signature envelope read (real ones, certificate chain and timestamp included, are
/// 3–20 KiB).
pub const MAX_NOTATION_SIGNATURE_BYTES: usize = 256 * 1024;

/// One Notation signature attached to an image digest, as fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotationSignature {
    /// The envelope's media type (the layer's): `application/jose+json` or `application/cose`.
    pub media_type: String,
    /// The envelope, exactly as stored (checked against its descriptor digest).
    pub envelope: Vec<u8>,
    /// The digest of the signature manifest that carried it.
    pub manifest_digest: String,
}

impl Registry {
    /// The Notation signatures of `digest` in `repository`, read through the mirrors of
    /// `--registries-conf` as other signatures are: the first endpoint holding any wins; when
    /// none does, an endpoint that failed makes the answer a failure.
    pub async fn fetch_notation_signatures(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<NotationSignature>, RegistryError> {
        let mut failure = None;
        for endpoint in self.endpoints(repository, true)? {
            match self.notation_signatures_at(&endpoint, digest).await {
                Ok(found) if !found.is_empty() => return Ok(found),
                Ok(_) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(Vec::new()), Err)
    }

    async fn notation_signatures_at(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<NotationSignature>, RegistryError> {
        let (reference, found) = self
            .referrers_of(repository, digest, NOTATION_SIGNATURE_ARTIFACT_TYPE)
            .await?;
        let Some(entries) = found else {
            return Ok(Vec::new());
        };
        // Entries typed as something else are other artifacts (bundles, SBOMs): not read.
        let entries = entries
            .into_iter()
            .filter(|e| e.artifact_type.as_deref() == Some(NOTATION_SIGNATURE_ARTIFACT_TYPE));
        let read = |entry| self.notation_signature(&reference, digest, entry);
        read_each(entries, read, self.config.max_signatures).await
    }

    /// The signature one index entry names; `None` when the referrer is gone or names another
    /// subject. A manifest announced as a Notation signature that is not one is an error.
    async fn notation_signature(
        &self,
        reference: &Reference,
        digest: &Digest,
        entry: Descriptor,
    ) -> Result<Option<NotationSignature>, RegistryError> {
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
            what: "Notation signature manifest",
            head: false,
        };
        let fetched = match self.bounded_get(&get).await? {
            Answer::Found(fetched) => fetched,
            Answer::NotFound => return Ok(None),
            Answer::Unsupported => {
                return Err(invalid(format!(
                    "Notation signature manifest {manifest_digest} cannot be fetched"
                )));
            }
        };
        content::check_digests(
            &fetched,
            Some(&manifest_digest),
            &registry,
            "Notation signature manifest",
        )?;
        let manifest: ReferrerManifest = serde_json::from_slice(&fetched.bytes).map_err(|e| {
            invalid(format!(
                "Notation signature {manifest_digest} is not a manifest: {e}"
            ))
        })?;
        if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest.as_str()) {
            return Ok(None);
        }
        // `notation sign` types the manifest by its config (an OCI 1.1 writer may use
        // `artifactType`): either announces a signature.
        let announced = manifest
            .artifact_type
            .as_deref()
            .unwrap_or(manifest.config.media_type.as_str());
        if announced != NOTATION_SIGNATURE_ARTIFACT_TYPE {
            return Ok(None);
        }
        let layer = match manifest.layers.as_slice() {
            [layer] if NOTATION_ENVELOPE_TYPES.contains(&layer.media_type.as_str()) => layer,
            _ => {
                return Err(invalid(format!(
                    "Notation signature {manifest_digest} must have exactly one layer, of type \
                     application/jose+json or application/cose"
                )));
            }
        };
        let layer_digest =
            Digest::parse(&layer.digest).map_err(|e| invalid(format!("envelope digest: {e}")))?;
        if layer.size > MAX_NOTATION_SIGNATURE_BYTES as u64 {
            return Err(RegistryError::TooLarge {
                what: format!(
                    "Notation signature envelope {layer_digest} ({} bytes)",
                    layer.size
                ),
                limit: MAX_NOTATION_SIGNATURE_BYTES,
            });
        }
        let envelope = self
            .read_blob(
                reference,
                &layer_digest,
                MAX_NOTATION_SIGNATURE_BYTES,
                "Notation signature envelope",
            )
            .await?;
        Ok(Some(NotationSignature {
            media_type: layer.media_type.clone(),
            envelope,
            manifest_digest: manifest_digest.to_string(),
        }))
    }
}

/// The media type and size of a manifest: what a Notation payload's target descriptor repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestDescriptor {
    /// Its media type (`Content-Type`, else its own `mediaType`).
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
}

impl Registry {
    /// The descriptor of the manifest `digest` names in `repository` (read by digest, checked
    /// against it, through the mirrors of `--registries-conf`).
    pub async fn manifest_descriptor(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<ManifestDescriptor, RegistryError> {
        let mut last = None;
        for endpoint in self.endpoints(repository, true)? {
            match self.manifest_descriptor_at(&endpoint, digest).await {
                Ok(found) => return Ok(found),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Invalid {
            registry: repository.registry().to_string(),
            detail: "no endpoint to read the manifest from".into(),
        }))
    }

    async fn manifest_descriptor_at(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<ManifestDescriptor, RegistryError> {
        let reference = Reference::with_digest(
            repository.registry().to_string(),
            repository.repository().to_string(),
            digest.to_string(),
        );
        let registry = reference.registry().to_string();
        let get = Get {
            reference: &reference,
            path: format!("/v2/{}/manifests/{digest}", reference.repository()),
            accept: content::MANIFEST_TYPES,
            limit: self.config.max_image_manifest_bytes,
            what: "image manifest",
            head: false,
        };
        let fetched = match self.bounded_get(&get).await? {
            Answer::Found(fetched) => fetched,
            Answer::NotFound | Answer::Unsupported => {
                return Err(RegistryError::Invalid {
                    registry,
                    detail: format!("the manifest {digest} cannot be read"),
                });
            }
        };
        content::check_manifest(&fetched, Some(digest), &registry, "image manifest")?;
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Typed {
            #[serde(default)]
            media_type: Option<String>,
        }
        let declared = serde_json::from_slice::<Typed>(&fetched.bytes)
            .ok()
            .and_then(|t| t.media_type);
        let media_type =
            declared
                .or(fetched.content_type.clone())
                .ok_or_else(|| RegistryError::Invalid {
                    registry: registry.clone(),
                    detail: format!("the manifest {digest} names no media type"),
                })?;
        Ok(ManifestDescriptor {
            media_type,
            size: fetched.bytes.len() as u64,
        })
    }
}
