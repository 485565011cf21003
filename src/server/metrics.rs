//! Prometheus metrics, served on their own plain-HTTP listener. Labels carry stable codes only,
//! never image names, namespaces or error text.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::engine::Engine;
use crate::verdict::Decision;

/// Labels of a review decision.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    decision: &'static str,
}

/// Labels of one image outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ImageLabels {
    outcome: &'static str,
    reason: &'static str,
}

/// Labels of a refused or cut client.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: &'static str,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    reviews: Family<DecisionLabels, Counter>,
    images: Family<ImageLabels, Counter>,
    duration: Histogram,
    in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
    policy_reloads: Family<DecisionLabels, Counter<u64, AtomicU64>>,
    clients: ClientMetrics,
    certificate_expiry: Gauge,
}

/// What clients hold and what was refused them.
#[derive(Default)]
struct ClientMetrics {
    refused: Family<RefusalLabels, Counter>,
    connections: Gauge,
    budget_in_use: Gauge,
    budget_total: Gauge,
}

impl ClientMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "client_refusals",
            "Connections and requests refused or cut, by reason: connections_total, connections_per_source, handshake_timeout, header_timeout, idle_timeout, body_too_large, body_budget_full, body_stalled, body_timeout, body_broken, client_certificate_missing, client_certificate_invalid (--client-ca)",
            self.refused.clone(),
        );
        registry.register(
            "connections_open",
            "HTTPS connections open now",
            self.connections.clone(),
        );
        registry.register(
            "body_budget_in_use_bytes",
            "Request body bytes held now, across all connections (read at scrape)",
            self.budget_in_use.clone(),
        );
        registry.register(
            "body_budget_bytes",
            "The request body budget (--body-budget-bytes)",
            self.budget_total.clone(),
        );
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Register every metric under the `signet` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("signet");
        let reviews = Family::<DecisionLabels, Counter>::default();
        let images = Family::<ImageLabels, Counter>::default();
        let buckets = [
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let duration = Histogram::new(buckets);
        let in_flight = Gauge::default();
        let policy_reloads = Family::default();
        registry.register("reviews", "Admission reviews by decision", reviews.clone());
        registry.register(
            "image_checks",
            "Image verdicts by outcome and reason code",
            images.clone(),
        );
        registry.register(
            "review_duration_seconds",
            "Time to answer one admission review",
            duration.clone(),
        );
        registry.register(
            "reviews_in_flight",
            "Reviews being answered now",
            in_flight.clone(),
        );
        registry.register(
            "policy_reloads",
            "Policy reloads by result",
            policy_reloads.clone(),
        );
        let clients = ClientMetrics::default();
        clients.register(&mut registry);
        let certificate_expiry = Gauge::default();
        registry.register(
            "tls_certificate_expiry_timestamp_seconds",
            "notAfter of the serving certificate in use, as Unix time (set at start and at each reload; alert when it comes within weeks of time())",
            certificate_expiry.clone(),
        );
        Self {
            registry,
            reviews,
            images,
            duration,
            in_flight,
            policy_reloads,
            clients,
            certificate_expiry,
        }
    }

    /// Count one answered review.
    pub fn observe(&self, decision: &Decision, seconds: f64) {
        let label = if decision.allowed() { "allow" } else { "deny" };
        self.reviews
            .get_or_create(&DecisionLabels { decision: label })
            .inc();
        for v in &decision.verdicts {
            let reason = v.outcome.code();
            let labels = ImageLabels {
                outcome: v.outcome.label(),
                reason,
            };
            self.images.get_or_create(&labels).inc();
        }
        self.duration.observe(seconds);
    }

    /// The metrics, plus the registry cache counters of `engine`, read at each scrape.
    pub fn for_engine(engine: Arc<Engine>) -> Self {
        let mut metrics = Self::new();
        engine.stage_metrics().register(&mut metrics.registry);
        metrics
            .registry
            .register_collector(Box::new(CacheCollector(engine)));
        metrics
    }

    /// The registry, for metrics of other parts of the server (the Event recorder's).
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// A review started (returns a guard that ends it).
    pub fn start_review(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(self)
    }

    /// Count a policy reload attempt.
    pub fn policy_reload(&self, ok: bool) {
        let decision = if ok { "ok" } else { "error" };
        self.policy_reloads
            .get_or_create(&DecisionLabels { decision })
            .inc();
    }

    /// The serving certificate in use now ends at `not_after` (Unix seconds).
    pub fn certificate_expiry(&self, not_after: i64) {
        self.certificate_expiry.set(not_after);
    }

    /// Count a connection or request refused or cut, by its stable `reason` code.
    pub fn refused(&self, reason: &'static str) {
        self.clients
            .refused
            .get_or_create(&RefusalLabels { reason })
            .inc();
    }

    /// A connection was admitted.
    pub fn connection_opened(&self) {
        self.clients.connections.inc();
    }

    /// An admitted connection closed.
    pub fn connection_closed(&self) {
        self.clients.connections.dec();
    }

    /// Record the body budget's use now.
    pub fn body_budget(&self, in_use: usize, total: usize) {
        let gauge = |bytes: usize| i64::try_from(bytes).unwrap_or(i64::MAX);
        self.clients.budget_in_use.set(gauge(in_use));
        self.clients.budget_total.set(gauge(total));
    }

    /// The text exposition format.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

