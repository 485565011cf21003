//! `signet review FILE...`: the dry-run for CI pipelines. Same engine, same verdicts as the
//! webhook; exit code 1 when anything would be denied.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;

use signet::admission;
use signet::engine::Engine;
use signet::manifest::{Document, MAX_MANIFEST_BYTES, parse_manifest};
use signet::verdict::Decision;
use signet::workload::{ResourceIdentity, extract_images};

use super::EngineArgs;
use super::output::{Output, Reviewed, print};

/// Options of `signet review`.
#[derive(Args, Debug)]
pub struct ReviewArgs {
    #[command(flatten)]
    engine: EngineArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
    /// Kubernetes manifests (YAML, multi-document) or AdmissionReview JSON files.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Review every file, print the verdicts, and exit 1 if anything would be denied.
pub async fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.build()?;
    let mut reviewed = Vec::new();
    for file in &args.files {
        reviewed.extend(review_file(&engine, file).await?);
    }
    print(args.output, &reviewed)?;
    let denied = reviewed.iter().any(|r| !r.decision.allowed());
    Ok(if denied {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

async fn review_file(engine: &Engine, file: &PathBuf) -> anyhow::Result<Vec<Reviewed>> {
    let shown = file.display().to_string();
    let size = std::fs::metadata(file)
        .with_context(|| format!("reading {shown}"))?
        .len();
    anyhow::ensure!(
        size <= MAX_MANIFEST_BYTES as u64,
        "{shown} is over the {MAX_MANIFEST_BYTES}-byte limit"
    );
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {shown}"))?;
    let documents = parse_manifest(&text).with_context(|| format!("parsing {shown}"))?;
    let mut out = Vec::new();
    for document in documents {
        if let Some((object, decision)) = review_document(engine, document).await? {
            out.push(Reviewed {
                file: shown.clone(),
                object,
                decision,
            });
        }
    }
    Ok(out)
}

async fn review_document(
    engine: &Engine,
    document: Document,
) -> anyhow::Result<Option<(String, Decision)>> {
    match document {
        Document::Workload(w) => {
            let decision = match extract_images(w.kind, &w.object) {
                Ok(uses) => {
                    let object = ResourceIdentity::of_object(&w.object);
                    let namespace = w.namespace.as_deref();
                    engine.review_object(namespace, &object, &uses).await
                }
                Err(e) => Decision::invalid_object(e.to_string()),
            };
            Ok(Some((w.display, decision)))
        }
        Document::AdmissionReview(value) => {
            let bytes = serde_json::to_vec(&value)?;
            let request = admission::parse_review(&bytes)?;
            let object = format!(
                "{}/{} (review {})",
                request.kind.kind, request.name, request.uid
            );
            Ok(Some((object, admission::decide(engine, &request).await)))
        }
        Document::Other { .. } => Ok(None),
    }
}
