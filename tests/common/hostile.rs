//! Hostile clients of the webhook port: connections from chosen source addresses (any
//! `127.x.y.z`, so that one test can be several pods), TLS with a chosen ALPN, and a raw
//! HTTP/2 frame writer and reader for what no well-behaved client library will send (streams
//! beyond the advertised limit, rapid resets, more data than declared). Hand-written because a
//! real client cannot misbehave on purpose.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::{Instant, timeout};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::tls::install_crypto_provider;

/// Longest any hostile client waits for the server before the test gives up: a bound so that a
/// test cannot hang, never a measurement.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A TCP connection to `server` from `source` (port chosen by the kernel).
pub async fn tcp_from(source: IpAddr, server: SocketAddr) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(source, 0))?;
    socket.connect(server).await
}

/// A TLS connection to `server` from `source`, trusting `ca_pem`, offering `alpn` (`h2` or
/// `http/1.1`).
pub async fn tls_from(
    source: IpAddr,
    server: SocketAddr,
    ca_pem: &[u8],
    alpn: &[u8],
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = tcp_from(source, server).await?;
    tls_over(tcp, ca_pem, alpn).await
}

/// The TLS handshake over `tcp`.
pub async fn tls_over(
    tcp: TcpStream,
    ca_pem: &[u8],
    alpn: &[u8],
) -> io::Result<TlsStream<TcpStream>> {
    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots
            .add(cert.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let mut config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let name = ServerName::IpAddress(tcp.peer_addr()?.ip().into());
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// How a connection ended, as the client saw it.
#[derive(Debug)]
pub struct Ended {
    /// Everything the server sent.
    pub received: Vec<u8>,
    /// The server closed (EOF or reset) before the test gave up.
    pub closed: bool,
}

impl Ended {
    /// What the server sent, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.received).into_owned()
    }
}

/// Read until the server closes the connection or `PATIENCE` passes.
pub async fn until_closed<S: AsyncReadExt + Unpin>(stream: &mut S) -> Ended {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Ended {
                    received,
                    closed: true,
                };
            }
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Err(_) => {
                return Ended {
                    received,
                    closed: false,
                };
            }
        }
    }
}

/// The head of an HTTP/1.1 POST to /validate declaring `length` body bytes.
pub fn post_head(length: usize) -> String {
    format!(
        "POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n\r\n"
    )
}

/// Write `line`, then keep writing one more header line every `every`, until the server
/// closes the connection (true) or `PATIENCE` passes (false).
pub async fn trickle_headers<S>(stream: &mut S, every: Duration) -> bool
where
    S: AsyncReadExt + AsyncWriteExt + Unpin,
{
    let deadline = Instant::now() + PATIENCE;
    let mut line = b"POST /validate HTTP/1.1\r\n".to_vec();
    let mut buf = [0u8; 1024];
    for i in 0u64.. {
        if Instant::now() > deadline {
            return false;
        }
        if stream.write_all(&line).await.is_err() || stream.flush().await.is_err() {
            return true;
        }
        match timeout(every, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (408) comes before the close.
            Ok(Ok(_)) | Err(_) => {}
        }
        line = format!("x-slow-{i}: 1\r\n").into_bytes();
    }
    false
}

/// HTTP/2 frame types and error codes the tests use (RFC 9113).
pub mod h2 {
    pub const DATA: u8 = 0x0;
    pub const HEADERS: u8 = 0x1;
    pub const RST_STREAM: u8 = 0x3;
    pub const SETTINGS: u8 = 0x4;
    pub const PING: u8 = 0x6;
    pub const GOAWAY: u8 = 0x7;
    pub const WINDOW_UPDATE: u8 = 0x8;
    pub const END_STREAM: u8 = 0x1;
    pub const END_HEADERS: u8 = 0x4;
    pub const ACK: u8 = 0x1;
    pub const SETTINGS_MAX_CONCURRENT_STREAMS: u16 = 0x3;
    pub const SETTINGS_INITIAL_WINDOW_SIZE: u16 = 0x4;
    pub const SETTINGS_MAX_HEADER_LIST_SIZE: u16 = 0x6;
    pub const CANCEL: u32 = 0x8;
    pub const REFUSED_STREAM: u32 = 0x7;
}

