//! The verdict cache: what the signature stage and the policy fold decided for one image, so a
//! warm review costs a hash lookup instead of signature checks.
//!
//! A verdict depends on the image reference (identity rules compare it with the signed one), the
//! digest the reference stands for now, the content of every policy that judged it (their
//! authorities, keys, identities, every piece of trust material: Fulcio CAs, timestamp
//! authorities, Rekor and CT log keys with their validity windows; `multiArch` and `requireDigest`:
//! [`ImagePolicy::fingerprint`]), and the cluster's `--platforms` (which index children
//! `multiArch: indexOrPlatform` judges). The key is a
//! sha256 over exactly those, in order, so a policy edit, a trust-root change or a namespace
//! whose policies differ can never meet a verdict another content gave; unchanged policies keep
//! their verdicts across reloads. Admissions live `positive_ttl` (no longer than the signatures
//! they were judged on); denials and warnings `negative_ttl`, so an image signed after a denial
//! is admitted soon after. A verdict shaped by a registry error or a deadline is never stored.
//! Concurrent misses for one key share one verification (single-flight).
//!
//! Memory is the point of this cache's layout: a cluster's worth of digests must fit in a few
//! MiB. A signature admission, nearly every entry, is held as 32 digest bytes and a note shared
//! by every image the same signer admitted, inline in a `quick_cache` slot (about 150 bytes
//! with key and bookkeeping, against about 1 KiB as text in moka); other verdicts are held
//! whole. Lifetimes are checked on read.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;
use sha2::{Digest as _, Sha256};

use crate::expiring::{SharedClock, system_clock};
use crate::policy::ImagePolicy;
use crate::reference::{Digest, ImageReference};
use crate::registry::Platform;
use crate::verdict::Outcome;

use super::ImageResult;
use super::cache::CacheSettings;
use memo::Reuse;

pub mod memo;
#[cfg(test)]
mod trust_material;

/// Bump when the key layout changes.
const FORMAT: &[u8] = b"signet-verdict/v2";

/// The byte budget per entry that [`VerdictSettings::with_entries`] gives: a compact admission
/// fits in it, a verdict held whole (a denial and its reasons) weighs two to four.
pub const BYTES_PER_VERDICT: u64 = 160;

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
    /// What lifetimes are measured by: the system clock, or a test's own.
    pub clock: SharedClock,
}

impl Default for VerdictSettings {
    fn default() -> Self {
        Self {
            positive_ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(10),
            max_entries: 200_000,
            max_bytes: 200_000 * BYTES_PER_VERDICT,
            clock: system_clock(),
        }
    }
}

impl VerdictSettings {
    /// These settings holding at most `entries` verdicts, in a byte budget to match.
    pub fn with_entries(self, entries: u64) -> Self {
        Self {
            max_entries: entries,
            max_bytes: entries.saturating_mul(BYTES_PER_VERDICT),
            ..self
        }
    }

