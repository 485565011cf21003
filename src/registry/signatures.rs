//! Fetch the cosign signature layers stored under `<repo>:sha256-<hex>.sig`, bounded in count and
//! size, each blob checked against the digest its descriptor names; and, with the Sigstore bundles
//! attached as referrers (`referrers.rs`), all the signature material of one digest.

use std::collections::BTreeMap;

use oci_client::Reference;
use oci_client::manifest::{IMAGE_MANIFEST_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use serde::Deserialize;

use super::content;
use super::http::{Answer, Get};
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

/// Fixed bytes of one signature set beyond its content: the `Arc`, the vectors, the cache key.
const SET_OVERHEAD: usize = 128;
/// Fixed bytes of one layer or bundle: its struct, allocator headers, its map's node.
const ITEM_OVERHEAD: usize = 256;
/// Fixed bytes of one annotation: two `String`s and their allocator headers.
const ANNOTATION_OVERHEAD: usize = 80;

impl SignatureMaterial {
    /// No signature of either kind.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty() && self.bundles.is_empty()
    }

    /// Approximate bytes held (payloads, annotations, bundles and the allocations around them),
    /// for cache weights. Counting content alone undercounted a one-layer set by about half
    /// (heaptrack of `cargo bench --bench load`, case d), so the fixed costs of each layer,
    /// annotation and bundle are counted too: a weight budget must bound the memory it claims.
    pub fn byte_size(&self) -> usize {
        let map = |m: &BTreeMap<String, String>| -> usize {
            m.iter()
                .map(|(k, v)| k.len() + v.len() + ANNOTATION_OVERHEAD)
                .sum()
        };
        let layers: usize = self
            .layers
            .iter()
            .map(|l| l.payload.len() + map(&l.annotations) + ITEM_OVERHEAD)
            .sum();
        let bundles: usize = self
            .bundles
            .iter()
            .map(|b| {
                b.bytes.len()
                    + b.artifact_type.len()
                    + b.manifest_digest.len()
                    + map(&b.annotations)
                    + ITEM_OVERHEAD
            })
            .sum();
        SET_OVERHEAD + layers + bundles
    }
}

/// The parts of a signature manifest we read (its outline was checked first).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SignatureManifest {
    #[serde(default)]
    pub(super) layers: Vec<LayerDescriptor>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LayerDescriptor {
    #[serde(default)]
    pub(super) media_type: String,
    pub(super) digest: String,
    pub(super) size: u64,
    #[serde(default)]
    pub(super) annotations: BTreeMap<String, String>,
}

