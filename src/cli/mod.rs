//! Command-line shells over the engine: `serve`, `review`, `verify`, `audit`, and the policy tools
//! `policy check` and `export crio`. Every command builds the engine (or loads the policy) from
//! the same [`EngineArgs`], so all of them give the same verdicts.

mod audit;
mod certs;
mod client_limits;
mod export;
mod files;
mod output;
mod policy;
mod review;
mod serve;
mod verify;

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand, ValueEnum};

use signet::engine::cache::CacheSettings;
use signet::engine::verdicts::VerdictSettings;
use signet::engine::{Engine, EngineSettings, NamespacedPolicies, NoMatchAction};
use signet::policy::{PolicySet, TrustRoots};
use signet::registry::{
    CredentialProviders, Credentials, Mirrors, Platform, Registry, RegistryConfig,
};
use signet::reload::{NotationSources, PolicySources};

/// Signet: admit only signed container images.
#[derive(Parser, Debug)]
#[command(name = "signet", version = version_text(), about)]
pub struct Cli {
    /// Log format: human-readable text, or one JSON object per line (for the cluster).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "SIGNET_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Log output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    /// Human-readable.
    Text,
    /// JSON lines.
    Json,
}

/// The commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the HTTPS admission webhook.
    Serve(serve::ServeArgs),
    /// Review Kubernetes manifests or AdmissionReview files; exit 1 if anything would be denied.
    Review(review::ReviewArgs),
    /// Audit a cluster, a GitOps repository or the webhook's warn-mode log for what enforce mode
    /// would refuse; exit 1 if it would refuse anything.
    Audit(audit::AuditArgs),
    /// Verify one image and print what was found.
    Verify(verify::VerifyArgs),
    /// Serving certificates for the webhook.
    #[command(subcommand)]
    Certs(certs::CertsCommand),
    /// Check policy files (either format) and print what Signet understood.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Write Signet's policies in another tool's format.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Print the version and the date of the embedded Sigstore public-good trust root.
    Version,
}

/// `signet --version` and `signet version`: the release and the embedded trust root's date, so
/// an operator can tell whether a key rotation is covered.
pub fn version_text() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        format!(
            "{} (embedded Sigstore public-good trust root: snapshot {})",
            env!("CARGO_PKG_VERSION"),
            signet::policy::PUBLIC_GOOD_SNAPSHOT
        )
    })
}

