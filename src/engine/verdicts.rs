//! The verdict cache: what the signature stage and the policy fold decided for one image, so a
//! warm review costs a hash lookup instead of signature checks.
//!
//! A verdict depends on the image reference (identity rules compare it with the signed one), the
//! digest the reference stands for now, the content of every policy that judged it (their
//! authorities, keys, identities, trust roots, `multiArch` and `requireDigest`:
//! [`ImagePolicy::fingerprint`]), and the cluster's `--platforms` (which index children
//! `multiArch: indexOrPlatform` judges). The key is a
//! sha256 over exactly those, in order, so a policy edit, a trust-root change or a namespace
//! whose policies differ can never meet a verdict another content gave; unchanged policies keep
//! their verdicts across reloads. Admissions live `positive_ttl` (no longer than the signatures
//! they were judged on); denials and warnings `negative_ttl`, so an image signed after a denial
//! is admitted soon after. A verdict shaped by a registry error or a deadline is never stored.
//! Concurrent misses for one key share one verification (single-flight).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use sha2::{Digest as _, Sha256};

use crate::policy::ImagePolicy;
use crate::reference::{Digest, ImageReference};
use crate::registry::Platform;
use crate::verdict::Outcome;

use super::ImageResult;
use super::cache::{CacheSettings, MOKA_ENTRY_OVERHEAD};

/// Bump when the key layout changes.
const FORMAT: &[u8] = b"signet-verdict/v2";

/// Verdict cache sizes and lifetimes.
#[derive(Debug, Clone)]
pub struct VerdictSettings {
    /// How long an admission is reused.
    pub positive_ttl: Duration,
    /// How long a denial or warning is reused.
    pub negative_ttl: Duration,
    /// Most verdicts held.
    pub max_entries: u64,
    /// Most bytes of verdicts held (keys, digests and messages, approximately).
    pub max_bytes: u64,
}

impl Default for VerdictSettings {
    fn default() -> Self {
        Self {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(10),
            max_entries: 200_000,
            max_bytes: 48 * 1024 * 1024,
        }
    }
}

impl VerdictSettings {
    /// Verdicts that live as long as the signatures and the "no signature" answers they were
    /// judged on.
    pub fn lasting_as(cache: &CacheSettings) -> Self {
        Self {
            positive_ttl: cache.signature_ttl,
            negative_ttl: cache.negative_ttl,
            ..Self::default()
        }
    }
}

/// What a verdict is keyed by: sha256 of (policy fingerprints, reference, digest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VerdictKey([u8; 32]);

impl VerdictKey {
    /// The key of `image` at `digest` judged by `policies` (in the order they are folded) on a
    /// cluster running `platforms` (`multiArch: indexOrPlatform` judges the children for them).
    pub fn new(
        policies: &[&ImagePolicy],
        image: &ImageReference,
        digest: &Digest,
        platforms: &[Platform],
    ) -> Self {
        let mut hash = Sha256::new();
        hash.update(FORMAT);
        hash.update((policies.len() as u64).to_be_bytes());
        for policy in policies {
            hash.update(policy.fingerprint());
        }
        let reference = image.to_string();
        hash.update((reference.len() as u64).to_be_bytes());
        hash.update(reference.as_bytes());
        hash.update(digest.as_str().as_bytes());
        hash.update((platforms.len() as u64).to_be_bytes());
        for platform in platforms {
            let platform = platform.to_string();
            hash.update((platform.len() as u64).to_be_bytes());
            hash.update(platform.as_bytes());
        }
        Self(hash.finalize().into())
    }
}

/// A verification result and whether it may be remembered.
pub struct Judged {
    /// The result.
    pub result: ImageResult,
    /// False when a registry error or the deadline shaped it.
    pub cacheable: bool,
}

