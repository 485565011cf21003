//! Caches around the registry stage. The stages stay cache-free; this wiring decides what may be
//! remembered and for how long:
//!
//! * tag -> digest, for `tag_ttl` only: it widens the window in which a moved tag is still
//!   verified at its old digest by at most that long (a reference with a digest is never cached
//!   or re-resolved). Keyed also by the credentials the review presents to that registry and
//!   its `--registries-conf` mirrors ([`AuthKey`]): a private tag one tenant resolved is never
//!   resolved from the cache for a tenant without that credential;
//! * signature material (`.sig` layers and Sigstore bundles) by (repository, digest), shared by
//!   every tenant (what a digest's signatures say does not depend on who asked):
//!   `signature_ttl` when signatures exist,
//!   `negative_ttl` when none do, so an image signed after a denial is admitted soon after.
//!
//! Errors are never cached. Concurrent misses for one key share a single registry fetch
//! (single-flight), so a burst of reviews for one new image costs one round of registry calls.
//! The tag cache is bounded in entries, the signature cache weighed in bytes. Lifetimes are
//! read from [`CacheSettings::clock`] (see [`crate::expiring`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::expiring::{ExpiringCache, SharedClock, system_clock};
use crate::reference::{Digest, ImageReference};
use crate::registry::{
    AuthKey, Credentials, PlatformManifest, Registry, RegistryError, SignatureMaterial,
};

use super::stages::StageMetrics;
use super::verdicts::memo::Reuse;

/// Cache sizes and lifetimes.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// How long a tag's digest is trusted without asking the registry again.
    pub tag_ttl: Duration,
    /// How long fetched signatures are reused.
    pub signature_ttl: Duration,
    /// How long "no signature exists" is reused.
    pub negative_ttl: Duration,
    /// Most bytes of signature material held.
    pub max_signature_bytes: u64,
    /// Most tag resolutions held.
    pub max_tags: u64,
    /// What lifetimes are measured by: the system clock, or a test's own.
    pub clock: SharedClock,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            tag_ttl: Duration::from_secs(30),
            signature_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(10),
            // Warm reviews are answered by the verdict cache; signatures are kept for herds and
            // for judging a changed policy without a refetch, so a smaller budget suffices.
            max_signature_bytes: 4 * 1024 * 1024,
            max_tags: 100_000,
            clock: system_clock(),
        }
    }
}

/// Hits and misses per cache, for metrics.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Tag resolutions served from the cache (or joined to a fetch under way).
    pub digest_hits: AtomicU64,
    /// Tag resolutions that went to the registry.
    pub digest_misses: AtomicU64,
    /// Signature sets served from the cache (or joined to a fetch under way).
    pub signature_hits: AtomicU64,
    /// Signature sets fetched from the registry.
    pub signature_misses: AtomicU64,
}

type Layers = Arc<SignatureMaterial>;
/// The children of an index, `None` for a single image.
pub type Children = Option<Arc<Vec<PlatformManifest>>>;

/// Bytes a `quick_cache` slot holds beside the key's and value's heap: the key and slot inline,
/// slab links and the hash-table index.
const SLOT_OVERHEAD: usize = 96;

/// About the weight of one signature set: how many entries the byte budget is sized for.
const EXPECTED_SIGNATURE_BYTES: u64 = 2048;

/// Most index listings held.
const MAX_INDEXES: u64 = 4_000;

/// The registry stage behind its caches: what the engine calls.
pub struct CachedRegistry {
    registry: Registry,
    digests: ExpiringCache<(AuthKey, String), Digest, RegistryError>,
    signatures: ExpiringCache<(String, Digest), Layers, RegistryError>,
    indexes: ExpiringCache<(String, Digest), Children, RegistryError>,
    tag_ttl: Duration,
    signature_ttl: Duration,
    negative_ttl: Duration,
    stats: CacheStats,
    metrics: Arc<StageMetrics>,
}

