//! A TCP proxy that adds latency or faults between a client and an upstream (registry, server).
//!
//! Every accepted connection is counted, whatever the mode. The mode is read when a connection
//! is accepted; connections already forwarding keep going (use `drop_connections` to cut them).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// Chunks in flight per direction; bounds memory when the reader outpaces a delayed writer.
const IN_FLIGHT_CHUNKS: usize = 64;
const CHUNK: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    /// Connect upstream and relay both ways, each chunk delayed by the proxy's delay.
    Forward = 0,
    /// Accept, then reset the connection at once (RST), as a crashed peer would. Clients see
    /// "connection reset" or "closed", not ECONNREFUSED: use `TestRegistry::stop` for that.
    Refuse = 1,
    /// Accept and read, never answer, never close (until the proxy drops).
    Blackhole = 2,
}

impl Mode {
    fn from_u8(value: u8) -> Mode {
        [Mode::Forward, Mode::Refuse, Mode::Blackhole]
            .into_iter()
            .find(|m| *m as u8 == value)
            .unwrap_or(Mode::Forward)
    }
}

#[derive(Default)]
struct Counters {
    mode: AtomicU8,
    connections: AtomicU64,
    bytes_to_upstream: AtomicU64,
    bytes_to_client: AtomicU64,
    /// HTTP/1.1 request lines seen client -> upstream ("GET /v2/ HTTP/1.1").
    request_lines: Mutex<Vec<String>>,
}

pub struct TcpProxy {
    addr: SocketAddr,
    counters: Arc<Counters>,
    connections: Arc<Mutex<JoinSet<()>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards to `upstream` with `delay` added to every chunk in
    /// each direction. Must be called inside a tokio runtime.
    pub fn start(upstream: SocketAddr, delay: Duration) -> TcpProxy {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("bind proxy listener on 127.0.0.1:0");
        std_listener
            .set_nonblocking(true)
            .expect("set proxy listener non-blocking");
        let addr = std_listener.local_addr().expect("proxy listener address");
        let listener =
            TcpListener::from_std(std_listener).expect("register proxy listener with tokio");
        let counters = Arc::new(Counters::default());
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            delay,
            Arc::clone(&counters),
            Arc::clone(&connections),
        ));
        TcpProxy {
            addr,
            counters,
            connections,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// "127.0.0.1:PORT", usable as a registry host.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn set_mode(&self, mode: Mode) {
        self.counters.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// Connections accepted so far, in any mode.
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Bytes relayed client -> upstream.
    pub fn bytes_to_upstream(&self) -> u64 {
        self.counters.bytes_to_upstream.load(Ordering::SeqCst)
    }

    /// Bytes relayed upstream -> client.
    pub fn bytes_to_client(&self) -> u64 {
        self.counters.bytes_to_client.load(Ordering::SeqCst)
    }

    /// HTTP/1.1 request lines relayed client -> upstream so far (plain HTTP only), such as
    /// `HEAD /v2/demo/app/manifests/v1 HTTP/1.1`.
    pub fn request_lines(&self) -> Vec<String> {
        self.counters
            .request_lines
            .lock()
            .expect("proxy request lines lock")
            .clone()
    }

    /// Aborts every open connection (clients see the socket close).
    pub fn drop_connections(&self) {
        self.connections
            .lock()
            .expect("proxy connections lock")
            .abort_all();
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
        if let Ok(mut connections) = self.connections.lock() {
            connections.abort_all();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    delay: Duration,
    counters: Arc<Counters>,
    connections: Arc<Mutex<JoinSet<()>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        counters.connections.fetch_add(1, Ordering::SeqCst);
        let mode = Mode::from_u8(counters.mode.load(Ordering::SeqCst));
        let task = handle(client, mode, upstream, delay, Arc::clone(&counters));
        let mut set = connections.lock().expect("proxy connections lock");
        while set.try_join_next().is_some() {}
        set.spawn(task);
    }
}

async fn handle(
    client: TcpStream,
    mode: Mode,
    upstream: SocketAddr,
    delay: Duration,
    counters: Arc<Counters>,
) {
    match mode {
        Mode::Refuse => {
            let _ = client.set_zero_linger();
        }
        Mode::Blackhole => swallow(client).await,
        Mode::Forward => forward(client, upstream, delay, counters).await,
    }
}

async fn swallow(mut client: TcpStream) {
    let mut buf = vec![0u8; CHUNK];
    while matches!(client.read(&mut buf).await, Ok(n) if n > 0) {}
    std::future::pending::<()>().await;
}

async fn forward(
    client: TcpStream,
    upstream: SocketAddr,
    delay: Duration,
    counters: Arc<Counters>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        let _ = client.set_zero_linger();
        return;
    };
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = relay(
        client_read,
        server_write,
        delay,
        Arc::clone(&counters),
        true,
    );
    let down = relay(server_read, client_write, delay, counters, false);
    tokio::join!(up, down);
}

/// Reads chunks and writes each one `delay` after it arrived, without throttling throughput.
async fn relay(
    mut from: OwnedReadHalf,
    mut to: OwnedWriteHalf,
    delay: Duration,
    counters: Arc<Counters>,
    upstream: bool,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; CHUNK];
        while let Ok(n @ 1..) = from.read(&mut buf).await {
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .await
                .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        let mut lines = LineScanner::default();
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                break;
            }
            if upstream {
                lines.scan(&chunk, &counters.request_lines);
            }
            let total = if upstream {
                &counters.bytes_to_upstream
            } else {
                &counters.bytes_to_client
            };
            total.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// Finds HTTP/1.1 request lines in a byte stream cut into arbitrary chunks.
#[derive(Default)]
struct LineScanner {
    partial: Vec<u8>,
}

impl LineScanner {
    const METHODS: [&str; 6] = ["GET ", "HEAD ", "POST ", "PUT ", "PATCH ", "DELETE "];

    fn scan(&mut self, chunk: &[u8], found: &Mutex<Vec<String>>) {
        self.partial.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(end) = self.partial[start..].windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&self.partial[start..start + end]);
            let is_request =
                line.ends_with(" HTTP/1.1") && Self::METHODS.iter().any(|m| line.starts_with(m));
            if is_request {
                found
                    .lock()
                    .expect("proxy request lines lock")
                    .push(line.into_owned());
            }
            start += end + 2;
        }
        self.partial.drain(..start);
        if self.partial.len() > CHUNK {
            self.partial.clear();
        }
    }
}
