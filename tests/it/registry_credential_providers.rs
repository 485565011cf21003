//! The kubelet's credential provider plugins (`--image-credential-provider-config`,
//! `--image-credential-provider-bin-dir`): the webhook reads a private registry (Debian's
//! docker-registry with htpasswd) with the credentials a plugin gives for the image, run as the
//! kubelet runs it. The real ECR, Artifact Registry and ACR plugins cannot issue credentials for
//! a registry on loopback, so the plugin is a small shell script written by each test that
//! answers the `CredentialProviderResponse` a cloud plugin answers, for the test registry, and
//! records each call. Every test runs under its own limit, so a plugin that hangs cannot hang
//! the suite.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::limits::bounded;
use crate::common::webhook::{TestWebhook, WebhookOptions, key_policy};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};
use signet::registry::CredentialProviders;
use tempfile::TempDir;

const USER: &str = "robot";
const PASSWORD: &str = "short-lived-token";
const PLUGIN: &str = "test-credential-provider";
const API: &str = "credentialprovider.kubelet.k8s.io/v1";
const REVIEW_DEADLINE: Duration = Duration::from_secs(8);
/// Room for a shell script to start and answer on a busy machine.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(4);
/// The deadline of the plugin that never answers: the denial must come quickly.
const HANGING_PLUGIN_TIMEOUT: Duration = Duration::from_secs(1);
/// No test may take longer than this, whatever the plugin does.
const TEST_LIMIT: Duration = Duration::from_secs(90);

/// A private registry holding a signed and an unsigned image, and the key.
struct Private {
    registry: TestRegistry,
    key: TestKey,
}

impl Private {
    async fn start() -> Private {
        let registry = TestRegistry::start_with_htpasswd(USER, PASSWORD);
        let key = TestKey::generate();
        for repo in ["team/app", "team/web"] {
            let digest = push_image(&registry, &format!("{repo}:v1"), repo).await;
            sign_image(&registry, repo, &digest, &key).await;
        }
        push_image(&registry, "team/unsigned:v1", "unsigned").await;
        Private { registry, key }
    }

    fn image(&self, repo: &str) -> String {
        format!("{}/{repo}:v1", self.registry.host())
    }

    /// The answer a cloud plugin gives: the registry's credentials under a key naming it.
    fn answer(&self, cache_key_type: &str, cache_duration: &str) -> String {
        format!(
            r#"{{"apiVersion":"{API}","kind":"CredentialProviderResponse","cacheKeyType":"{cache_key_type}","cacheDuration":"{cache_duration}","auth":{{"{}":{{"username":"{USER}","password":"{PASSWORD}"}}}}}}"#,
            self.registry.host()
        )
    }

    /// A webhook trusting the key, with `plugin` configured (or none).
    async fn webhook(&self, plugin: Option<&Plugin>) -> TestWebhook {
        let policy = key_policy(
            "private",
            &format!("{}/**", self.registry.host()),
            &self.key.public_pem,
        );
        let mut options = WebhookOptions::new(policy, &[self.registry.host()]);
        options.review_deadline = REVIEW_DEADLINE;
        options.credential_providers = plugin.map(Plugin::load);
        TestWebhook::start(options).await
    }
}

/// A plugin directory holding one shell-script plugin and its configuration; the script appends
/// each request it reads to `calls`.
struct Plugin {
    dir: TempDir,
    timeout: Duration,
}

