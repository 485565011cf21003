//! Signet's own image built without a Docker daemon (scripts/image.sh: the binary, its shared
//! libraries, CA certificates and passwd/group assembled with crane onto an empty base), pushed
//! to a real registry, signed with the real cosign, and admitted by Signet under a policy that
//! names it, while an unsigned copy is denied. Its configuration is compared with the Dockerfile's
//! runtime stage, parsed here, so the two build paths cannot drift; its layer is unpacked and the
//! binary in it started as the image's user with only the image's files.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

use crate::common::TestRegistry;
use crate::common::cosign::CosignKey;
use crate::common::tools::{run, run_ok, tool};
use crate::common::webhook::{TestWebhook, WebhookOptions, key_policy};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// What the Dockerfile's last stage says about the running container.
#[derive(Debug, Default, PartialEq)]
struct RuntimeLayout {
    user: String,
    workdir: String,
    entrypoint: Vec<String>,
    cmd: Vec<String>,
    exposed_ports: Vec<String>,
    env: Vec<String>,
    labels: BTreeMap<String, String>,
}

/// The instructions of the last stage (after the last FROM), continuation lines joined and
/// comments dropped; ARG defaults substituted into LABEL values.
fn dockerfile_runtime_layout(text: &str) -> RuntimeLayout {
    let mut lines: Vec<String> = Vec::new();
    let mut pending = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => pending.push_str(&format!("{} ", head.trim())),
            None => {
                pending.push_str(trimmed);
                lines.push(std::mem::take(&mut pending));
            }
        }
    }
    let last_from = lines
        .iter()
        .rposition(|l| l.starts_with("FROM "))
        .expect("a FROM in the Dockerfile");
    let mut layout = RuntimeLayout::default();
    let mut args: BTreeMap<String, String> = BTreeMap::new();
    for line in &lines[last_from + 1..] {
        let (instruction, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        match instruction {
            "ARG" => {
                let (name, value) = rest.split_once('=').unwrap_or((rest, ""));
                args.insert(name.to_string(), value.to_string());
            }
            "USER" => layout.user = rest.to_string(),
            "WORKDIR" => layout.workdir = rest.to_string(),
            "ENTRYPOINT" => layout.entrypoint = serde_json::from_str(rest).expect("exec form"),
            "CMD" => layout.cmd = serde_json::from_str(rest).expect("exec form"),
            "EXPOSE" => layout
                .exposed_ports
                .extend(
                    rest.split_whitespace()
                        .map(|port| match port.contains('/') {
                            true => port.to_string(),
                            false => format!("{port}/tcp"),
                        }),
                ),
            "ENV" => layout.env.push(rest.to_string()),
            "LABEL" => {
                for (key, value) in label_pairs(rest) {
                    let value = args.iter().fold(value, |value, (name, default)| {
                        value.replace(&format!("${{{name}}}"), default)
                    });
                    layout.labels.insert(key, value);
                }
            }
            _ => {}
        }
    }
    layout.exposed_ports.sort();
    layout
}

/// `k="v" k2="v 2"` pairs of a LABEL instruction.
fn label_pairs(text: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = text.trim();
    while let Some((key, after)) = rest.split_once("=\"") {
        let (value, tail) = after.split_once('"').expect("a closing quote");
        pairs.push((key.trim().to_string(), value.to_string()));
        rest = tail.trim();
    }
    pairs
}

