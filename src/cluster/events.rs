//! Kubernetes Events for would-deny decisions (`signet serve --events`): every object a warn-mode
//! policy or `--dry-run` let through that enforce mode would refuse gets a `Warning` Event,
//! reason `SignatureValidationFailed`, whose note is the message the denial would carry, so
//! `kubectl describe` and `kubectl events` show it next to the object.
//!
//! The admission answer never waits for the API server: the request path only queues
//! ([`EventQueue::would_deny`] is a `try_send` onto a bounded channel; when it is full the Event
//! is dropped and counted), and one background task writes Events, each call under a deadline.
//!
//! Repeats do not spam: a repeat of the same message for the same object (or for another object
//! of the same controller, such as the next Pod of a crash-looping ReplicaSet) is folded into the
//! first Event's `series`, and its count is written at most once per `repeat_every`.
//!
//! Events are written through `events.k8s.io/v1` directly rather than kube-runtime's `Recorder`:
//! the Recorder names an Event after the object (`<name>.<time>`), which the API server rejects
//! for a `generateName` prefix (`web-7d9f-.…` is not a DNS name); its key leaves out the note, so
//! a second, different denial of one object would show the first one's text; and its cache has
//! no size bound.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, PostParams};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio::sync::mpsc;

use crate::audit::logs::Subject;
use crate::expiring::{ExpiringCache, system_clock};
use crate::server::WouldDenySink;
use crate::verdict::DENY_REASON;

/// `reportingController` of the Events.
pub const CONTROLLER: &str = "signet.dev/webhook";
/// `action` of the Events: the webhook admitted the object.
pub const ACTION: &str = "Admit";
/// Longest note the API server accepts (`events.k8s.io/v1`); longer messages are cut (the full
/// text is in the would-deny log line).
pub const MAX_NOTE_BYTES: usize = 1024;

/// How Events are written.
#[derive(Debug, Clone)]
pub struct EventSettings {
    /// Events waiting to be written; more are dropped (and counted).
    pub queue: usize,
    /// Deadline of one API call.
    pub call_timeout: Duration,
    /// A series' count is written at most this often.
    pub repeat_every: Duration,
    /// How long a series is remembered after its last repeat.
    pub remember: Duration,
    /// Most series remembered.
    pub max_series: u64,
    /// `reportingInstance`: this replica (the Pod name).
    pub instance: String,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            queue: 256,
            call_timeout: Duration::from_secs(5),
            repeat_every: Duration::from_secs(60),
            remember: Duration::from_secs(600),
            max_series: 10_000,
            instance: "signet".to_string(),
        }
    }
}

/// What became of a would-deny decision, the label of `signet_events_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// One would-deny decision on its way to the API server.
#[derive(Debug)]
struct Pending {
    subject: Subject,
    note: String,
}

/// The request path's end of the Event writer: cheap to clone, never waits.
#[derive(Debug, Clone)]
pub struct EventQueue {
    sender: mpsc::Sender<Pending>,
    results: Family<ResultLabels, Counter>,
}

impl EventQueue {
    /// Start the writer task on `client`.
    pub fn start(client: kube::Client, settings: EventSettings) -> Self {
        let (sender, receiver) = mpsc::channel(settings.queue.max(1));
        let results = Family::<ResultLabels, Counter>::default();
        let writer = Writer::new(client, settings, results.clone());
        tokio::spawn(writer.run(receiver));
        Self { sender, results }
    }

    /// Register `signet_events_total{result}`: `sent` (created or series updated), `repeat`
    /// (folded into a series without a call), `dropped` (queue full), `failed` (the API server
    /// refused or did not answer in time).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "events",
            "Would-deny Kubernetes Events by result",
            self.results.clone(),
        );
    }

    fn count(&self, result: &'static str) {
        self.results.get_or_create(&ResultLabels { result }).inc();
    }
}

impl WouldDenySink for EventQueue {
    fn would_deny(&self, subject: &Subject, message: &str) {
        let pending = Pending {
            subject: subject.clone(),
            note: note(message),
        };
        if self.sender.try_send(pending).is_err() {
            self.count("dropped");
        }
    }
}

/// An Event written, and what is known of its repeats.
#[derive(Debug, Clone)]
struct Series {
    namespace: String,
    name: String,
    count: i32,
    last_write: Instant,
}

/// (namespace, kind, object or controller, note).
type SeriesKey = (String, String, String, String);

/// The background task that writes Events.
struct Writer {
    client: kube::Client,
    settings: EventSettings,
    results: Family<ResultLabels, Counter>,
    series: ExpiringCache<SeriesKey, Series>,
}

impl Writer {
    fn new(
        client: kube::Client,
        settings: EventSettings,
        results: Family<ResultLabels, Counter>,
    ) -> Self {
        let series = ExpiringCache::counted(settings.max_series, system_clock());
        Self {
            client,
            settings,
            results,
            series,
        }
    }

    async fn run(self, mut receiver: mpsc::Receiver<Pending>) {
        while let Some(pending) = receiver.recv().await {
            let result = self.write(pending).await;
            self.results.get_or_create(&ResultLabels { result }).inc();
        }
    }