impl Registry {
    /// The signature material of `digest` in `repository`, read through the mirrors of
    /// `--registries-conf`: the first endpoint holding any signature wins. When none holds one,
    /// an endpoint that failed makes the answer a failure (it might have held one), else the
    /// answer is "no signature".
    pub async fn fetch_signature_material(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<SignatureMaterial, RegistryError> {
        let mut failure = None;
        for endpoint in self.endpoints(repository, true)? {
            match self
                .signature_material_at(&endpoint, digest, tag_prefix)
                .await
            {
                Ok(material) if !material.is_empty() => return Ok(material),
                Ok(_) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(SignatureMaterial::default()), Err)
    }

    /// The `.sig` layers and the Sigstore bundles of `digest` in `repository`, fetched
    /// concurrently. Best effort, as containers/image does: a failure of one lookup never hides
    /// what the other found (a broken referrers lookup on Harbor or GHCR must not deny an image
    /// with a valid `.sig`); the signature stage judges what was found. When nothing was found
    /// and a lookup failed, the failure is the answer: the missing signature might be behind it,
    /// so the image is denied naming it, never as unsigned.
    async fn signature_material_at(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<SignatureMaterial, RegistryError> {
        let (layers, bundles) = futures::join!(
            self.fetch_signatures(repository, digest, tag_prefix),
            self.fetch_bundles(repository, digest)
        );
        let registry = repository.registry();
        let (layers, layers_failed) = found_or_failure(layers, registry, ".sig");
        let (bundles, bundles_failed) = found_or_failure(bundles, registry, "referrers");
        let material = SignatureMaterial { layers, bundles };
        match (material.is_empty(), layers_failed.or(bundles_failed)) {
            (true, Some(failure)) => Err(failure),
            _ => Ok(material),
        }
    }

    /// Every signature layer stored for `digest` in `repository` (the image's own repository, or
    /// the authority's separate signature repository), under the `.sig` tag with `tag_prefix`
    /// in front (policy-controller's `source.tagPrefix`, cosign's `--attachment-tag-prefix`).
    /// No `.sig` manifest means no signatures: an empty list, which the signature stage turns
    /// into a denial.
    async fn fetch_signatures(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let sig_ref = Reference::with_tag(
            repository.registry().to_string(),
            repository.repository().to_string(),
            format!("{tag_prefix}{}", signature_tag(digest)),
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

    /// The `.sig` manifest, or `None` when the tag does not exist. Read within the manifest
    /// limit, checked (`content.rs`), and its layers counted before any is kept.
    pub(super) async fn signature_manifest(
        &self,
        sig_ref: &Reference,
    ) -> Result<Option<SignatureManifest>, RegistryError> {
        let registry = sig_ref.registry();
        let what = "signature manifest";
        let get = Get {
            reference: sig_ref,
            path: format!(
                "/v2/{}/manifests/{}",
                sig_ref.repository(),
                sig_ref.tag().unwrap_or_default()
            ),
            accept: &[OCI_IMAGE_MEDIA_TYPE, IMAGE_MANIFEST_MEDIA_TYPE],
            limit: self.config.max_manifest_bytes,
            what,
            head: false,
        };
        let fetched = match self.bounded_get(&get).await? {
            Answer::Found(fetched) => fetched,
            Answer::NotFound => return Ok(None),
            Answer::Unsupported => {
                return Err(RegistryError::Invalid {
                    registry: registry.to_string(),
                    detail: "the signature manifest cannot be fetched".to_string(),
                });
            }
        };
        let outline = content::check_manifest(&fetched, None, registry, what)?;
        if outline.is_index() {
            return Err(RegistryError::Invalid {
                registry: registry.to_string(),
                detail: "signature manifest is an index, not an image manifest".to_string(),
            });
        }
        if outline.layer_count() > self.config.max_signatures {
            return Err(RegistryError::TooManySignatures {
                count: outline.layer_count(),
                limit: self.config.max_signatures,
            });
        }
        serde_json::from_slice(&fetched.bytes)
            .map(Some)
            .map_err(|e| RegistryError::Invalid {
                registry: registry.to_string(),
                detail: format!("signature manifest is not an image manifest: {e}"),
            })
    }

    /// One layer blob, refused before download when its declared size is over the limit, read
    /// no further than the limit, and checked against its digest.
    async fn signature_layer(
        &self,
        sig_ref: &Reference,
        descriptor: LayerDescriptor,
    ) -> Result<SignatureLayer, RegistryError> {
        let limit = self.config.max_layer_bytes;
        self.layer_within(sig_ref, descriptor, limit).await
    }

    /// [`Self::signature_layer`] with the size limit `limit`.
    pub(super) async fn layer_within(
        &self,
        sig_ref: &Reference,
        descriptor: LayerDescriptor,
        limit: usize,
    ) -> Result<SignatureLayer, RegistryError> {
        let registry = sig_ref.registry().to_string();
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
            .read_blob(sig_ref, &digest, limit, "signature layer")
            .await?;
        Ok(SignatureLayer {
            payload,
            annotations: descriptor.annotations,
        })
    }

    /// A blob, read no further than `limit` bytes and checked against its digest.
    pub(super) async fn read_blob(
        &self,
        reference: &Reference,
        digest: &Digest,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<u8>, RegistryError> {
        let registry = reference.registry();
        let get = Get {
            reference,
            path: format!("/v2/{}/blobs/{digest}", reference.repository()),
            accept: &["*/*"],
            limit,
            what,
            head: false,
        };
        match self.bounded_get(&get).await? {
            Answer::Found(fetched) => {
                content::check_digests(&fetched, Some(digest), registry, what)?;
                Ok(fetched.bytes)
            }
            Answer::NotFound | Answer::Unsupported => Err(RegistryError::NotFound {
                reference: format!("{what} {digest}"),
            }),
        }
    }
}

/// What one lookup found, or nothing and its failure (logged: it may hide a signature).
fn found_or_failure<T>(
    lookup: Result<Vec<T>, RegistryError>,
    registry: &str,
    which: &'static str,
) -> (Vec<T>, Option<RegistryError>) {
    match lookup {
        Ok(found) => (found, None),
        Err(e) => {
            tracing::warn!(registry, lookup = which, error = %e, "signature lookup failed; using what the other lookup found");
            (Vec::new(), Some(e))
        }
    }
}