/// Decrements the in-flight gauge when dropped, also when a review is cancelled.
pub struct InFlight<'a>(&'a Metrics);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.dec();
    }
}

/// Labels of a cache lookup.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
    result: &'static str,
}

/// `signet_cache_requests_total{cache, result}` from the engine's cache statistics.
struct CacheCollector(Arc<Engine>);

impl std::fmt::Debug for CacheCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheCollector")
    }
}

impl Collector for CacheCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.0.registry().stats();
        let (verdict_hits, verdict_misses) = self.0.verdicts().stats();
        let (memo_hits, memo_misses) = self.0.decision_memo().stats();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let rows = [
            ("digest", "hit", load(&stats.digest_hits)),
            ("digest", "miss", load(&stats.digest_misses)),
            ("signatures", "hit", load(&stats.signature_hits)),
            ("signatures", "miss", load(&stats.signature_misses)),
            ("verdict", "hit", verdict_hits),
            ("verdict", "miss", verdict_misses),
            ("decision", "hit", memo_hits),
            ("decision", "miss", memo_misses),
        ];
        let mut metric = encoder.encode_descriptor(
            "cache_requests",
            "Cache lookups by cache (digest, signatures, verdict; decision: whole image decisions remembered across reviews, which skip the other three) and result (joining a fetch or check under way is a hit)",
            None,
            MetricType::Counter,
        )?;
        for (cache, result, value) in rows {
            let labels = CacheLabels { cache, result };
            let family = metric.encode_family(&labels)?;
            ConstCounter::new(value).encode(family)?;
        }
        self.encode_entries(&mut encoder)
    }
}

impl CacheCollector {
    /// `signet_cache_entries{cache}`: entries held now (approximate).
    fn encode_entries(&self, encoder: &mut DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let (digests, signatures) = self.0.registry().entry_counts();
        let rows = [
            ("digest", digests),
            ("signatures", signatures),
            ("verdict", self.0.verdicts().entry_count()),
            ("decision", self.0.decision_memo().entry_count()),
        ];
        let mut metric = encoder.encode_descriptor(
            "cache_entries",
            "Entries held per cache (approximate)",
            None,
            MetricType::Gauge,
        )?;
        for (cache, value) in rows {
            let labels = EntryLabels { cache };
            let family = metric.encode_family(&labels)?;
            ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX)).encode(family)?;
        }
        Ok(())
    }
}

/// Labels of a cache size.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EntryLabels {
    cache: &'static str,
}