/// Options every command shares: they build the engine.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// ClusterImagePolicy file or directory of YAML files (repeatable), or one
    /// containers-policy.json (CRI-O's policy.json; detected by content). Without it, the example
    /// policy embedded in the binary is used.
    #[arg(long = "policy", env = "SIGNET_POLICY", value_delimiter = ',')]
    pub policy: Vec<PathBuf>,
    /// Per-namespace policies as CRI-O's signature_policy_dir: `<DIR>/<namespace>.json` (either
    /// format) governs that namespace instead of --policy; namespaces without a file use
    /// --policy. Re-read when the directory changes.
    #[arg(long = "signature-policy-dir", env = "SIGNET_SIGNATURE_POLICY_DIR")]
    pub signature_policy_dir: Option<PathBuf>,
    /// Trust root for keyless authorities (repeatable): a policy-controller TrustRoot file
    /// (named by metadata.name) or a sigstore trusted_root.json (named by file stem), or a
    /// directory of them. Read once at start and on reload; never fetched.
    #[arg(long = "trust-root", env = "SIGNET_TRUST_ROOT", value_delimiter = ',')]
    pub trust_root: Vec<PathBuf>,
    #[command(flatten)]
    pub notation: NotationArgs,
    /// Registry reached over plain HTTP, `host[:port]` (repeatable).
    #[arg(long = "insecure-registry", value_delimiter = ',')]
    pub insecure_registry: Vec<String>,
    /// Docker `config.json` with registry credentials.
    #[arg(long = "registry-config", env = "SIGNET_REGISTRY_CONFIG")]
    pub registry_config: Option<PathBuf>,
    /// A containers-registries.conf(5) (v2) file: `[[registry]]` prefix rewrites and
    /// `[[registry.mirror]]`s to read images and signatures from. Images keep their names for
    /// policies and signature identities.
    #[arg(long = "registries-conf", env = "SIGNET_REGISTRIES_CONF")]
    pub registries_conf: Option<PathBuf>,
    /// containerd's registry host directory (its `config_path`, e.g. `/etc/containerd/certs.d`):
    /// the mirrors of each `<registry>/hosts.toml`, read after `--registries-conf`.
    #[arg(long = "containerd-hosts-dir", env = "SIGNET_CONTAINERD_HOSTS_DIR")]
    pub containerd_hosts_dir: Option<PathBuf>,
    /// The kubelet's CredentialProviderConfig (kubelet.config.k8s.io/v1): credential provider
    /// plugins (ECR, Artifact Registry, ACR) run for the images they match, as the kubelet
    /// runs them. Needs --image-credential-provider-bin-dir. See docs/registry-credentials.md.
    #[arg(
        long = "image-credential-provider-config",
        env = "SIGNET_IMAGE_CREDENTIAL_PROVIDER_CONFIG",
        requires = "image_credential_provider_bin_dir"
    )]
    pub image_credential_provider_config: Option<PathBuf>,
    /// The directory of the credential provider plugins named by
    /// --image-credential-provider-config.
    #[arg(
        long = "image-credential-provider-bin-dir",
        env = "SIGNET_IMAGE_CREDENTIAL_PROVIDER_BIN_DIR",
        requires = "image_credential_provider_config"
    )]
    pub image_credential_provider_bin_dir: Option<PathBuf>,
    /// Deadline in seconds of one credential provider plugin run; it is killed after it and
    /// gives no credentials. Keep it below --review-timeout.
    #[arg(long = "image-credential-provider-timeout", default_value = "5")]
    pub image_credential_provider_timeout: f64,
    /// What to do with images no policy covers.
    #[arg(long = "no-match", value_enum, default_value = "deny")]
    pub no_match: NoMatchAction,
    /// Let namespaced ImagePolicy objects admit on their own: decide the images no cluster
    /// policy covers (lifting --no-match) and exempt placeholders. Without it they only add
    /// requirements. Risky: whoever may write an ImagePolicy in a namespace can then admit any
    /// image there (`static: pass` does it).
    #[arg(
        long = "namespaced-policies-may-admit",
        env = "SIGNET_NAMESPACED_POLICIES_MAY_ADMIT"
    )]
    pub namespaced_policies_may_admit: bool,
    /// Whole-review deadline in seconds; keep it below the webhook's timeoutSeconds.
    #[arg(long = "review-timeout", default_value = "8")]
    pub review_timeout: f64,
    /// Deadline of one registry call in seconds.
    #[arg(long = "registry-timeout", default_value = "3")]
    pub registry_timeout: f64,
    /// Most signatures examined per image; more is a denial.
    #[arg(long = "max-signatures", default_value = "64", value_parser = at_least_one_signature)]
    pub max_signatures: usize,
    /// The platforms the cluster's nodes run (`os/arch[/variant]`): when an image index is not
    /// signed, `multiArch: indexOrPlatform` requires its children for these platforms signed
    /// (every child, when the index has none for them).
    #[arg(
        long = "platforms",
        value_delimiter = ',',
        default_value = "linux/amd64,linux/arm64",
        value_parser = parse_platform
    )]
    pub platforms: Vec<Platform>,
    /// Most requests in flight to one registry host, across all reviews (a read that needs a
    /// token holds its slot while the token is fetched); more wait their turn within the
    /// review deadline.
    #[arg(
        long = "max-requests-per-registry",
        default_value_t = signet::registry::DEFAULT_MAX_REQUESTS_PER_HOST,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_requests_per_registry: usize,
    /// Most distinct images of one review checked at once (a pod may name 1,000); the rest
    /// wait their turn within the review deadline.
    #[arg(
        long = "max-images-in-flight",
        default_value_t = signet::engine::DEFAULT_IMAGES_IN_FLIGHT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..)
    )]
    pub max_images_in_flight: usize,
}

/// The caches of a long-running server: one-shot commands (`review`, `verify`, `audit`) use the
/// defaults and do not list these options.
#[derive(Parser, Debug, Clone)]
pub struct CacheArgs {
    /// Seconds a tag's digest is reused without asking the registry: a moved tag may be
    /// verified at its old digest for at most this long.
    #[arg(long = "tag-cache-ttl", default_value = "30")]
    pub tag_cache_ttl: f64,
    /// Seconds fetched signatures are reused.
    #[arg(long = "signature-cache-ttl", default_value = "300")]
    pub signature_cache_ttl: f64,
    /// Seconds "no signature exists" is reused (an image signed after a denial is admitted
    /// after at most this long).
    #[arg(long = "negative-cache-ttl", default_value = "10")]
    pub negative_cache_ttl: f64,
    /// Most verdicts held (one per image digest and policy set; about 150 bytes each; 0 turns
    /// the verdict cache off).
    #[arg(long = "verdict-cache-entries", default_value = "200000")]
    pub verdict_cache_entries: u64,
    /// MiB of fetched signatures held, for bursts of one new image and for judging a changed
    /// policy without fetching again (warm reviews are answered from the verdict cache).
    #[arg(long = "signature-cache-mib", default_value = "4")]
    pub signature_cache_mib: u64,
}