/// One HTTP/2 frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub kind: u8,
    pub flags: u8,
    pub stream: u32,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The error code of a RST_STREAM or GOAWAY frame.
    pub fn error_code(&self) -> Option<u32> {
        let at = match self.kind {
            h2::RST_STREAM => 0,
            h2::GOAWAY => 4,
            _ => return None,
        };
        let bytes = self.payload.get(at..at + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    /// The (id, value) pairs of a SETTINGS frame.
    pub fn settings(&self) -> Vec<(u16, u32)> {
        self.payload
            .chunks_exact(6)
            .map(|c| {
                let id = u16::from_be_bytes([c[0], c[1]]);
                (id, u32::from_be_bytes([c[2], c[3], c[4], c[5]]))
            })
            .collect()
    }
}

/// A raw HTTP/2 client over TLS: frames written exactly as the test says.
pub struct RawH2 {
    pub stream: TlsStream<TcpStream>,
    pending: Vec<u8>,
}

impl RawH2 {
    /// Connect from `source`, send the preface and an empty SETTINGS frame.
    pub async fn connect(source: IpAddr, server: SocketAddr, ca_pem: &[u8]) -> io::Result<Self> {
        let stream = tls_from(source, server, ca_pem, b"h2").await?;
        let mut raw = RawH2 {
            stream,
            pending: Vec::new(),
        };
        raw.pending
            .extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        raw.frame(h2::SETTINGS, 0, 0, &[]);
        raw.flush().await?;
        Ok(raw)
    }

    /// Queue a frame (sent on [`RawH2::flush`]).
    pub fn frame(&mut self, kind: u8, flags: u8, stream: u32, payload: &[u8]) {
        let len = u32::try_from(payload.len()).expect("frame length");
        self.pending.extend_from_slice(&len.to_be_bytes()[1..]);
        self.pending.push(kind);
        self.pending.push(flags);
        self.pending.extend_from_slice(&stream.to_be_bytes());
        self.pending.extend_from_slice(payload);
    }

    /// Queue a POST /validate HEADERS frame on `stream` declaring `length` body bytes.
    pub fn post(&mut self, stream: u32, length: usize, end_stream: bool) {
        let flags = h2::END_HEADERS | if end_stream { h2::END_STREAM } else { 0 };
        self.frame(h2::HEADERS, flags, stream, &post_block(length));
    }

    /// Queue DATA on `stream`, in frames of at most 16 KiB.
    pub fn data(&mut self, stream: u32, bytes: &[u8], end_stream: bool) {
        let chunks: Vec<&[u8]> = bytes.chunks(16 * 1024).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = end_stream && i + 1 == chunks.len();
            self.frame(
                h2::DATA,
                if last { h2::END_STREAM } else { 0 },
                stream,
                chunk,
            );
        }
    }

    /// Queue RST_STREAM(`code`) on `stream`.
    pub fn reset(&mut self, stream: u32, code: u32) {
        self.frame(h2::RST_STREAM, 0, stream, &code.to_be_bytes());
    }

    /// Send what is queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        self.stream.write_all(&pending).await?;
        self.stream.flush().await
    }

    /// The next frame from the server (SETTINGS and PINGs are acknowledged); `None` when the connection
    /// closed or nothing came within `wait`.
    pub async fn read_frame(&mut self, wait: Duration) -> Option<Frame> {
        let mut head = [0u8; 9];
        timeout(wait, self.stream.read_exact(&mut head))
            .await
            .ok()?
            .ok()?;
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        timeout(wait, self.stream.read_exact(&mut payload))
            .await
            .ok()?
            .ok()?;
        let frame = Frame {
            kind: head[3],
            flags: head[4],
            stream: u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff,
            payload,
        };
        if frame.kind == h2::SETTINGS && frame.flags & h2::ACK == 0 {
            self.frame(h2::SETTINGS, h2::ACK, 0, &[]);
            let _ = self.flush().await;
        }
        if frame.kind == h2::PING && frame.flags & h2::ACK == 0 {
            self.frame(h2::PING, h2::ACK, 0, &frame.payload);
            let _ = self.flush().await;
        }
        Some(frame)
    }

    /// Every frame until the server closes the connection (or `PATIENCE` passes: then the last
    /// element is `None`).
    pub async fn frames_until_closed(&mut self) -> (Vec<Frame>, bool) {
        let deadline = Instant::now() + PATIENCE;
        let mut frames = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (frames, false);
            }
            match self.read_frame(left).await {
                Some(frame) => frames.push(frame),
                None => return (frames, Instant::now() < deadline),
            }
        }
    }
}

/// An HPACK block for `POST /validate` with `content-length: length`: indexed `:method POST`
/// and `:scheme https`, literal `:path`, `:authority`, `content-type` and `content-length` with
/// indexed names, no Huffman coding (RFC 7541).
fn post_block(length: usize) -> Vec<u8> {
    let mut block = vec![0x83, 0x87];
    literal(&mut block, 4, "/validate");
    literal(&mut block, 1, "127.0.0.1");
    literal(&mut block, 31, "application/json");
    literal(&mut block, 28, &length.to_string());
    block
}

/// A literal header field without indexing whose name is static table entry `index`.
fn literal(block: &mut Vec<u8>, index: u8, value: &str) {
    if index < 15 {
        block.push(index);
    } else {
        block.push(0x0f);
        block.push(index - 15);
    }
    block.push(u8::try_from(value.len()).expect("short header value"));
    block.extend_from_slice(value.as_bytes());
}