/// Verdicts by [`VerdictKey`], bounded in entries and bytes.
pub struct VerdictCache {
    cache: Cache<VerdictKey, Arc<ImageResult>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Admissions after the positive TTL, everything else after the negative one.
struct VerdictExpiry {
    positive: Duration,
    negative: Duration,
}

impl Expiry<VerdictKey, Arc<ImageResult>> for VerdictExpiry {
    fn expire_after_create(
        &self,
        _: &VerdictKey,
        result: &Arc<ImageResult>,
        _: Instant,
    ) -> Option<Duration> {
        Some(match result.outcome {
            Outcome::Admit(..) => self.positive,
            Outcome::Warn(_) | Outcome::Deny(_) => self.negative,
        })
    }
}

impl VerdictCache {
    /// An empty cache with these limits.
    pub fn new(settings: &VerdictSettings) -> Self {
        // Every entry weighs at least max_bytes / max_entries, so both bounds hold.
        let floor = settings.max_bytes / settings.max_entries.max(1);
        let floor = u32::try_from(floor).unwrap_or(u32::MAX);
        let cache = Cache::builder()
            .max_capacity(settings.max_bytes)
            .weigher(move |_: &VerdictKey, result: &Arc<ImageResult>| weight(result).max(floor))
            .expire_after(VerdictExpiry {
                positive: settings.positive_ttl,
                negative: settings.negative_ttl,
            })
            .build();
        Self {
            cache,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The verdict for `key`, from the cache or from `judge` (run once for concurrent callers
    /// of the same key; stored only when cacheable). A caller that joined another review's
    /// verification which a registry error or the deadline cut short judges again itself: that
    /// review reached the registry with its own credentials, which may not be this one's.
    pub async fn get_or_judge<F: Future<Output = Judged>>(
        &self,
        key: VerdictKey,
        judge: impl Fn() -> F,
    ) -> Arc<ImageResult> {
        let ran = AtomicBool::new(false);
        let init = async {
            ran.store(true, Ordering::Relaxed);
            let judged = judge().await;
            match judged.cacheable {
                true => Ok(Arc::new(judged.result)),
                false => Err(judged.result),
            }
        };
        match self.cache.entry(key).or_try_insert_with(init).await {
            Ok(entry) => {
                let counter = if entry.is_fresh() {
                    &self.misses
                } else {
                    &self.hits
                };
                counter.fetch_add(1, Ordering::Relaxed);
                entry.into_value()
            }
            Err(uncached) if ran.load(Ordering::Relaxed) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Arc::new(ImageResult::clone(&uncached))
            }
            Err(_) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                Arc::new(judge().await.result)
            }
        }
    }

    /// (hits, misses) so far; a caller that joined a verification under way counts as a hit.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Verdicts held now (approximate).
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }
}

/// Approximate bytes an entry holds: key, result, digest and message text, cache overhead.
fn weight(result: &ImageResult) -> u32 {
    let digest = result.digest.as_ref().map_or(0, |d| d.as_str().len());
    let note = match &result.outcome {
        Outcome::Admit(_, note) => note.len(),
        Outcome::Warn(_) | Outcome::Deny(_) => 256,
    };
    let total = 32 + std::mem::size_of::<ImageResult>() + digest + note + MOKA_ENTRY_OVERHEAD;
    u32::try_from(total).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::policy::PolicySet;

    fn policy(glob: &str, mode: &str) -> PolicySet {
        let yaml = format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: p\nspec:\n  mode: {mode}\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - static:\n      action: fail\n"
        );
        PolicySet::from_yaml(&yaml, "p.yaml").unwrap()
    }

    fn key(set: &PolicySet, image: &str, digest: &str) -> VerdictKey {
        let image = ImageReference::parse(image).unwrap();
        let digest = Digest::parse(&format!("sha256:{}", digest.repeat(64))).unwrap();
        let matching: Vec<&ImagePolicy> = set.policies().iter().collect();
        VerdictKey::new(&matching, &image, &digest, &[])
    }

