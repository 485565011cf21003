//! The real cosign and crane (built by `scripts/tools.sh`) against a test registry on loopback:
//! images pushed with crane, signed offline with `cosign sign --key` (no transparency-log
//! upload), and verified with `cosign verify` to compare verdicts with Signet's.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

use super::tools::{run, run_ok, tool};

/// A cosign key pair made by `cosign generate-key-pair`, encrypted with a password.
pub struct CosignKey {
    dir: TempDir,
    password: String,
}

impl CosignKey {
    /// `cosign generate-key-pair` with `password` (the empty string is cosign's unencrypted key).
    pub fn generate(password: &str) -> CosignKey {
        let dir = tempfile::Builder::new()
            .prefix("signet-cosign-")
            .tempdir()
            .expect("temporary directory");
        run_ok(
            Command::new(tool("cosign"))
                .arg("generate-key-pair")
                .current_dir(dir.path())
                .env("COSIGN_PASSWORD", password),
        );
        CosignKey {
            dir,
            password: password.to_string(),
        }
    }

    pub fn private_key(&self) -> PathBuf {
        self.dir.path().join("cosign.key")
    }

    pub fn public_key(&self) -> PathBuf {
        self.dir.path().join("cosign.pub")
    }

    pub fn public_pem(&self) -> String {
        std::fs::read_to_string(self.public_key()).expect("cosign.pub")
    }

    /// `cosign sign --key` of `image` (a digest reference), offline, with `extra` arguments.
    pub fn sign(&self, image: &str, extra: &[&str]) {
        run_ok(self.cosign("sign").args(extra).arg(image));
    }

    /// `sign` with `COSIGN_EXPERIMENTAL=1`, which cosign v2 needs for
    /// `--registry-referrers-mode=oci-1-1`.
    pub fn sign_experimental(&self, image: &str, extra: &[&str]) {
        run_ok(
            self.cosign("sign")
                .env("COSIGN_EXPERIMENTAL", "1")
                .args(extra)
                .arg(image),
        );
    }

    /// `cosign attest --key --type <predicate_type> --predicate <predicate>` of `image`, offline:
    /// a DSSE envelope under the image's `.att` tag.
    pub fn attest(&self, image: &str, predicate_type: &str, predicate: &Path) {
        self.attest_with(image, predicate_type, predicate, &[]);
    }

    /// [`Self::attest`] with `extra` arguments (`--new-bundle-format`: a Sigstore bundle as an
    /// OCI referrer instead of the `.att` tag).
    pub fn attest_with(&self, image: &str, predicate_type: &str, predicate: &Path, extra: &[&str]) {
        run_ok(
            self.cosign("attest")
                .args(["--type", predicate_type, "--predicate"])
                .arg(predicate)
                .args(extra)
                .arg(image),
        );
    }

    /// [`Self::attest_with`] storing the attestation in `repository` (`COSIGN_REPOSITORY`),
    /// with the registry credentials of `config`, if any.
    pub fn attest_into(
        &self,
        image: &str,
        repository: &str,
        (predicate_type, predicate): (&str, &Path),
        config: Option<&DockerConfig>,
    ) {
        let mut command = self.cosign("attest");
        command.env("COSIGN_REPOSITORY", repository);
        command.args(["--type", predicate_type, "--predicate"]);
        command.arg(predicate);
        if let Some(config) = config {
            config.apply(&mut command);
        }
        run_ok(command.arg(image));
    }

    /// `sign` with the registry credentials of `config`.
    pub fn sign_as(&self, image: &str, config: &DockerConfig) {
        run_ok(config.apply(&mut self.cosign("sign")).arg(image));
    }

    /// `sign` storing the signature in `repository` (cosign's `COSIGN_REPOSITORY`), with
    /// `extra` arguments and the registry credentials of `config`, if any.
    pub fn sign_into(
        &self,
        image: &str,
        repository: &str,
        extra: &[&str],
        config: Option<&DockerConfig>,
    ) {
        let mut command = self.cosign("sign");
        command.env("COSIGN_REPOSITORY", repository).args(extra);
        if let Some(config) = config {
            config.apply(&mut command);
        }
        run_ok(command.arg(image));
    }

    /// Whether `cosign verify --key` accepts `image` (transparency log not required, as signed).
    pub fn cosign_verifies(&self, image: &str) -> bool {
        let output = run(Command::new(tool("cosign"))
            .args(["verify", "--insecure-ignore-tlog=true", "--key"])
            .arg(self.public_key())
            .arg(image));
        output.status.success()
    }

    /// `cosign verify --new-bundle-format` of `image`: a key needs no Fulcio or Rekor, so the
    /// trusted root cosign insists on is an empty one, and the transparency log is not required.
    pub fn cosign_verifies_bundle(&self, image: &str) -> bool {
        let root = self.empty_trusted_root();
        let output = run(Command::new(tool("cosign"))
            .args([
                "verify",
                "--new-bundle-format",
                "--insecure-ignore-tlog=true",
            ])
            .arg("--trusted-root")
            .arg(&root)
            .arg("--key")
            .arg(self.public_key())
            .arg(image));
        output.status.success()
    }