impl Default for CacheArgs {
    /// The defaults of the flags (what `serve` uses when none is given).
    fn default() -> Self {
        Self::parse_from(["signet"])
    }
}

impl CacheArgs {
    fn settings(&self) -> anyhow::Result<CacheSettings> {
        Ok(CacheSettings {
            tag_ttl: seconds(self.tag_cache_ttl, "--tag-cache-ttl")?,
            signature_ttl: seconds(self.signature_cache_ttl, "--signature-cache-ttl")?,
            negative_ttl: seconds(self.negative_cache_ttl, "--negative-cache-ttl")?,
            max_signature_bytes: self.signature_cache_mib.saturating_mul(1024 * 1024),
            ..CacheSettings::default()
        })
    }
}

impl EngineArgs {
    /// Load the policy, read credentials and build the engine with the default caches.
    /// Everything is validated here, before anything is served.
    pub fn build(&self) -> anyhow::Result<Engine> {
        self.build_with(&CacheArgs::default(), None)
    }

    /// Build the engine with `caches`, from `policy` (text and the name it has in messages)
    /// instead of `--policy` when given.
    pub fn build_with(
        &self,
        caches: &CacheArgs,
        policy: Option<(&str, &str)>,
    ) -> anyhow::Result<Engine> {
        let Self {
            policy: _,
            signature_policy_dir: _,
            trust_root: _,
            notation: _,
            insecure_registry,
            registry_config,
            registries_conf,
            containerd_hosts_dir,
            image_credential_provider_config,
            image_credential_provider_bin_dir,
            image_credential_provider_timeout,
            no_match,
            namespaced_policies_may_admit,
            review_timeout,
            registry_timeout,
            max_signatures,
            platforms,
            max_requests_per_registry,
            max_images_in_flight,
        } = self;
        let policies = match policy {
            Some(text) => self.load_text(text)?,
            None => self.load_policies()?,
        };
        let credentials = match registry_config {
            Some(path) => Credentials::from_docker_config(path)?,
            None => Credentials::default(),
        };
        let registry = Registry::new(
            RegistryConfig {
                insecure: insecure_registry.clone(),
                call_timeout: seconds(*registry_timeout, "--registry-timeout")?,
                max_signatures: *max_signatures,
                max_requests_per_host: *max_requests_per_registry,
                mirrors: mirrors(registries_conf.as_deref(), containerd_hosts_dir.as_deref())?,
                credential_providers: credential_providers(
                    image_credential_provider_config.as_deref(),
                    image_credential_provider_bin_dir.as_deref(),
                    *image_credential_provider_timeout,
                )?,
                ..RegistryConfig::default()
            },
            credentials,
        );
        let cache = caches.settings()?;
        let settings = EngineSettings {
            no_match: *no_match,
            review_deadline: seconds(*review_timeout, "--review-timeout")?,
            verdicts: VerdictSettings::lasting_as(&cache)
                .with_entries(caches.verdict_cache_entries),
            cache,
            platforms: platforms.clone(),
            images_in_flight: *max_images_in_flight,
            namespaced: match namespaced_policies_may_admit {
                true => NamespacedPolicies::MayAdmit,
                false => NamespacedPolicies::AddRequirements,
            },
        };
        Ok(Engine::new(policies, registry, settings))
    }

    /// A policy written for this run (`verify --key`), with the trust roots given.
    fn load_text(&self, (text, source): (&str, &str)) -> anyhow::Result<PolicySet> {
        let sources = PolicySources {
            paths: Vec::new(),
            ..self.sources()
        };
        sources
            .load(Some((text, source)))
            .with_context(|| format!("building the policy of {source}"))
    }

    /// The policy files given (or the embedded example), with the trust roots given and the
    /// per-namespace files of `--signature-policy-dir`.
    pub fn load_policies(&self) -> anyhow::Result<PolicySet> {
        if self.policy.is_empty() {
            eprintln!(
                "signet: no --policy given: using the example policy embedded in the binary \
                 (examples/policy.yaml), an example to try Signet with; give --policy FILE|DIR \
                 for your own"
            );
        }
        TrustRoots::load(&self.trust_root).context("loading --trust-root")?;
        self.sources()
            .load(Some(EMBEDDED))
            .context("loading policy")
    }

    /// Where the policy comes from, for loading and for the reload watcher.
    pub fn sources(&self) -> PolicySources {
        PolicySources {
            paths: self.policy.clone(),
            trust_roots: self.trust_root.clone(),
            namespace_dir: self.signature_policy_dir.clone(),
            notation: self.notation.sources(),
        }
    }
}

