//! Registry stage: resolve a tag to the digest the runtime would pull, and fetch the signature
//! material stored for a digest: cosign `.sig` layers and Sigstore bundles attached as OCI
//! referrers. Every call has a deadline and every body a size limit; nothing here decides a
//! verdict.

mod addresses;
mod attestations;
mod auth;
mod backoff;
mod clients;
mod content;
mod error;
mod fanout;
mod http;
mod mirrors;
mod platforms;
mod redirect;
mod referrers;
mod resolver;
mod signatures;
mod token;

use std::sync::Arc;
use std::time::Duration;

use oci_client::Reference;
use oci_client::secrets::RegistryAuth;

use backoff::Backoff;
use clients::Clients;
use fanout::HostSlots;
use http::{Answer, Get};
use token::Tokens;

use crate::expiring::SharedClock;
use crate::reference::{Digest, ImageReference};

pub use attestations::{
    DSSE_MEDIA_TYPE, MAX_ATTESTATION_BYTES, MAX_ATTESTATION_LAYER_BYTES, attestation_tag,
};
pub use auth::{
    AuthKey, CredentialProviders, Credentials, CredentialsError, DEFAULT_PROVIDER_TIMEOUT,
    MAX_PROVIDER_RESPONSE_BYTES, ProviderError,
};
pub use error::RegistryError;
pub use mirrors::{MAX_MIRROR_ENTRIES, Mirrors, MirrorsError};
pub use platforms::{MAX_INDEX_CHILDREN, Platform, PlatformManifest, Pull};
pub use referrers::{
    MAX_BUNDLE_BYTES, MAX_NOTATION_SIGNATURE_BYTES, ManifestDescriptor,
    NOTATION_SIGNATURE_ARTIFACT_TYPE, NotationSignature, SIGSTORE_BUNDLE_MEDIA_TYPE,
    SIGSTORE_BUNDLE_TYPES, SignatureBundle,
};
pub use signatures::{SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer, SignatureMaterial, signature_tag};
pub use token::MAX_TOKEN_ANSWER_BYTES;

/// Default of [`RegistryConfig::max_requests_per_host`] (`--max-requests-per-registry`).
pub const DEFAULT_MAX_REQUESTS_PER_HOST: usize = 16;

/// Limits and settings for all registry traffic.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries (`host[:port]`) reached over plain HTTP. Never implied.
    pub insecure: Vec<String>,
    /// Deadline of one registry call, connection included.
    pub call_timeout: Duration,
    /// Largest signature manifest accepted, in bytes.
    pub max_manifest_bytes: usize,
    /// Largest signature layer (payload) accepted, in bytes.
    pub max_layer_bytes: usize,
    /// Most signature layers (and, separately, Sigstore bundles) examined for one image; more is
    /// refused, not truncated.
    pub max_signatures: usize,
    /// Most entries of a referrers index examined (bundles, SBOMs, attestations, ...); more is
    /// refused, not truncated.
    pub max_referrers: usize,
    /// Largest image manifest or index read to resolve a tag (when HEAD gives no digest).
    pub max_image_manifest_bytes: usize,
    /// Longest pause after a 429: the registry is not asked again for this long (or for its
    /// shorter `Retry-After`); its images are denied as rate limited meanwhile.
    pub rate_limit_pause: Duration,
    /// Where images are read from (`--registries-conf`): mirrors and prefix rewrites.
    pub mirrors: Mirrors,
    /// Most requests in flight to one registry host, across all reviews; more wait their turn
    /// (within the review's deadline).
    pub max_requests_per_host: usize,
    /// What the rate-limit pause is measured by: the system clock, or a test's own.
    pub clock: SharedClock,
    /// The kubelet's credential provider plugins (`--image-credential-provider-config`), asked
    /// for each image after the review's and the global credentials.
    pub credential_providers: Option<Arc<CredentialProviders>>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            call_timeout: Duration::from_secs(3),
            max_manifest_bytes: 256 * 1024,
            max_layer_bytes: 64 * 1024,
            max_signatures: 64,
            max_referrers: 256,
            max_image_manifest_bytes: 4 * 1024 * 1024,
            rate_limit_pause: Duration::from_secs(5),
            mirrors: Mirrors::default(),
            max_requests_per_host: DEFAULT_MAX_REQUESTS_PER_HOST,
            clock: crate::expiring::system_clock(),
            credential_providers: None,
        }
    }
}

