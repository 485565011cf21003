//! `signet audit`: what a cluster, a GitOps repository or the webhook's warn-mode log would meet
//! under the policy, rendered as a table, JSON, HTML or PolicyReports. Exit code 1 when anything
//! would be denied, so it can gate the switch to enforce.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use signet::audit::{self, Finding, Progress, Report, Target};

use super::EngineArgs;

/// Options of `signet audit`.
#[derive(Args, Debug)]
pub struct AuditArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Audit the Kubernetes manifests under this directory (recursively: a GitOps repository)
    /// instead of a cluster.
    #[arg(long)]
    manifests: Option<PathBuf>,
    /// Fold the webhook's would-deny log lines (`signet serve --log-format json`) from this file
    /// into the report (repeatable). Alone, the report holds only those.
    #[arg(long = "from-logs")]
    from_logs: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: AuditOutput,
    /// Write the output to this file instead of stdout.
    #[arg(long = "out")]
    out: Option<PathBuf>,
    /// Images verified at once.
    #[arg(long, default_value = "16")]
    concurrency: usize,
    /// Progress bar on stderr: on a terminal only (auto), always, or never.
    #[arg(long, value_enum, default_value = "auto")]
    progress: ProgressMode,
    /// Audit the cluster too when --manifests or --from-logs are given (without them the
    /// cluster is what is audited).
    #[arg(long)]
    cluster: bool,
    /// Only this namespace of the cluster.
    #[arg(long)]
    namespace: Option<String>,
    /// The kubeconfig context to use (default: the current one, or the in-cluster config).
    #[arg(long)]
    context: Option<String>,
    /// Seconds to wait for each answer of the Kubernetes API server.
    #[arg(long, default_value = "30")]
    timeout: f64,
    /// Create (or replace) the PolicyReports of this audit in the cluster.
    #[arg(long = "write-reports")]
    write_reports: bool,
}

impl AuditArgs {
    /// The cluster is read when asked for, or when nothing else is.
    fn audits_cluster(&self) -> bool {
        self.cluster || (self.manifests.is_none() && self.from_logs.is_empty())
    }
}

/// Output formats of `signet audit`.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AuditOutput {
    /// An aligned table, one row per container.
    Table,
    /// The report in its stable JSON schema.
    Json,
    /// One self-contained HTML page.
    Html,
    /// `wgpolicyk8s.io/v1alpha2` PolicyReport and ClusterPolicyReport objects as YAML.
    Policyreport,
}

/// When to draw the progress bar.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ProgressMode {
    /// When stderr is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Run the audit, write the report, exit 1 if anything would be denied.
pub async fn run(args: AuditArgs) -> anyhow::Result<ExitCode> {
    let cluster = match args.audits_cluster() || args.write_reports {
        true => Some(connect(&args).await?),
        false => None,
    };
    let report = collect(&args, cluster.as_ref()).await?;
    write_output(&args, &report)?;
    if let (true, Some((client, url))) = (args.write_reports, &cluster) {
        let reports = audit::policy_report::reports(&report, now_seconds());
        let written = audit::policy_report::write(client, &reports)
            .await
            .with_context(|| format!("writing PolicyReports to {url}"))?;
        tracing::info!(written, "PolicyReports written");
    }
    Ok(if report.refuses_anything() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// A kube client from the kubeconfig (or in-cluster), with deadlines, and the cluster's URL.
async fn connect(args: &AuditArgs) -> anyhow::Result<(kube::Client, String)> {
    let timeout = super::seconds(args.timeout, "--timeout")?;
    let config = match &args.context {
        Some(context) => {
            let options = kube::config::KubeConfigOptions {
                context: Some(context.clone()),
                ..Default::default()
            };
            kube::Config::from_kubeconfig(&options)
                .await
                .map_err(|e| no_cluster(&e, Some(context)))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| no_cluster(&e, None))?,
    };
    let mut config = config;
    config.connect_timeout = Some(timeout.min(Duration::from_secs(10)));
    config.read_timeout = Some(timeout);
    let url = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).context("building the Kubernetes client")?;
    Ok((client, url))
}

/// No cluster could be configured: say what to do instead of kube's chain of causes (logged at
/// debug level).
fn no_cluster(error: &dyn std::error::Error, context: Option<&str>) -> anyhow::Error {
    tracing::debug!(error = %error, "no Kubernetes configuration");
    let what = match context {
        Some(context) => format!("cannot use kubeconfig context {context:?} ({error})"),
        None => "no Kubernetes cluster to audit: no in-cluster service account, and no kubeconfig \
                 ($KUBECONFIG or ~/.kube/config)"
            .to_string(),
    };
    anyhow::anyhow!(
        "{what}; audit a directory of manifests with --manifests DIR, the webhook's log with \
         --from-logs FILE, or name a kubeconfig context with --context NAME"
    )
}

/// Gather targets from the sources given, evaluate them, and fold in the log lines.
async fn collect(
    args: &AuditArgs,
    cluster: Option<&(kube::Client, String)>,
) -> anyhow::Result<Report> {
    let mut sources = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    let mut notes = Vec::new();
    let listed = match (args.audits_cluster(), cluster) {
        (true, Some((client, url))) => {
            let objects = audit::cluster::list(client, args.namespace.as_deref())
                .await
                .with_context(|| {
                    format!(
                        "reading the cluster at {url} (each call waits at most --timeout {}s)",
                        args.timeout
                    )
                })?;
            let (found, skipped) = audit::cluster::targets(&objects);
            targets.extend(found);
            notes.extend(skipped);
            sources.push(format!("cluster:{url}"));
            true
        }
        _ => false,
    };
    if let Some(dir) = &args.manifests {
        let scanned = audit::manifests::scan(dir)?;
        for note in &scanned.notes {
            if scanned.kustomizations.iter().any(|k| note.starts_with(k)) {
                eprintln!("signet: warning: {note}");
            }
        }
        targets.extend(scanned.targets);
        notes.extend(scanned.notes);
        sources.push(format!("manifests:{}", dir.display()));
    }
    let mut findings = evaluate(args, &targets).await?;
    if listed {
        notes.extend(audit::cluster::covered_pods_note(&findings));
    }
    for file in &args.from_logs {
        let (folded, note) = read_logs(file)?;
        findings.extend(folded);
        notes.push(note);
        sources.push(format!("webhook-log:{}", file.display()));
    }
    Ok(Report::new(sources.join(", "), now(), findings, notes))
}

async fn evaluate(args: &AuditArgs, targets: &[Target]) -> anyhow::Result<Vec<Finding>> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let engine = args.engine.build()?;
    let bar = ProgressBar::new(args.progress);
    let findings = audit::evaluate(&engine, targets, args.concurrency, &|p| bar.draw(p)).await;
    bar.finish();
    Ok(findings)
}

