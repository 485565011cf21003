//! One bounded cache for every cache that needs lifetimes (registry tags and signatures, pull
//! secrets, Event series), on `quick_cache` like the verdict cache. `quick_cache` has no
//! lifetimes, so each entry carries its own expiry, read from a [`Clock`] and checked on read
//! (an expired entry is removed when found).
//!
//! Concurrent misses for one key share one fetch (single-flight). A failed fetch is never
//! served to a caller that arrives after it: it is held only as a marker that hands its error to
//! the callers that waited for it, so a burst against a failing registry still costs one call.

mod clock;

use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

pub use clock::{Clock, ManualClock, SharedClock, SystemClock, system_clock};

/// What a slot holds.
enum Slot<V, E> {
    /// A value until `expires`.
    Live { value: V, expires: Instant },
    /// The cache's `flight`th failed fetch: its error for the callers that waited for it.
    Failed { error: Arc<E>, flight: u64 },
}

impl<V: Clone, E> Clone for Slot<V, E> {
    fn clone(&self) -> Self {
        match self {
            Slot::Live { value, expires } => Slot::Live {
                value: value.clone(),
                expires: *expires,
            },
            Slot::Failed { error, flight } => Slot::Failed {
                error: error.clone(),
                flight: *flight,
            },
        }
    }
}

/// The weight of a value, for caches bounded in bytes.
pub type Weigh<K, V> = fn(&K, &V) -> u64;

/// Weighs slots by the cache's [`Weigh`]; markers weigh 1 (never 0: quick_cache never evicts a
/// weightless entry).
struct SlotWeight<K, V> {
    weigh: Weigh<K, V>,
}

impl<K, V> Clone for SlotWeight<K, V> {
    fn clone(&self) -> Self {
        Self { weigh: self.weigh }
    }
}

impl<K, V, E> Weighter<K, Slot<V, E>> for SlotWeight<K, V> {
    fn weight(&self, key: &K, slot: &Slot<V, E>) -> u64 {
        match slot {
            Slot::Live { value, .. } => (self.weigh)(key, value).max(1),
            Slot::Failed { .. } => 1,
        }
    }
}

/// A bounded cache of values with lifetimes and single-flight fetches.
pub struct ExpiringCache<K, V, E = std::convert::Infallible> {
    cache: Cache<K, Slot<V, E>, SlotWeight<K, V>>,
    clock: SharedClock,
    /// Failed fetches so far: orders [`Slot::Failed`] markers against arrivals.
    failures: AtomicU64,
}