/// A pooled client for all registries (connections are kept alive per host). Cloning is cheap
/// and shares the connections, tokens, back-off and per-host request slots;
/// [`Registry::with_pull_credentials`] gives a review its own credentials over the same pool.
#[derive(Clone)]
pub struct Registry {
    /// For every bounded read (manifests, API documents, blobs) and token request.
    clients: Result<Arc<Clients>, String>,
    credentials: Arc<Credentials>,
    config: Arc<RegistryConfig>,
    /// Bearer tokens, keyed by registry, scope and credential.
    tokens: Arc<Tokens>,
    backoff: Arc<Backoff>,
    hosts: Arc<HostSlots>,
}

impl Registry {
    /// Build the client once; it is shared by every review.
    pub fn new(mut config: RegistryConfig, credentials: Credentials) -> Self {
        let insecure = config.mirrors.insecure_hosts().to_vec();
        config.insecure.extend(insecure);
        Self {
            clients: Clients::new(&config).map(Arc::new),
            credentials: Arc::new(credentials),
            hosts: Arc::new(HostSlots::new(config.max_requests_per_host)),
            tokens: Arc::default(),
            backoff: Arc::new(Backoff::new(config.clock.clone())),
            config: Arc::new(config),
        }
    }

    /// This client presenting `pod` first and this client's own credentials (the global
    /// `--registry-config`) for registries `pod` does not name: the kubelet's order. Shares
    /// the connection pool, the back-off and the token cache, whose entries are keyed by
    /// credential, so nothing obtained with one tenant's credential serves another.
    pub fn with_pull_credentials(&self, pod: &Credentials) -> Registry {
        Registry {
            credentials: Arc::new(pod.clone().or(&self.credentials)),
            ..self.clone()
        }
    }

    /// This client presenting, after its own credentials, those the credential provider plugins
    /// give for `image` (itself when none is configured or none matches), and the failures of
    /// the plugins that were asked.
    pub async fn with_provided_credentials(
        &self,
        image: &ImageReference,
    ) -> (Registry, Vec<String>) {
        let Some(providers) = &self.config.credential_providers else {
            return (self.clone(), Vec::new());
        };
        let provided = providers
            .credentials_for(image.registry(), image.repository())
            .await;
        if provided.credentials.is_empty() {
            return (self.clone(), provided.failures);
        }
        let registry = Registry {
            credentials: Arc::new((*self.credentials).clone().or(&provided.credentials)),
            ..self.clone()
        };
        (registry, provided.failures)
    }

    /// Which credential this client presents for `repository` at `registry` (for keying what
    /// it answers).
    pub fn auth_key(&self, registry: &str, repository: &str) -> AuthKey {
        self.credentials.auth_key(registry, repository)
    }

    /// Which credentials this client presents to read `image` by tag: those of every endpoint
    /// `--registries-conf` reads it from (just its registry without one), so a tag resolved
    /// through a mirror with one tenant's credential never serves another.
    pub fn image_auth_key(&self, image: &ImageReference) -> AuthKey {
        if self.config.mirrors.is_empty() {
            // What the match below gives for the one endpoint, without building it.
            return self.auth_key(image.registry(), image.repository());
        }
        match self.config.mirrors.endpoints(image, false).as_slice() {
            [only] if only.registry() == image.registry() => {
                self.auth_key(image.registry(), image.repository())
            }
            endpoints => AuthKey::combine(
                endpoints
                    .iter()
                    .map(|e| self.auth_key(e.registry(), e.repository())),
            ),
        }
    }

    /// The limits this registry enforces.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The digest the runtime would pull for `image`: the digest in the reference if it has one
    /// (never re-resolved), else the registry's manifest digest for the tag: `Docker-Content-Digest`
    /// of a HEAD, or, when HEAD gives none (an empty header, or a HEAD refused with 404, 401 or
    /// 405 where the GET works), the SHA-256 of the bounded manifest GET. For a
    /// multi-platform image this is the index digest, which is what cosign signs.
    /// Read through the mirrors of `--registries-conf`, in order, the first answer wins.
    pub async fn resolve_digest(&self, image: &ImageReference) -> Result<Digest, RegistryError> {
        if let Some(digest) = image.digest() {
            return Ok(digest.clone());
        }
        let mut last = None;
        for endpoint in self.endpoints(image, false)? {
            match self.resolve_at(&endpoint).await {
                Ok(digest) => return Ok(digest),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| blocked(image)))
    }

