//! The memory budget for request bodies in flight, shared by every connection and stream. A
//! body takes room for its declared length before it is read (without a Content-Length, as its
//! buffer grows) and keeps it until its request is answered. A body that finds the budget full
//! first cuts requests that hold room without sending, then waits briefly (the smallest first),
//! then is refused: memory stays bounded, and a client that sends its body at once
//! (kube-apiserver) gets room from one that stalls.

mod pool;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use http_body_util::BodyExt;
use tokio::sync::Notify;

use pool::{Pool, Taken};

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
    #[error(
        "the request body could not be read: the client closed the stream or sent it malformed"
    )]
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
    pool: Arc<Pool>,
    wait: Duration,
    readers: Mutex<HashMap<u64, Reader>>,
    next_id: AtomicU64,
}

/// A body being read: when it last received bytes, and how to cut it.
struct Reader {
    progress: Instant,
    /// It waits for budget (and is not to be cut for that).
    waiting: bool,
    cut: Arc<Notify>,
}

/// A complete body and the budget it holds until dropped.
pub struct HeldBody {
    bytes: Vec<u8>,
    taken: Option<Taken>,
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
        Self {
            pool: Pool::new(bytes),
            wait,
            readers: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    /// Bytes of bodies held now.
    pub fn in_use_bytes(&self) -> usize {
        self.pool.in_use()
    }

    /// The budget in bytes.
    pub fn total_bytes(&self) -> usize {
        self.pool.total()
    }

    /// Read `body` whole: at most `max_bytes`, within `timeout`, taking budget for the `declared`
    /// Content-Length before reading (without one, as the buffer grows). A body held in full
    /// needs no copy, and a reader waiting for room holds none and has read nothing.
    pub async fn read(
        &self,
        body: Body,
        declared: Option<usize>,
        max_bytes: usize,
        timeout: Duration,
    ) -> Result<HeldBody, BodyRefusal> {
        let (id, cut) = self.register();
        let _registered = Registered { budget: self, id };
        let deadline = tokio::time::Instant::now() + timeout;
        let reading = self.read_chunks(id, body, declared, max_bytes);
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
        declared: Option<usize>,
        max_bytes: usize,
    ) -> Result<HeldBody, BodyRefusal> {
        let mut held = HeldBody {
            bytes: Vec::new(),
            taken: None,
        };
        // With a declared length, room for all of it before any of it is read: until then the
        // bytes wait in the kernel's socket buffer, not in this process.
        if let Some(declared) = declared.filter(|&d| d > 0) {
            self.grow(id, &mut held, declared.min(max_bytes)).await?;
        }
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
        let have = held.taken.as_ref().map_or(0, Taken::bytes);
        if target > have {
            let taken = self.take(id, target - have).await?;
            match &mut held.taken {
                Some(existing) => existing.merge(taken),
                None => held.taken = Some(taken),
            }
        }
        held.bytes.reserve_exact(target - held.bytes.len());
        Ok(())
    }

    /// `bytes` of budget for reader `id`: at once, or after cutting stalled readers and waiting
    /// (smallest need first, see [`pool`]). Readers that stall are looked for again while the
    /// wait lasts; a reader that waits is not stalled by its own fault and is not cut for it.
    async fn take(&self, id: u64, bytes: usize) -> Result<Taken, BodyRefusal> {
        let full = BodyRefusal::BudgetFull(self.total_bytes());
        if bytes > self.total_bytes() {
            return Err(full);
        }
        let mut waiting = match self.pool.take(bytes) {
            Ok(taken) => return Ok(taken),
            Err(waiting) => waiting,
        };
        self.set_waiting(id, true);
        let deadline = tokio::time::Instant::now() + self.wait;
        let taken = loop {
            self.cut_stalled();
            let next_look = (tokio::time::Instant::now() + STALLED / 4).min(deadline);
            tokio::select! {
                taken = waiting.granted() => break Ok(taken),
                () = tokio::time::sleep_until(next_look) => {
                    if next_look >= deadline {
                        break Err(full);
                    }
                }
            }
        };
        self.set_waiting(id, false);
        taken
    }

    /// Cut every reader that has received nothing for [`STALLED`] and is not waiting for budget.
    fn cut_stalled(&self) {
        let Ok(readers) = self.readers.lock() else {
            return;
        };
        let now = Instant::now();
        for reader in readers.values() {
            if !reader.waiting && now.duration_since(reader.progress) >= STALLED {
                reader.cut.notify_one();
            }
        }
    }

    fn register(&self) -> (u64, Arc<Notify>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let cut = Arc::new(Notify::new());
        let reader = Reader {
            progress: Instant::now(),
            waiting: false,
            cut: cut.clone(),
        };
        if let Ok(mut readers) = self.readers.lock() {
            readers.insert(id, reader);
        }
        (id, cut)
    }

    /// Reader `id` starts or stops waiting for budget (which counts as progress).
    fn set_waiting(&self, id: u64, waiting: bool) {
        if let Ok(mut readers) = self.readers.lock()
            && let Some(reader) = readers.get_mut(&id)
        {
            reader.waiting = waiting;
            reader.progress = Instant::now();
        }
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
