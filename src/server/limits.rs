//! What one client may hold of the server: connections, time and request-body memory. The
//! webhook port is open to every pod in the cluster (the API server's addresses cannot be
//! selected portably in a NetworkPolicy), so these bounds, not the clients' good manners, keep a
//! replica inside its 256 MiB memory limit and answering kube-apiserver.

use std::time::Duration;

/// Request bodies held in memory at once, across all connections and streams. A replica's
/// limit is 256 MiB; the binary, caches and connections take about 60 MiB under load, so a
/// quarter of the limit leaves room for the JSON trees decoded from these bodies.
pub const DEFAULT_BODY_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// The whole body of a request must arrive within this. kube-apiserver waits 10 s for a webhook
/// by default and 30 s at most (`timeoutSeconds`), so a body that takes longer could never be
/// answered in time anyway.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The server's limits on clients. `Default` is what `signet serve` uses without flags.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of request bodies held at once across all connections; a body that does not fit
    /// after [`Limits::body_budget_wait`] gets 503.
    pub body_budget_bytes: usize,
    /// How long a request waits for room in the body budget before it is refused. While it
    /// waits, requests that hold budget without sending are cut to make room.
    pub body_budget_wait: Duration,
    /// The whole request body must arrive within this (408 and the connection closed after).
    pub body_timeout: Duration,
    /// A request's headers must arrive within this (HTTP/1.1; hyper also closes a keep-alive
    /// connection that has not started its next request by then).
    pub header_timeout: Duration,
    /// The TLS handshake must finish within this.
    pub handshake_timeout: Duration,
    /// A connection with no request in flight for this long is closed (HTTP/2: GOAWAY).
    pub idle_timeout: Duration,
    /// Open connections at most; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// Open connections from one source address at most.
    pub max_connections_per_source: usize,
    /// HTTP/2: streams one connection may have open at once.
    pub h2_max_concurrent_streams: u32,
}

/// HTTP/2 settings that are not flags: each bounds what one connection can make the server
/// buffer.
pub(super) mod h2 {
    /// Largest decoded header list of one request (kube-apiserver sends under 1 KiB).
    pub const MAX_HEADER_LIST_BYTES: u32 = 16 * 1024;
    /// Request data one stream may send before the server reads it.
    pub const STREAM_WINDOW_BYTES: u32 = 64 * 1024;
    /// Request data all streams of one connection may send before the server reads it: what
    /// each open connection can make the server buffer (HTTP/2 reads frames whether or not a
    /// stream's body is wanted yet), so 1,024 connections buffer at most 64 MiB.
    pub const CONNECTION_WINDOW_BYTES: u32 = 64 * 1024;
    /// Streams reset by the client before the server took them, at once (rapid reset,
    /// CVE-2023-44487); more and the connection gets GOAWAY.
    pub const MAX_PENDING_RESET_STREAMS: usize = 20;
    /// Streams the server itself reset for the client's errors before the connection is closed.
    pub const MAX_LOCAL_ERROR_RESETS: usize = 256;
    /// Response bytes buffered per stream.
    pub const MAX_SEND_BUFFER_BYTES: usize = 64 * 1024;
}

/// HTTP/1.1: largest read buffer per connection (request head and body chunks in transit).
pub(super) const H1_MAX_BUFFER_BYTES: usize = 64 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Self {
            body_budget_bytes: DEFAULT_BODY_BUDGET_BYTES,
            body_budget_wait: Duration::from_secs(2),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            header_timeout: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(60),
            max_connections: 1024,
            max_connections_per_source: 256,
            h2_max_concurrent_streams: 64,
        }
    }
}