    /// `cosign sign --key` of `image` by cosign 3.0 (`cosign3`, built by `scripts/tools.sh`),
    /// offline, in its default format: a Sigstore bundle stored as an OCI 1.1 referrer.
    pub fn sign_with_cosign3(&self, image: &str) {
        run_ok(
            Command::new(tool("cosign3"))
                .args([
                    "sign",
                    "--yes",
                    "--tlog-upload=false",
                    "--use-signing-config=false",
                ])
                .arg("--key")
                .arg(self.private_key())
                .env("COSIGN_PASSWORD", &self.password)
                .arg(image),
        );
    }

    /// Whether cosign 3.0's `cosign verify --key` accepts `image` (its default bundle format;
    /// an empty trusted root, the transparency log not required, as for
    /// [`CosignKey::cosign_verifies_bundle`]).
    pub fn cosign3_verifies(&self, image: &str) -> bool {
        let root = self.empty_trusted_root();
        let output = run(Command::new(tool("cosign3"))
            .args(["verify", "--insecure-ignore-tlog=true", "--trusted-root"])
            .arg(&root)
            .arg("--key")
            .arg(self.public_key())
            .arg(image));
        if !output.status.success() {
            eprintln!(
                "cosign3 verify: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        output.status.success()
    }

    /// A trusted root with no authorities: a key needs no Fulcio or Rekor.
    fn empty_trusted_root(&self) -> PathBuf {
        let root = self.dir.path().join("empty_trusted_root.json");
        std::fs::write(
            &root,
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
        )
        .expect("write trusted root");
        root
    }

    fn cosign(&self, verb: &str) -> Command {
        let mut command = Command::new(tool("cosign"));
        command
            .arg(verb)
            .args(["--yes", "--tlog-upload=false", "--key"])
            .arg(self.private_key())
            .env("COSIGN_PASSWORD", &self.password);
        command
    }
}

/// A Docker `config.json` with one registry's credentials, for crane and cosign (through
/// `DOCKER_CONFIG`) and as the content of a `kubernetes.io/dockerconfigjson` Secret.
pub struct DockerConfig {
    dir: TempDir,
}

impl DockerConfig {
    pub fn new(host: &str, user: &str, password: &str) -> DockerConfig {
        let dir = tempfile::tempdir().expect("temporary directory");
        let auth = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:{password}"),
        );
        let json = format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#);
        std::fs::write(dir.path().join("config.json"), json).expect("config.json");
        DockerConfig { dir }
    }

    /// The file itself.
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    /// `command` with these credentials.
    pub fn apply<'c>(&self, command: &'c mut Command) -> &'c mut Command {
        command.env("DOCKER_CONFIG", self.dir.path())
    }
}

/// Pushes a one-layer image with `crane append` (a small file whose content is `content`) as
/// `reference` (`host/repo:tag`) and returns its digest reference `host/repo@sha256:...`.
pub fn crane_push(reference: &str, content: &str) -> String {
    crane_push_as(reference, content, None)
}

/// `crane_push` with the credentials of `config`.
pub fn crane_push_as(reference: &str, content: &str, config: Option<&DockerConfig>) -> String {
    let dir = tempfile::tempdir().expect("temporary directory");
    let layer = layer_tar(dir.path(), content);
    let crane = |args: &[&str]| {
        let mut command = Command::new(tool("crane"));
        command.args(args);
        if let Some(config) = config {
            config.apply(&mut command);
        }
        run_ok(&mut command)
    };
    let layer_path = layer.to_string_lossy();
    crane(&["append", "--insecure", "-f", &layer_path, "-t", reference]);
    let digest = crane(&["digest", "--insecure", reference]);
    let repository = reference
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/'))
        .map_or(reference, |(repo, _)| repo);
    format!("{repository}@{}", digest.trim())
}

/// A tar holding one file, `content.txt`.
fn layer_tar(dir: &Path, content: &str) -> PathBuf {
    let root = dir.join("layer");
    std::fs::create_dir_all(&root).expect("layer directory");
    std::fs::write(root.join("content.txt"), content).expect("layer file");
    let tar = dir.join("layer.tar");
    run_ok(
        Command::new("tar")
            .arg("-cf")
            .arg(&tar)
            .arg("-C")
            .arg(&root)
            .arg("content.txt"),
    );
    tar
}

/// Signet's verdict on `image` under a key policy for `glob` with `key`: true when admitted.
pub fn signet_admits(
    image: &str,
    glob: &str,
    key: &CosignKey,
    insecure: &[&str],
) -> (bool, String) {
    signet_admits_with(image, glob, key, insecure, &[])
}

/// [`signet_admits`] with `extra` arguments to `signet verify`.
pub fn signet_admits_with(
    image: &str,
    glob: &str,
    key: &CosignKey,
    insecure: &[&str],
    extra: &[&str],
) -> (bool, String) {
    let pem: String = key
        .public_pem()
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: parity\nspec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - key:\n      \
         data: |\n{pem}"
    );
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policy).expect("write policy");
    let mut command = Command::new(env!("CARGO_BIN_EXE_signet"));
    command.arg("verify").arg("--policy").arg(&path);
    for host in insecure {
        command.arg(format!("--insecure-registry={host}"));
    }
    let output = run(command.args(extra).arg(image));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
