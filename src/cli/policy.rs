//! `signet policy check FILE...`: load each policy file (ClusterImagePolicy YAML or
//! containers-policy.json, detected by content) exactly as `serve` would, and print what was
//! understood; exit 1 when any file is refused.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use signet::policy::{PolicySecrets, PolicySet, TrustRoots};
use signet::reload::NotationSources;

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
    /// A Notation trust policy and trust store to check with the files (as for `serve`).
    #[command(flatten)]
    notation: super::NotationArgs,
    /// Policy files or directories (every .yaml, .yml and .json file below them), each file
    /// checked on its own; every invalid file is reported.
    #[arg(required_unless_present = "notation_trust_policy")]
    files: Vec<PathBuf>,
}

/// Run `signet policy …`.
pub fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check(args) => check(args),
    }
}

fn check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let roots = TrustRoots::load(&args.trust_root)
        .context("loading --trust-root")?
        .with_secrets(PolicySecrets::Checked);
    println!("{}", public_good_line(&roots));
    let mut invalid = 0;
    if let Some(notation) = args.notation.sources() {
        check_notation(&notation, &mut invalid);
    }
    for file in super::files::expand(&args.files)? {
        let shown = file.display();
        match PolicySet::load_with_trust_roots(std::slice::from_ref(&file), &roots) {
            Ok(set) if set.policies().is_empty() && !set.is_containers_policy() => {
                invalid += 1;
                eprintln!(
                    "{shown}: invalid: holds no ClusterImagePolicy or ImagePolicy document, so it \
                     would admit nothing (every image would meet --no-match)"
                );
            }
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
    // Each file was fine on its own: check each directory as one set too.
    if invalid == 0 {
        for dir in args.files.iter().filter(|p| p.is_dir()) {
            together(dir, &roots, &mut invalid);
        }
    }
    if invalid > 0 {
        eprintln!("signet: {invalid} invalid policy file(s)");
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

/// A directory as `--policy DIR` reads it (its own files, as one set: names must not clash),
/// and a note for files below it that `--policy DIR` does not read.
fn together(dir: &Path, roots: &TrustRoots, invalid: &mut usize) {
    if let Err(error) = PolicySet::load_with_trust_roots(&[dir.to_path_buf()], roots) {
        *invalid += 1;
        eprintln!(
            "{}: invalid as one --policy directory: {error}",
            dir.display()
        );
    }
    let mut below = Vec::new();
    if super::files::walk(dir, &mut below).is_ok() {
        for file in below.iter().filter(|f| f.parent() != Some(dir)) {
            eprintln!(
                "note: {}: `--policy {}` does not read subdirectories; give its directory too",
                file.display(),
                dir.display()
            );
        }
    }
}

/// The Notation trust policy with its trust stores, described as `serve` would use it.
fn check_notation(notation: &NotationSources, invalid: &mut usize) {
    let shown = notation.policy.display();
    match notation.load() {
        Ok(trust_policy) => {
            let set = PolicySet::default().with_notation(trust_policy);
            println!("{shown}: ok, Notation trust policy");
            for line in set.describe().iter().skip(1) {
                println!("  {line}");
            }
        }
        Err(error) => {
            *invalid += 1;
            eprintln!("{shown}: invalid: {error}");
        }
    }
}

fn unit(set: &PolicySet) -> &'static str {
    match set.is_containers_policy() {
        true => "requirement(s)",
        false => "policy(ies)",
    }
}
