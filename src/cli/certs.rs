//! `signet certs generate`: a CA and a serving certificate for the webhook Service, with the
//! kustomize patch that puts the CA into the webhook's `caBundle`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use signet::certs::{CertRequest, generate};

/// Certificate commands.
#[derive(Subcommand, Debug)]
pub enum CertsCommand {
    /// Write ca.crt/ca.key (kept if present), tls.crt/tls.key, caBundle.patch.yaml and a
    /// kustomization.yaml that applies the manifests with the CA in the webhook.
    Generate(GenerateArgs),
}

/// Options of `signet certs generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
    /// The webhook Service's name (the kustomization renames the Service and the webhook's
    /// clientConfig to it).
    #[arg(long, default_value = "signet")]
    service: String,
    /// The webhook Service's namespace (the kustomization puts everything into it).
    #[arg(long, default_value = "signet-system")]
    namespace: String,
    /// Output directory.
    #[arg(long, default_value = "certs/out")]
    out: PathBuf,
    /// The kustomize base to patch, from the current directory (Signet's manifests/base); the
    /// output kustomization.yaml names it relative to itself, so it works from anywhere.
    #[arg(long, default_value = "manifests/base")]
    manifests: PathBuf,
    /// Validity of the serving certificate in days.
    #[arg(long, default_value = "365")]
    days: u32,
    /// Validity of a new CA in days.
    #[arg(long = "ca-days", default_value = "1825")]
    ca_days: u32,
}

/// Run a certificate command.
pub fn run(command: CertsCommand) -> anyhow::Result<ExitCode> {
    let CertsCommand::Generate(args) = command;
    let request = CertRequest {
        service: args.service,
        namespace: args.namespace.clone(),
        days: args.days,
        ca_days: args.ca_days,
    };
    let written = generate(&request, &args.out, &args.manifests)?;
    let dir = written.dir.display();
    let ca = if written.reused_ca {
        "reused the CA"
    } else {
        "made a new CA"
    };
    println!(
        "{ca} in {dir}; serving certificate for {}",
        written.dns_names.join(", ")
    );
    if written.kept_kustomization {
        println!("kept {dir}/kustomization.yaml (delete it to have it written again)");
    }
    println!("next (first install, audit mode: delete the components/audit line to enforce):");
    println!("  kubectl create namespace {}", args.namespace);
    println!(
        "  kubectl -n {} create secret tls signet-tls --cert {dir}/tls.crt --key {dir}/tls.key",
        args.namespace
    );
    println!("  kubectl apply -k {dir}");
    Ok(ExitCode::SUCCESS)
}
