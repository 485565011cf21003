//! The decision memo: what the whole pipeline decided for an image as a review writes it, so a
//! repeated review of that image in that namespace skips parsing, policy matching, the tag
//! cache, the verdict key and the verdict cache, and costs one hash lookup. A warm webhook
//! answers the same few hundred images all day; their per-image work was most of a warm review.
//!
//! An entry is reused only while everything that decided it would decide the same, so the memo
//! can never admit what the pipeline would deny at that moment:
//!
//! * the policy set: entries are keyed by the engine's policy generation, which every policy
//!   replacement advances (and the memo is emptied then);
//! * the namespace and the image as written are the key; the reference it parses to, the
//!   policies that match it and the placeholders that exempt it are functions of them and of
//!   the policy set;
//! * the cached tag resolution and the cached verdict it came from: an entry expires with the
//!   earlier of the two ([`Reuse`]), so it never outlives what those caches would serve. A
//!   result from a fresh registry fetch or a fresh verification is not kept (the next review,
//!   served by those caches, keeps it); one shaped by a registry error or the deadline never is.
//!
//! What the reviewed object or its pod decide is never memoized: the engine bypasses the memo
//! for reviews with the pod's own pull secrets, with credential provider plugins, in namespaces
//! whose policies select objects (`spec.match`) or read them (`spec.policy` with `includeSpec`,
//! ...), and in namespaces over their policy limit. Memo hits bypass the stage timings and the
//! verdict cache's counters; they are counted as `cache="decision"`.
//!
//! Written here rather than taken from a crate: the entries live on `quick_cache` like the other
//! caches; what is particular is which results may enter and for how long, which is Signet's.

use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;
use quick_cache::{Equivalent, Weighter};

use super::super::ImageResult;
use super::whole_bytes;
use crate::expiring::SharedClock;

/// Most entries held.
const MAX_ENTRIES: u64 = 20_000;
/// Most bytes held (keys, references, digests and messages, approximately).
const MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Bytes an entry holds beside its strings: the key, the `Arc`'d value, slot and index.
const ENTRY_OVERHEAD: u64 = 160;

/// How long a result may be reused without deciding it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Not at all: a fresh fetch or verification, an error, a deadline, or an object's policy.
    Never,
    /// Until the earliest expiry of the cache entries it was read from.
    Until(Instant),
    /// For as long as the policy set stands (no registry was asked: a static authority, no
    /// matching policy, a placeholder, an invalid reference, a digest the reference names).
    Always,
}

impl Reuse {
    /// Both `self` and `other` hold.
    pub fn and(self, other: Reuse) -> Reuse {
        match (self, other) {
            (Reuse::Never, _) | (_, Reuse::Never) => Reuse::Never,
            (Reuse::Always, other) | (other, Reuse::Always) => other,
            (Reuse::Until(a), Reuse::Until(b)) => Reuse::Until(a.min(b)),
        }
    }
}

/// What the pipeline decided for one image as written.
#[derive(Debug)]
pub struct Memoized {
    /// The reference in canonical text (`None`: it did not parse).
    pub reference: Option<String>,
    /// The digest and outcome.
    pub result: ImageResult,
    until: Instant,
}

/// The key as stored.
#[derive(PartialEq, Eq)]
struct MemoKey {
    generation: u64,
    namespace: Option<Box<str>>,
    image: Box<str>,
}

/// The key as looked up, borrowed from the review (no allocation on a hit).
struct MemoLookup<'a> {
    generation: u64,
    namespace: Option<&'a str>,
    image: &'a str,
}

/// One hash for both forms, so a lookup finds what an insert stored.
fn hash_parts<H: Hasher>(state: &mut H, generation: u64, namespace: Option<&str>, image: &str) {
    generation.hash(state);
    namespace.hash(state);
    image.hash(state);
}

impl Hash for MemoKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(
            state,
            self.generation,
            self.namespace.as_deref(),
            &self.image,
        );
    }
}

