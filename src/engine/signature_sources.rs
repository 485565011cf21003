//! Where an authority's signatures are read: each of its `source[]` entries (a repository and
//! a tag prefix; the image's own repository without one), with its `signaturePullSecrets`
//! presented before the review's credentials. Signatures found in any entry may satisfy the
//! authority; an entry that fails is remembered, since the signature needed might be there.

use std::sync::Arc;

use crate::policy::Authority;
use crate::reference::{Digest, ImageReference};
use crate::registry::{Credentials, RegistryError, SignatureMaterial};

use super::authorities::ReviewSignatures;
use super::cache::ReviewRegistry;
use super::stages::StageMetrics;

/// One review's lookups for one authority.
pub(super) struct Sources<'r, 'a> {
    pub registry: &'r ReviewRegistry<'a>,
    pub stages: &'r StageMetrics,
    pub fetched: &'r mut ReviewSignatures,
    /// The authority's pull Secrets (named, parsed), if it has any.
    pub pull: Option<&'r (String, Credentials)>,
}

impl Sources<'_, '_> {
    /// The material of every source of `authority` for `digest` (one source: its own, shared;
    /// several: their union), and the first failure among them.
    pub(super) async fn material(
        self,
        authority: &Authority,
        image: &ImageReference,
        digest: &Digest,
    ) -> (Arc<SignatureMaterial>, Option<RegistryError>) {
        let locations = locations(authority, image);
        let mut found: Vec<Arc<SignatureMaterial>> = Vec::with_capacity(locations.len());
        let mut failure = None;
        for (repository, prefix) in &locations {
            let at = (repository, prefix.as_str());
            match self
                .fetched
                .get(self.registry, self.stages, at, digest, self.pull)
                .await
            {
                Ok(material) => found.push(material.clone()),
                Err(e) => {
                    failure.get_or_insert_with(|| e.clone());
                }
            }
        }
        let material = match found.len() {
            1 => found.remove(0),
            _ => Arc::new(SignatureMaterial {
                layers: found.iter().flat_map(|m| m.layers.clone()).collect(),
                bundles: found.iter().flat_map(|m| m.bundles.clone()).collect(),
            }),
        };
        (material, failure)
    }
}

/// The repositories (and tag prefixes) an authority's signatures are read from: its
/// `source[]` entries, else the image's own repository.
pub(super) fn locations(
    authority: &Authority,
    image: &ImageReference,
) -> Vec<(ImageReference, String)> {
    let listed = authority.source.iter().flat_map(|s| &s.locations);
    let mut out: Vec<(ImageReference, String)> = listed
        .map(|l| {
            let repository = l
                .repository
                .as_deref()
                .and_then(|r| ImageReference::parse(r).ok())
                .unwrap_or_else(|| image.clone());
            (repository, l.tag_prefix.clone())
        })
        .collect();
    if out.is_empty() {
        out.push((image.clone(), String::new()));
    }
    out
}

/// The credentials of the authority's `signaturePullSecrets` (cluster mode), named by their
/// Secrets; `None` when it names none.
pub(super) fn signature_pull_credentials(
    authority: &Authority,
) -> Result<Option<(String, Credentials)>, String> {
    let secrets = authority.source.iter().flat_map(|s| &s.pull_secrets);
    let mut names = Vec::new();
    let mut credentials = Credentials::default();
    for secret in secrets {
        let parsed = match secret.kind.as_str() {
            "kubernetes.io/dockercfg" => Credentials::from_dockercfg_json(&secret.config),
            _ => Credentials::from_docker_config_json(&secret.config),
        };
        let parsed = parsed.map_err(|e| {
            format!(
                "signature pull Secret {} cannot be read: {e}; fix its registry configuration",
                secret.name
            )
        })?;
        credentials = credentials.merge(&parsed);
        names.push(secret.name.as_str());
    }
    Ok((!names.is_empty()).then(|| (names.join(","), credentials)))
}
