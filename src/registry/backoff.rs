//! A registry that answers 429 is left alone for a few seconds: reviews of its images are denied
//! at once with the rate-limit reason instead of asking again, so a crash-looping Deployment
//! cannot turn one 429 into a retry storm. `Retry-After` shortens the pause but never lengthens
//! it past the configured cap: a registry cannot make Signet deny its images for a minute.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::expiring::{SharedClock, system_clock};

/// Hosts remembered at once; past it, expired pauses are dropped first, then all.
const MAX_HOSTS: usize = 1024;

/// Registry host -> when requests may go to it again, by `clock`.
#[derive(Debug)]
pub(super) struct Backoff {
    until: Mutex<HashMap<String, std::time::Instant>>,
    clock: SharedClock,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(system_clock())
    }
}

impl Backoff {
    /// No registry paused; pauses measured by `clock`.
    pub fn new(clock: SharedClock) -> Self {
        Self {
            until: Mutex::default(),
            clock,
        }
    }

    /// Pause `registry` for `retry_after` (if it said) capped at `cap`.
    pub fn pause(&self, registry: &str, retry_after: Option<Duration>, cap: Duration) {
        let pause = retry_after.map_or(cap, |r| r.min(cap));
        let Ok(mut until) = self.until.lock() else {
            return;
        };
        let now = self.clock.now();
        if until.len() >= MAX_HOSTS {
            until.retain(|_, t| *t > now);
            if until.len() >= MAX_HOSTS {
                until.clear();
            }
        }
        until.insert(registry.to_string(), now + pause);
    }

    /// Whether `registry` is paused now.
    pub fn paused(&self, registry: &str) -> bool {
        self.until
            .lock()
            .ok()
            .and_then(|until| until.get(registry).copied())
            .is_some_and(|t| t > self.clock.now())
    }
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent: the cap applies).
pub(super) fn retry_after(value: Option<&str>) -> Option<Duration> {
    value?.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_capped_and_shortens_the_pause() {
        let clock = crate::expiring::ManualClock::new();
        let backoff = Backoff::new(clock.clone());
        backoff.pause(
            "a",
            Some(Duration::from_secs(60)),
            Duration::from_millis(50),
        );
        backoff.pause("b", Some(Duration::ZERO), Duration::from_secs(60));
        assert!(backoff.paused("a"));
        assert!(!backoff.paused("b"));
        assert!(!backoff.paused("c"));
        clock.advance(Duration::from_millis(49));
        assert!(backoff.paused("a"));
        clock.advance(Duration::from_millis(1));
        assert!(!backoff.paused("a"), "the cap bounds a 60 s Retry-After");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after(Some("60")), Some(Duration::from_secs(60)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:00 GMT")), None);
        assert_eq!(retry_after(None), None);
    }

    #[test]
    fn the_table_stays_bounded() {
        let backoff = Backoff::default();
        for i in 0..(MAX_HOSTS * 2) {
            backoff.pause(&format!("r{i}"), None, Duration::from_secs(60));
        }
        assert!(backoff.until.lock().unwrap().len() <= MAX_HOSTS);
    }
}