impl Hash for MemoLookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        hash_parts(state, self.generation, self.namespace, self.image);
    }
}

impl Equivalent<MemoKey> for MemoLookup<'_> {
    fn equivalent(&self, key: &MemoKey) -> bool {
        self.generation == key.generation
            && self.namespace == key.namespace.as_deref()
            && self.image == &*key.image
    }
}

#[derive(Clone)]
struct ByteWeight;

impl Weighter<MemoKey, Arc<Memoized>> for ByteWeight {
    fn weight(&self, key: &MemoKey, value: &Arc<Memoized>) -> u64 {
        let text = key.namespace.as_deref().map_or(0, str::len)
            + key.image.len()
            + value.reference.as_deref().map_or(0, str::len);
        ENTRY_OVERHEAD + text as u64 + whole_bytes(&value.result)
    }
}

/// Decisions by (policy generation, namespace, image as written), bounded in entries and bytes.
pub struct DecisionMemo {
    cache: Cache<MemoKey, Arc<Memoized>, ByteWeight>,
    generation: AtomicU64,
    clock: SharedClock,
    /// The longest an entry is kept, whatever its [`Reuse`]: bounds how long a result decided
    /// without the registry is held when nothing else ends it.
    longest: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// The memo as one review sees it: the generation it read before loading the policies, its
/// namespace and the moment it started.
#[derive(Clone, Copy)]
pub struct MemoScope<'a> {
    generation: u64,
    namespace: Option<&'a str>,
    now: Instant,
}

impl DecisionMemo {
    /// An empty memo whose entries live at most `longest`, by `clock`.
    pub fn new(clock: SharedClock, longest: Duration) -> Self {
        let expected = usize::try_from(MAX_ENTRIES).unwrap_or(usize::MAX);
        Self {
            cache: Cache::with_weighter(expected, MAX_BYTES, ByteWeight),
            generation: AtomicU64::new(0),
            clock,
            longest,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The policy generation now. Read it *before* loading the policy set a review uses: a
    /// replacement stores the new set first and advances the generation after, so a review
    /// never keys a result of an older set with a newer generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The policy set was replaced: every entry is forgotten, and those a review still running
    /// on the old set stores later are keyed by a generation no review reads again.
    pub fn advance(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.cache.clear();
    }

    /// The memo for one review in `namespace`, keyed by `generation`.
    pub fn scope<'a>(&self, generation: u64, namespace: Option<&'a str>) -> MemoScope<'a> {
        MemoScope {
            generation,
            namespace,
            now: self.clock.now(),
        }
    }

