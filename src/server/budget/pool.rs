//! The bytes of the body budget: taken at once when they are free, else waited for. Freed
//! bytes go to the waiter that needs least first (then the earliest): a review of a few KiB
//! is never held up behind a large body that does not fit yet, whoever else is waiting.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// The budget's free bytes and who waits for them.
pub(super) struct Pool {
    total: usize,
    state: Mutex<State>,
}

struct State {
    free: usize,
    next: u64,
    /// (bytes needed, arrival) -> told when granted (the bytes are then already taken).
    waiters: BTreeMap<(usize, u64), oneshot::Sender<()>>,
}

/// Bytes taken from the pool; given back when dropped.
pub(super) struct Taken {
    pool: Arc<Pool>,
    bytes: usize,
}

/// A place in the queue; leaves it when dropped, giving back bytes granted but not collected.
pub(super) struct Waiting {
    pool: Arc<Pool>,
    key: (usize, u64),
    granted: Option<oneshot::Receiver<()>>,
}

impl Pool {
    pub(super) fn new(total: usize) -> Arc<Self> {
        Arc::new(Self {
            total,
            state: Mutex::new(State {
                free: total,
                next: 0,
                waiters: BTreeMap::new(),
            }),
        })
    }

    pub(super) fn total(&self) -> usize {
        self.total
    }

    /// Bytes taken now.
    pub(super) fn in_use(&self) -> usize {
        self.state
            .lock()
            .map_or(self.total, |s| self.total.saturating_sub(s.free))
    }

    /// `bytes` now if they are free, else a place in the queue for them.
    pub(super) fn take(self: &Arc<Self>, bytes: usize) -> Result<Taken, Waiting> {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        if state.free >= bytes {
            state.free -= bytes;
            return Ok(self.taken(bytes));
        }
        let (tell, granted) = oneshot::channel();
        let key = (bytes, state.next);
        state.next += 1;
        state.waiters.insert(key, tell);
        Err(Waiting {
            pool: self.clone(),
            key,
            granted: Some(granted),
        })
    }

    fn taken(self: &Arc<Self>, bytes: usize) -> Taken {
        Taken {
            pool: self.clone(),
            bytes,
        }
    }

    /// Give `bytes` back and grant waiters, smallest need first, while they fit.
    fn give_back(&self, bytes: usize) {
        let mut state = match self.state.lock() {
            Ok(state) => state,
            Err(poisoned) => poisoned.into_inner(),
        };
        let state = &mut *state;
        state.free += bytes;
        while let Some(entry) = state.waiters.first_entry() {
            let need = entry.key().0;
            if need > state.free {
                break;
            }
            let tell = entry.remove();
            if tell.send(()).is_ok() {
                state.free -= need;
            }
        }
    }
}

impl Waiting {
    /// Resolves with the bytes once they are granted.
    pub(super) async fn granted(&mut self) -> Taken {
        if let Some(granted) = &mut self.granted
            && granted.await.is_ok()
        {
            self.granted = None;
            return self.pool.taken(self.key.0);
        }
        // The pool never drops a waiter without granting it; wait for ever to be safe.
        std::future::pending().await
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        let Some(mut granted) = self.granted.take() else {
            return;
        };
        let removed = match self.pool.state.lock() {
            Ok(mut state) => state.waiters.remove(&self.key).is_some(),
            Err(poisoned) => poisoned.into_inner().waiters.remove(&self.key).is_some(),
        };
        // Granted after all, but no longer wanted: give the bytes back.
        if !removed && granted.try_recv().is_ok() {
            self.pool.give_back(self.key.0);
        }
    }
}

impl Taken {
    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Hold `other`'s bytes too.
    pub(super) fn merge(&mut self, mut other: Taken) {
        self.bytes += std::mem::take(&mut other.bytes);
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.pool.give_back(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    #[tokio::test]
    async fn freed_bytes_go_to_the_smallest_waiter_first_and_a_cancelled_grant_comes_back() {
        let pool = Pool::new(100);
        let held = pool.take(100).ok().unwrap();
        let mut large = pool.take(90).err().unwrap();
        let mut small = pool.take(10).err().unwrap();
        drop(held);
        // The small one arrived later but is granted first; the large one fits too.
        let small_taken = small.granted().await;
        assert_eq!(small_taken.bytes(), 10);
        let large_taken = large.granted().await;
        assert_eq!(pool.in_use(), 100);
        drop((small_taken, large_taken));
        assert_eq!(pool.in_use(), 0);

        // Granted but dropped before collecting: the bytes come back.
        let held = pool.take(100).ok().unwrap();
        let waiting = pool.take(50).err().unwrap();
        drop(held);
        assert_eq!(pool.in_use(), 50);
        drop(waiting);
        assert_eq!(pool.in_use(), 0);

        // Not granted and dropped: it leaves the queue, and nothing is lost.
        let held = pool.take(60).ok().unwrap();
        let waiting = pool.take(50).err().unwrap();
        drop(waiting);
        drop(held);
        assert_eq!(pool.in_use(), 0);
        assert!(pool.take(100).is_ok());
    }
}
