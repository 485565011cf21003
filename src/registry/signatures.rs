//! Fetch the cosign signature layers stored under `<repo>:sha256-<hex>.sig`, bounded in count and
//! size, each blob checked against the digest its descriptor names; and, with the Sigstore bundles
//! attached as referrers (`referrers.rs`), all the signature material of one digest.

use std::collections::BTreeMap;

use futures::StreamExt;
use oci_client::Reference;
use oci_client::manifest::{IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE, OciDescriptor};
use serde::Deserialize;

use super::{Registry, RegistryError, SignatureBundle};
use crate::reference::{Digest, ImageReference};

/// The media type of a cosign signature layer. Other layers under the `.sig` tag (attachments)
/// are not signatures and are not downloaded, as containers/image ignores them.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";

/// The tag cosign stores signatures of `digest` under.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}.sig", digest.tag_prefix())
}

/// One cosign signature layer as fetched: the payload blob (checked against its descriptor
/// digest) and the layer's descriptor annotations (`dev.cosignproject.cosign/signature`,
/// certificate, chain, bundle). The signature stage decides what it proves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureLayer {
    /// The layer blob: a simple-signing JSON document, exactly as signed.
    pub payload: Vec<u8>,
    /// Descriptor annotations.
    pub annotations: BTreeMap<String, String>,
}

/// Everything that may sign one digest in one repository: cosign `.sig` layers and Sigstore
/// bundles (cosign 3). Either kind may satisfy an authority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureMaterial {
    /// The layers under the `.sig` tag.
    pub layers: Vec<SignatureLayer>,
    /// The bundles attached as referrers.
    pub bundles: Vec<SignatureBundle>,
}

impl SignatureMaterial {
    /// No signature of either kind.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.bundles.is_empty()
    }

    /// Approximate bytes held (payloads, annotations, bundles), for cache weights.
    pub fn byte_size(&self) -> usize {
        let map = |m: &BTreeMap<String, String>| -> usize {
            m.iter().map(|(k, v)| k.len() + v.len()).sum()
        };
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.payload.len() + map(&l.annotations))
            .sum();
        let bundles: usize = self
            .bundles
            .iter()
            .map(|b| {
                b.bytes.len()
                    + b.artifact_type.len()
                    + b.manifest_digest.len()
                    + map(&b.annotations)
            })
            .sum();
        layers + bundles
    }
}

