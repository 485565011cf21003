//! `signet serve`'s limits on clients: what any pod that can reach the webhook port may hold
//! (connections, time, request-body memory). The defaults keep a replica inside its 256 MiB
//! memory limit and answering kube-apiserver; see docs/hardening.md, "Hostile clients".

use clap::Args;

use signet::server::{DEFAULT_BODY_BUDGET_BYTES, Limits};

/// Options of `signet serve` that bound what clients may hold.
#[derive(Args, Debug)]
pub struct ClientLimitArgs {
    /// Request body bytes held in memory at once, across all connections (on top of the
    /// per-request --max-body-bytes); a body that finds no room within 2 s gets 503, after
    /// requests that hold room without sending are cut.
    #[arg(long = "body-budget-bytes", default_value_t = DEFAULT_BODY_BUDGET_BYTES)]
    body_budget_bytes: usize,
    /// Seconds within which a request's whole body must arrive (408 after); below
    /// kube-apiserver's webhook timeout (10 s by default, 30 s at most).
    #[arg(long = "body-timeout", default_value = "10")]
    body_timeout: f64,
    /// Seconds within which a request's headers (and a TLS handshake) must arrive; an HTTP/1.1
    /// keep-alive connection that starts no new request within it is closed.
    #[arg(long = "header-timeout", default_value = "5")]
    header_timeout: f64,
    /// Seconds a connection may stay open with no request in flight (HTTP/2: GOAWAY).
    #[arg(long = "idle-timeout", default_value = "60")]
    idle_timeout: f64,
    /// Open HTTPS connections at most; more are closed at once.
    #[arg(long = "max-connections", default_value = "1024")]
    max_connections: usize,
    /// Open HTTPS connections from one source address at most.
    #[arg(long = "max-connections-per-source", default_value = "256")]
    max_connections_per_source: usize,
    /// HTTP/2 streams one connection may have open at once.
    #[arg(long = "max-concurrent-streams", default_value = "64")]
    max_concurrent_streams: u32,
}

impl ClientLimitArgs {
    /// The server's limits, the durations checked, the budget checked to hold at least one body
    /// of `max_body_bytes`.
    pub fn limits(&self, max_body_bytes: usize) -> anyhow::Result<Limits> {
        anyhow::ensure!(
            self.body_budget_bytes >= max_body_bytes,
            "--body-budget-bytes ({}) must hold at least one body of --max-body-bytes ({max_body_bytes})",
            self.body_budget_bytes
        );
        let header_timeout = super::seconds(self.header_timeout, "--header-timeout")?;
        Ok(Limits {
            body_budget_bytes: self.body_budget_bytes,
            body_timeout: super::seconds(self.body_timeout, "--body-timeout")?,
            header_timeout,
            handshake_timeout: header_timeout,
            idle_timeout: super::seconds(self.idle_timeout, "--idle-timeout")?,
            max_connections: self.max_connections.max(1),
            max_connections_per_source: self.max_connections_per_source.max(1),
            h2_max_concurrent_streams: self.max_concurrent_streams.max(1),
            ..Limits::default()
        })
    }
}