/// The same fields of an image configuration (`crane config`).
fn image_layout(config: &Value) -> RuntimeLayout {
    let c = &config["config"];
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().map(|s| s.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    let mut exposed_ports: Vec<String> = c["ExposedPorts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    exposed_ports.sort();
    RuntimeLayout {
        user: c["User"].as_str().unwrap_or_default().to_string(),
        workdir: c["WorkingDir"].as_str().unwrap_or_default().to_string(),
        entrypoint: strings(&c["Entrypoint"]),
        cmd: strings(&c["Cmd"]),
        exposed_ports,
        env: strings(&c["Env"]),
        labels: c["Labels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

#[test]
fn the_dockerfile_runtime_stage_is_read_whole() {
    let text = std::fs::read_to_string(Path::new(REPO).join("Dockerfile")).unwrap();
    let layout = dockerfile_runtime_layout(&text);
    assert_eq!(layout.user, "65532:65532");
    assert_eq!(layout.entrypoint, ["/signet"]);
    assert_eq!(layout.cmd, ["serve"]);
    assert_eq!(layout.exposed_ports, ["8443/tcp", "9090/tcp"]);
    assert_eq!(layout.workdir, "/home/nonroot");
    assert_eq!(layout.labels.len(), 6, "{layout:?}");
    assert_eq!(layout.labels["org.opencontainers.image.version"], "dev");
    // Nothing of the builder stage leaks into the runtime stage's reading.
    let builder_only = "FROM a AS b\nWORKDIR /src\nUSER 1\nFROM c\nUSER 2\n";
    let layout = dockerfile_runtime_layout(builder_only);
    assert_eq!((layout.user.as_str(), layout.workdir.as_str()), ("2", ""));
}

/// `scripts/image.sh` with `args`; returns the digest reference it printed.
fn build_image(args: &[&str], password: &str) -> String {
    let output = run_ok(
        Command::new(Path::new(REPO).join("scripts/image.sh"))
            .args(args)
            .arg("--crane")
            .arg(tool("crane"))
            .arg("--cosign")
            .arg(tool("cosign"))
            .env("COSIGN_PASSWORD", password),
    );
    output
        .lines()
        .last()
        .expect("a digest reference")
        .to_string()
}

/// Unpacks the image's filesystem (`crane export`) into `dir`.
fn unpack(image: &str, dir: &Path) {
    let tar = dir.join("fs.tar");
    run_ok(
        Command::new(tool("crane"))
            .args(["export", "--insecure", image])
            .arg(&tar),
    );
    let root = dir.join("root");
    std::fs::create_dir(&root).unwrap();
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&tar)
            .arg("-C")
            .arg(&root)
            .arg("--same-owner"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signet_s_own_image_is_built_without_docker_signed_and_admitted() {
    let registry = TestRegistry::start();
    let key = CosignKey::generate("image-password");
    let host = registry.host();
    let tag = format!("{host}/signet/signet:test");
    let private_key = key.private_key().display().to_string();
    let signed = tokio::task::block_in_place(|| {
        build_image(
            &[
                "--tag",
                &tag,
                "--binary",
                env!("CARGO_BIN_EXE_signet"),
                "--version",
                "test",
                "--insecure",
                "--cosign-key",
                &private_key,
                "--no-tlog",
            ],
            "image-password",
        )
    });
    assert!(
        signed.starts_with(&format!("{host}/signet/signet@sha256:")),
        "{signed}"
    );
    assert!(
        key.cosign_verifies(&signed),
        "cosign verifies what the script signed"
    );
    // The same image under another name, never signed there.
    let copy = format!("{host}/signet/unsigned:test");
    run_ok(Command::new(tool("crane")).args(["copy", "--insecure", &signed, &copy]));
    let digest = signed.split_once('@').unwrap().1;
    let unsigned = format!("{host}/signet/unsigned@{digest}");

    let policy = key_policy(
        "signet-image",
        &format!("{host}/signet/**"),
        &key.public_pem(),
    );
    let webhook =
        TestWebhook::start(WebhookOptions::new(policy, std::slice::from_ref(&host))).await;
    let (admitted, message) = webhook.review_image(&signed).await;
    assert!(admitted, "the signed image: {message}");
    let (admitted, message) = webhook.review_image(&unsigned).await;
    assert!(!admitted, "the unsigned copy was admitted");
    assert!(message.to_lowercase().contains("signature"), "{message}");
    let (admitted, _) = webhook
        .review_image(&format!("{host}/signet/unsigned:test"))
        .await;
    assert!(!admitted, "the unsigned copy by tag");

    // The image's configuration is the Dockerfile's.
    let config: Value = serde_json::from_str(&run_ok(Command::new(tool("crane")).args([
        "config",
        "--insecure",
        &signed,
    ])))
    .unwrap();
    let dockerfile = std::fs::read_to_string(Path::new(REPO).join("Dockerfile")).unwrap();
    let mut expected = dockerfile_runtime_layout(&dockerfile);
    let revision = run_ok(Command::new("git").args(["-C", REPO, "rev-parse", "HEAD"]));
    // The build arguments the script was given, as `docker build --build-arg` would set them.
    expected
        .labels
        .insert("org.opencontainers.image.version".into(), "test".into());
    expected.labels.insert(
        "org.opencontainers.image.revision".into(),
        revision.trim().into(),
    );
    assert_eq!(image_layout(&config), expected);
    assert_eq!(
        (&config["os"], &config["architecture"]),
        (
            &json!("linux"),
            &json!(
                std::env::consts::ARCH
                    .replace("x86_64", "amd64")
                    .replace("aarch64", "arm64")
            )
        )
    );

    // Its files: the binary starts from the unpacked layers alone, as the image's user.
    let dir = tempfile::tempdir().unwrap();
    tokio::task::block_in_place(|| unpack(&signed, dir.path()));
    let root = dir.path().join("root");
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    assert!(root.join("etc/ssl/certs/ca-certificates.crt").exists());
    let user = run_ok(Command::new("id").arg("-u"));
    let mut start = match user.trim() {
        // chroot needs root; elsewhere a user namespace gives it.
        "0" => Command::new("chroot"),
        _ => {
            let mut command = Command::new("unshare");
            command.args(["--user", "--map-root-user", "chroot"]);
            command
        }
    };
    if user.trim() == "0" {
        start.arg("--userspec=65532:65532");
    }
    let version = run(start.arg(&root).args(["/signet", "--version"]));
    assert!(
        version.status.success(),
        "the image's binary does not start: {}",
        String::from_utf8_lossy(&version.stderr)
    );
    let host_version = run_ok(Command::new(env!("CARGO_BIN_EXE_signet")).arg("--version"));
    assert_eq!(String::from_utf8_lossy(&version.stdout), host_version);
    webhook.shutdown().await;
}
