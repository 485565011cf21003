//! The memory budget for request bodies in flight, shared by every connection and stream. A
//! body takes budget as its bytes arrive (never for what its Content-Length only declares) and
//! keeps it until its request is answered. A body that finds the budget full first cuts requests
//! that hold budget without sending, then waits briefly, then is refused: memory stays bounded,
//! and a client that sends its body at once (kube-apiserver) gets room from one that stalls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use http_body_util::BodyExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

/// Budget is counted in KiB: a semaphore holds at most `u32::MAX` permits per acquisition.
const UNIT: usize = 1024;

/// A request that has sent nothing for this long while others wait for budget is cut first.
const STALLED: Duration = Duration::from_secs(1);

/// Smallest buffer a body starts with (most AdmissionReviews are a few KiB).
const FIRST_BUFFER: usize = 16 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyRefusal {
    /// Larger than the per-request limit (declared or sent).
    #[error("the request body is larger than the server's limit of {0} bytes (--max-body-bytes)")]
    TooLarge(usize),
    /// The body budget stayed full for the whole wait.
    #[error(
        "the server is holding {0} bytes of other request bodies, its limit (--body-budget-bytes); retry shortly"
    )]
    BudgetFull(usize),
    /// Cut to make room while the request sent nothing.
    #[error(
        "the request body stalled while the server's body budget was full; send the body without pausing"
    )]
    Stalled,
    /// The body did not arrive within the deadline.
    #[error("the request body did not arrive within {0:?} (--body-timeout); send it at once")]
    Timeout(Duration),
    /// The client broke off or sent a malformed body.
    #[error("the request body could not be read: the client closed the stream or sent it malformed")]
    Broken,
}

impl BodyRefusal {
    /// The stable code of the refusal, for metrics.
    pub fn code(self) -> &'static str {
        match self {
            Self::TooLarge(_) => "body_too_large",
            Self::BudgetFull(_) => "body_budget_full",
            Self::Stalled => "body_stalled",
            Self::Timeout(_) => "body_timeout",
            Self::Broken => "body_broken",
        }
    }
}

/// The shared budget.
pub struct BodyBudget {
    permits: Arc<Semaphore>,
    total_units: usize,
    wait: Duration,
    readers: Mutex<HashMap<u64, Reader>>,
    next_id: AtomicU64,
}

/// A body being read: when it last received bytes, and how to cut it.
struct Reader {
    progress: Instant,
    cut: Arc<Notify>,
}

/// A complete body and the budget it holds until dropped.
pub struct HeldBody {
    bytes: Vec<u8>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl HeldBody {
    /// The body's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl BodyBudget {
    /// A budget of `bytes`, where a body waits at most `wait` for room.
    pub fn new(bytes: usize, wait: Duration) -> Self {
        let total_units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self {
            permits: Arc::new(Semaphore::new(total_units)),
            total_units,
            wait,
            readers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Bytes of bodies held now.
    pub fn in_use_bytes(&self) -> usize {
        (self.total_units - self.permits.available_permits()) * UNIT
    }

    /// The budget in bytes.
    pub fn total_bytes(&self) -> usize {
        self.total_units * UNIT
    }

    /// Read `body` whole: at most `max_bytes`, within `timeout`, taking budget as bytes arrive.
    pub async fn read(
        &self,
        body: Body,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<HeldBody, BodyRefusal> {
        let (id, cut) = self.register();
        let _registered = Registered { budget: self, id };
        let deadline = tokio::time::Instant::now() + timeout;
        let reading = self.read_chunks(id, body, max_bytes);
        tokio::select! {
            read = reading => read,
            () = cut.notified() => Err(BodyRefusal::Stalled),
            () = tokio::time::sleep_until(deadline) => Err(BodyRefusal::Timeout(timeout)),
        }
    }

    async fn read_chunks(
        &self,
        id: u64,
        mut body: Body,
        max_bytes: usize,
    ) -> Result<HeldBody, BodyRefusal> {
        let mut held = HeldBody {
            bytes: Vec::new(),
            _permit: None,
        };
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyRefusal::Broken)?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let needed = held.bytes.len() + chunk.len();
            if needed > max_bytes {
                return Err(BodyRefusal::TooLarge(max_bytes));
            }
            if needed > held.bytes.capacity() {
                let target = needed
                    .max(held.bytes.capacity() * 2)
                    .max(FIRST_BUFFER)
                    .min(max_bytes);
                self.grow(id, &mut held, target).await?;
            }
            held.bytes.extend_from_slice(&chunk);
            self.progressed(id);
        }
        Ok(held)
    }

    /// Take budget for a buffer of `target` bytes, then grow the buffer to it.
    async fn grow(&self, id: u64, held: &mut HeldBody, target: usize) -> Result<(), BodyRefusal> {
        let have = held._permit.as_ref().map_or(0, |p| p.num_permits());
        let want = target.div_ceil(UNIT);
        if want > have {
            let more = u32::try_from(want - have).map_err(|_| BodyRefusal::TooLarge(target))?;
            let permit = self.acquire(id, more).await?;
            match &mut held._permit {
                Some(existing) => existing.merge(permit),
                None => held._permit = Some(permit),
            }
        }
        held.bytes.reserve_exact(target - held.bytes.len());
        Ok(())
    }

    /// `units` of budget for reader `id`: at once, or after cutting stalled readers and waiting
    /// (the wait does not count as stalling: `id` is not cut for it).
    async fn acquire(&self, id: u64, units: u32) -> Result<OwnedSemaphorePermit, BodyRefusal> {
        if units as usize > self.total_units {
            return Err(BodyRefusal::BudgetFull(self.total_bytes()));
        }
        if let Ok(permit) = self.permits.clone().try_acquire_many_owned(units) {
            return Ok(permit);
        }
        self.progressed(id);
        self.cut_stalled();
        let waiting = self.permits.clone().acquire_many_owned(units);
        match tokio::time::timeout(self.wait, waiting).await {
            Ok(Ok(permit)) => {
                self.progressed(id);
                Ok(permit)
            }
            _ => Err(BodyRefusal::BudgetFull(self.total_bytes())),
        }
    }

    /// Cut every reader that has received nothing for [`STALLED`].
    fn cut_stalled(&self) {
        let Ok(readers) = self.readers.lock() else {
            return;
        };
        let now = Instant::now();
        for reader in readers.values() {
            if now.duration_since(reader.progress) >= STALLED {
                reader.cut.notify_one();
            }
        }
    }

    fn register(&self) -> (u64, Arc<Notify>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Notify::new());
        let reader = Reader {
            progress: Instant::now(),
            cut: cut.clone(),
        };
        if let Ok(mut readers) = self.readers.lock() {
            readers.insert(id, reader);
        }
        (id, cut)
    }

    fn progressed(&self, id: u64) {
        if let Ok(mut readers) = self.readers.lock()
            && let Some(reader) = readers.get_mut(&id)
        {
            reader.progress = Instant::now();
        }
    }
}

/// Removes a reader from the list of those that can be cut when its read ends.
struct Registered<'a> {
    budget: &'a BodyBudget,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut readers) = self.budget.readers.lock() {
            readers.remove(&self.id);
        }
    }
}
