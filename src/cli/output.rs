//! Printing review results: a table for people, JSON for machines.

use std::io::Write as _;

use clap::ValueEnum;
use serde::Serialize;

use signet::audit::table::write_aligned;
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

/// Print the verdicts of single images (`verify`): the table has no object or container
/// columns, which would only repeat the image.
pub fn print_images(format: Output, reviewed: &[Reviewed]) -> anyhow::Result<()> {
    let Output::Table = format else {
        return print(format, reviewed);
    };
    let mut rows = vec![["OUTCOME", "IMAGE", "REASON"].map(String::from)];
    for r in reviewed {
        rows.extend(
            table_rows(r)
                .into_iter()
                .map(|[outcome, _, _, image, reason]| [outcome, image, reason]),
        );
    }
    write_aligned(&mut std::io::stdout().lock(), &rows)?;
    Ok(())
}

fn print_table(out: &mut impl std::io::Write, reviewed: &[Reviewed]) -> anyhow::Result<()> {
    let mut rows = vec![["OUTCOME", "OBJECT", "CONTAINER", "IMAGE", "REASON"].map(String::from)];
    for r in reviewed {
        rows.extend(table_rows(r));
    }
    write_aligned(out, &rows)?;
    Ok(())
}

/// One row per image of a reviewed object, or one row for an object that could not be read.
fn table_rows(r: &Reviewed) -> Vec<[String; 5]> {
    let report = r.decision.report();
    if report.images.is_empty() {
        let (outcome, reason) = match &report.message {
            Some(message) => ("deny", message.clone()),
            None => ("admit", "no images".to_string()),
        };
        return vec![[
            outcome.into(),
            r.object.clone(),
            "-".into(),
            "-".into(),
            reason,
        ]];
    }
    report
        .images
        .iter()
        .map(|image| {
            let shown = match &image.digest {
                Some(d) if !image.image.contains('@') => format!("{}@{d}", image.image),
                _ => image.image.clone(),
            };
            let reason = format!("{}: {}", image.reason, image.detail);
            [
                image.outcome.to_string(),
                r.object.clone(),
                format!("{} ({})", image.path, image.container),
                shown,
                reason,
            ]
        })
        .collect()
}