    /// Verdicts that live as long as the signatures and the "no signature" answers they were
    /// judged on.
    pub fn lasting_as(cache: &CacheSettings) -> Self {
        Self {
            positive_ttl: cache.signature_ttl,
            negative_ttl: cache.negative_ttl,
            clock: cache.clock.clone(),
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
        // The reference's and platforms' text, length first, hashed piece by piece: the same
        // bytes as hashing their `to_string()`, without formatting them on every review.
        hash.update((image.text_len() as u64).to_be_bytes());
        image.pieces().for_each(|piece| hash.update(piece));
        hash.update(digest.as_str().as_bytes());
        hash.update((platforms.len() as u64).to_be_bytes());
        for platform in platforms {
            let variant = platform.variant.as_deref().map(|v| ["/", v]);
            let pieces = [platform.os.as_str(), "/", platform.architecture.as_str()]
                .into_iter()
                .chain(variant.into_iter().flatten());
            let length: usize = pieces.clone().map(str::len).sum();
            hash.update((length as u64).to_be_bytes());
            pieces.for_each(|piece| hash.update(piece));
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

/// Milliseconds since the cache was made: lifetimes in 8 bytes.
type Millis = u64;

/// A verdict as the cache holds it.
#[derive(Clone)]
enum Stored {
    /// Admitted by a signature (`Verified`) at a sha256 digest: the common case, held compactly.
    Verified {
        digest: [u8; 32],
        note: Arc<str>,
        expires: Millis,
    },
    /// Any other verdict, whole.
    Whole {
        result: Arc<ImageResult>,
        expires: Millis,
    },
    /// A verification that could not be stored (a registry error or the deadline shaped it)
    /// ended as the cache's `flight`th such: the reviews that arrived before it, and so waited
    /// for it, judge again with their own credentials.
    Rejudge { flight: u64 },
}

/// Bytes a slot holds beside its value's heap: the key, the inline value, `quick_cache`'s
/// slab links and state and its hash-table index.
const SLOT_BYTES: u64 = 32 + std::mem::size_of::<Stored>() as u64 + 24;

/// Weighs entries in bytes, never under `floor` (so the entry bound holds too).
#[derive(Clone)]
struct ByteWeight {
    floor: u64,
}

impl Weighter<VerdictKey, Stored> for ByteWeight {
    fn weight(&self, _: &VerdictKey, stored: &Stored) -> u64 {
        let heap = match stored {
            Stored::Whole { result, .. } => whole_bytes(result),
            Stored::Verified { .. } | Stored::Rejudge { .. } => 0,
        };
        (SLOT_BYTES + heap).max(self.floor)
    }
}

/// Most distinct notes shared at once; past it the set starts over (notes already handed out
/// stay valid).
const MAX_NOTES: usize = 4096;

/// Verdicts by [`VerdictKey`], bounded in entries and bytes.
pub struct VerdictCache {
    cache: Cache<VerdictKey, Stored, ByteWeight>,
    notes: Mutex<HashSet<Arc<str>>>,
    epoch: Instant,
    clock: SharedClock,
    positive_ttl: Millis,
    negative_ttl: Millis,
    /// Unstorable verifications so far: orders [`Stored::Rejudge`] markers against arrivals.
    flights: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl VerdictCache {
    /// An empty cache with these limits.
    pub fn new(settings: &VerdictSettings) -> Self {
        let entries = settings.max_entries.max(1);
        let floor = settings.max_bytes / entries;
        let expected = entries.min(settings.max_bytes / SLOT_BYTES).max(1);
        let weigher = ByteWeight { floor };
        Self {
            cache: Cache::with_weighter(
                usize::try_from(expected).unwrap_or(usize::MAX),
                settings.max_bytes,
                weigher,
            ),
            notes: Mutex::new(HashSet::new()),
            epoch: settings.clock.now(),
            clock: settings.clock.clone(),
            positive_ttl: millis(settings.positive_ttl),
            negative_ttl: millis(settings.negative_ttl),
            flights: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// [`VerdictCache::get_or_judge_reusable`] without the lifetime, for tests of the cache.
    #[cfg(test)]
    pub async fn get_or_judge<F: Future<Output = Judged>>(
        &self,
        key: VerdictKey,
        judge: impl Fn() -> F,
    ) -> ImageResult {
        self.get_or_judge_reusable(key, judge).await.0
    }

    /// The verdict for `key`, from the cache or from `judge` (run once for concurrent callers
    /// of the same key; stored only when cacheable), with how long it may be reused: until the
    /// cached verdict it came from expires, and not at all when it was judged now. A caller
    /// that joined another review's verification which a registry error or the deadline cut
    /// short judges again itself: that review reached the registry with its own credentials,
    /// which may not be this one's.
    pub async fn get_or_judge_reusable<F: Future<Output = Judged>>(
        &self,
        key: VerdictKey,
        judge: impl Fn() -> F,
    ) -> (ImageResult, Reuse) {
        let arrived = self.flights.load(Ordering::SeqCst);
        // An expired entry or an old marker is removed and the lookup repeated; twice is
        // enough unless other reviews keep replacing it, and then this one judges alone.
        for _ in 0..3 {
            match self.cache.get_value_or_guard_async(&key).await {
                Ok(Stored::Rejudge { flight }) if flight > arrived => break,
                Ok(stored) => {
                    if let Some(result) = self.live(&stored) {
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return (result, self.reuse_of(&stored));
                    }
                    let now = self.now();
                    self.cache.remove_if(&key, |held| !is_live(held, now));
                }
                Err(guard) => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    let judged = judge().await;
                    let _ = guard.insert(self.to_store(&judged));
                    return (judged.result, Reuse::Never);
                }
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        (judge().await.result, Reuse::Never)
    }

    /// Until when the verdict `stored` holds may be reused.
    fn reuse_of(&self, stored: &Stored) -> Reuse {
        match stored {
            Stored::Verified { expires, .. } | Stored::Whole { expires, .. } => {
                Reuse::Until(self.epoch + Duration::from_millis(*expires))
            }
            Stored::Rejudge { .. } => Reuse::Never,
        }
    }

    /// The stored form of a judged verdict, with its lifetime from now.
    fn to_store(&self, judged: &Judged) -> Stored {
        if !judged.cacheable {
            let flight = self.flights.fetch_add(1, Ordering::SeqCst) + 1;
            return Stored::Rejudge { flight };
        }
        let now = self.now();
        let result = &judged.result;
        let sha256 = result.digest.as_ref().and_then(|d| d.sha256_bytes());
        match (&result.outcome, sha256) {
            (Outcome::Admit("Verified", note), Some(digest)) => Stored::Verified {
                digest,
                note: self.shared_note(note),
                expires: now.saturating_add(self.positive_ttl),
            },
            (outcome, _) => Stored::Whole {
                result: Arc::new(result.clone()),
                expires: now.saturating_add(match outcome {
                    Outcome::Admit(..) => self.positive_ttl,
                    Outcome::Warn(_) | Outcome::Deny(_) => self.negative_ttl,
                }),
            },
        }
    }

    /// One allocation per distinct note: the images one signer admitted share it.
    fn shared_note(&self, note: &str) -> Arc<str> {
        let Ok(mut notes) = self.notes.lock() else {
            return Arc::from(note);
        };
        if let Some(shared) = notes.get(note) {
            return shared.clone();
        }
        if notes.len() >= MAX_NOTES {
            notes.clear();
        }
        let shared: Arc<str> = Arc::from(note);
        notes.insert(shared.clone());
        shared
    }

    /// The verdict `stored` holds if it has not expired (a marker is never one).
    fn live(&self, stored: &Stored) -> Option<ImageResult> {
        match is_live(stored, self.now()) {
            true => unpack(stored),
            false => None,
        }
    }

    fn now(&self) -> Millis {
        millis(self.clock.now().saturating_duration_since(self.epoch))
    }

    /// (hits, misses) so far; a caller that joined a verification under way counts as a hit.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Verdicts held now (markers and expired entries not yet evicted included).
    pub fn entry_count(&self) -> u64 {
        self.cache.len() as u64
    }
}

/// Is `stored` a verdict whose lifetime has not ended at `now`?
fn is_live(stored: &Stored, now: Millis) -> bool {
    match stored {
        Stored::Verified { expires, .. } | Stored::Whole { expires, .. } => now < *expires,
        Stored::Rejudge { .. } => false,
    }
}

/// The verdict `stored` holds, as the engine uses it.
fn unpack(stored: &Stored) -> Option<ImageResult> {
    match stored {
        Stored::Verified { digest, note, .. } => Some(ImageResult {
            digest: Some(Digest::from_sha256_bytes(digest)),
            outcome: Outcome::Admit("Verified", note.to_string()),
        }),
        Stored::Whole { result, .. } => Some(ImageResult::clone(result)),
        Stored::Rejudge { .. } => None,
    }
}

fn millis(duration: Duration) -> Millis {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Approximate heap bytes of a verdict held whole: the result, digest and message text.
fn whole_bytes(result: &ImageResult) -> u64 {
    let digest = result.digest.as_ref().map_or(0, |d| d.as_str().len());
    let note = match &result.outcome {
        Outcome::Admit(_, note) => note.len(),
        Outcome::Warn(_) | Outcome::Deny(_) => 256,
    };
    (16 + std::mem::size_of::<ImageResult>() + digest + note) as u64
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
        }
        assert!(cache.entry_count() <= 10, "{}", cache.entry_count());
    }

    fn verified(digest: &Digest, note: &str) -> Judged {
        Judged {
            result: ImageResult {
                digest: Some(digest.clone()),
                outcome: Outcome::Admit("Verified", note.into()),
            },
            cacheable: true,
        }
    }

    #[tokio::test]
    async fn a_compact_verdict_reads_back_as_judged_and_shares_its_note() {
        let cache = VerdictCache::new(&VerdictSettings::default());
        let set = policy("r.example/**", "enforce");
        let note = "signed by key sha256:ab (p/key)";
        let mut notes = Vec::new();
        for hex in ["a", "b"] {
            let digest = Digest::parse(&format!("sha256:{}", hex.repeat(64))).unwrap();
            let k = key(&set, "r.example/app", hex);
            cache
                .get_or_judge(k, || async { verified(&digest, note) })
                .await;
            let read = cache
                .get_or_judge(k, || async { panic!("judged again") })
                .await;
            assert_eq!(read.digest, Some(digest));
            assert!(matches!(&read.outcome, Outcome::Admit("Verified", n) if n == note));
            let held = cache.cache.get(&k).unwrap();
            let Stored::Verified { note, .. } = held else {
                panic!("not held compactly");
            };
            notes.push(note);
        }
        assert!(Arc::ptr_eq(&notes[0], &notes[1]));
        assert_eq!(cache.stats(), (2, 2));
    }

    #[tokio::test]
    async fn verdicts_expire_after_their_lifetime() {
        let clock = crate::expiring::ManualClock::new();
        let cache = VerdictCache::new(&VerdictSettings {
            positive_ttl: Duration::from_millis(100),
            negative_ttl: Duration::ZERO,
            clock: clock.clone(),
            ..VerdictSettings::default()
        });
        let set = policy("r.example/**", "enforce");
        let digest = Digest::parse(&format!("sha256:{}", "c".repeat(64))).unwrap();
        let (admit, deny) = (key(&set, "r.example/a", "c"), key(&set, "r.example/d", "c"));
        let judged_deny = || async {
            Judged {
                result: result(Outcome::Deny(crate::verdict::Reason::NoPolicyMatch)),
                cacheable: true,
            }
        };
        for _ in 0..2 {
            cache
                .get_or_judge(admit, || async { verified(&digest, "n") })
                .await;
            cache.get_or_judge(deny, judged_deny).await;
        }
        assert_eq!(
            cache.stats(),
            (1, 3),
            "admit reused, deny (ttl 0) judged twice"
        );
        clock.advance(Duration::from_millis(99));
        cache
            .get_or_judge(admit, || async { verified(&digest, "n") })
            .await;
        assert_eq!(cache.stats(), (2, 3), "alive until its lifetime ends");
        clock.advance(Duration::from_millis(1));
        cache
            .get_or_judge(admit, || async { verified(&digest, "n") })
            .await;
        assert_eq!(cache.stats(), (2, 4), "expired admit judged again");
    }

    #[tokio::test]
    async fn concurrent_misses_share_one_verification() {
        let cache = VerdictCache::new(&VerdictSettings::default());
        let k = key(&policy("r.example/**", "enforce"), "r.example/app", "f");
        let digest = Digest::parse(&format!("sha256:{}", "f".repeat(64))).unwrap();
        let runs = AtomicU64::new(0);
        let judge = || async {
            runs.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
            verified(&digest, "n")
        };
        let reviews = (0..20).map(|_| cache.get_or_judge(k, judge));
        let results = futures::future::join_all(reviews).await;
        assert_eq!(runs.load(Ordering::Relaxed), 1);
        assert!(results.iter().all(|r| r.digest.as_ref() == Some(&digest)));
    }

    #[tokio::test]
    async fn zero_entries_turns_the_cache_off() {
        let cache = VerdictCache::new(&VerdictSettings::default().with_entries(0));
        let k = key(&policy("r.example/**", "enforce"), "r.example/app", "9");
        let digest = Digest::parse(&format!("sha256:{}", "9".repeat(64))).unwrap();
        for _ in 0..2 {
            cache
                .get_or_judge(k, || async { verified(&digest, "n") })
                .await;
        }
        assert_eq!(cache.stats(), (0, 2));
    }
}
