//! Who may hold a connection and for how long: a cap on open connections in total and per
//! source address, and each connection's activity (requests in flight, idle since when), so that
//! a connection that sends no request is closed.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Metrics;

/// Open connections, counted in total and per source address.
pub(super) struct ConnectionGate {
    max_total: usize,
    max_per_source: usize,
    open: Mutex<Open>,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Open {
    total: usize,
    per_source: HashMap<IpAddr, usize>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    /// `--max-connections` are open.
    Total,
    /// `--max-connections-per-source` are open from this address.
    PerSource,
}

impl Refused {
    /// The stable code of the refusal, for metrics.
    pub(super) fn code(self) -> &'static str {
        match self {
            Self::Total => "connections_total",
            Self::PerSource => "connections_per_source",
        }
    }
}

/// One admitted connection; gives its place back when dropped.
pub(super) struct Slot {
    gate: Arc<ConnectionGate>,
    source: IpAddr,
}

impl ConnectionGate {
    pub(super) fn new(max_total: usize, max_per_source: usize, metrics: Arc<Metrics>) -> Self {
        Self {
            max_total,
            max_per_source,
            open: Mutex::new(Open::default()),
            metrics,
        }
    }

    /// A place for a connection from `source`, if both caps allow it.
    pub(super) fn admit(self: &Arc<Self>, source: IpAddr) -> Result<Slot, Refused> {
        let mut open = self.open.lock().map_err(|_| Refused::Total)?;
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let from_source = open.per_source.entry(source).or_insert(0);
        if *from_source >= self.max_per_source {
            return Err(Refused::PerSource);
        }
        *from_source += 1;
        open.total += 1;
        self.metrics.connection_opened();
        Ok(Slot {
            gate: self.clone(),
            source,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.gate.metrics.connection_closed();
        let Ok(mut open) = self.gate.open.lock() else {
            return;
        };
        open.total = open.total.saturating_sub(1);
        if let Some(count) = open.per_source.get_mut(&self.source) {
            *count -= 1;
            if *count == 0 {
                open.per_source.remove(&self.source);
            }
        }
    }
}

/// What one connection is doing: requests in flight, and since when it has had none.
pub(super) struct Activity {
    in_flight: AtomicUsize,
    started_one: AtomicBool,
    idle_since: Mutex<Instant>,
}

/// A request in flight on a connection; ends when dropped (also when the request is cancelled).
pub(super) struct InFlight(Arc<Activity>);

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            started_one: AtomicBool::new(false),
            idle_since: Mutex::new(Instant::now()),
        })
    }

    /// A request started.
    pub(super) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.started_one.store(true, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Resolves once the connection has had no request in flight for `idle` (`first` before its
    /// first request: a client that connects and sends nothing, or sends its first request's
    /// headers slowly, is cut sooner).
    pub(super) async fn idle_for(&self, idle: Duration, first: Duration) {
        loop {
            let limit = match self.started_one.load(Ordering::SeqCst) {
                true => idle,
                false => first,
            };
            let wait = match self.in_flight.load(Ordering::SeqCst) {
                0 => {
                    let since = self.idle_since.lock().map_or(limit, |t| t.elapsed());
                    match limit.checked_sub(since) {
                        Some(left) if !left.is_zero() => left,
                        _ => return,
                    }
                }
                _ => limit,
            };
            tokio::time::sleep(wait).await;
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut since) = self.0.idle_since.lock() {
            *since = Instant::now();
        }
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
