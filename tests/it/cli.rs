//! The `signet` binary as a CI pipeline uses it: `review` and `verify` against a real registry,
//! exit codes, table and JSON output, and clear errors for bad policies.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Output;

use crate::common::audit::{signet, text};
use crate::common::webhook::{container, key_policy, pod_review};
use crate::common::{TestKey, TestRegistry, push_image, sign_image};

struct Repo {
    registry: TestRegistry,
    dir: tempfile::TempDir,
    signed: String,
    key_pem: String,
}

/// A registry with a signed `demo/app:v1` and an unsigned `demo/tool:v1`, and a policy file.
async fn repo() -> Repo {
    let registry = TestRegistry::start();
    let key = TestKey::generate();
    let signed = push_image(&registry, "demo/app:v1", "app").await;
    sign_image(&registry, "demo/app", &signed, &key).await;
    push_image(&registry, "demo/tool:v1", "tool").await;
    let dir = tempfile::tempdir().unwrap();
    let policy = key_policy("demo", &format!("{}/**", registry.host()), &key.public_pem);
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    Repo {
        registry,
        dir,
        signed,
        key_pem: key.public_pem.clone(),
    }
}

impl Repo {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, content: &str) -> String {
        std::fs::write(self.dir.path().join(name), content).unwrap();
        self.path(name)
    }

    fn deployment(&self, image_repo: &str) -> String {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\nspec:\n  template:\n    spec:\n      containers:\n      - name: web\n        image: {}/{image_repo}:v1\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n",
            self.registry.host()
        )
    }

    async fn review(&self, file: &str, extra: &[&str]) -> Output {
        let policy = self.path("policy.yaml");
        let host = self.registry.host();
        let mut args = vec!["review", "--policy", &policy, "--insecure-registry", &host];
        args.extend_from_slice(extra);
        args.push(file);
        signet(&args).await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn review_of_a_signed_deployment_exits_zero_and_prints_the_digest() {
    let repo = repo().await;
    let file = repo.write("ok.yaml", &repo.deployment("demo/app"));
    let out = repo.review(&file, &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("admit"), "{stdout}");
    assert!(stdout.contains(&repo.signed), "{stdout}");
    assert!(
        stdout.contains("spec.template.spec.containers[0] (web)"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn review_of_an_unsigned_deployment_exits_one_with_the_reason_as_json() {
    let repo = repo().await;
    let file = repo.write("bad.yaml", &repo.deployment("demo/tool"));
    let out = repo.review(&file, &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    let object = &json[0];
    assert_eq!(object["object"], "Deployment/web");
    assert_eq!(object["allowed"], false);
    assert_eq!(object["images"][0]["outcome"], "deny");
    assert_eq!(object["images"][0]["reason"], "NoSignature");
    assert!(
        object["message"]
            .as_str()
            .unwrap()
            .starts_with("SignatureValidationFailed: spec.template.spec.containers[0] (web)")
    );
    assert_eq!(
        json.as_array().unwrap().len(),
        1,
        "the Service is not reviewed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn review_accepts_admission_review_files_with_the_same_verdict() {
    let repo = repo().await;
    let image = format!("{}/demo/tool:v1", repo.registry.host());
    let review = pod_review("from-file", vec![container("tool", &image)], vec![]);
    let file = repo.write("review.json", &review.to_string());
    let out = repo.review(&file, &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["images"][0]["reason"], "NoSignature");
    assert!(json[0]["object"].as_str().unwrap().contains("from-file"));
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_prints_what_it_found_for_one_image() {
    let repo = repo().await;
    let policy = repo.path("policy.yaml");
    let host = repo.registry.host();
    let good = format!("{host}/demo/app:v1");
    let out = signet(&[
        "verify",
        "--policy",
        &policy,
        "--insecure-registry",
        &host,
        &good,
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("signed by key sha256:"),
        "{}",
        text(&out.stdout)
    );
    let bad = format!("{host}/demo/tool:v1");
    let out = signet(&[
        "verify",
        "--policy",
        &policy,
        "--insecure-registry",
        &host,
        &bad,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("A signature was required, but no signature exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_policy_fields_are_refused_naming_file_object_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("kms.yaml");
    std::fs::write(
        &policy,
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: cloud-keys\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      kms: awskms:///arn:aws:kms:us-east-1:111122223333:key/abc\n",
    )
    .unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n").unwrap();
    let out = signet(&["review", "--policy", path(&policy), path(&manifest)]).await;
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("kms.yaml"), "{stderr}");
    assert!(stderr.contains("cloud-keys"), "{stderr}");
    assert!(stderr.contains("spec.authorities[0].key.kms"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_embedded_example_policy_loads_without_flags() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.k8s.io/pause:3.10}]}\n").unwrap();
    let out = signet(&["review", "--output", "json", path(&manifest)]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON output");
    assert_eq!(json[0]["object"], "Pod/p");
    assert_eq!(json[0]["images"][0]["outcome"], "admit");
    assert!(
        stderr.contains("embedded"),
        "says it uses the embedded policy: {stderr}"
    );
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The user's first mistakes, each answered once, naming the flag or file and what to do.
#[tokio::test(flavor = "multi_thread")]
async fn first_mistakes_get_one_clear_message_each() {
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(at("pod.yaml"), "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n").unwrap();
    let pod = at("pod.yaml");
    let missing = at("nope.yaml");
    let out = signet(&["review", "--policy", &missing, &pod]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        format!("signet: loading policy: {missing}: No such file or directory (os error 2)\n")
    );
    let root = at("nope.json");
    let out = signet(&["review", "--trust-root", &root, &pod]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.ends_with(&format!(
            "signet: loading --trust-root: {root}: No such file or directory (os error 2)\n"
        )),
        "{stderr}"
    );

    let out = signet(&["review", &pod]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "signet: no --policy given: using the example policy embedded in the binary (examples/policy.yaml), an example to try Signet with; give --policy FILE|DIR for your own\n"
    );
    assert!(
        stdout.contains("NoPolicyMatch: no image policy covers this image (add a glob that matches it to a policy's spec.images; --no-match decides images no policy covers: deny, allow or warn)"),
        "{stdout}"
    );

    let out = signet(&["review", "--max-signatures", "0", &pod]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("invalid value '0' for '--max-signatures <MAX_SIGNATURES>': 0 would deny every signed image; give at least 1"),
        "{stderr}"
    );

    std::fs::write(
        at("two.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n---\nname: [unclosed\n",
    )
    .unwrap();
    let out = signet(&["review", &at("two.yaml")]).await;
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("document 2: "),
        "documents count from 1: {stderr}"
    );
}

/// Logs written to a pipe carry no colour codes (tracing's default would).
#[tokio::test(flavor = "multi_thread")]
async fn logs_off_a_terminal_have_no_colours() {
    let dir = tempfile::tempdir().unwrap();
    let pod = dir.path().join("pod.yaml");
    std::fs::write(&pod, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: nginx}]}\n").unwrap();
    let out = tokio::process::Command::new(crate::common::audit::SIGNET)
        .args(["review", "--log-format", "text", path(&pod)])
        .env("RUST_LOG", "debug")
        .output()
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("DEBUG") || stderr.contains("INFO"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "no escape codes: {stderr:?}");
}

const EC_PRIVATE: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\nAwEHoUQDQgAEPR3tU2Fta9ktY+6P9G0cWO+0kETA6SFs38GecTyudlHz6xvCdz8q\nEKTcWGekdmdDPsHloRNtsiCa697B2O9IFA==\n-----END EC PRIVATE KEY-----\n";

/// `policy check` reports every bad file of a tree, each with what is wrong in words.
#[tokio::test(flavor = "multi_thread")]
async fn policy_check_of_a_tree_reports_every_bad_file_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("policies");
    std::fs::create_dir_all(tree.join("team")).unwrap();
    let policy = |name: &str, extra: &str, key: &str| {
        format!(
            "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {{name: {name}}}\nspec:\n{extra}  images: [{{glob: \"**\"}}]\n  authorities:\n  - key:\n      data: {}\n",
            serde_json::Value::String(key.to_string())
        )
    };
    let good_key = TestKey::generate().public_pem;
    std::fs::write(tree.join("empty.yaml"), "").unwrap();
    std::fs::write(
        tree.join("mode.yaml"),
        policy("m", "  mode: enforcing\n", &good_key),
    )
    .unwrap();
    std::fs::write(tree.join("team/private.yaml"), policy("p", "", EC_PRIVATE)).unwrap();
    let certificate = EC_PRIVATE.replace("EC PRIVATE KEY", "CERTIFICATE");
    std::fs::write(tree.join("team/cert.yaml"), policy("c", "", &certificate)).unwrap();
    let corrupt = good_key.replace("MFkw", "M!kw");
    std::fs::write(tree.join("team/corrupt.yaml"), policy("x", "", &corrupt)).unwrap();
    std::fs::write(
        tree.join("team/trusted_root.json"),
        "{\"mediaType\": \"application/vnd.dev.sigstore.trustedroot+json;version=0.1\", \"tlogs\": []}",
    )
    .unwrap();
    let out = signet(&["policy", "check", path(&tree)]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let shown = |name: &str| tree.join(name).display().to_string();
    for words in [
        format!("{}: invalid: holds no ClusterImagePolicy or ImagePolicy document, so it would admit nothing", shown("empty.yaml")),
        "invalid value: enforcing: spec.mode (unsupported mode: use enforce or warn)".to_string(),
        "this is a private key (PEM block \"EC PRIVATE KEY\"), not a public key: give the public half".to_string(),
        "this is a certificate (PEM block \"CERTIFICATE\"), not a public key".to_string(),
        "corrupt PEM: the body is not base64".to_string(),
        format!("{}: invalid: {}: this is a sigstore trusted_root.json, not a policy: give it with --trust-root", shown("team/trusted_root.json"), shown("team/trusted_root.json")),
        "signet: 6 invalid policy file(s)".to_string(),
    ] {
        assert!(stderr.contains(&words), "missing {words:?} in:\n{stderr}");
    }
}

/// A plain-HTTP registry reached without --insecure-registry, and a port nothing listens on.
#[tokio::test(flavor = "multi_thread")]
async fn registry_failures_say_what_happened_and_which_flag_helps() {
    let repo = repo().await;
    let host = repo.registry.host();
    let key = repo.write("cosign.pub", &repo.key_pem);
    let image = format!("{host}/demo/app:v1");
    let out = signet(&["verify", "--key", &key, &image]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!(
            "registry {host}: it answered in plain HTTP, not TLS"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("list it with --insecure-registry {host}")),
        "{stdout}"
    );
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nowhere = format!("127.0.0.1:{port}");
    let out = signet(&[
        "verify",
        "--key",
        &key,
        "--insecure-registry",
        &nowhere,
        &format!("{nowhere}/demo/app:v1"),
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "registry {nowhere} unavailable: connection refused: nothing accepts connections at {nowhere}"
        )),
        "{stdout}"
    );
}

/// cosign's shortcut: a key file and an image, no policy file; the table has no empty columns.
#[tokio::test(flavor = "multi_thread")]
async fn verify_with_a_key_file_needs_no_policy() {
    let repo = repo().await;
    let host = repo.registry.host();
    let key = repo.write("cosign.pub", &repo.key_pem);
    let good = format!("{host}/demo/app:v1");
    let out = signet(&["verify", "--key", &key, "--insecure-registry", &host, &good]).await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.starts_with("OUTCOME  IMAGE"), "{stdout}");
    assert!(
        stdout.contains("Verified: signed by key sha256:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("{good}@{}", repo.signed)),
        "{stdout}"
    );
    assert!(!stderr.contains("embedded"), "no example policy: {stderr}");
    let bad = format!("{host}/demo/tool:v1");
    let out = signet(&["verify", "--key", &key, "--insecure-registry", &host, &bad]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("no signature exists"));
    let other = repo.write("other.pub", &TestKey::generate().public_pem);
    let out = signet(&[
        "verify",
        "--key",
        &other,
        "--insecure-registry",
        &host,
        &good,
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "another key does not verify");
    let out = signet(&[
        "verify",
        "--certificate-identity",
        "me@example.com",
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
        &good,
    ])
    .await;
    // No --trust-root: Sigstore's public-good root built into Signet, as cosign does; the image
    // carries no keyless signature, so it is denied (not refused for a missing flag).
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(text(&out.stdout).contains("deny"), "{}", text(&out.stdout));
    let public_good = format!(
        "{}/examples/trust-roots/sigstore-public-good.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let out = signet(&[
        "verify",
        "--certificate-identity",
        "me@example.com",
        "--certificate-oidc-issuer",
        "https://accounts.google.com",
        "--trust-root",
        &public_good,
        "--insecure-registry",
        &host,
        &good,
    ])
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("Source image rejected by policy \"verify\""),
        "a keyless policy was built and judged the key-signed image: {stdout}"
    );
    let out = signet(&[
        "verify",
        "--key",
        &key,
        "--policy",
        &repo.path("policy.yaml"),
        &good,
    ])
    .await;
    assert_eq!(
        out.status.code(),
        Some(2),
        "--key and --policy exclude each other"
    );
}

/// `review DIR` reads the tree below it; `review -` reads standard input.
#[tokio::test(flavor = "multi_thread")]
async fn review_reads_directories_recursively_and_standard_input() {
    let repo = repo().await;
    std::fs::create_dir_all(repo.dir.path().join("tree/apps/deep")).unwrap();
    repo.write("tree/apps/deep/web.yaml", &repo.deployment("demo/app"));
    repo.write("tree/apps/tool.yml", &repo.deployment("demo/tool"));
    repo.write("tree/README.md", "not a manifest");
    let out = repo.review(&repo.path("tree"), &["--output", "json"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["file"].as_str().unwrap())
        .collect();
    assert_eq!(files.len(), 2, "{json:#}");
    assert!(files[0].ends_with("tree/apps/deep/web.yaml"), "{files:?}");
    assert!(files[1].ends_with("tree/apps/tool.yml"), "{files:?}");

    let policy = repo.path("policy.yaml");
    let host = repo.registry.host();
    let mut child = tokio::process::Command::new(crate::common::audit::SIGNET)
        .args([
            "review",
            "--policy",
            &policy,
            "--insecure-registry",
            &host,
            "--output",
            "json",
            "-",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, repo.deployment("demo/app").as_bytes())
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["file"], "-");
    assert_eq!(json[0]["images"][0]["reason"], "Verified");
}

/// The embedded example's static pass admits the pause image without verifying anything: its
/// code says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_static_pass_is_not_counted_as_verified() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("pod.yaml");
    std::fs::write(&manifest, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: a, image: registry.k8s.io/pause:3.10}]}\n").unwrap();
    let out = signet(&["review", "--output", "json", path(&manifest)]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["images"][0]["reason"], "AcceptedUnverified");
}

/// A busy port is named with the system's reason; `localhost:PORT` and `:PORT` are addresses.
#[tokio::test(flavor = "multi_thread")]
async fn serve_names_a_busy_port_and_accepts_host_names_and_bare_ports() {
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    for (listen, shown) in [
        (format!("127.0.0.1:{port}"), format!("127.0.0.1:{port}")),
        (format!("localhost:{port}"), format!("127.0.0.1:{port}")),
        (format!(":{port}"), format!("0.0.0.0:{port}")),
    ] {
        let run = tokio::process::Command::new(crate::common::audit::SIGNET)
            .args([
                "serve",
                "--listen",
                &listen,
                "--metrics-listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "info")
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(std::time::Duration::from_secs(60), run)
            .await
            .expect("serve stops when it cannot listen")
            .unwrap();
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{listen}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot listen on {shown}: Address already in use")),
            "{listen}: {stderr}"
        );
        assert!(
            stderr.contains(
                "policies loaded policies=2 namespace_files=0 source=embedded:examples/policy.yaml"
            ),
            "the server says what it loaded: {stderr}"
        );
    }
    let out = signet(&["serve", "--listen", "nowhere"]).await;
    assert!(
        text(&out.stderr).contains("\"nowhere\" is not an address to listen on: write host:port (0.0.0.0:8443, localhost:8443) or :port"),
        "{}",
        text(&out.stderr)
    );
}

/// Help says whole sentences, and one-shot commands do not list the server's cache options.
#[tokio::test(flavor = "multi_thread")]
async fn help_is_whole_and_lists_only_options_that_apply() {
    let top = text(&signet(&["--help"]).await.stdout);
    assert!(
        top.contains("Audit a cluster, a GitOps repository or the webhook's warn-mode log for what enforce mode would refuse; exit 1 if it would refuse anything"),
        "{top}"
    );
    for command in ["review", "verify", "audit"] {
        let help = text(&signet(&[command, "--help"]).await.stdout);
        assert!(help.contains("--policy"), "{command}: {help}");
        assert!(!help.contains("--tag-cache-ttl"), "{command}: {help}");
        assert!(
            !help.contains("--verdict-cache-entries"),
            "{command}: {help}"
        );
    }
    let serve = text(&signet(&["serve", "--help"]).await.stdout);
    assert!(serve.contains("--tag-cache-ttl"), "{serve}");
    let audit = text(&signet(&["audit", "--help"]).await.stdout);
    assert!(
        audit.contains("--timeout <TIMEOUT>") && audit.contains("[default: 30]"),
        "{audit}"
    );
}

/// The README's worked example, reproduced by `examples/worked-example/run.sh` with the real crane
/// and cosign (`scripts/tools.sh`): what it prints is the README's console block, line for line
/// (on another free port, written back as the README's 43899).
#[test]
fn the_readme_worked_example_is_what_a_fresh_shell_prints() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let block = readme
        .split("$ signet review --policy policy.yaml --insecure-registry 127.0.0.1:43899 deploy.yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("$ echo $?").next())
        .expect("the worked example's console block");
    let port = crate::common::control_plane::free_port();
    let output = std::process::Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/worked-example/run.sh"),
    )
    .env("SIGNET", env!("CARGO_BIN_EXE_signet"))
    .env("PORT", port.to_string())
    .output()
    .expect("run.sh");
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let printed = text(&output.stdout).replace(&format!("127.0.0.1:{port}"), "127.0.0.1:43899");
    assert_eq!(printed, block);
}
