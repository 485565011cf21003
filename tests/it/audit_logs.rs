//! Warn and dry-run modes leave a trail: the real webhook logs one JSON line per image it let
//! through that enforce mode would refuse, and `signet audit --from-logs` folds those lines into
//! a report with the webhook's own words.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::common::audit::{signet, text};
use crate::common::webhook::{
    TestWebhook, WebhookOptions, allowed, container, key_policy, pod_review_in, response,
};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};

/// Everything the process logs, as `signet serve --log-format json` writes it (the first
/// 64 MiB: the subscriber is the whole test binary's, and other tests keep logging).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

/// Most bytes [`Captured`] keeps.
const MAX_CAPTURED: usize = 64 << 20;

/// A namespace no other test reviews in: the lines of this test among everything captured.
const NAMESPACE: &str = "audit-logs-shop";

impl Captured {
    /// The captured lines that mention [`NAMESPACE`].
    fn lines_of_this_test(&self) -> String {
        let all = self.0.lock().unwrap();
        String::from_utf8_lossy(&all)
            .lines()
            .filter(|line| line.contains(NAMESPACE))
            .map(|line| format!("{line}\n"))
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut held = self.0.lock().unwrap();
        if held.len() + buf.len() <= MAX_CAPTURED {
            held.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_json_logs() -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("info")
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only global subscriber of the test binary");
    captured
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_would_deny_lines_fold_into_an_audit_report() {
    let logs = capture_json_logs();
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let signed = push_image(&registry, "demo/app:v1", "app").await;
    sign_image(&registry, "demo/app", &signed, &key).await;
    let unsigned = push_image(&registry, "demo/tool:v1", "tool").await;
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.dry_run = true;
    let webhook = TestWebhook::start(options).await;

    let app = format!("{}/demo/app:v1", registry.host());
    let tool = format!("{}/demo/tool:v1", registry.host());
    let review = pod_review_in(
        NAMESPACE,
        "uid-1",
        vec![container("app", &app), container("tool", &tool)],
    );
    let answer = webhook.review(&review).await;
    assert!(allowed(&answer), "dry-run admits");
    let warning = response(&answer)["warnings"][0]
        .as_str()
        .unwrap()
        .to_string();
    // The same pod twice: one finding, two lines.
    let mut again = review.clone();
    again["request"]["uid"] = "uid-2".into();
    webhook.review(&again).await;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("signet.log");
    std::fs::write(&file, logs.lines_of_this_test()).unwrap();
    let out = signet(&[
        "audit",
        "--from-logs",
        file.to_str().unwrap(),
        "--output",
        "json",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(
        findings.len(),
        1,
        "only the unsigned image, once: {report:#}"
    );
    let tool_finding = &findings[0];
    assert_eq!(tool_finding["namespace"], NAMESPACE);
    assert_eq!(tool_finding["kind"], "Pod");
    assert_eq!(tool_finding["container"], "tool");
    assert_eq!(tool_finding["outcome"], "deny");
    assert_eq!(tool_finding["code"], "NoSignature");
    assert_eq!(tool_finding["digest"], unsigned.as_str());
    assert_eq!(tool_finding["source"], "webhook-log");
    let answer_line = tool_finding["message"].as_str().unwrap();
    assert_eq!(
        format!("dry-run, would deny: {answer_line}"),
        warning,
        "the finding carries the webhook's answer word for word"
    );
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("2 would-deny log lines folded into 1 findings"),
        "{notes}"
    );
    let logged = logs.lines_of_this_test();
    let reviews: Vec<Value> = logged
        .lines()
        .filter(|line| line.contains("\"review\""))
        .map(|line| {
            assert_eq!(
                line.matches("\"message\"").count(),
                1,
                "one message key: {line}"
            );
            serde_json::from_str(line).unwrap()
        })
        .filter(|event: &Value| event["fields"]["message"] == "review")
        .collect();
    assert_eq!(reviews.len(), 2, "{logged}");
    for event in &reviews {
        let fields = &event["fields"];
        assert_eq!(
            fields["allowed"], true,
            "the log says what was answered: {event}"
        );
        assert_eq!(fields["dry_run"], true, "{event}");
        assert!(
            fields["denial"]
                .as_str()
                .unwrap()
                .starts_with("SignatureValidationFailed: "),
            "{event}"
        );
    }
}

/// A file with no JSON log line (a text log, the wrong file) is an error, not an empty report;
/// a JSON log with no would-deny line is a clean report.
#[tokio::test(flavor = "multi_thread")]
async fn from_logs_with_nothing_it_can_read_says_so_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let text_log = dir.path().join("text.log");
    std::fs::write(
        &text_log,
        "2026-12-05T08:00:00Z  WARN signet::audit: would deny namespace=shop\nnot json\n",
    )
    .unwrap();
    let out = signet(&["audit", "--from-logs", text_log.to_str().unwrap()]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "signet: {}: found no JSON log line in its 2 line(s), so nothing was read; --from-logs reads the webhook's log written with `signet serve --log-format json`",
            text_log.display()
        )),
        "{stderr}"
    );
    let empty = dir.path().join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let out = signet(&["audit", "--from-logs", empty.to_str().unwrap()]).await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let clean = dir.path().join("clean.log");
    std::fs::write(
        &clean,
        "{\"timestamp\":\"2026-12-05T08:00:00Z\",\"level\":\"INFO\",\"fields\":{\"message\":\"review\"},\"target\":\"signet::server::routes\"}\n",
    )
    .unwrap();
    let out = signet(&["audit", "--from-logs", clean.to_str().unwrap()]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("0 would-deny log lines folded into 0 findings"),
        "{stdout}"
    );
}