impl CachedRegistry {
    /// `registry` behind empty caches with these limits; registry calls are timed in `metrics`.
    pub fn new(registry: Registry, settings: &CacheSettings, metrics: Arc<StageMetrics>) -> Self {
        let clock = &settings.clock;
        let signatures = ExpiringCache::weighed(
            settings.max_signature_bytes / EXPECTED_SIGNATURE_BYTES,
            settings.max_signature_bytes,
            weight,
            clock.clone(),
        );
        Self {
            registry,
            digests: ExpiringCache::counted(settings.max_tags, clock.clone()),
            signatures,
            indexes: ExpiringCache::counted(MAX_INDEXES, clock.clone()),
            tag_ttl: settings.tag_ttl,
            signature_ttl: settings.signature_ttl,
            negative_ttl: settings.negative_ttl,
            stats: CacheStats::default(),
            metrics,
        }
    }

    /// Cache hits and misses so far.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The registry client with the global credentials only.
    pub fn base(&self) -> &Registry {
        &self.registry
    }

    /// These caches seen by a review that reaches registries through `via` (the base client
    /// presenting the review's own credentials).
    pub fn for_review<'a>(&'a self, via: &'a Registry) -> ReviewRegistry<'a> {
        ReviewRegistry { cached: self, via }
    }
}

/// The registry stage for one review: its credentials, the shared caches keyed by them.
pub struct ReviewRegistry<'a> {
    cached: &'a CachedRegistry,
    via: &'a Registry,
}

