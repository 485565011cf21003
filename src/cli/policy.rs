//! `signet policy check FILE...`: load each policy file (ClusterImagePolicy YAML or
//! containers-policy.json, detected by content) exactly as `serve` would, and print what was
//! understood; exit 1 when any file is refused.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use signet::policy::{PolicySet, TrustRoots};

/// `signet policy …`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Validate policy files and print their scopes or globs, requirements, key fingerprints
    /// and trust material; exit 1 if any file is invalid.
    Check(CheckArgs),
}

/// Options of `signet policy check`.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Trust roots keyless authorities may name (as for `serve`).
    #[arg(long = "trust-root", value_delimiter = ',')]
    trust_root: Vec<PathBuf>,
    /// Policy files or directories, each checked on its own.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Run `signet policy …`.
pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let roots = TrustRoots::load(&args.trust_root).context("loading trust roots")?;
    println!("{}", public_good_line(&roots));
    let mut invalid = 0;
    for file in &args.files {
        let shown = file.display();
        match PolicySet::load_with_trust_roots(std::slice::from_ref(file), &roots) {
            Ok(set) => {
                println!("{shown}: ok, {} {}", set.policies().len(), unit(&set));
                for line in set.describe() {
                    println!("  {line}");
                }
            }
            Err(error) => {
                invalid += 1;
                eprintln!("{shown}: invalid: {error}");
            }
        }
    }
    Ok(match invalid {
        0 => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// Which public-good root keyless authorities naming no trust get: the embedded snapshot (with
/// its date) or the `--trust-root` that replaces it.
fn public_good_line(roots: &TrustRoots) -> String {
    match roots.public_good() {
        Some(root) => format!("Sigstore public-good trust root: {}", root.origin),
        None => "Sigstore public-good trust root: unusable (give one with --trust-root)".into(),
    }
}

fn unit(set: &PolicySet) -> &'static str {
    match set.is_containers_policy() {
        true => "requirement(s)",
        false => "policy(ies)",
    }
}