/// Notation's own configuration, read as it is (docs/notation.md).
#[derive(Args, Debug, Clone, Default)]
pub struct NotationArgs {
    /// Notation trust policy (`trustpolicy.json` or `trustpolicy.oci.json`, version 1.0), or
    /// Notation's configuration directory holding it: the statement whose registryScopes name
    /// an image's repository (else the `*` one) applies besides --policy. Needs
    /// --notation-trust-store.
    #[arg(
        long = "notation-trust-policy",
        env = "SIGNET_NOTATION_TRUST_POLICY",
        requires = "notation_trust_store"
    )]
    pub notation_trust_policy: Option<PathBuf>,
    /// Notation's trust store directory (`{DIR}/x509/{ca|signingAuthority|tsa}/{name}/*.pem|crt`,
    /// Notation's `truststore` directory).
    #[arg(
        long = "notation-trust-store",
        env = "SIGNET_NOTATION_TRUST_STORE",
        requires = "notation_trust_policy"
    )]
    pub notation_trust_store: Option<PathBuf>,
}

impl NotationArgs {
    /// The trust policy and store, when given.
    pub fn sources(&self) -> Option<NotationSources> {
        match (&self.notation_trust_policy, &self.notation_trust_store) {
            (Some(policy), Some(store)) => Some(NotationSources {
                policy: policy.clone(),
                store: store.clone(),
            }),
            _ => None,
        }
    }
}

/// The example policy compiled into the binary, and the name it has in messages.
pub const EMBEDDED: (&str, &str) = (signet::EMBEDDED_POLICY, "embedded:examples/policy.yaml");

fn at_least_one_signature(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("0 would deny every signed image; give at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

fn parse_platform(text: &str) -> Result<Platform, String> {
    let platform =
        Platform::parse(text).ok_or_else(|| format!("{text:?} is not os/arch[/variant]"))?;
    match platform.normalised() {
        Some(_) => Ok(platform),
        None => Err(format!(
            "{text:?} is not a platform the container runtimes know (write it as containerd does, \
             e.g. linux/amd64, linux/arm64, linux/arm/v7)"
        )),
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} must be a positive number of seconds"))
}

/// Set up `tracing`: text for people, JSON in the cluster; `RUST_LOG` overrides the level.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("info,h2=warn,hyper=warn,rustls=warn")
    });
    // Colours only for a person at a terminal, and never with NO_COLOR set.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// Run one command; the exit code says what happened.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(args) => serve::run(args).await,
        Command::Review(args) => review::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Audit(args) => audit::run(args).await,
        Command::Certs(command) => certs::run(command),
        Command::Policy(command) => policy::run(command),
        Command::Export(command) => export::run(command),
        Command::Version => {
            println!("signet {}", version_text());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The mirrors of `--registries-conf`, then those of `--containerd-hosts-dir`.
fn mirrors(
    registries_conf: Option<&std::path::Path>,
    containerd_hosts_dir: Option<&std::path::Path>,
) -> Result<Mirrors, signet::registry::MirrorsError> {
    let conf = match registries_conf {
        Some(path) => Mirrors::load(path)?,
        None => Mirrors::default(),
    };
    match containerd_hosts_dir {
        Some(dir) => Ok(conf.with_containerd_hosts(dir)?),
        None => Ok(conf),
    }
}

/// The credential provider plugins of `--image-credential-provider-config`, if given (clap
/// requires the directory with it).
fn credential_providers(
    config: Option<&std::path::Path>,
    bin_dir: Option<&std::path::Path>,
    timeout: f64,
) -> anyhow::Result<Option<std::sync::Arc<CredentialProviders>>> {
    let (Some(config), Some(bin_dir)) = (config, bin_dir) else {
        return Ok(None);
    };
    let timeout = seconds(timeout, "--image-credential-provider-timeout")?;
    let providers = CredentialProviders::load(config, bin_dir, timeout)?;
    Ok(Some(std::sync::Arc::new(providers)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn platforms_the_runtimes_do_not_know_are_refused_at_start() {
        for known in [
            "linux/amd64",
            "linux/arm64",
            "linux/arm/v7",
            "Linux/x86_64",
            "linux/386",
        ] {
            assert!(parse_platform(known).is_ok(), "{known}");
        }
        for unknown in [
            "linux/x86_32",
            "linux",
            "plan10/amd64",
            "linux/amd64/v3/x",
            "unknown/unknown",
        ] {
            let error = parse_platform(unknown).unwrap_err();
            assert!(error.contains(unknown), "{error}");
        }
    }
}
