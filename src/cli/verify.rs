//! `signet verify IMAGE`: verify one image under the policy and print what was found.

use std::process::ExitCode;

use clap::Args;

use signet::workload::ImageUse;

use super::EngineArgs;
use super::output::{Output, Reviewed, print};

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
    /// The image reference.
    image: String,
}

/// Verify the image; exit 1 if it would be denied.
pub async fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.build()?;
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
    print(args.output, &reviewed)?;
    Ok(if allowed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
