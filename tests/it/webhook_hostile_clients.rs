//! The webhook port under hostile clients (issue 23): any pod can reach it, so each kind of
//! abuse must end with the connection cut or the request refused, memory bounded by the body
//! budget, and a keep-alive client like kube-apiserver still answered while the abuse goes on.
//! Limits are small here so that the tests are quick; no assertion is on time (deadlines only
//! bound how long a test may wait), all are on what the server did: closed, refused, counted.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use crate::common::hostile::{
    Frame, PATIENCE, RawH2, h2, post_head, tcp_from, tls_from, tls_over, trickle_headers,
    until_closed,
};
use crate::common::webhook::{TestWebhook, WebhookOptions, allowed, container, pod_review};
use futures::future::join_all;
use serde_json::Value;
use signet::server::Limits;
use tokio::io::AsyncWriteExt;

const POLICY: &str = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: all}\nspec:\n  images: [{glob: \"**\"}]\n  authorities: [{static: {action: pass}}]\n";

/// What the attackers declare and send: the 7 MB bodies of which 200 KB arrive.
const DECLARED: usize = 7_000_000;
const SENT: usize = 200 * 1024;

/// An attacker pod's address (the well-behaved client is 127.0.0.1).
fn pod(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Small limits, so that deadlines pass and budgets fill quickly.
fn limits() -> Limits {
    Limits {
        body_budget_bytes: 1024 * 1024,
        body_budget_wait: Duration::from_millis(1500),
        body_timeout: Duration::from_secs(4),
        header_timeout: Duration::from_secs(2),
        handshake_timeout: Duration::from_secs(2),
        idle_timeout: Duration::from_secs(3),
        max_connections: 1000,
        max_connections_per_source: 1000,
        h2_max_concurrent_streams: 16,
    }
}

async fn webhook(limits: Limits) -> TestWebhook {
    let mut options = WebhookOptions::new(POLICY, &[]);
    options.limits = limits;
    TestWebhook::start(options).await
}

/// The well-behaved client (HTTP/2 keep-alive, as kube-apiserver) reviews `count` pods; every
/// one must be answered and admitted.
async fn served(webhook: &TestWebhook, count: usize) {
    for i in 0..count {
        let review = pod_review(&format!("good-{i}"), vec![container("a", "nginx")], vec![]);
        let answer = tokio::time::timeout(PATIENCE, webhook.review(&review))
            .await
            .expect("the well-behaved client was answered");
        assert!(allowed(&answer), "{answer}");
    }
}

/// A raw HTTP/2 connection to `webhook` from an attacker pod.
async fn raw_h2(webhook: &TestWebhook) -> RawH2 {
    RawH2::connect(pod(2), webhook.addr, &webhook.cert_pem)
        .await
        .unwrap()
}

/// The value of the metric `series` (`name{labels}`), 0 when absent.
async fn metric(webhook: &TestWebhook, series: &str) -> f64 {
    let text = webhook.metrics().await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn refusals(webhook: &TestWebhook, reason: &str) -> f64 {
    let series = format!("signet_client_refusals_total{{reason=\"{reason}\"}}");
    metric(webhook, &series).await
}

/// Wait (bounded) until `metric` reaches `at_least`.
async fn refusals_reach(webhook: &TestWebhook, reason: &str, at_least: f64) -> f64 {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = refusals(webhook, reason).await;
        if seen >= at_least || tokio::time::Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON body of an HTTP/1.1 answer in `text`.
fn json_body(text: &str) -> Value {
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_headers_silent_connections_and_stalled_handshakes_are_cut() {
    let webhook = webhook(limits()).await;
    served(&webhook, 1).await;
    let (addr, ca) = (webhook.addr, webhook.cert_pem.clone());
    // 40 clients sending one header line every 300 ms, forever.
    let ca_slow = ca.clone();
    let slow = (0..40).map(move |_| {
        let ca = ca_slow.clone();
        async move {
            let mut tls = tls_from(pod(2), addr, &ca, b"http/1.1").await.unwrap();
            trickle_headers(&mut tls, Duration::from_millis(300)).await
        }
    });
    // 20 that finish the handshake and send nothing, over HTTP/1.1 and HTTP/2.
    let ca_silent = ca.clone();
    let silent = (0..20).map(move |i| {
        let ca = ca_silent.clone();
        async move {
            let alpn: &[u8] = if i % 2 == 0 { b"h2" } else { b"http/1.1" };
            let mut tls = tls_from(pod(3), addr, &ca, alpn).await.unwrap();
            until_closed(&mut tls).await.closed
        }
    });
    // 20 that open TCP and never start the handshake, and 20 that stop halfway through it.
    let no_handshake = (0..40).map(move |i| async move {
        let mut tcp = tcp_from(pod(4), addr).await.unwrap();
        if i % 2 == 0 {
            let client_hello_start = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc];
            tcp.write_all(&client_hello_start).await.unwrap();
        }
        until_closed(&mut tcp).await.closed
    });
    let attack = tokio::spawn(async move {
        let (slow, silent, no_handshake) =
            futures::join!(join_all(slow), join_all(silent), join_all(no_handshake));
        [slow, silent, no_handshake]
    });
    served(&webhook, 20).await;
    let [slow, silent, no_handshake] = attack.await.unwrap();
    assert!(
        slow.iter().all(|cut| *cut),
        "slow headers not cut: {slow:?}"
    );
    assert!(silent.iter().all(|cut| *cut), "silent not cut: {silent:?}");
    assert!(no_handshake.iter().all(|cut| *cut), "{no_handshake:?}");
    // HTTP/1.1: hyper's header deadline; HTTP/2: the first request's deadline.
    assert!(refusals(&webhook, "header_timeout").await >= 50.0);
    assert!(refusals(&webhook, "handshake_timeout").await >= 40.0);
    assert!(refusals(&webhook, "idle_timeout").await >= 10.0);
    served(&webhook, 1).await;
}

/// 60 connections declare 1 MiB, send 200 KB and stall: a 16 MiB budget holds 16 of them,
/// exactly full; the rest wait and get 503; those holding room are cut (408) when the
/// well-behaved client needs room (it could not be answered otherwise) or at the body deadline.
/// Every answer is an AdmissionReview naming the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stalled_bodies_are_refused_or_cut_and_never_held_beyond_the_budget() {
    let budget = 16 * 1024 * 1024;
    let webhook = webhook(Limits {
        body_budget_bytes: budget,
        ..limits()
    })
    .await;
    served(&webhook, 1).await;
    let (addr, ca) = (webhook.addr, webhook.cert_pem.clone());
    let attackers = (0..60).map(move |i| {
        let ca = ca.clone();
        async move {
            let mut tls = tls_from(pod(2 + i % 3), addr, &ca, b"http/1.1")
                .await
                .unwrap();
            tls.write_all(post_head(1024 * 1024).as_bytes())
                .await
                .unwrap();
            // The server may refuse before all is sent: a failed write is a cut too.
            let _ = tls.write_all(&vec![b' '; SENT]).await;
            until_closed(&mut tls).await
        }
    });
    let attack = tokio::spawn(join_all(attackers));
    let mut peak_in_use: f64 = 0.0;
    // The well-behaved client keeps asking for as long as the attack lasts (however slowly
    // its connections are made), so it needs room while holders have stalled.
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !attack.is_finished() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attack never ended"
        );
        served(&webhook, 2).await;
        let in_use = metric(&webhook, "signet_body_budget_in_use_bytes").await;
        peak_in_use = peak_in_use.max(in_use);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ended = attack.await.unwrap();
    for end in &ended {
        assert!(end.closed, "a stalled body was never cut: {}", end.text());
        let text = end.text();
        let status = text.get(9..12).unwrap_or("");
        assert!(["503", "408"].contains(&status), "{text}");
        let answer = json_body(&text);
        assert_eq!(answer["kind"], "AdmissionReview", "{text}");
        assert_eq!(answer["response"]["allowed"], false, "{text}");
        let message = answer["response"]["status"]["message"].as_str().unwrap();
        assert!(
            ["--body-budget-bytes", "--body-timeout", "without pausing"]
                .iter()
                .any(|hint| message.contains(hint)),
            "{message}"
        );
    }
    let full = refusals(&webhook, "body_budget_full").await;
    let stalled = refusals(&webhook, "body_stalled").await;
    let cut = stalled + refusals(&webhook, "body_timeout").await;
    println!("refused for the budget {full}, cut {cut} ({stalled} as stalled), peak {peak_in_use}");
    assert!(full >= 20.0, "refused for the budget: {full}");
    assert!(stalled >= 1.0, "cut for the well-behaved client: {stalled}");
    assert!(peak_in_use <= budget as f64, "in use {peak_in_use}");
    assert_eq!(
        metric(&webhook, "signet_body_budget_in_use_bytes").await,
        0.0
    );
    served(&webhook, 1).await;
}

/// 200 connections against caps of 60 in total and 40 per source: the rest are closed at once
/// and counted; the well-behaved client keeps its connection; once the attackers leave, new
/// connections are admitted again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_caps_are_closed_and_counted() {
    let webhook = webhook(Limits {
        max_connections: 60,
        max_connections_per_source: 40,
        // Held connections never send a request: neither deadline may free a slot mid-count.
        idle_timeout: PATIENCE * 2,
        header_timeout: PATIENCE * 2,
        ..limits()
    })
    .await;
    served(&webhook, 1).await;
    let (addr, ca) = (webhook.addr, webhook.cert_pem.clone());
    let mut held = Vec::new();
    let (mut admitted, mut refused) = (0, 0);
    for i in 0..200u32 {
        let source = pod(2 + u8::try_from(i / 100).unwrap());
        let tcp = tcp_from(source, addr).await.unwrap();
        match tls_over(tcp, &ca, b"h2").await {
            Ok(tls) => {
                admitted += 1;
                held.push(tls);
            }
            Err(_) => refused += 1,
        }
    }
    served(&webhook, 10).await;
    // 40 from the first source, then 19 more make 60 with the well-behaved client's one.
    assert_eq!((admitted, refused), (59, 141));
    assert_eq!(refusals(&webhook, "connections_per_source").await, 60.0);
    assert_eq!(refusals(&webhook, "connections_total").await, 81.0);
    drop(held);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while metric(&webhook, "signet_connections_open").await > 1.0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connections never closed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let again = tls_from(pod(2), addr, &ca, b"h2").await;
    assert!(again.is_ok(), "admitted again once the attackers left");
}

/// One HTTP/2 connection opens 100 streams, each declaring 100 KB and sending 2 KiB (within the
/// default windows, so that flow control is not what stops it), then stalls: the server
/// advertised 16 streams, refuses the others, cuts the stalled ones or refuses them room in the
/// 1 MiB budget, and closes the connection; the well-behaved client is answered throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http2_streams_beyond_the_limit_are_refused_and_stalled_streams_cut() {
    let webhook = webhook(limits()).await;
    served(&webhook, 1).await;
    let mut raw = raw_h2(&webhook).await;
    let settings = raw.read_frame(PATIENCE).await.unwrap();
    assert_eq!(settings.kind, h2::SETTINGS);
    let advertised = settings.settings();
    for expected in [
        (h2::SETTINGS_MAX_CONCURRENT_STREAMS, 16),
        (h2::SETTINGS_INITIAL_WINDOW_SIZE, 64 * 1024),
        (h2::SETTINGS_MAX_HEADER_LIST_SIZE, 16 * 1024),
    ] {
        assert!(advertised.contains(&expected), "{advertised:?}");
    }
    let streams: Vec<u32> = (0..100).map(|i| 2 * i + 1).collect();
    for &stream in &streams {
        raw.post(stream, 100_000, false);
    }
    raw.flush().await.unwrap();
    for &stream in &streams[..16] {
        raw.data(stream, &[b' '; 2 * 1024], false);
    }
    let _ = raw.flush().await;
    let attack = tokio::spawn(async move { raw.frames_until_closed().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    served(&webhook, 20).await;
    let (frames, closed) = attack.await.unwrap();
    assert!(closed, "the connection was never closed");
    let refused = resets(&frames, h2::REFUSED_STREAM);
    assert!(
        refused >= 84,
        "streams beyond 16 refused: {refused} ({frames:?})"
    );
    for &stream in &streams {
        let summary: Vec<(u8, u8, u32, Option<u32>)> = frames
            .iter()
            .filter(|f| f.stream <= 3)
            .map(|f| (f.kind, f.flags, f.stream, f.error_code()))
            .collect();
        assert!(
            ended(&frames, stream),
            "stream {stream} never ended: {summary:?}"
        );
    }
    assert_eq!(
        metric(&webhook, "signet_body_budget_in_use_bytes").await,
        0.0
    );
    served(&webhook, 1).await;
}

/// RST_STREAM frames for `code`.
fn resets(frames: &[Frame], code: u32) -> usize {
    let reset = |f: &&Frame| f.kind == h2::RST_STREAM && f.error_code() == Some(code);
    frames.iter().filter(reset).count()
}

/// Whether the server ended `stream`: reset it, answered it to the end, or said in GOAWAY
/// that it will never process it.
fn ended(frames: &[Frame], stream: u32) -> bool {
    frames.iter().any(|f| {
        (f.stream == stream
            && (f.kind == h2::RST_STREAM
                || (f.kind != h2::WINDOW_UPDATE && f.flags & h2::END_STREAM != 0)))
            || (f.kind == h2::GOAWAY && last_stream(f) < stream)
    })
}

fn last_stream(goaway: &Frame) -> u32 {
    let bytes: [u8; 4] = goaway.payload[..4].try_into().unwrap();
    u32::from_be_bytes(bytes) & 0x7fff_ffff
}

/// Thousands of streams opened and reset at once (CVE-2023-44487): the server sends GOAWAY
/// instead of starting work for each.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http2_rapid_resets_get_goaway() {
    let webhook = webhook(limits()).await;
    served(&webhook, 1).await;
    let mut raw = raw_h2(&webhook).await;
    let mut sent = 0;
    for batch in 0..50u32 {
        for i in 0..100u32 {
            let stream = 2 * (batch * 100 + i) + 1;
            raw.post(stream, 10, false);
            raw.reset(stream, h2::CANCEL);
        }
        if raw.flush().await.is_err() {
            break;
        }
        sent += 100;
    }
    let (frames, closed) = raw.frames_until_closed().await;
    let goaway = frames.iter().find(|f| f.kind == h2::GOAWAY);
    assert!(
        closed,
        "the connection was never closed after {sent} resets"
    );
    let goaway = goaway.expect("GOAWAY before the close");
    assert_eq!(
        goaway.error_code(),
        Some(0xb),
        "ENHANCE_YOUR_CALM: {goaway:?}"
    );
    served(&webhook, 5).await;
}

/// More bytes than declared, more than the limit declared, or sent chunked past the limit:
/// refused, and the connection closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bodies_larger_than_declared_or_than_the_limit_are_refused_and_the_connection_closed() {
    let mut options = WebhookOptions::new(POLICY, &[]);
    options.limits = limits();
    options.max_body_bytes = 256 * 1024;
    let webhook = TestWebhook::start(options).await;
    let (addr, ca) = (webhook.addr, webhook.cert_pem.clone());

    // HTTP/1.1: 100 bytes declared, 64 KiB sent: the rest is not a request.
    let mut tls = tls_from(pod(2), addr, &ca, b"http/1.1").await.unwrap();
    tls.write_all(post_head(100).as_bytes()).await.unwrap();
    let _ = tls.write_all(&vec![b'{'; 64 * 1024]).await;
    let end = until_closed(&mut tls).await;
    assert!(end.closed, "{}", end.text());
    assert!(end.text().starts_with("HTTP/1.1 400"), "{}", end.text());

    // HTTP/1.1: more than --max-body-bytes declared: 413 before any of it is read.
    let mut tls = tls_from(pod(2), addr, &ca, b"http/1.1").await.unwrap();
    tls.write_all(post_head(DECLARED).as_bytes()).await.unwrap();
    let end = until_closed(&mut tls).await;
    assert!(
        end.closed && end.text().starts_with("HTTP/1.1 413"),
        "{end:?}"
    );
    let answer = json_body(&end.text());
    assert_eq!(answer["kind"], "AdmissionReview");
    let message = answer["response"]["status"]["message"].as_str().unwrap();
    assert!(message.contains("--max-body-bytes"), "{message}");

    // HTTP/1.1 chunked, no length declared, past the limit.
    let mut tls = tls_from(pod(2), addr, &ca, b"http/1.1").await.unwrap();
    let head = "POST /validate HTTP/1.1\r\nhost: 127.0.0.1\r\ntransfer-encoding: chunked\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..40 {
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
        if tls.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let end = until_closed(&mut tls).await;
    assert!(
        end.closed && end.text().starts_with("HTTP/1.1 413"),
        "{end:?}"
    );

    // HTTP/2: 100 bytes declared, 1,000 sent: the stream is reset.
    let mut raw = RawH2::connect(pod(2), addr, &ca).await.unwrap();
    raw.post(1, 100, false);
    raw.data(1, &[b'{'; 1000], true);
    raw.flush().await.unwrap();
    let (frames, _) = raw.frames_until_closed().await;
    let reset = frames
        .iter()
        .any(|f| f.stream == 1 && f.kind == h2::RST_STREAM || f.kind == h2::GOAWAY);
    assert!(reset, "{frames:?}");

    assert!(refusals(&webhook, "body_too_large").await >= 2.0);
    served(&webhook, 3).await;
}

/// A connection that stays idle after its requests is closed: HTTP/2 with GOAWAY(NO_ERROR),
/// so that the client opens a new one without losing a request.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_http2_connection_gets_goaway() {
    let webhook = webhook(limits()).await;
    let mut raw = raw_h2(&webhook).await;
    let review = pod_review("raw", vec![container("a", "nginx")], vec![]).to_string();
    raw.post(1, review.len(), false);
    raw.data(1, review.as_bytes(), true);
    raw.flush().await.unwrap();
    let (frames, closed) = raw.frames_until_closed().await;
    assert!(closed);
    let answered = frames
        .iter()
        .any(|f| f.stream == 1 && f.kind == h2::DATA && f.flags & h2::END_STREAM != 0);
    assert!(answered, "{frames:?}");
    let goaway = frames
        .iter()
        .find(|f| f.kind == h2::GOAWAY)
        .expect("GOAWAY");
    assert_eq!(goaway.error_code(), Some(0), "{goaway:?}");
    assert!(refusals_reach(&webhook, "idle_timeout", 1.0).await >= 1.0);
}
