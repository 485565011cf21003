//! `signet review FILE|DIR|-...`: the dry-run for CI pipelines. Same engine, same verdicts as
//! the webhook; exit code 1 when anything would be denied. A directory is read recursively (its
//! `.yaml`, `.yml` and `.json` files), `-` is standard input (`kustomize build | signet review -`).

use std::path::{Path, PathBuf};
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
    /// Kubernetes manifests (YAML, multi-document) or AdmissionReview JSON files; directories
    /// (every .yaml, .yml and .json file below them); `-` for standard input.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Review every file, print the verdicts, and exit 1 if anything would be denied.
pub async fn run(args: ReviewArgs) -> anyhow::Result<ExitCode> {
    let engine = args.engine.build()?;
    let stdin = Path::new("-");
    let mut reviewed = Vec::new();
    for given in &args.files {
        if given == stdin {
            let text = read_stdin()?;
            reviewed.extend(review_text(&engine, "-", &text).await?);
            continue;
        }
        for file in super::files::expand(std::slice::from_ref(given))? {
            reviewed.extend(review_file(&engine, &file).await?);
        }
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
    review_text(engine, &shown, &text).await
}

/// Standard input, at most [`MAX_MANIFEST_BYTES`].
fn read_stdin() -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::io::stdin()
        .take(MAX_MANIFEST_BYTES as u64 + 1)
        .read_to_string(&mut text)
        .context("reading standard input")?;
    anyhow::ensure!(
        text.len() <= MAX_MANIFEST_BYTES,
        "standard input is over the {MAX_MANIFEST_BYTES}-byte limit"
    );
    Ok(text)
}

async fn review_text(engine: &Engine, shown: &str, text: &str) -> anyhow::Result<Vec<Reviewed>> {
    let shown = shown.to_string();
    let documents = parse_manifest(text).with_context(|| format!("parsing {shown}"))?;
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
