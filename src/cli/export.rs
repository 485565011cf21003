//! `signet export crio --out DIR`: Signet's ClusterImagePolicy set as CRI-O containers-policy.json
//! files: `DIR/policy.json` (CRI-O's `signature_policy`) and `DIR/namespaces/<namespace>.json`
//! (its `signature_policy_dir`; a directory of its own, so that a namespace called `policy` cannot
//! collide with the global file). What cannot be expressed exactly is printed on stderr;
//! `--strict` fails instead of writing. An export that would make nodes refuse images Signet
//! admits always fails: a node that refuses the pause image starts no pod.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use signet::engine::NoMatchAction;
use signet::policy::{CrioExport, Severity, Unmatched, export_crio};
use signet::reload::PolicySources;

/// `signet export …`.
#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// CRI-O / podman containers-policy.json: `policy.json` plus `<namespace>.json` files.
    Crio(CrioArgs),
}

/// Options of `signet export crio`.
#[derive(Args, Debug)]
pub struct CrioArgs {
    /// ClusterImagePolicy files or directories (repeatable).
    #[arg(long = "policy", required = true, value_delimiter = ',')]
    policy: Vec<PathBuf>,
    /// Trust roots keyless authorities name; their material is written inline.
    #[arg(long = "trust-root", value_delimiter = ',')]
    trust_root: Vec<PathBuf>,
    /// A Notation trust policy: reported as not carried (CRI-O cannot verify Notation).
    #[command(flatten)]
    notation: super::NotationArgs,
    /// What images no policy covers become (as `serve --no-match`).
    #[arg(long = "no-match", value_enum, default_value = "deny")]
    no_match: NoMatchAction,
    /// Directory to write `policy.json` and `namespaces/<namespace>.json` into (created if
    /// missing).
    #[arg(long = "out")]
    out: PathBuf,
    /// Fail, writing nothing, if anything cannot be expressed exactly.
    #[arg(long)]
    strict: bool,
}

/// Run `signet export …`.
pub fn run(command: ExportCommand) -> anyhow::Result<ExitCode> {
    match command {
        ExportCommand::Crio(args) => crio(args),
    }
}

fn crio(args: CrioArgs) -> anyhow::Result<ExitCode> {
    let sources = PolicySources {
        paths: args.policy.clone(),
        trust_roots: args.trust_root.clone(),
        namespace_dir: None,
        notation: args.notation.sources(),
    };
    signet::policy::TrustRoots::load(&args.trust_root).context("loading --trust-root")?;
    let set = sources.load(None).context("loading policy")?;
    let unmatched = match args.no_match {
        NoMatchAction::Deny => Unmatched::Reject,
        NoMatchAction::Allow => Unmatched::Accept,
        NoMatchAction::Warn => Unmatched::Warn,
    };
    let export = export_crio(&set, unmatched)?;
    for finding in &export.findings {
        eprintln!("signet: {finding}");
    }
    let count = |severity| {
        export
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    };
    let refuses = count(Severity::Refuses);
    if refuses > 0 {
        eprintln!(
            "signet: cannot export: with these files CRI-O would refuse images Signet admits \
             ({refuses} finding(s) marked `refuses` above); nothing written. Rewrite those globs \
             as a host, namespace, repository or image (for registry.k8s.io/pause* write \
             registry.k8s.io/pause and registry.k8s.io/pause/**), or keep one authority per policy"
        );
        return Ok(ExitCode::from(1));
    }
    let inexact = count(Severity::Inexact);
    if args.strict && inexact > 0 {
        eprintln!(
            "signet: --strict: {inexact} finding(s) cannot be expressed exactly; nothing written"
        );
        return Ok(ExitCode::from(1));
    }
    write_files(&export, &args.out)?;
    Ok(ExitCode::SUCCESS)
}

fn write_files(export: &CrioExport, out: &Path) -> anyhow::Result<()> {
    let namespaces = out.join("namespaces");
    std::fs::create_dir_all(&namespaces)
        .with_context(|| format!("creating {}", namespaces.display()))?;
    let files = std::iter::once((out.join("policy.json"), &export.global)).chain(
        export
            .namespaces
            .iter()
            .map(|(ns, json)| (namespaces.join(format!("{ns}.json")), json)),
    );
    for (path, json) in files {
        let text = serde_json::to_string_pretty(json)? + "\n";
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("signet: wrote {}", path.display());
    }
    remove_stale(&namespaces, export)
}

/// `namespaces/<ns>.json` files of an earlier export whose namespace no longer differs would
/// still govern that namespace on the node: remove them.
fn remove_stale(namespaces: &Path, export: &CrioExport) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(namespaces)? {
        let path = entry?.path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let is_json = path.extension().is_some_and(|e| e == "json");
        if is_json && path.is_file() && !export.namespaces.contains_key(stem) {
            std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
            eprintln!(
                "signet: removed {} (no longer differs from policy.json)",
                path.display()
            );
        }
    }
    Ok(())
}