impl Plugin {
    /// A plugin matching `match_images` whose body (after recording the request) is `body`.
    fn new(match_images: &[&str], body: &str) -> Plugin {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let calls = dir.path().join("calls");
        let script = format!(
            "#!/bin/sh\n# A test credential provider: records the request, then answers.\n\
             [ \"$*\" = get-credentials ] || {{ echo \"args: $*\" >&2; exit 9; }}\n\
             cat >> \"$CALLS\"\necho >> \"$CALLS\"\n{body}\n"
        );
        let path = bin.join(PLUGIN);
        std::fs::write(&path, script).unwrap();
        make_executable(&path);
        let globs: Vec<String> = match_images.iter().map(|g| format!("{g:?}")).collect();
        let config = format!(
            "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n\
             - name: {PLUGIN}\n  matchImages: [{}]\n  defaultCacheDuration: \"0s\"\n  \
             apiVersion: {API}\n  args: [get-credentials]\n  env:\n  - name: CALLS\n    \
             value: {:?}\n",
            globs.join(", "),
            calls.display().to_string()
        );
        std::fs::write(dir.path().join("config.yaml"), config).unwrap();
        Plugin {
            dir,
            timeout: PLUGIN_TIMEOUT,
        }
    }

    /// A plugin that answers `answer` for every image of the registry.
    fn answering(private: &Private, answer: &str) -> Plugin {
        let body = format!("printf '%s' '{answer}'");
        Plugin::new(&[&private.registry.host()], &body)
    }

    fn load(&self) -> Arc<CredentialProviders> {
        let providers = CredentialProviders::load(
            &self.dir.path().join("config.yaml"),
            &self.bin(),
            self.timeout,
        )
        .expect("the plugin configuration loads");
        Arc::new(providers)
    }

    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }

    /// The requests the plugin received, one per call.
    fn requests(&self) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(self.dir.path().join("calls")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("the request is one line of JSON"))
            .collect()
    }
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn a_private_image_is_admitted_with_the_plugin_s_credentials_and_denied_without() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let plugin = Plugin::answering(&private, &private.answer("Image", "0s"));
        let webhook = private.webhook(Some(&plugin)).await;
        let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
        assert!(admitted, "signed, with the plugin: {message}");
        let requests = plugin.requests();
        assert_eq!(requests.len(), 1, "{requests:?}");
        assert_eq!(requests[0]["apiVersion"], API);
        assert_eq!(requests[0]["kind"], "CredentialProviderRequest");
        assert_eq!(
            requests[0]["image"],
            format!("{}/team/app", private.registry.host()),
            "the kubelet asks for the repository, without tag"
        );
        let (admitted, message) = webhook.review_image(&private.image("team/unsigned")).await;
        assert!(!admitted, "unsigned, with the plugin");
        assert!(message.contains("signature"), "{message}");

        let without = private.webhook(None).await;
        let (admitted, message) = without.review_image(&private.image("team/app")).await;
        assert!(!admitted, "signed, without the plugin");
        assert!(message.contains("refused access"), "{message}");
    })
    .await;
}

/// Answers from a plugin are not in any key the decision memo follows, so with a plugin the
/// memo is never asked: once the plugin stops giving credentials, the next review of an image
/// admitted three times over is denied.
#[tokio::test]
async fn a_plugin_that_stops_giving_credentials_is_never_outlived_by_a_remembered_admission() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let flags = tempfile::tempdir().unwrap();
        let revoked = flags.path().join("revoked");
        let body = format!(
            "[ -e '{}' ] && {{ echo 'no identity on this node' >&2; exit 1; }}\nprintf '%s' '{}'",
            revoked.display(),
            private.answer("Image", "0s")
        );
        let plugin = Plugin::new(&[&private.registry.host()], &body);
        let webhook = private.webhook(Some(&plugin)).await;
        let image = private.image("team/app");
        for _ in 0..3 {
            let (admitted, message) = webhook.review_image(&image).await;
            assert!(admitted, "{message}");
        }
        std::fs::write(&revoked, "").unwrap();
        let (admitted, message) = webhook.review_image(&image).await;
        assert!(
            !admitted,
            "admitted after the plugin stopped giving credentials"
        );
        assert!(message.contains("no identity on this node"), "{message}");
        let asked = webhook.cache_lookups("decision", "hit").await
            + webhook.cache_lookups("decision", "miss").await;
        assert_eq!(asked, 0, "the memo was asked");
    })
    .await;
}

