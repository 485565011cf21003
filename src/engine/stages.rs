//! Per-stage timings of the pipeline, so a slow review can be traced to its stage: digest
//! resolution, signature fetch and verification as histograms with in-flight gauges, and every
//! registry call (cache misses only) by registry host, with its errors by stable code.
//!
//! Labels stay bounded: a stage name, an operation, a reason code, and a registry host from a
//! capped set (hosts past the cap share the label `other`, since image references come from
//! the requests themselves).

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::AtomicI64;
use std::time::Instant;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Most distinct registry hosts given their own label.
pub const MAX_REGISTRY_LABELS: usize = 32;

/// From 50 µs (a cache hit) to 10 s (past any review deadline).
const BUCKETS: [f64; 16] = [
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
    2.5, 10.0,
];

/// A stage of one image's review.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum Stage {
    /// Tag to digest (a cache lookup, or a registry call).
    DigestResolution,
    /// Signature material for a digest (a cache lookup, or registry calls).
    SignatureFetch,
    /// Signature checks and the policy fold (a verdict cache lookup, or the checks).
    Verification,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::DigestResolution => "digest_resolution",
            Stage::SignatureFetch => "signature_fetch",
            Stage::Verification => "verification",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    registry: String,
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    registry: String,
    operation: &'static str,
    code: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// The engine's stage and registry metrics (clones share their values).
pub struct StageMetrics {
    stages: HistogramFamily<StageLabels>,
    in_flight: Family<StageLabels, Gauge<i64, AtomicI64>>,
    calls: HistogramFamily<CallLabels>,
    errors: Family<ErrorLabels, Counter>,
    hosts: Mutex<HashSet<String>>,
}

impl Default for StageMetrics {
    fn default() -> Self {
        Self {
            stages: Family::new_with_constructor(histogram),
            in_flight: Family::default(),
            calls: Family::new_with_constructor(histogram),
            errors: Family::default(),
            hosts: Mutex::new(HashSet::new()),
        }
    }
}

impl StageMetrics {
    /// Register every metric in `registry` (prefix included by the registry).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "stage_duration_seconds",
            "Time one image spends in a review stage (cache lookups included)",
            self.stages.clone(),
        );
        registry.register(
            "stage_in_flight",
            "Images in a review stage now",
            self.in_flight.clone(),
        );
        registry.register(
            "registry_request_duration_seconds",
            "Registry calls made on cache misses, by registry host and operation",
            self.calls.clone(),
        );
        registry.register(
            "registry_errors",
            "Failed registry calls by registry host, operation and reason code",
            self.errors.clone(),
        );
    }

    /// `stage` started for one image; the guard records its duration when dropped.
    pub fn start(&self, stage: Stage) -> StageTimer<'_> {
        let labels = StageLabels {
            stage: stage.label(),
        };
        self.in_flight.get_or_create(&labels).inc();
        StageTimer {
            metrics: self,
            labels,
            started: Instant::now(),
        }
    }

    /// Record one registry call to `host` that took since `started`, failing with `error_code`.
    pub fn registry_call(
        &self,
        host: &str,
        operation: &'static str,
        started: Instant,
        error_code: Option<&'static str>,
    ) {
        let registry = self.host_label(host);
        if let Some(code) = error_code {
            let labels = ErrorLabels {
                registry: registry.clone(),
                operation,
                code,
            };
            self.errors.get_or_create(&labels).inc();
        }
        let labels = CallLabels {
            registry,
            operation,
        };
        let seconds = started.elapsed().as_secs_f64();
        self.calls.get_or_create(&labels).observe(seconds);
    }

    /// `host`, or `other` once [`MAX_REGISTRY_LABELS`] hosts have labels.
    fn host_label(&self, host: &str) -> String {
        let Ok(mut hosts) = self.hosts.lock() else {
            return "other".to_string();
        };
        if hosts.contains(host) {
            return host.to_string();
        }
        if hosts.len() < MAX_REGISTRY_LABELS {
            hosts.insert(host.to_string());
            return host.to_string();
        }
        "other".to_string()
    }
}

/// Ends a stage: the in-flight gauge goes down and the duration is recorded (also when the
/// review is cancelled at its deadline).
pub struct StageTimer<'a> {
    metrics: &'a StageMetrics,
    labels: StageLabels,
    started: Instant,
}

impl Drop for StageTimer<'_> {
    fn drop(&mut self) {
        let seconds = self.started.elapsed().as_secs_f64();
        self.metrics.in_flight.get_or_create(&self.labels).dec();
        self.metrics
            .stages
            .get_or_create(&self.labels)
            .observe(seconds);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn registry_hosts_past_the_cap_share_one_label() {
        let metrics = StageMetrics::default();
        let labels: Vec<String> = (0..MAX_REGISTRY_LABELS + 5)
            .map(|i| metrics.host_label(&format!("r{i}.example")))
            .collect();
        assert_eq!(labels[0], "r0.example");
        assert_eq!(metrics.host_label("r0.example"), "r0.example");
        assert_eq!(labels[MAX_REGISTRY_LABELS], "other");
        let distinct: HashSet<&String> = labels.iter().collect();
        assert_eq!(distinct.len(), MAX_REGISTRY_LABELS + 1);
    }
}
