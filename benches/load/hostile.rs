//! Case (e): the webhook port under hostile clients (issue 23). 3,000 attacker connections, each
//! declaring a 7 MB body, sending 200 KB of it and stalling (reconnecting when cut), from 12
//! source addresses as 12 pods would, while a paced keep-alive client (`wrk`) reviews. Reports
//! the paced client's latency and errors, and the server's RSS before, at its peak, and 10 s
//! after the attackers closed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;

use super::common::hostile::{post_head, tls_from, until_closed};
use super::server::{Server, wrk, wrk_at};
use super::{Row, mib, row, write_policy};

const ATTACKERS: usize = 3_000;
const SOURCES: usize = 12;
const DECLARED: usize = 7_000_000;
const SENT: usize = 200 * 1024;
const ATTACK: Duration = Duration::from_secs(20);
/// The paced client: 8 keep-alive connections, each waiting 0-20 ms between reviews.
const PACED_CONNECTIONS: u32 = 8;
const PACE_MS: u32 = 10;
const AFTER: Duration = Duration::from_secs(10);

const POLICY: &str = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";

/// Run case (e).
pub async fn hostile(dir: &Path) -> Row {
    let policy = write_policy(dir, "hostile.yaml", POLICY);
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.join("hostile.crt"), dir.join("hostile.key"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
    let ca = made.cert.pem().into_bytes();
    let tls_args = [
        "--tls-cert".to_string(),
        cert.display().to_string(),
        "--tls-key".to_string(),
        key.display().to_string(),
    ];
    let server = Server::start_with(&policy, &[], &tls_args);
    let review_path = dir.join("hostile.json");
    let review = super::common::webhook::pod_review(
        "paced",
        vec![super::common::webhook::container("a", "nginx")],
        vec![],
    );
    std::fs::write(&review_path, review.to_string()).unwrap();
    let env = vec![
        ("SIGNET_REVIEW", review_path.display().to_string()),
        ("SIGNET_PACE_MS", PACE_MS.to_string()),
    ];
    wrk(&server, "post.lua", &env, PACED_CONNECTIONS, 2);
    let before = server.usage();

    let seconds = u32::try_from((ATTACK + AFTER + Duration::from_secs(4)).as_secs()).unwrap();
    let url = server.url();
    let paced = tokio::task::spawn_blocking(move || {
        wrk_at(&url, "post.lua", &env, PACED_CONNECTIONS, seconds)
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let addr = SocketAddr::from(([127, 0, 0, 1], server.port));
    let connections = Arc::new(AtomicU64::new(0));
    let attack_ends = Instant::now() + ATTACK;
    let attackers: Vec<_> = (0..ATTACKERS)
        .map(|i| {
            let (ca, connections) = (ca.clone(), connections.clone());
            tokio::spawn(attacker(i, addr, ca, connections, attack_ends))
        })
        .collect();
    let mut peak_rss = 0;
    while Instant::now() < attack_ends {
        peak_rss = peak_rss.max(server.usage().rss_kib);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for attacker in attackers {
        attacker.abort();
    }
    let attack_over = server.usage();
    tokio::time::sleep(AFTER).await;
    let after = server.usage();
    let run = paced.await.unwrap();
    let refused = refusals(&server).await;
    let note = format!(
        "{ATTACKERS} attackers (7 MB declared, 200 KB sent, then stalled; reconnecting when cut; {SOURCES} source addresses) made {} connection attempts over {} s; paced client: {PACED_CONNECTIONS} keep-alive connections, 0-{} ms between reviews; RSS {:.1} MiB before, peak {:.1} MiB (VmHWM {:.1}), {:.1} MiB when the attackers closed, {:.1} MiB {} s later; refusals: {refused}",
        connections.load(Ordering::Relaxed),
        ATTACK.as_secs(),
        2 * PACE_MS,
        mib(before.rss_kib),
        mib(peak_rss),
        mib(after.peak_kib),
        mib(attack_over.rss_kib),
        mib(after.rss_kib),
        AFTER.as_secs(),
    );
    let case = "(e) hostile: 3,000 stalled 200 KB bodies while a paced client reviews";
    row(case, &run, before, after, note)
}

/// One attacker slot: connect from its source address, declare 7 MB, send 200 KB, stall until
/// the server cuts the connection, and again, until the attack ends.
async fn attacker(
    i: usize,
    server: SocketAddr,
    ca: Vec<u8>,
    connections: Arc<AtomicU64>,
    ends: Instant,
) {
    let source = IpAddr::V4(Ipv4Addr::new(
        127,
        0,
        1,
        u8::try_from(1 + i % SOURCES).unwrap(),
    ));
    let body = vec![b' '; SENT];
    while Instant::now() < ends {
        connections.fetch_add(1, Ordering::Relaxed);
        let Ok(mut tls) = tls_from(source, server, &ca, b"http/1.1").await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if tls.write_all(post_head(DECLARED).as_bytes()).await.is_ok() {
            let _ = tls.write_all(&body).await;
            let _ = tls.flush().await;
        }
        until_closed(&mut tls).await;
    }
}

/// The server's refusal counters, as `reason=count` pairs.
async fn refusals(server: &Server) -> String {
    let reasons = [
        "connections_total",
        "connections_per_source",
        "handshake_timeout",
        "header_timeout",
        "idle_timeout",
        "body_budget_full",
        "body_stalled",
        "body_timeout",
    ];
    let mut parts = Vec::new();
    for reason in reasons {
        let series = format!("signet_client_refusals_total{{reason=\"{reason}\"}}");
        if let Some(count) = server.metric(&series).await {
            parts.push(format!("{reason} {count}"));
        }
    }
    parts.join(", ")
}
