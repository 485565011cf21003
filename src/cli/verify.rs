//! `signet verify IMAGE`: verify one image under the policy and print what was found. The
//! cosign-style shortcuts `--key cosign.pub` and `--certificate-identity` with
//! `--certificate-oidc-issuer` (and `--trust-root`) need no policy file: they stand for one
//! ClusterImagePolicy over every image, written for this run.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use signet::policy::{PUBLIC_GOOD_TRUST_ROOT, TrustRoots};
use signet::workload::ImageUse;

use super::EngineArgs;
use super::output::{Output, Reviewed, print_images};

/// Options of `signet verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Namespace to evaluate namespaced policies for.
    #[arg(long)]
    namespace: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
    /// Verify against this public key (PEM, as cosign.pub) instead of a policy file.
    #[arg(long, conflicts_with_all = ["policy", "certificate_identity"])]
    key: Option<PathBuf>,
    /// Keyless: the signing certificate's subject (an email or URI) instead of a policy file;
    /// needs --certificate-oidc-issuer; verified against --trust-root, or Sigstore's public-good
    /// root built into Signet when none is given.
    #[arg(
        long = "certificate-identity",
        requires = "certificate_oidc_issuer",
        conflicts_with = "policy"
    )]
    certificate_identity: Option<String>,
    /// Keyless: the OIDC issuer of the signing certificate (`https://accounts.google.com`).
    #[arg(long = "certificate-oidc-issuer", requires = "certificate_identity")]
    certificate_oidc_issuer: Option<String>,
    /// The image reference.
    image: String,
}

/// Verify the image; exit 1 if it would be denied.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let shortcut = shortcut_policy(&args)?;
    let engine = args.engine.build_with(
        &super::CacheArgs::default(),
        shortcut
            .as_ref()
            .map(|(text, source)| (text.as_str(), *source)),
    )?;
    let uses = [ImageUse {
        path: "image".to_string(),
        container: "-".to_string(),
        image: args.image.clone(),
    }];
    let decision = engine.review(args.namespace.as_deref(), &uses).await;
    let allowed = decision.allowed();
    let reviewed = [Reviewed {
        file: "-".to_string(),
        object: args.image,
        decision,
    }];
    print_images(args.output, &reviewed)?;
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The policy `--key` or `--certificate-identity` stand for, and the name it has in messages.
fn shortcut_policy(args: &VerifyArgs) -> anyhow::Result<Option<(String, &'static str)>> {
    let authority = match (&args.key, &args.certificate_identity) {
        (Some(path), _) => {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("reading --key {}", path.display()))?;
            format!(
                "  - name: key\n    key:\n      data: {}\n",
                yaml_string(&pem)
            )
        }
        (None, Some(identity)) => {
            let issuer = args.certificate_oidc_issuer.as_deref().unwrap_or_default();
            let root = only_trust_root(&args.engine.trust_root)?;
            format!(
                "  - name: keyless\n    keyless:\n      trustRootRef: {}\n      identities:\n      - issuer: {}\n        subject: {}\n",
                yaml_string(&root),
                yaml_string(issuer),
                yaml_string(identity)
            )
        }
        (None, None) => return Ok(None),
    };
    let source = match args.key.is_some() {
        true => "--key",
        false => "--certificate-identity",
    };
    let text = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: verify\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n{authority}"
    );
    Ok(Some((text, source)))
}

/// The trust root keyless verification uses: the one `--trust-root` gives, or Sigstore's
/// public-good root (built in, or a given file named `sigstore-public-good`) when none is given.
fn only_trust_root(paths: &[PathBuf]) -> anyhow::Result<String> {
    let roots = TrustRoots::load(paths).context("loading --trust-root")?;
    let names = roots.names();
    let given: Vec<&str> = names
        .into_iter()
        .filter(|name| *name != PUBLIC_GOOD_TRUST_ROOT)
        .collect();
    match given.as_slice() {
        [] => Ok(PUBLIC_GOOD_TRUST_ROOT.to_string()),
        [one] => Ok(one.to_string()),
        many => anyhow::bail!(
            "--certificate-identity takes one trust root, and --trust-root gave {}: {}",
            many.len(),
            many.join(", ")
        ),
    }
}

/// `text` as a YAML double-quoted string (JSON strings are YAML).
fn yaml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