impl<K, V, E> ExpiringCache<K, V, E>
where
    K: Eq + Hash + Clone,
    V: Clone,
{
    /// At most `max_entries` entries, by `clock`.
    pub fn counted(max_entries: u64, clock: SharedClock) -> Self {
        Self::weighed(max_entries, max_entries, |_, _| 1, clock)
    }

    /// At most `max_weight` in total by `weigh` (about `expected_entries` entries), by `clock`.
    pub fn weighed(
        expected_entries: u64,
        max_weight: u64,
        weigh: Weigh<K, V>,
        clock: SharedClock,
    ) -> Self {
        let expected = usize::try_from(expected_entries.max(1)).unwrap_or(usize::MAX);
        Self {
            cache: Cache::with_weighter(expected, max_weight, SlotWeight { weigh }),
            clock,
            failures: AtomicU64::new(0),
        }
    }

    /// The value for `key` if one is held and has not expired.
    pub fn get(&self, key: &K) -> Option<V> {
        self.get_until(key).map(|(value, _)| value)
    }

    /// [`ExpiringCache::get`], with the moment the value expires.
    pub fn get_until(&self, key: &K) -> Option<(V, Instant)> {
        match self.cache.get(key)? {
            Slot::Live { value, expires } if self.clock.now() < expires => Some((value, expires)),
            _ => None,
        }
    }

    /// Hold `value` for `key` for `lifetime` from now (replacing what was held).
    pub fn insert(&self, key: K, value: V, lifetime: Duration) {
        let expires = self.expiry(lifetime);
        self.cache.insert(key, Slot::Live { value, expires });
    }

    /// Forget `key`.
    pub fn remove(&self, key: &K) {
        self.cache.remove(key);
    }

    /// Entries held now (expired ones not yet found and markers included).
    pub fn len(&self) -> u64 {
        self.cache.len() as u64
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.cache.is_empty()
    }

    /// The value for `key`, held or fetched by `fetch` (once for concurrent callers) and then
    /// held for `lifetime(&value)`; with `true` when this caller fetched it. An error is shared
    /// with the callers that waited for that fetch and never held for later ones.
    pub async fn get_or_fetch(
        &self,
        key: K,
        lifetime: impl FnOnce(&V) -> Duration,
        fetch: impl Future<Output = Result<V, E>>,
    ) -> Result<(V, bool), Arc<E>> {
        let arrived = self.failures.load(Ordering::SeqCst);
        let mut guard = None;
        // An expired entry or an old marker is removed and the lookup repeated; twice is enough
        // unless other callers keep replacing it, and then this one fetches alone.
        for _ in 0..3 {
            match self.cache.get_value_or_guard_async(&key).await {
                Ok(Slot::Failed { error, flight }) if flight > arrived => return Err(error),
                Ok(Slot::Live { value, expires }) if self.clock.now() < expires => {
                    return Ok((value, false));
                }
                Ok(_) => {
                    let now = self.clock.now();
                    self.cache.remove_if(&key, |slot| match slot {
                        Slot::Live { expires, .. } => now >= *expires,
                        Slot::Failed { flight, .. } => *flight <= arrived,
                    });
                }
                Err(placeholder) => {
                    guard = Some(placeholder);
                    break;
                }
            }
        }
        match fetch.await {
            Ok(value) => {
                if let Some(guard) = guard {
                    let expires = self.expiry(lifetime(&value));
                    let _ = guard.insert(Slot::Live {
                        value: value.clone(),
                        expires,
                    });
                }
                Ok((value, true))
            }
            Err(error) => {
                let error = Arc::new(error);
                if let Some(guard) = guard {
                    let flight = self.failures.fetch_add(1, Ordering::SeqCst) + 1;
                    let _ = guard.insert(Slot::Failed {
                        error: error.clone(),
                        flight,
                    });
                }
                Err(error)
            }
        }
    }

    /// The instant `lifetime` from now (far in the future when it does not fit).
    fn expiry(&self, lifetime: Duration) -> Instant {
        let now = self.clock.now();
        now.checked_add(lifetime)
            .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn cache(clock: &Arc<ManualClock>) -> ExpiringCache<&'static str, u32, String> {
        ExpiringCache::counted(10, clock.clone())
    }

    #[tokio::test]
    async fn a_value_lives_its_lifetime_by_the_clock() {
        let clock = ManualClock::new();
        let cache = cache(&clock);
        let ttl = |_: &u32| Duration::from_secs(3);
        let first = cache.get_or_fetch("k", ttl, async { Ok(1) }).await;
        assert_eq!(first.unwrap(), (1, true));
        let held = cache.get_or_fetch("k", ttl, async { Ok(2) }).await;
        assert_eq!(held.unwrap(), (1, false));
        clock.advance(Duration::from_millis(2999));
        assert_eq!(cache.get(&"k"), Some(1));
        clock.advance(Duration::from_millis(1));
        assert_eq!(cache.get(&"k"), None);
        let fetched = cache.get_or_fetch("k", ttl, async { Ok(3) }).await;
        assert_eq!(fetched.unwrap(), (3, true));
    }

    #[tokio::test]
    async fn a_zero_lifetime_holds_nothing() {
        let clock = ManualClock::new();
        let cache = cache(&clock);
        let none = |_: &u32| Duration::ZERO;
        cache
            .get_or_fetch("k", none, async { Ok(1) })
            .await
            .unwrap();
        let again = cache.get_or_fetch("k", none, async { Ok(2) }).await;
        assert_eq!(again.unwrap(), (2, true));
    }

    #[tokio::test]
    async fn an_error_is_shared_with_waiters_and_never_held_for_later_callers() {
        let clock = ManualClock::new();
        let cache = cache(&clock);
        let ttl = |_: &u32| Duration::from_secs(60);
        let calls = AtomicU64::new(0);
        let failing = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            Err::<u32, _>("registry down".to_string())
        };
        let herd = (0..10).map(|_| cache.get_or_fetch("k", ttl, failing()));
        let results = futures::future::join_all(herd).await;
        assert!(results.iter().all(|r| r.is_err()));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one fetch for the herd");
        let later = cache.get_or_fetch("k", ttl, async { Ok(7) }).await;
        assert_eq!(later.unwrap(), (7, true), "the failure is not served later");
    }

    #[tokio::test]
    async fn entries_are_bounded_by_weight() {
        let clock = ManualClock::new();
        let cache: ExpiringCache<u32, u32> =
            ExpiringCache::weighed(4, 100, |_, v| u64::from(*v), clock.clone());
        for k in 0..50 {
            cache.insert(k, 10, Duration::from_secs(60));
        }
        assert!(cache.len() <= 10, "{}", cache.len());
    }
}
