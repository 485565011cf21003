//! The HTTPS accept loop: each connection is admitted by the connection caps, must finish its TLS
//! handshake and send its requests within their deadlines, and is served by hyper with bounded
//! buffers (HTTP/1.1 or HTTP/2, as ALPN chose). On shutdown the listener closes and every
//! connection finishes the requests it has in flight.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum_server::tls_rustls::RustlsConfig;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;
use tower::Service as _;

use super::Metrics;
use super::connections::{Activity, ConnectionGate, Slot};
use super::limits::{H1_MAX_BUFFER_BYTES, Limits, h2};

/// What every connection needs: the app, the limits and the current TLS config.
pub(super) struct Listener {
    app: Router,
    tls: RustlsConfig,
    limits: Limits,
    metrics: Arc<Metrics>,
    gate: Arc<ConnectionGate>,
    h1: auto::Builder<TokioExecutor>,
    h2: auto::Builder<TokioExecutor>,
}

impl Listener {
    pub(super) fn new(
        app: Router,
        tls: RustlsConfig,
        limits: Limits,
        metrics: Arc<Metrics>,
    ) -> Self {
        let gate = ConnectionGate::new(
            limits.max_connections,
            limits.max_connections_per_source,
            metrics.clone(),
        );
        let builder = http_builder(&limits);
        Self {
            app,
            tls,
            gate: Arc::new(gate),
            metrics,
            h1: builder.clone().http1_only(),
            h2: builder.http2_only(),
            limits,
        }
    }

    /// Accept connections on `listener` until `stop` turns true.
    pub(super) async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        mut stop: watch::Receiver<bool>,
    ) {
        loop {
            let accepted = tokio::select! {
                accepted = listener.accept() => accepted,
                () = stopped(&mut stop) => break,
            };
            let (tcp, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, for example: give the others a moment to close.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            match self.gate.admit(peer.ip()) {
                Ok(slot) => {
                    tokio::spawn(self.clone().serve(tcp, peer, slot, stop.clone()));
                }
                Err(refused) => {
                    tracing::debug!(%peer, reason = refused.code(), "connection refused");
                    self.metrics.refused(refused.code());
                }
            }
        }
    }

    /// Handshake and serve one connection; `_slot` holds its place under the caps.
    async fn serve(
        self: Arc<Self>,
        tcp: TcpStream,
        peer: SocketAddr,
        _slot: Slot,
        mut stop: watch::Receiver<bool>,
    ) {
        let _ = tcp.set_nodelay(true);
        let acceptor = tokio_rustls::TlsAcceptor::from(self.tls.get_inner());
        let tls =
            match tokio::time::timeout(self.limits.handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%peer, %error, "TLS handshake failed");
                    if let Some(reason) = super::client_auth::refusal(&error) {
                        self.metrics.refused(reason);
                    }
                    return;
                }
                Err(_) => {
                    self.metrics.refused("handshake_timeout");
                    return;
                }
            };
        let http2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        let builder = if http2 { &self.h2 } else { &self.h1 };
        let activity = Activity::new();
        let service = {
            let (app, activity) = (self.app.clone(), activity.clone());
            hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let in_flight = activity.begin();
                let mut app = app.clone();
                async move {
                    let response = app.call(request.map(Body::new)).await;
                    drop(in_flight);
                    response
                }
            })
        };
        let connection = builder.serve_connection(TokioIo::new(tls), service);
        tokio::pin!(connection);
        let idle = self.limits.idle_timeout;
        // HTTP/1.1's first request has hyper's header deadline; HTTP/2 has none of its own.
        let first = if http2 {
            self.limits.header_timeout
        } else {
            idle
        };
        // An idle connection asked to close gets this long to say goodbye (HTTP/2 waits for
        // the client to acknowledge a PING, which a hostile client never does).
        let mut close_by: Option<Instant> = None;
        let mut closing = false;
        loop {
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(error) = served {
                        self.count_error(peer, error.as_ref());
                    }
                    break;
                }
                () = stopped(&mut stop), if !closing => {
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
                () = activity.idle_for(idle, first), if !closing => {
                    self.metrics.refused("idle_timeout");
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                    close_by = Some(Instant::now() + self.limits.header_timeout);
                }
                () = sleep_until_some(close_by) => break,
            }
        }
    }

    /// Count a connection that ended in an error (header deadline, protocol error, reset).
    fn count_error(&self, peer: SocketAddr, error: &(dyn std::error::Error + 'static)) {
        let timeout = error
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_timeout);
        if timeout {
            self.metrics.refused("header_timeout");
        }
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

/// hyper's connection settings: deadlines and the buffers one connection may fill.
fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(H1_MAX_BUFFER_BYTES)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_header_list_size(h2::MAX_HEADER_LIST_BYTES)
        .initial_stream_window_size(h2::STREAM_WINDOW_BYTES)
        .initial_connection_window_size(h2::CONNECTION_WINDOW_BYTES)
        .max_pending_accept_reset_streams(h2::MAX_PENDING_RESET_STREAMS)
        .max_local_error_reset_streams(h2::MAX_LOCAL_ERROR_RESETS)
        .max_send_buf_size(h2::MAX_SEND_BUFFER_BYTES);
    builder
}

/// Resolves at `deadline`; never without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}