/// The parts of a signature manifest we read. `manifests` is only there to refuse an index.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignatureManifest {
    #[serde(default)]
    layers: Vec<LayerDescriptor>,
    #[serde(default)]
    manifests: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayerDescriptor {
    #[serde(default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

impl Registry {
    /// The `.sig` layers and the Sigstore bundles of `digest` in `repository`, fetched
    /// concurrently; a failure of either fails the whole (never a partial view).
    pub async fn fetch_signature_material(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<SignatureMaterial, RegistryError> {
        let (layers, bundles) = futures::join!(
            self.fetch_signatures(repository, digest),
            self.fetch_bundles(repository, digest)
        );
        Ok(SignatureMaterial {
            layers: layers?,
            bundles: bundles?,
        })
    }

    /// Every signature layer stored for `digest` in `repository` (the image's own repository, or
    /// the authority's separate signature repository). No `.sig` manifest means no signatures:
    /// an empty list, which the signature stage turns into a denial.
    pub async fn fetch_signatures(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let sig_ref = Reference::with_tag(
            repository.registry().to_string(),
            repository.repository().to_string(),
            signature_tag(digest),
        );
        let Some(manifest) = self.signature_manifest(&sig_ref).await? else {
            return Ok(Vec::new());
        };
        let mut layers = Vec::with_capacity(manifest.layers.len());
        let signatures = manifest
            .layers
            .into_iter()
            .filter(|d| d.media_type == SIMPLE_SIGNING_MEDIA_TYPE);
        for descriptor in signatures {
            layers.push(self.signature_layer(&sig_ref, descriptor).await?);
        }
        Ok(layers)
    }

    /// The `.sig` manifest, or `None` when the tag does not exist.
    async fn signature_manifest(
        &self,
        sig_ref: &Reference,
    ) -> Result<Option<SignatureManifest>, RegistryError> {
        let registry = sig_ref.registry();
        let auth = self.auth_for(registry);
        let accepted = [OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE];
        let call = self.client.pull_manifest_raw(sig_ref, &auth, &accepted);
        let bytes = match self.deadline("fetch signature manifest", call).await? {
            Ok((bytes, _digest)) => bytes,
            Err(e) => match RegistryError::from_oci(registry, e) {
                RegistryError::NotFound { .. } => return Ok(None),
                other => return Err(other),
            },
        };
        self.parse_signature_manifest(registry, &bytes).map(Some)
    }

    fn parse_signature_manifest(
        &self,
        registry: &str,
        bytes: &[u8],
    ) -> Result<SignatureManifest, RegistryError> {
        let limit = self.config.max_manifest_bytes;
        if bytes.len() > limit {
            return Err(RegistryError::TooLarge {
                what: format!("signature manifest ({} bytes)", bytes.len()),
                limit,
            });
        }
        let manifest: SignatureManifest =
            serde_json::from_slice(bytes).map_err(|e| RegistryError::Invalid {
                registry: registry.to_string(),
                detail: format!("signature manifest is not an image manifest: {e}"),
            })?;
        if manifest.manifests.is_some() {
            return Err(RegistryError::Invalid {
                registry: registry.to_string(),
                detail: "signature manifest is an index, not an image manifest".to_string(),
            });
        }
        if manifest.layers.len() > self.config.max_signatures {
            return Err(RegistryError::TooManySignatures {
                count: manifest.layers.len(),
                limit: self.config.max_signatures,
            });
        }
        Ok(manifest)
    }

    /// One layer blob, refused before download when its declared size is over the limit, read
    /// no further than the limit, and checked against its digest.
    async fn signature_layer(
        &self,
        sig_ref: &Reference,
        descriptor: LayerDescriptor,
    ) -> Result<SignatureLayer, RegistryError> {
        let registry = sig_ref.registry().to_string();
        let limit = self.config.max_layer_bytes;
        let digest = Digest::parse(&descriptor.digest).map_err(|e| RegistryError::Invalid {
            registry: registry.clone(),
            detail: format!("signature layer digest: {e}"),
        })?;
        if descriptor.size > limit as u64 {
            return Err(RegistryError::TooLarge {
                what: format!("signature layer {digest} ({} bytes)", descriptor.size),
                limit,
            });
        }
        let payload = self
            .deadline(
                "fetch signature layer",
                self.read_blob(sig_ref, &digest, limit),
            )
            .await??;
        if !digest.matches(&payload) {
            return Err(RegistryError::Invalid {
                registry,
                detail: format!("signature layer content does not match {digest}"),
            });
        }
        Ok(SignatureLayer {
            payload,
            annotations: descriptor.annotations,
        })
    }

    /// Stream a blob, stopping with an error as soon as it passes `limit` bytes.
    pub(super) async fn read_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        limit: usize,
    ) -> Result<Vec<u8>, RegistryError> {
        let registry = reference.registry();
        let descriptor = OciDescriptor {
            digest: digest.to_string(),
            ..Default::default()
        };
        let mut stream = self
            .client
            .pull_blob_stream(reference, &descriptor)
            .await
            .map_err(|e| RegistryError::from_oci(registry, e))?;
        let mut body = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| RegistryError::Unavailable {
                registry: registry.to_string(),
                detail: format!("reading blob {digest}: {e}"),
            })?;
            if body.len() + chunk.len() > limit {
                return Err(RegistryError::TooLarge {
                    what: format!("signature layer {digest}"),
                    limit,
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}
