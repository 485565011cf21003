//! `signet audit` as a user runs it: the real binary, a GitOps directory written on disk, a real
//! registry with a signed `demo/app:v1`, an unsigned `demo/tool:v1` and no `demo/missing`, and
//! headless Chromium (Debian's `chromium`) to render the HTML report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use tempfile::TempDir;

use super::webhook::key_policy;
use super::{TestKey, TestRegistry, push_image, sign_image};

pub const SIGNET: &str = env!("CARGO_BIN_EXE_signet");

/// Run the `signet` binary with `args`.
pub async fn signet(args: &[&str]) -> Output {
    tokio::process::Command::new(SIGNET)
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("run signet")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `Kind/name` of a finding of the JSON report.
pub fn object_of(finding: &Value) -> String {
    format!(
        "{}/{}",
        finding["kind"].as_str().unwrap(),
        finding["name"].as_str().unwrap()
    )
}

/// The first finding of `object` (and of `container`, when given) in the JSON report.
pub fn find<'a>(report: &'a Value, object: &str, container: Option<&str>) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| object_of(f) == object && container.is_none_or(|c| f["container"] == c))
        .unwrap_or_else(|| panic!("no finding for {object} {container:?}: {report:#}"))
}

/// A registry with signed and unsigned images, a key policy for it, and a directory for
/// manifests.
pub struct AuditRepo {
    pub registry: TestRegistry,
    pub dir: TempDir,
    pub signed: String,
    pub unsigned: String,
    /// The key the policy trusts, to sign more images with.
    pub key: TestKey,
}

impl AuditRepo {
    pub async fn start() -> AuditRepo {
        let registry = TestRegistry::start();
        let key = TestKey::generate();
        let signed = push_image(&registry, "demo/app:v1", "app").await;
        sign_image(&registry, "demo/app", &signed, &key).await;
        let unsigned = push_image(&registry, "demo/tool:v1", "tool").await;
        let dir = tempfile::tempdir().unwrap();
        let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
        std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
        std::fs::create_dir(dir.path().join("repo")).unwrap();
        AuditRepo {
            registry,
            dir,
            signed,
            unsigned,
            key,
        }
    }

    /// `<host>/<repo>`.
    pub fn image(&self, repo: &str) -> String {
        format!("{}/{repo}", self.registry.host())
    }

    pub fn policy(&self) -> String {
        self.dir.path().join("policy.yaml").display().to_string()
    }

    /// The GitOps directory.
    pub fn manifests(&self) -> PathBuf {
        self.dir.path().join("repo")
    }

    /// Write `content` at `relative` under the GitOps directory; returns the full path.
    pub fn write(&self, relative: &str, content: &str) -> String {
        let path = self.manifests().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path.display().to_string()
    }

    /// `signet audit --policy … --insecure-registry … <extra>`.
    pub async fn audit(&self, extra: &[&str]) -> Output {
        let policy = self.policy();
        let host = self.registry.host();
        let mut args = vec!["audit", "--policy", &policy, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        signet(&args).await
    }
}

/// A Deployment with one container per (name, image).
pub fn deployment(namespace: &str, name: &str, containers: &[(&str, &str)]) -> String {
    let list: String = containers
        .iter()
        .map(|(c, image)| format!("      - name: {c}\n        image: {image}\n"))
        .collect();
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  template:\n    spec:\n      containers:\n{list}"
    )
}

/// What headless Chromium saw of a page.
pub struct Rendered {
    /// The DOM after the page's scripts ran.
    pub dom: String,
    /// Chromium's log: script errors appear as `CONSOLE` lines.
    pub log: String,
}

/// Render `page` in headless Chromium: the DOM after scripts, and a screenshot at `screenshot`.
pub fn chromium(page: &Path, screenshot: &Path) -> Rendered {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}", page.display());
    let run = |extra: &[String]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(&url)
            .output()
            .unwrap_or_else(|e| panic!("cannot run chromium ({e}): apt-get install -y chromium"))
    };
    let dumped = run(&["--dump-dom".to_string()]);
    assert!(
        dumped.status.success(),
        "chromium --dump-dom failed: {}",
        text(&dumped.stderr)
    );
    let shot = run(&[format!("--screenshot={}", screenshot.display())]);
    assert!(
        shot.status.success(),
        "chromium --screenshot failed: {}",
        text(&shot.stderr)
    );
    Rendered {
        dom: text(&dumped.stdout),
        log: format!("{}{}", text(&dumped.stderr), text(&shot.stderr)),
    }
}