impl ReviewRegistry<'_> {
    /// [`Registry::fetch_attestation_layers`], timed, not cached (the verdict cache keeps what
    /// they decided).
    pub async fn fetch_attestations(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<Vec<crate::registry::SignatureLayer>, RegistryError> {
        let fetch = self
            .via
            .fetch_attestation_layers(repository, digest, tag_prefix);
        self.cached
            .timed(repository.registry(), "fetch_attestations", fetch)
            .await
    }

    /// [`Registry::fetch_notation_signatures`], timed, not cached (the verdict cache keeps what
    /// they decided).
    pub async fn fetch_notation_signatures(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<Vec<crate::registry::NotationSignature>, RegistryError> {
        let fetch = self.via.fetch_notation_signatures(repository, digest);
        self.cached
            .timed(repository.registry(), "fetch_notation_signatures", fetch)
            .await
    }

    /// [`Registry::manifest_descriptor`], timed, not cached.
    pub async fn manifest_descriptor(
        &self,
        repository: &ImageReference,
        digest: &Digest,
    ) -> Result<crate::registry::ManifestDescriptor, RegistryError> {
        let fetch = self.via.manifest_descriptor(repository, digest);
        self.cached
            .timed(repository.registry(), "manifest_descriptor", fetch)
            .await
    }

    /// The same caches, reached with `pull` first (an authority's `signaturePullSecrets`),
    /// then this review's credentials.
    pub fn with_credentials(&self, pull: &Credentials) -> Registry {
        self.via.with_pull_credentials(pull)
    }

    /// The same caches, reached through `via`.
    pub fn through<'b>(&'b self, via: &'b Registry) -> ReviewRegistry<'b> {
        ReviewRegistry {
            cached: self.cached,
            via,
        }
    }

    /// [`Registry::resolve_digest`] through the tag cache, with how long the digest may be
    /// reused: always for a digest the reference names, until the tag cache's entry expires for
    /// a cached tag, not at all for a tag resolved now.
    pub async fn resolve_digest(
        &self,
        image: &ImageReference,
    ) -> Result<(Digest, Reuse), RegistryError> {
        if let Some(digest) = image.digest() {
            return Ok((digest.clone(), Reuse::Always));
        }
        let key = (self.via.image_auth_key(image), image.to_string());
        if let Some((digest, expires)) = self.cached.digests.get_until(&key) {
            self.cached
                .stats
                .digest_hits
                .fetch_add(1, Ordering::Relaxed);
            return Ok((digest, Reuse::Until(expires)));
        }
        // Boxed: the registry call's state would otherwise sit in every review's future, and
        // warm reviews would copy it around for nothing.
        let resolved = Box::pin(self.resolve_tag(key, image)).await?;
        Ok((resolved, Reuse::Never))
    }

    /// A tag the cache did not hold: one registry resolution for every concurrent caller.
    async fn resolve_tag(
        &self,
        key: (AuthKey, String),
        image: &ImageReference,
    ) -> Result<Digest, RegistryError> {
        let cached = self.cached;
        let fetch = cached.timed(
            image.registry(),
            "resolve_digest",
            self.via.resolve_digest(image),
        );
        let entry = cached
            .digests
            .get_or_fetch(key, |_| cached.tag_ttl, fetch)
            .await;
        let (hits, misses) = (&cached.stats.digest_hits, &cached.stats.digest_misses);
        counted(entry, hits, misses)
    }

    /// [`Registry::fetch_signature_material`] through the signature cache.
    pub async fn fetch_signatures(
        &self,
        repository: &ImageReference,
        digest: &Digest,
        tag_prefix: &str,
    ) -> Result<Layers, RegistryError> {
        let cached = self.cached;
        let fetch = async {
            let fetch = self
                .via
                .fetch_signature_material(repository, digest, tag_prefix);
            let material = cached
                .timed(repository.registry(), "fetch_signatures", fetch)
                .await;
            material.map(Arc::new)
        };
        let lifetime = |layers: &Layers| match layers.is_empty() {
            true => cached.negative_ttl,
            false => cached.signature_ttl,
        };
        let entry = cached
            .signatures
            // A space never occurs in a repository name: the key is unambiguous.
            .get_or_fetch(
                (
                    format!("{} {tag_prefix}", repository.name()),
                    digest.clone(),
                ),
                lifetime,
                fetch,
            )
            .await;
        let (hits, misses) = (&cached.stats.signature_hits, &cached.stats.signature_misses);
        counted(entry, hits, misses)
    }

    /// [`Registry::index_children`], cached by digest (the content a digest names never
    /// changes; the lifetime only bounds memory).
    pub async fn index_children(
        &self,
        image: &ImageReference,
        digest: &Digest,
    ) -> Result<Children, RegistryError> {
        let fetch = async {
            self.via
                .index_children(image, digest)
                .await
                .map(|c| c.map(Arc::new))
        };
        let cached = self.cached;
        cached
            .indexes
            .get_or_fetch(
                (image.name(), digest.clone()),
                |_| cached.signature_ttl,
                fetch,
            )
            .await
            .map(|(children, _)| children)
            .map_err(|e| RegistryError::clone(&e))
    }
}

impl CachedRegistry {
    /// Run one registry operation, recording its latency and error code by registry host.
    async fn timed<T>(
        &self,
        host: &str,
        operation: &'static str,
        call: impl Future<Output = Result<T, RegistryError>>,
    ) -> Result<T, RegistryError> {
        let started = Instant::now();
        let result = call.await;
        let code = result.as_ref().err().map(RegistryError::code);
        self.metrics.registry_call(host, operation, started, code);
        result
    }

    /// Entries held now (approximate; for metrics and the memory benchmark).
    pub fn entry_counts(&self) -> (u64, u64) {
        (self.digests.len(), self.signatures.len())
    }
}

/// Count a lookup: fetched by this caller (or failed) is a miss, served or joined a hit.
fn counted<T>(
    entry: Result<(T, bool), Arc<RegistryError>>,
    hits: &AtomicU64,
    misses: &AtomicU64,
) -> Result<T, RegistryError> {
    let fresh = entry.as_ref().map_or(true, |(_, fresh)| *fresh);
    let counter = if fresh { misses } else { hits };
    counter.fetch_add(1, Ordering::Relaxed);
    entry
        .map(|(value, _)| value)
        .map_err(|error| RegistryError::clone(&error))
}

/// Approximate bytes an entry holds.
fn weight(key: &(String, Digest), layers: &Layers) -> u64 {
    let total = key.0.len() + key.1.as_str().len() + layers.byte_size() + SLOT_OVERHEAD;
    total as u64
}
