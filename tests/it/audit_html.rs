//! The HTML audit report in a real browser: headless Chromium (Debian's `chromium`) loads the
//! page `signet audit --output html` wrote, with no network, runs its script and takes a
//! screenshot. The page must load without script errors and show the counts of the audit.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::common::audit::{AuditRepo, chromium, deployment, text};

/// `<span class="n" id="count-deny">2</span>`: the number the script wrote into a card.
fn count(dom: &str, status: &str) -> Option<u32> {
    let marker = format!("id=\"count-{status}\">");
    let start = dom.find(&marker)? + marker.len();
    dom[start..].split('<').next()?.parse().ok()
}

#[tokio::test(flavor = "multi_thread")]
async fn html_report_renders_in_chromium_without_script_errors_and_shows_the_counts() {
    let repo = AuditRepo::start().await;
    let app = format!("{}:v1", repo.image("demo/app"));
    let tool = format!("{}:v1", repo.image("demo/tool"));
    let missing = format!("{}:v1", repo.image("demo/missing"));
    repo.write(
        "shop/web.yaml",
        &deployment("shop", "web", &[("web", &app), ("debug", &tool)]),
    );
    repo.write(
        "shop/api.yaml",
        &deployment("shop", "api", &[("api", &app)]),
    );
    repo.write(
        "ops/agent.yaml",
        &deployment("ops", "agent", &[("agent", &missing)]),
    );
    // A reason that tries to inject markup must stay text.
    repo.write(
        "ops/evil.yaml",
        &deployment("ops", "x</script><b>", &[("c", "nginx")]),
    );
    let page = repo.dir.path().join("report.html");
    let dir = repo.manifests().display().to_string();
    let out = repo
        .audit(&[
            "--manifests",
            &dir,
            "--output",
            "html",
            "--out",
            page.to_str().unwrap(),
        ])
        .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("audit-report.png");
    let rendered = chromium(&page, &screenshot);
    let console: Vec<&str> = rendered
        .log
        .lines()
        .filter(|l| l.contains("CONSOLE"))
        .collect();
    assert!(
        console.is_empty(),
        "script errors or messages: {console:#?}"
    );
    assert!(
        rendered.dom.contains("<body data-rendered=\"true\">"),
        "the script ran to its end"
    );
    assert_eq!(count(&rendered.dom, "admit"), Some(2), "{}", rendered.dom);
    assert_eq!(
        count(&rendered.dom, "deny"),
        Some(3),
        "a missing image is a denial"
    );
    assert_eq!(count(&rendered.dom, "error"), Some(0));
    assert_eq!(count(&rendered.dom, "warn"), Some(0));
    assert_eq!(count(&rendered.dom, "objects"), Some(4));
    assert!(
        rendered.dom.contains("5 of 5 findings"),
        "the table lists every finding"
    );
    assert!(
        rendered
            .dom
            .contains("data-namespace=\"shop\" data-outcome=\"deny\" data-count=\"1\"")
    );
    assert!(
        rendered
            .dom
            .contains("data-namespace=\"ops\" data-outcome=\"deny\" data-count=\"2\"")
    );
    assert!(
        rendered.dom.contains("x&lt;/script&gt;&lt;b&gt;"),
        "names are text, not markup"
    );
    assert!(!rendered.dom.contains("<b>"), "no injected element");
    // The same audit as a table, kept beside the screenshot in docs/audit.md.
    let table = repo.audit(&["--manifests", &dir]).await;
    let tmp = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(tmp.join("audit-table.txt"), &table.stdout).unwrap();
    let png = std::fs::read(&screenshot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a real screenshot"
    );
}