    #[test]
    fn the_key_changes_with_policy_content_reference_and_digest() {
        let set = policy("r.example/**", "enforce");
        let base = key(&set, "r.example/app:v1", "a");
        let reloaded = policy("r.example/**", "enforce");
        assert_eq!(base, key(&reloaded, "r.example/app:v1", "a"));
        assert_ne!(
            base,
            key(&policy("r.example/**", "warn"), "r.example/app:v1", "a")
        );
        assert_ne!(base, key(&set, "r.example/app:v2", "a"));
        assert_ne!(base, key(&set, "r.example/app:v1", "b"));
        let multi_arch = policy("r.example/**", "enforce\n  multiArch: allPlatforms");
        assert_ne!(base, key(&multi_arch, "r.example/app:v1", "a"));
        let pinned = policy("r.example/**", "enforce\n  requireDigest: true");
        assert_ne!(base, key(&pinned, "r.example/app:v1", "a"));
    }

    #[test]
    fn the_key_changes_with_the_cluster_platforms() {
        let set = policy("r.example/**", "enforce");
        let image = ImageReference::parse("r.example/app:v1").unwrap();
        let digest = Digest::sha256_of(b"a");
        let matching: Vec<&ImagePolicy> = set.policies().iter().collect();
        let arm = Platform::parse("linux/arm64")
            .into_iter()
            .collect::<Vec<_>>();
        assert_ne!(
            VerdictKey::new(&matching, &image, &digest, &[]),
            VerdictKey::new(&matching, &image, &digest, &arm)
        );
    }

    fn result(outcome: Outcome) -> ImageResult {
        ImageResult {
            digest: None,
            outcome,
        }
    }

    #[tokio::test]
    async fn uncacheable_results_are_judged_again() {
        let cache = VerdictCache::new(&VerdictSettings::default());
        let k = key(&policy("r.example/**", "enforce"), "r.example/app", "c");
        let deny = || Outcome::Deny(crate::verdict::Reason::NoPolicyMatch);
        for _ in 0..2 {
            let judged = || async {
                Judged {
                    result: result(deny()),
                    cacheable: false,
                }
            };
            cache.get_or_judge(k, judged).await;
        }
        assert_eq!(cache.stats(), (0, 2));
        let admit = Outcome::Admit("Verified", "ok".into());
        for _ in 0..2 {
            let judged = || async {
                Judged {
                    result: result(admit.clone()),
                    cacheable: true,
                }
            };
            cache.get_or_judge(k, judged).await;
        }
        assert_eq!(cache.stats(), (1, 3));
    }

    #[tokio::test]
    async fn a_caller_that_joined_a_failed_verification_judges_with_its_own() {
        let cache = VerdictCache::new(&VerdictSettings::default());
        let k = key(&policy("r.example/**", "enforce"), "r.example/app", "e");
        let other_tenant = cache.get_or_judge(k, || async {
            tokio::time::sleep(Duration::from_millis(200)).await;
            Judged {
                result: result(Outcome::Deny(crate::verdict::Reason::NoPolicyMatch)),
                cacheable: false,
            }
        });
        let this_tenant = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            cache
                .get_or_judge(k, || async {
                    Judged {
                        result: result(Outcome::Admit("Verified", "mine".into())),
                        cacheable: true,
                    }
                })
                .await
        };
        let (other, mine) = tokio::join!(other_tenant, this_tenant);
        assert!(matches!(other.outcome, Outcome::Deny(_)));
        assert!(matches!(&mine.outcome, Outcome::Admit(_, note) if note == "mine"));
    }

    #[tokio::test]
    async fn entries_are_bounded_even_when_each_is_small() {
        let cache = VerdictCache::new(&VerdictSettings {
            max_entries: 10,
            max_bytes: 10_000_000,
            ..VerdictSettings::default()
        });
        let set = policy("r.example/**", "enforce");
        for i in 0..50 {
            let judged = || async {
                Judged {
                    result: result(Outcome::Admit("Verified", String::new())),
                    cacheable: true,
                }
            };
            let k = key(&set, &format!("r.example/app{i}"), "d");
            cache.get_or_judge(k, judged).await;
            cache.cache.run_pending_tasks().await;
        }
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }
}
