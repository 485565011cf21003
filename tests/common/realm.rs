//! A hand-written HTTP/1.1 server for what a real token service or registry cannot be made to
//! do: a token realm that streams an endless answer, redirects, or answers with an error body,
//! and a registry host that counts how many requests it has in flight at once. Plain TCP, so it
//! also counts connections that never became HTTP requests (a TLS handshake against it):
//! `connections()` is 0 only when nobody connected at all.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What every request gets.
#[derive(Clone)]
pub enum Behaviour {
    /// 200 with `{"token": ...}`.
    Token(String),
    /// 200, chunked, 16 KiB chunks forever.
    Endless,
    /// 307 to this URL.
    Redirect(String),
    /// This status with this body.
    Status(u16, String),
    /// 404 after this long (a registry that has nothing, slowly).
    SlowNotFound(Duration),
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Path and query.
    pub target: String,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct Counters {
    connections: AtomicUsize,
    body_bytes: AtomicUsize,
    in_flight: AtomicUsize,
    peak_in_flight: AtomicUsize,
    received: Mutex<Vec<Received>>,
}

/// The running server.
pub struct FakeHttp {
    pub addr: SocketAddr,
    behaviour: Arc<Mutex<Behaviour>>,
    counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeHttp {
    /// Listen on `ip` (a loopback address), a free port.
    pub async fn start(ip: &str, behaviour: Behaviour) -> FakeHttp {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let counters = Arc::new(Counters::default());
        let behaviour = Arc::new(Mutex::new(behaviour));
        let (shared, current) = (counters.clone(), behaviour.clone());
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let now = current.lock().expect("behaviour").clone();
                tokio::spawn(serve(stream, now, shared.clone()));
            }
        });
        FakeHttp {
            addr,
            behaviour,
            counters,
            task,
        }
    }

    /// Requests from now on get `behaviour`.
    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().expect("behaviour") = behaviour;
    }

    /// `ip:port`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// TCP connections accepted (TLS attempts included).
    pub fn connections(&self) -> usize {
        self.counters.connections.load(Ordering::SeqCst)
    }

    /// Body bytes written to clients so far.
    pub fn body_bytes(&self) -> usize {
        self.counters.body_bytes.load(Ordering::SeqCst)
    }

    /// Most requests ever answered at once.
    pub fn peak_in_flight(&self) -> usize {
        self.counters.peak_in_flight.load(Ordering::SeqCst)
    }

    /// Every HTTP request received.
    pub fn received(&self) -> Vec<Received> {
        self.counters.received.lock().expect("log").clone()
    }
}

impl Drop for FakeHttp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Read one request head, answer it, close.
async fn serve(mut stream: TcpStream, behaviour: Behaviour, counters: Arc<Counters>) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let target = text
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let authorization = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .map(|l| l["authorization:".len()..].trim().to_string());
    counters.received.lock().expect("log").push(Received {
        target,
        authorization,
    });
    let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counters.peak_in_flight.fetch_max(now, Ordering::SeqCst);
    answer(&mut stream, behaviour, &counters).await;
}

/// Answer; the request stops counting as in flight just before the answer is written (the
/// client cannot have seen it end earlier).
async fn answer(stream: &mut TcpStream, behaviour: Behaviour, counters: &Counters) {
    let answered = || counters.in_flight.fetch_sub(1, Ordering::SeqCst);
    let fixed = |status: u16, headers: &str, body: &str| {
        format!(
            "HTTP/1.1 {status} X\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    };
    let reply = match behaviour {
        Behaviour::Token(token) => fixed(
            200,
            "Content-Type: application/json\r\n",
            &format!(r#"{{"token":"{token}","expires_in":300}}"#),
        ),
        Behaviour::Redirect(location) => fixed(307, &format!("Location: {location}\r\n"), ""),
        Behaviour::Status(status, body) => fixed(status, "Content-Type: text/plain\r\n", &body),
        Behaviour::SlowNotFound(after) => {
            tokio::time::sleep(after).await;
            fixed(404, "", "")
        }
        Behaviour::Endless => {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
            answered();
            if stream.write_all(head.as_bytes()).await.is_err() {
                return;
            }
            let chunk = [
                format!("{:x}\r\n", 16 * 1024).into_bytes(),
                vec![b' '; 16 * 1024],
                b"\r\n".to_vec(),
            ]
            .concat();
            while stream.write_all(&chunk).await.is_ok() {
                counters.body_bytes.fetch_add(16 * 1024, Ordering::SeqCst);
            }
            return;
        }
    };
    answered();
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}
