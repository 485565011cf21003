//! Printing review results: a table for people, JSON for machines.

use std::io::Write as _;

use clap::ValueEnum;
use serde::Serialize;

use signet::verdict::{Decision, DecisionReport};

/// Output format.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Output {
    /// One row per image.
    Table,
    /// A JSON array, one entry per object.
    Json,
}

/// One reviewed object.
pub struct Reviewed {
    /// The file it came from.
    pub file: String,
    /// `Kind/name`.
    pub object: String,
    /// The engine's decision.
    pub decision: Decision,
}

#[derive(Serialize)]
struct ReviewedJson<'a> {
    file: &'a str,
    object: &'a str,
    #[serde(flatten)]
    decision: DecisionReport,
}

/// Print `reviewed` to stdout.
pub fn print(format: Output, reviewed: &[Reviewed]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match format {
        Output::Json => {
            let items: Vec<ReviewedJson> = reviewed
                .iter()
                .map(|r| ReviewedJson {
                    file: &r.file,
                    object: &r.object,
                    decision: r.decision.report(),
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items)?;
            writeln!(out)?;
        }
        Output::Table => print_table(&mut out, reviewed)?,
    }
    Ok(())
}

fn print_table(out: &mut impl std::io::Write, reviewed: &[Reviewed]) -> anyhow::Result<()> {
    writeln!(
        out,
        "{:<7} {:<28} {:<36} {:<48} REASON",
        "OUTCOME", "OBJECT", "CONTAINER", "IMAGE"
    )?;
    for r in reviewed {
        let report = r.decision.report();
        if let Some(message) = &report.message
            && report.images.is_empty()
        {
            writeln!(out, "{:<7} {:<28} {message}", "deny", r.object)?;
        }
        for image in &report.images {
            let shown = match &image.digest {
                Some(d) if !image.image.contains('@') => format!("{}@{d}", image.image),
                _ => image.image.clone(),
            };
            let reason = image.reason.unwrap_or("Verified");
            writeln!(
                out,
                "{:<7} {:<28} {:<36} {:<48} {reason}: {}",
                image.outcome,
                r.object,
                format!("{} ({})", image.path, image.container),
                shown,
                image.detail
            )?;
        }
    }
    Ok(())
}