#[tokio::test]
async fn a_plugin_whose_match_images_do_not_match_is_not_run() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let answer = private.answer("Image", "0s");
        let port = private.registry.port();
        // Another port, another host, a path the image is not under, a glob of more parts.
        for glob in [
            format!("127.0.0.1:{}", port + 1),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}/other"),
            format!("*.127.0.0.1:{port}"),
        ] {
            let plugin = Plugin::new(&[&glob], &format!("printf '%s' '{answer}'"));
            let webhook = private.webhook(Some(&plugin)).await;
            let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
            assert!(!admitted, "{glob}: admitted");
            assert!(message.contains("refused access"), "{glob}: {message}");
            assert!(plugin.requests().is_empty(), "{glob}: the plugin ran");
        }
        // A path prefix it is under does match.
        let glob = format!("127.0.0.1:{port}/team");
        let plugin = Plugin::new(&[&glob], &format!("printf '%s' '{answer}'"));
        let webhook = private.webhook(Some(&plugin)).await;
        let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
        assert!(admitted, "{glob}: {message}");
    })
    .await;
}

#[tokio::test]
async fn a_plugin_that_hangs_is_killed_at_its_deadline_and_the_image_denied_saying_so() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        // `exec`: the plugin itself sleeps, so killing it ends it.
        let mut plugin = Plugin::new(&[&private.registry.host()], "exec sleep 60");
        plugin.timeout = HANGING_PLUGIN_TIMEOUT;
        let webhook = private.webhook(Some(&plugin)).await;
        let started = Instant::now();
        let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
        let took = started.elapsed();
        assert!(!admitted, "admitted without credentials");
        assert!(
            took < REVIEW_DEADLINE,
            "answered after {took:?}, past the review deadline"
        );
        assert!(
            message.contains(PLUGIN) && message.contains("did not answer within"),
            "{message}"
        );
        assert!(message.contains("refused access"), "{message}");
    })
    .await;
}

#[tokio::test]
async fn a_plugin_answer_that_is_too_large_endless_or_malformed_gives_no_credentials() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let good = private.answer("Image", "0s");
        let cases = [
            ("endless output", "exec yes".to_string(), "more than"),
            (
                "100 KiB answer",
                "head -c 102400 /dev/zero | tr '\\0' a".to_string(),
                "more than",
            ),
            (
                "another apiVersion",
                format!(
                    "printf '%s' '{}'",
                    good.replace(API, "credentialprovider.kubelet.k8s.io/v1beta1")
                ),
                "apiVersion",
            ),
            (
                "no cacheKeyType",
                format!("printf '%s' '{}'", good.replace("\"Image\"", "\"\"")),
                "cacheKeyType",
            ),
            (
                "not JSON",
                "printf 'user=robot'".to_string(),
                "not a CredentialProviderResponse",
            ),
            (
                "a failure",
                "echo 'no identity on this node' >&2; exit 3".to_string(),
                "no identity on this node",
            ),
        ];
        for (case, body, said) in cases {
            let plugin = Plugin::new(&[&private.registry.host()], &body);
            let webhook = private.webhook(Some(&plugin)).await;
            let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
            assert!(!admitted, "{case}: admitted");
            assert!(
                message.contains(PLUGIN) && message.contains(said),
                "{case}: {message}"
            );
            assert!(
                !message.contains(PASSWORD),
                "{case}: the message shows the password"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn an_answer_is_reused_for_its_cache_duration_by_its_cache_key_and_not_when_zero() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        // Registry key, 60 s: two reviews of two repositories of the registry run it once.
        let plugin = Plugin::answering(&private, &private.answer("Registry", "60s"));
        let webhook = private.webhook(Some(&plugin)).await;
        for repo in ["team/app", "team/web"] {
            let (admitted, message) = webhook.review_image(&private.image(repo)).await;
            assert!(admitted, "{repo}: {message}");
        }
        assert_eq!(plugin.requests().len(), 1, "run once for the registry");

        // Image key, 60 s: once per repository.
        let plugin = Plugin::answering(&private, &private.answer("Image", "60s"));
        let webhook = private.webhook(Some(&plugin)).await;
        for repo in ["team/app", "team/app", "team/web"] {
            let (admitted, message) = webhook.review_image(&private.image(repo)).await;
            assert!(admitted, "{repo}: {message}");
        }
        assert_eq!(plugin.requests().len(), 2, "run once per image");

        // Zero: never cached.
        let plugin = Plugin::answering(&private, &private.answer("Global", "0s"));
        let webhook = private.webhook(Some(&plugin)).await;
        for _ in 0..2 {
            let (admitted, message) = webhook.review_image(&private.image("team/app")).await;
            assert!(admitted, "{message}");
        }
        assert_eq!(
            plugin.requests().len(),
            2,
            "a zero cacheDuration caches nothing"
        );
    })
    .await;
}

