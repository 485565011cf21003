//! Sigstore bundles (cosign 3) stored as OCI 1.1 referrers of an image digest: found through the
//! referrers API (`GET /v2/<name>/referrers/<digest>`), or, where a registry has none (it answers
//! 404, or 400/405/406/501), through the referrers tag schema (`<name>:sha256-<hex>` holding an
//! image index). Everything is bounded before it is parsed: the index bytes, then the number of
//! index entries (counted while parsing, so a huge index is refused without allocating for its
//! entries, and summed over the pages of a paginated answer), the number of bundles, each
//! referrer manifest, and each bundle blob. Every entry's manifest is read and judged by itself,
//! whatever type the index gives the entry (cosign does the same). Returns the raw
//! bundle bytes; what they prove is the signature stage's business.

mod index;
mod notation;
mod pages;

use std::collections::BTreeMap;

use futures::StreamExt as _;
use oci_client::Reference;
use oci_client::manifest::{OCI_IMAGE_INDEX_MEDIA_TYPE, OCI_IMAGE_MEDIA_TYPE};
use serde::Deserialize;

use super::content;
use super::http::{Answer, Get};
use super::{Registry, RegistryError};
use crate::reference::{Digest, ImageReference};
use index::{Descriptor, parse_index};
use pages::MAX_REFERRER_PAGES;

