//! A steady load of reviews, as the apiserver sends them: a fixed rate spread over a few
//! keep-alive connections, each answer counted as ok (200) or failed (anything else, including
//! a connection error). The load can be told that the endpoint was removed (readiness failed):
//! from then on no new review is sent, as kube-proxy and the apiserver would stop sending them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

/// A running load.
pub struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    workers: Vec<JoinHandle<()>>,
}

impl Load {
    /// `per_second` POSTs of `review` to `url` over `connections` clients made by `client`.
    pub fn start(
        client: impl Fn() -> reqwest::Client,
        url: &str,
        review: &Value,
        per_second: u32,
        connections: u32,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let every = Duration::from_secs(1) * connections / per_second;
        let workers = (0..connections)
            .map(|_| {
                let (client, url, review) = (client(), url.to_string(), review.clone());
                let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(every);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    while !stop.load(Ordering::SeqCst) {
                        tick.tick().await;
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        let sent = client.post(&url).json(&review).send().await;
                        let counter = match sent {
                            Ok(r) if r.status() == 200 => &ok,
                            _ => &failed,
                        };
                        counter.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        Load {
            stop,
            ok,
            failed,
            workers,
        }
    }

    /// Answers so far: (ok, failed).
    pub fn counts(&self) -> (usize, usize) {
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
        )
    }

    /// Wait until `more` reviews beyond those answered so far are answered ok, so the load is
    /// known to run across what the test does next, however slow the machine (panics after a
    /// minute: the load is not running).
    pub async fn answered_more(&self, more: usize) {
        let target = self.counts().0 + more;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.counts().0 < target {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the load stopped being answered: {:?} (ok, failed), waiting for {target} ok",
                self.counts()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Send no new review (the endpoint was removed); reviews under way still count.
    pub fn remove_endpoint(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Stop, wait for the reviews under way, and return (ok, failed).
    pub async fn finish(mut self) -> (usize, usize) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in std::mem::take(&mut self.workers) {
            let _ = worker.await;
        }
        self.counts()
    }
}
