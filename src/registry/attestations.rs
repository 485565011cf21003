//! Fetch the cosign attestations stored under `<repo>:sha256-<hex>.att`: DSSE envelopes as
//! layers (`application/vnd.dsse.envelope.v1+json`, the predicate type in the layer annotation
//! `predicateType`), bounded in count like signatures and in size per layer and in total, each
//! blob checked against its descriptor digest. What they prove is the signature stage's.

use oci_client::Reference;

use super::signatures::SignatureLayer;
use super::{Registry, RegistryError};
use crate::reference::{Digest, ImageReference};

/// The media type of a cosign attestation layer.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";
/// The largest attestation layer downloaded: a DSSE envelope around a 1 MiB Statement (base64
/// grows it by a third) and its signatures.
pub const MAX_ATTESTATION_LAYER_BYTES: usize = 1536 * 1024;
/// The most attestation bytes downloaded for one digest, all layers together.
pub const MAX_ATTESTATION_BYTES: usize = 8 * 1024 * 1024;

/// The tag cosign stores attestations of `digest` under.
pub fn attestation_tag(digest: &Digest) -> String {
    format!("{}.att", digest.tag_prefix())
}

impl Registry {
    /// The attestation layers of `digest` in `repository` (under the `.att` tag with
    /// `tag_prefix`, a `source[].tagPrefix`), read through the mirrors of `--registries-conf`
    /// as signatures are: the first endpoint holding any wins; when none does, an endpoint that
    /// failed makes the answer a failure.
    pub async fn fetch_attestation_layers(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let mut failure = None;
        for endpoint in self.endpoints(repository, true)? {
            match self.attestations_at(&endpoint, digest, tag_prefix).await {
                Ok(layers) if !layers.is_empty() => return Ok(layers),
                Ok(_) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(Vec::new()), Err)
    }

    async fn attestations_at(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<Vec<SignatureLayer>, RegistryError> {
        let att_ref = Reference::with_tag(
            repository.registry().to_string(),
            repository.repository().to_string(),
            format!("{tag_prefix}{}", attestation_tag(digest)),
        );
        let Some(manifest) = self.signature_manifest(&att_ref).await? else {
            return Ok(Vec::new());
        };
        let envelopes: Vec<_> = manifest
            .layers
            .into_iter()
            .filter(|d| d.media_type == DSSE_MEDIA_TYPE)
            .collect();
        let declared: u64 = envelopes.iter().map(|d| d.size).sum();
        if declared > MAX_ATTESTATION_BYTES as u64 {
            return Err(RegistryError::TooLarge {
                what: format!("the attestations of {digest} ({declared} bytes together)"),
                limit: MAX_ATTESTATION_BYTES,
            });
        }
        let mut layers = Vec::with_capacity(envelopes.len());
        for descriptor in envelopes {
            layers.push(
                self.layer_within(&att_ref, descriptor, MAX_ATTESTATION_LAYER_BYTES)
                    .await?,
            );
        }
        Ok(layers)
    }
}