pub use notation::{
    MAX_NOTATION_SIGNATURE_BYTES, ManifestDescriptor, NOTATION_SIGNATURE_ARTIFACT_TYPE,
    NotationSignature,
};

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
    /// tag, or a "referrers tag" that holds no index) means no bundles: an empty list.
    pub(super) async fn fetch_bundles(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<SignatureBundle>, RegistryError> {
        // 1. The index: the referrers API (every page), else the tag schema.
        let (reference, found) = self
            .referrers_of(repository, digest, SIGSTORE_BUNDLE_MEDIA_TYPE)
            .await?;
        let Some(entries) = found else {
            return Ok(Vec::new());
        };
        // 2. Every entry's manifest, judged by itself: an index entry's `artifactType` is a hint
        // that writers get wrong (cosign 3.0.x types its fallback entries as the empty config),
        // so the manifest, not the entry, says whether it carries a bundle. The entries are
        // already bounded by `max_referrers`.
        // 3. Not too many bundles.
        let read = |entry| self.bundle(&reference, digest, entry);
        read_each(entries, read, self.config.max_signatures).await
    }

    /// `digest` in `repository` as the reference the reads name, and its referrers of
    /// `artifact_type` (see [`Registry::referrers_index`]).
    async fn referrers_of(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        artifact_type: &str,
    ) -> Result<(Reference, Option<Vec<Descriptor>>), RegistryError> {
        let reference = Reference::with_digest(
            repository.registry().to_string(),
            repository.repository().to_string(),
            digest.to_string(),
        );
        let found = self
            .referrers_index(&reference, digest, artifact_type)
            .await?;
        Ok((reference, found))
    }

    /// The referrers index entries, from the API or the tag schema; `None` when neither exists.
    /// When the API fails (Harbor 2.7 answers 401 without a challenge, GHCR redirects to a rate
    /// limit page), the tag schema is still read; if it does not exist either, the API's
    /// failure is the answer (the referrers may exist: this is not "none").
    /// `artifact_type` is the API's filter (a hint: registries may ignore it).
    async fn referrers_index(
        &self,
        reference: &Reference,
        digest: &Digest,
        artifact_type: &str,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let api_failure = match self.referrers_api(reference, digest, artifact_type).await {
            Ok(Some(entries)) => return Ok(Some(entries)),
            Ok(None) => None,
            Err(
                e @ (RegistryError::TooManyReferrers { .. } | RegistryError::RateLimited { .. }),
            ) => {
                return Err(e);
            }
            Err(e) => {
                tracing::warn!(registry = reference.registry(), error = %e, "referrers API failed; reading the referrers tag");
                Some(e)
            }
        };
        let name = reference.repository();
        let tag = Get {
            reference,
            path: format!("/v2/{name}/manifests/{}", digest.tag_prefix()),
            accept: &[OCI_IMAGE_INDEX_MEDIA_TYPE],
            limit: self.config.max_manifest_bytes,
            what: "referrers tag index",
            head: false,
        };
        let fetched = match self.bounded_get(&tag).await {
            Ok(Answer::Found(fetched)) => fetched,
            Ok(Answer::NotFound | Answer::Unsupported) => return api_failure.map_or(Ok(None), Err),
            Err(e) => return Err(api_failure.unwrap_or(e)),
        };
        // GitLab answers the tag with the subject itself: a tag that holds no index lists nothing.
        match parse_index(
            &fetched.bytes,
            self.config.max_referrers,
            reference.registry(),
        ) {
            Ok(entries) => Ok(Some(entries)),
            Err(RegistryError::Invalid { .. }) => api_failure.map_or(Ok(Some(Vec::new())), Err),
            Err(e) => Err(e),
        }
    }

    /// The entries of the referrers API, every page of it (`pages.rs`); `None` when the registry
    /// has no such API (404, 400/405/406/501, or a first answer that is no index).
    async fn referrers_api(
        &self,
        reference: &Reference,
        digest: &Digest,
        artifact_type: &str,
    ) -> Result<Option<Vec<Descriptor>>, RegistryError> {
        let registry = reference.registry();
        let limit = self.config.max_referrers;
        let mut path = format!(
            "/v2/{}/referrers/{digest}?artifactType={}",
            reference.repository(),
            artifact_type.replace('+', "%2B")
        );
        let mut entries = Vec::new();
        for page in 0..MAX_REFERRER_PAGES {
            let api = Get {
                reference,
                path: path.clone(),
                accept: &[OCI_IMAGE_INDEX_MEDIA_TYPE],
                limit: self.config.max_manifest_bytes,
                what: "referrers index",
                head: false,
            };
            let fetched = match self.bounded_get(&api).await? {
                Answer::Found(fetched) => fetched,
                Answer::NotFound | Answer::Unsupported if page == 0 => return Ok(None),
                Answer::NotFound | Answer::Unsupported => {
                    return Err(invalid(
                        registry,
                        "a referrers page its Link named is missing",
                    ));
                }
            };
            match parse_index(&fetched.bytes, limit - entries.len(), registry) {
                Ok(more) => entries.extend(more),
                Err(RegistryError::TooManyReferrers { .. }) => {
                    return Err(RegistryError::TooManyReferrers { limit });
                }
                Err(RegistryError::Invalid { .. }) if page == 0 => return Ok(None),
                Err(e) => return Err(e),
            }
            match pages::next_page(fetched.link.as_deref(), registry) {
                Ok(Some(next)) => path = next,
                Ok(None) => return Ok(Some(entries)),
                Err(why) => return Err(invalid(registry, why)),
            }
        }
        Err(invalid(
            registry,
            "its referrers answer has more pages than Signet reads",
        ))
    }

    /// The bundle one index entry names, or `None` when its manifest carries none: the referrer
    /// is gone, names another subject (a referrers tag can list anything), or is another kind of
    /// artifact (an SBOM, an attestation of another format). An entry announced as a bundle
    /// whose manifest cannot be read as one is an error.
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
        let announced = is_bundle_type(entry.artifact_type.as_deref());
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
            Answer::Unsupported if !announced => return Ok(None),
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
        let manifest: ReferrerManifest = match serde_json::from_slice(&bytes) {
            Ok(manifest) => manifest,
            Err(_) if !announced => return Ok(None),
            Err(e) => {
                return Err(invalid(format!(
                    "referrer {manifest_digest} is not a manifest: {e}"
                )));
            }
        };
        if manifest.subject.as_ref().map(|s| s.digest.as_str()) != Some(digest.as_str()) {
            return Ok(None);
        }
        let Some(layer) = bundle_layer(&manifest, &manifest_digest).map_err(invalid)? else {
            return Ok(None);
        };
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

/// Read every entry with `read` (at most `REFERRER_READS` at once) and keep what was found, at
/// most `limit` of it: the first error, or one over the limit, fails the whole read.
async fn read_each<T, F, Fut>(
    entries: impl IntoIterator<Item = Descriptor>,
    read: F,
    limit: usize,
) -> Result<Vec<T>, RegistryError>
where
    F: FnMut(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, RegistryError>>,
{
    let found: Vec<_> = futures::stream::iter(entries)
        .map(read)
        .buffered(REFERRER_READS)
        .collect()
        .await;
    at_most(found, limit)
}

/// The referrers found (`None`: not one of the kind looked for), the first failure, or a
/// refusal when more than `limit` were found.
fn at_most<T>(
    found: Vec<Result<Option<T>, RegistryError>>,
    limit: usize,
) -> Result<Vec<T>, RegistryError> {
    let mut out = Vec::new();
    for item in found {
        let Some(item) = item? else { continue };
        if out.len() == limit {
            return Err(RegistryError::TooManySignatures {
                count: out.len() + 1,
                limit,
            });
        }
        out.push(item);
    }
    Ok(out)
}

/// Referrer manifests read at once for one image (the host's request slots cap them too).
const REFERRER_READS: usize = 4;

fn invalid(registry: &str, detail: &str) -> RegistryError {
    RegistryError::Invalid {
        registry: registry.to_string(),
        detail: detail.to_string(),
    }
}

/// The one bundle layer of a referrer manifest, `None` when the manifest announces no bundle
/// (another artifact), an error when it announces one but does not carry exactly one.
fn bundle_layer<'m>(
    manifest: &'m ReferrerManifest,
    digest: &Digest,
) -> Result<Option<&'m Descriptor>, String> {
    if manifest
        .media_type
        .as_deref()
        .is_some_and(|t| t != OCI_IMAGE_MEDIA_TYPE)
    {
        return Ok(None);
    }
    let announced = manifest
        .artifact_type
        .as_deref()
        .or(Some(manifest.config.media_type.as_str()));
    if !is_bundle_type(announced) {
        return Ok(None);
    }
    let mut layers = manifest
        .layers
        .iter()
        .filter(|l| is_bundle_type(Some(&l.media_type)));
    match (layers.next(), layers.next()) {
        (Some(layer), None) => Ok(Some(layer)),
        _ => Err(format!(
            "referrer {digest} must carry exactly one Sigstore bundle layer"
        )),
    }
}

pub(super) fn is_bundle_type(artifact_type: Option<&str>) -> bool {
    artifact_type.is_some_and(|t| SIGSTORE_BUNDLE_TYPES.contains(&t))
}
