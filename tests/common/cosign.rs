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
        let root = self.dir.path().join("empty_trusted_root.json");
        std::fs::write(
            &root,
            r#"{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}"#,
        )
        .expect("write trusted root");
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