#[test]
fn a_configuration_naming_a_missing_plugin_or_a_path_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let write = |name: &str| {
        std::fs::write(
            &config,
            format!(
                "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\n\
                 providers:\n- name: {name}\n  matchImages: [\"*.example.com\"]\n  \
                 defaultCacheDuration: 1m\n  apiVersion: {API}\n"
            ),
        )
        .unwrap();
    };
    write("absent-plugin");
    let error = CredentialProviders::load(&config, dir.path(), PLUGIN_TIMEOUT).unwrap_err();
    assert!(error.to_string().contains("absent-plugin"), "{error}");
    write("../../bin/sh");
    let error = CredentialProviders::load(&config, dir.path(), PLUGIN_TIMEOUT).unwrap_err();
    assert!(error.to_string().contains("name"), "{error}");
    std::fs::write(dir.path().join("not-executable"), "#!/bin/sh\n").unwrap();
    write("not-executable");
    let error = CredentialProviders::load(&config, dir.path(), PLUGIN_TIMEOUT).unwrap_err();
    assert!(error.to_string().contains("not executable"), "{error}");
}

#[tokio::test]
async fn the_kubelet_s_flags_run_the_plugin_from_the_cli() {
    bounded(TEST_LIMIT, async {
        let private = Private::start().await;
        let plugin = Plugin::answering(&private, &private.answer("Image", "0s"));
        let policy = plugin.dir.path().join("policy.yaml");
        let glob = format!("{}/**", private.registry.host());
        std::fs::write(
            &policy,
            key_policy("private", &glob, &private.key.public_pem),
        )
        .unwrap();
        let config = plugin.dir.path().join("config.yaml");
        let verify = |flags: &[&std::ffi::OsStr]| {
            let output = std::process::Command::new(env!("CARGO_BIN_EXE_signet"))
                .arg("verify")
                .arg("--policy")
                .arg(&policy)
                .arg(format!("--insecure-registry={}", private.registry.host()))
                .args(flags)
                .arg(private.image("team/app"))
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&output.stderr).into_owned()
                + &String::from_utf8_lossy(&output.stdout);
            (output.status.success(), text)
        };
        let bin = plugin.bin();
        let both = [
            "--image-credential-provider-config".as_ref(),
            config.as_os_str(),
            "--image-credential-provider-bin-dir".as_ref(),
            bin.as_os_str(),
        ];
        let (admitted, text) = verify(&both);
        assert!(admitted, "with the plugin:\n{text}");
        assert_eq!(plugin.requests().len(), 1);
        let (admitted, text) = verify(&both[..2]);
        assert!(!admitted, "the config without its directory:\n{text}");
        assert!(
            text.contains("--image-credential-provider-bin-dir"),
            "{text}"
        );
        let (admitted, text) = verify(&[]);
        assert!(!admitted, "without the plugin:\n{text}");
    })
    .await;
}