    /// Where to read `image` from (see [`Mirrors::endpoints`]); an error when it is blocked.
    fn endpoints(
        &self,
        image: &ImageReference,
        by_digest: bool,
    ) -> Result<Vec<ImageReference>, RegistryError> {
        let endpoints = self.config.mirrors.endpoints(image, by_digest);
        match endpoints.is_empty() {
            true => Err(blocked(image)),
            false => Ok(endpoints),
        }
    }

    /// The tag's digest at one endpoint.
    async fn resolve_at(&self, image: &ImageReference) -> Result<Digest, RegistryError> {
        let reference = oci_reference(image);
        let tag = reference.tag().unwrap_or("latest");
        let mut get = Get {
            reference: &reference,
            path: format!("/v2/{}/manifests/{tag}", reference.repository()),
            accept: content::MANIFEST_TYPES,
            limit: self.config.max_image_manifest_bytes,
            what: "image manifest",
            head: true,
        };
        // Harbor, Artifactory and others answer a manifest HEAD 404, 401 or 405 where the GET
        // works, or send an empty digest header: then the GET decides (by the bytes' digest).
        let announced = match self.bounded_get(&get).await {
            Ok(Answer::Found(head)) => head.docker_digest,
            Ok(Answer::NotFound | Answer::Unsupported)
            | Err(RegistryError::Unauthorized { .. }) => None,
            Err(e) => return Err(e),
        };
        if let Some(announced) = announced {
            return Digest::parse(&announced).map_err(|e| RegistryError::Invalid {
                registry: image.registry().to_string(),
                detail: format!("registry answered an invalid digest: {e}"),
            });
        }
        get.head = false;
        let Answer::Found(fetched) = self.bounded_get_found(&get, image).await? else {
            return Err(RegistryError::NotFound {
                reference: image.to_string(),
            });
        };
        content::check_manifest(&fetched, None, image.registry(), "image manifest")?;
        Ok(Digest::sha256_of(&fetched.bytes))
    }

    /// A manifest read where "not found" is an error naming `image`.
    async fn bounded_get_found(
        &self,
        get: &Get<'_>,
        image: &ImageReference,
    ) -> Result<Answer, RegistryError> {
        match self.bounded_get(get).await? {
            Answer::NotFound => Err(RegistryError::NotFound {
                reference: image.to_string(),
            }),
            other => Ok(other),
        }
    }

    /// Credentials configured for `repository` at `registry`, else anonymous. Only that
    /// registry's credentials are ever presented to it.
    fn auth_for(&self, registry: &str, repository: &str) -> RegistryAuth {
        self.credentials.auth_for(registry, repository)
    }

    /// Run one registry call under the per-call deadline.
    async fn deadline<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = T>,
    ) -> Result<T, RegistryError> {
        tokio::time::timeout(self.config.call_timeout, call)
            .await
            .map_err(|_| RegistryError::Timeout {
                operation,
                after: self.config.call_timeout,
            })
    }
}

/// The error for an image whose registries.conf entry is `blocked` (or has no usable location).
fn blocked(image: &ImageReference) -> RegistryError {
    RegistryError::Unavailable {
        registry: image.registry().to_string(),
        detail: "blocked by --registries-conf (no location to read it from)".to_string(),
    }
}

/// oci-client's reference for a normalised image reference.
fn oci_reference(image: &ImageReference) -> Reference {
    let registry = image.registry().to_string();
    let repository = image.repository().to_string();
    match (image.tag(), image.digest()) {
        (_, Some(digest)) => Reference::with_digest(registry, repository, digest.to_string()),
        (Some(tag), None) => Reference::with_tag(registry, repository, tag.to_string()),
        (None, None) => Reference::with_tag(registry, repository, "latest".to_string()),
    }
}