    /// What was decided for `image` in `scope`, if it may still be reused.
    pub fn get(&self, scope: &MemoScope<'_>, image: &str) -> Option<Arc<Memoized>> {
        let lookup = MemoLookup {
            generation: scope.generation,
            namespace: scope.namespace,
            image,
        };
        let found = self
            .cache
            .get(&lookup)
            .filter(|memoized| scope.now < memoized.until);
        let counter = match found {
            Some(_) => &self.hits,
            None => &self.misses,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Keep what was decided for `image` (which parsed to `reference`) in `scope` for as long
    /// as `reuse` allows.
    pub fn keep(
        &self,
        scope: &MemoScope<'_>,
        image: &str,
        (reference, result): (Option<String>, &ImageResult),
        reuse: Reuse,
    ) {
        let longest = scope.now + self.longest;
        let until = match reuse {
            Reuse::Never => return,
            Reuse::Until(until) => until.min(longest),
            Reuse::Always => longest,
        };
        if until <= scope.now {
            return;
        }
        let key = MemoKey {
            generation: scope.generation,
            namespace: scope.namespace.map(Box::from),
            image: Box::from(image),
        };
        let memoized = Memoized {
            reference,
            result: result.clone(),
            until,
        };
        self.cache.insert(key, Arc::new(memoized));
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Entries held now (expired ones not yet evicted included).
    pub fn entry_count(&self) -> u64 {
        self.cache.len() as u64
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::expiring::{Clock, ManualClock};
    use crate::verdict::{Outcome, Reason};

    fn denied() -> ImageResult {
        ImageResult {
            digest: None,
            outcome: Outcome::Deny(Reason::NoPolicyMatch),
        }
    }

    fn memo(clock: &Arc<ManualClock>) -> DecisionMemo {
        DecisionMemo::new(clock.clone(), Duration::from_secs(30))
    }

    #[test]
    fn reuse_lasts_as_long_as_its_shortest_part() {
        let now = Instant::now();
        let (early, late) = (
            Reuse::Until(now),
            Reuse::Until(now + Duration::from_secs(1)),
        );
        assert_eq!(early.and(late), early);
        assert_eq!(late.and(early), early);
        assert_eq!(Reuse::Always.and(late), late);
        assert_eq!(late.and(Reuse::Always), late);
        assert_eq!(Reuse::Always.and(Reuse::Always), Reuse::Always);
        for other in [early, Reuse::Always, Reuse::Never] {
            assert_eq!(Reuse::Never.and(other), Reuse::Never);
            assert_eq!(other.and(Reuse::Never), Reuse::Never);
        }
    }

    #[test]
    fn an_entry_is_served_until_its_moment_and_never_after() {
        let clock = ManualClock::new();
        let memo = memo(&clock);
        let scope = memo.scope(memo.generation(), Some("ns"));
        let until = clock.now() + Duration::from_secs(5);
        memo.keep(&scope, "app:v1", (None, &denied()), Reuse::Until(until));
        assert!(memo.get(&scope, "app:v1").is_some());
        clock.advance(Duration::from_secs(5) - Duration::from_millis(1));
        assert!(memo.get(&memo.scope(0, Some("ns")), "app:v1").is_some());
        clock.advance(Duration::from_millis(1));
        assert!(memo.get(&memo.scope(0, Some("ns")), "app:v1").is_none());
    }

    #[test]
    fn nothing_reusable_is_kept_and_what_is_kept_is_keyed_by_everything() {
        let clock = ManualClock::new();
        let memo = memo(&clock);
        let scope = memo.scope(memo.generation(), Some("ns"));
        memo.keep(&scope, "never:v1", (None, &denied()), Reuse::Never);
        assert!(memo.get(&scope, "never:v1").is_none());
        memo.keep(&scope, "app:v1", (None, &denied()), Reuse::Always);
        assert!(memo.get(&scope, "app:v1").is_some());
        assert!(memo.get(&memo.scope(0, Some("other")), "app:v1").is_none());
        assert!(memo.get(&memo.scope(0, None), "app:v1").is_none());
        assert!(memo.get(&scope, "app:v2").is_none());
        assert!(memo.get(&memo.scope(1, Some("ns")), "app:v1").is_none());
        // `Always` still ends at the memo's longest lifetime.
        clock.advance(Duration::from_secs(30));
        assert!(memo.get(&memo.scope(0, Some("ns")), "app:v1").is_none());
    }

    #[test]
    fn advancing_the_generation_forgets_everything_and_moves_the_key() {
        let clock = ManualClock::new();
        let memo = memo(&clock);
        let old = memo.scope(memo.generation(), Some("ns"));
        memo.keep(&old, "app:v1", (None, &denied()), Reuse::Always);
        memo.advance();
        assert_eq!(memo.entry_count(), 0);
        // A review still running on the old policies keeps its result late: no one reads it.
        memo.keep(&old, "app:v1", (None, &denied()), Reuse::Always);
        let new = memo.scope(memo.generation(), Some("ns"));
        assert!(memo.get(&new, "app:v1").is_none());
        assert_eq!(memo.stats(), (0, 1));
    }
}
