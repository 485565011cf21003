//! A cap on requests in flight to one registry host, across every review: one pod naming a
//! thousand images on one host (or a thousand pods naming it) queues behind a few connections
//! instead of opening a thousand, so neither Signet's sockets nor the registry are flooded. The
//! per-review cap (`engine.rs`) bounds how many hosts one review keeps busy.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Hosts whose counters are kept while idle; past it, idle ones are dropped.
const MAX_IDLE_HOSTS: usize = 1024;

/// One counter of requests in flight per registry host.
#[derive(Debug)]
pub(super) struct HostSlots {
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostSlots {
    /// At most `per_host` requests in flight to each host (at least one).
    pub fn new(per_host: usize) -> Self {
        Self {
            per_host: per_host.max(1),
            hosts: Mutex::default(),
        }
    }

    /// Wait for a free slot at `host`; it is released when the permit is dropped. `None` only if
    /// the table is poisoned, in which case the request goes unmetered rather than never.
    pub async fn slot(&self, host: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut hosts = self.hosts.lock().ok()?;
            if hosts.len() >= MAX_IDLE_HOSTS && !hosts.contains_key(host) {
                hosts.retain(|_, s| Arc::strong_count(s) > 1);
            }
            let semaphore = hosts
                .entry(host.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_host)));
            semaphore.clone()
        };
        semaphore.acquire_owned().await.ok()
    }

    #[cfg(test)]
    fn hosts(&self) -> usize {
        self.hosts.lock().map(|h| h.len()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_host_has_at_most_its_slots_and_other_hosts_are_not_held_up() {
        let slots = HostSlots::new(2);
        let first = slots.slot("a").await;
        let second = slots.slot("a").await;
        let third = slots.slot("a");
        tokio::pin!(third);
        assert!(
            futures::poll!(third.as_mut()).is_pending(),
            "a third request to a waits"
        );
        assert!(slots.slot("b").await.is_some(), "b is not held up by a");
        drop(first);
        assert!(third.await.is_some(), "a freed slot is taken");
        drop(second);
    }

    #[tokio::test]
    async fn idle_hosts_are_forgotten_so_the_table_stays_bounded() {
        let slots = HostSlots::new(1);
        for i in 0..(MAX_IDLE_HOSTS * 3) {
            let _slot = slots.slot(&format!("r{i}.example")).await;
        }
        assert!(slots.hosts() <= MAX_IDLE_HOSTS, "{} hosts", slots.hosts());
    }
}