fn read_logs(file: &PathBuf) -> anyhow::Result<(Vec<Finding>, String)> {
    let reader = std::fs::File::open(file)
        .map(std::io::BufReader::new)
        .with_context(|| format!("reading {}", file.display()))?;
    let folded =
        audit::logs::fold(reader).with_context(|| format!("reading {}", file.display()))?;
    anyhow::ensure!(
        folded.events > 0,
        "{}: found no JSON log line in its {} line(s), so nothing was read; --from-logs reads the \
         webhook's log written with `signet serve --log-format json`",
        file.display(),
        folded.read
    );
    let note = format!(
        "{}: {} would-deny log lines folded into {} findings",
        file.display(),
        folded.lines,
        folded.findings.len()
    );
    Ok((folded.findings, note))
}

fn write_output(args: &AuditArgs, report: &Report) -> anyhow::Result<()> {
    let mut buffer = Vec::new();
    match args.output {
        AuditOutput::Table => audit::table::write(&mut buffer, report)?,
        AuditOutput::Json => {
            serde_json::to_writer_pretty(&mut buffer, report)?;
            writeln!(buffer)?;
        }
        AuditOutput::Html => buffer.extend(audit::html::render(report)?.into_bytes()),
        AuditOutput::Policyreport => {
            buffer.extend(audit::policy_report::to_yaml(report, now_seconds())?.into_bytes())
        }
    }
    match &args.out {
        Some(path) => {
            std::fs::write(path, buffer).with_context(|| format!("writing {}", path.display()))
        }
        None => Ok(std::io::stdout().lock().write_all(&buffer)?),
    }
}

/// The current time, RFC 3339 in UTC.
fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// A one-line progress bar on stderr, redrawn in place; drawn only where someone watches.
struct ProgressBar {
    shown: bool,
}

impl ProgressBar {
    fn new(mode: ProgressMode) -> Self {
        let shown = match mode {
            ProgressMode::Auto => std::io::stderr().is_terminal(),
            ProgressMode::Always => true,
            ProgressMode::Never => false,
        };
        Self { shown }
    }

    fn draw(&self, p: Progress) {
        if !self.shown {
            return;
        }
        const WIDTH: usize = 30;
        let filled = (p.done * WIDTH).checked_div(p.total).unwrap_or(WIDTH);
        let bar = format!("{}{}", "#".repeat(filled), "-".repeat(WIDTH - filled));
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\rverifying images [{bar}] {}/{}", p.done, p.total);
        let _ = err.flush();
    }

    fn finish(&self) {
        if self.shown {
            let _ = writeln!(std::io::stderr().lock());
        }
    }
}