    /// Create the Event, or fold a repeat into its series.
    async fn write(&self, pending: Pending) -> &'static str {
        let key = series_key(&pending);
        let Some(mut series) = self.series.get(&key) else {
            return match self.create(&pending).await {
                Some(series) => {
                    self.series.insert(key, series, self.settings.remember);
                    "sent"
                }
                None => "failed",
            };
        };
        series.count = series.count.saturating_add(1);
        if series.last_write.elapsed() < self.settings.repeat_every {
            self.series.insert(key, series, self.settings.remember);
            return "repeat";
        }
        if self.update(&series).await {
            series.last_write = Instant::now();
            self.series.insert(key, series, self.settings.remember);
            "sent"
        } else {
            // Gone (Events expire) or unreachable: the next repeat starts a new Event.
            self.series.remove(&key);
            "failed"
        }
    }

    async fn create(&self, pending: &Pending) -> Option<Series> {
        let event = event(pending, &self.settings.instance);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let name = event.metadata.name.clone().unwrap_or_default();
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let params = PostParams::default();
        self.bounded("create", api.create(&params, &event))
            .await
            .then(|| Series {
                namespace,
                name,
                count: 1,
                last_write: Instant::now(),
            })
    }

    /// Bring the Event's `series` up to date with the repeats seen.
    async fn update(&self, series: &Series) -> bool {
        let api: Api<Event> = Api::namespaced(self.client.clone(), &series.namespace);
        let patch = Patch::Merge(serde_json::json!({"series": {
            "count": series.count,
            "lastObservedTime": MicroTime(Timestamp::now()),
        }}));
        let params = PatchParams::default();
        self.bounded("update", api.patch(&series.name, &params, &patch))
            .await
    }

    /// One API call under the deadline: `false` (and a log line) when it failed or timed out.
    async fn bounded<T>(
        &self,
        what: &str,
        call: impl Future<Output = Result<T, kube::Error>>,
    ) -> bool {
        match tokio::time::timeout(self.settings.call_timeout, call).await {
            Ok(Ok(_)) => true,
            Ok(Err(error)) => {
                tracing::warn!(%error, "cannot {what} a would-deny Event");
                false
            }
            Err(_) => {
                tracing::warn!("cannot {what} a would-deny Event: no answer within the deadline");
                false
            }
        }
    }
}

/// Repeats fold by controller when the object has one: the Pods of one ReplicaSet are one story.
fn series_key(pending: &Pending) -> SeriesKey {
    let subject = &pending.subject;
    let who = match &subject.controller {
        Some(owner) => format!("{}/{}", owner.kind, owner.name),
        None => subject.name.clone(),
    };
    (
        subject.namespace.clone().unwrap_or_default(),
        subject.kind.clone(),
        who,
        pending.note.clone(),
    )
}

/// The Event for one would-deny decision: regarding the reviewed object, related to its
/// controller. Cluster-scoped objects get their Events in `default`, as the API server requires.
fn event(pending: &Pending, instance: &str) -> Event {
    let subject = &pending.subject;
    let namespace = subject
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let now = Timestamp::now();
    let regarding = ObjectReference {
        api_version: Some(subject.api_version.clone()),
        kind: Some(subject.kind.clone()),
        name: Some(subject.name.clone()),
        namespace: subject.namespace.clone(),
        uid: subject.uid.clone(),
        ..ObjectReference::default()
    };
    let related = subject.controller.as_ref().map(|owner| ObjectReference {
        api_version: Some(owner.api_version.clone()),
        kind: Some(owner.kind.clone()),
        name: Some(owner.name.clone()),
        namespace: subject.namespace.clone(),
        uid: Some(owner.uid.clone()),
        ..ObjectReference::default()
    });
    Event {
        metadata: ObjectMeta {
            name: Some(event_name(&subject.name, now.as_nanosecond())),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        event_time: Some(MicroTime(now)),
        type_: Some("Warning".to_string()),
        reason: Some(DENY_REASON.to_string()),
        action: Some(ACTION.to_string()),
        note: Some(pending.note.clone()),
        regarding: Some(regarding),
        related,
        reporting_controller: Some(CONTROLLER.to_string()),
        reporting_instance: Some(instance.chars().take(128).collect()),
        ..Event::default()
    }
}

/// `<object>.<time in hex>`, a valid DNS subdomain whatever the object's name: lowercased,
/// characters other than `[a-z0-9.-]` dropped, no leading or trailing `-` or `.` (a
/// `generateName` prefix ends in `-`), at most 200 characters of the name.
pub fn event_name(object: &str, nanos: i128) -> String {
    let cleaned: String = object
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .take(200)
        .collect();
    let base = cleaned.trim_matches(['-', '.']);
    let base = if base.is_empty() { "signet" } else { base };
    format!("{base}.{:x}", nanos.unsigned_abs())
}

/// The message, cut at a character boundary to fit [`MAX_NOTE_BYTES`].
pub fn note(message: &str) -> String {
    if message.len() <= MAX_NOTE_BYTES {
        return message.to_string();
    }
    const MORE: &str = "…";
    let mut end = MAX_NOTE_BYTES - MORE.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &message[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_dns_subdomains_for_generate_name_prefixes() {
        assert_eq!(event_name("web-7d9f-", 255), "web-7d9f.ff");
        assert_eq!(event_name("echo-pod", 16), "echo-pod.10");
        assert_eq!(event_name("", 1), "signet.1");
        assert_eq!(event_name("--", 1), "signet.1");
        assert_eq!(event_name("Web_App", 1), "webapp.1");
        assert_eq!(event_name(&"a".repeat(300), 1).len(), 202);
    }

    #[test]
    fn notes_are_cut_to_the_api_limit_at_a_character_boundary() {
        assert_eq!(note("short"), "short");
        let long = "é".repeat(1000);
        let cut = note(&long);
        assert!(cut.len() <= MAX_NOTE_BYTES, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
    }
}
