//! The audit as an aligned terminal table: one row per container, the full reason last, then the
//! counts and the notes.

use std::io::Write;

use super::{Finding, Report, Status};

/// Write `report` as a table.
pub fn write(out: &mut impl Write, report: &Report) -> std::io::Result<()> {
    let mut rows = vec![
        [
            "OUTCOME",
            "NAMESPACE",
            "OBJECT",
            "CONTAINER",
            "IMAGE",
            "REASON",
        ]
        .map(String::from),
    ];
    rows.extend(report.findings.iter().map(row));
    write_aligned(out, &rows)?;
    writeln!(out)?;
    writeln!(out, "{}", summary_line(report))?;
    for note in &report.notes {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

/// `12 objects, 12 containers (7 distinct images): 8 admit, 1 warn, 2 deny, 1 error`: the
/// counts are of rows (a container, an image volume, or an object that could not be read), so
/// they add up to the number before them.
pub fn summary_line(report: &Report) -> String {
    let s = &report.summary;
    let counts: Vec<String> = Status::ALL
        .iter()
        .map(|status| format!("{} {}", s.count(*status), status.label()))
        .collect();
    let rows: usize = Status::ALL.iter().map(|status| s.count(*status)).sum();
    format!(
        "{} objects, {rows} containers ({} distinct images): {}",
        s.objects,
        s.images,
        counts.join(", ")
    )
}

/// Rows padded to the widest cell of each column; the last column is not padded.
pub fn write_aligned<const N: usize>(
    out: &mut impl Write,
    rows: &[[String; N]],
) -> std::io::Result<()> {
    let widths: Vec<usize> = (0..N.saturating_sub(1))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        for (cell, width) in row.iter().zip(&widths) {
            write!(out, "{cell:<width$}  ")?;
        }
        writeln!(out, "{}", row.last().map_or("", String::as_str))?;
    }
    Ok(())
}

fn row(f: &Finding) -> [String; 6] {
    let container = match f.pods {
        0 => f.container.clone(),
        1 => format!("{} (+1 pod)", f.container),
        n => format!("{} (+{n} pods)", f.container),
    };
    [
        f.outcome.label().to_string(),
        f.namespace.clone().unwrap_or_else(|| "-".to_string()),
        f.object(),
        container,
        shown_image(f),
        format!("{}: {}", f.code, f.reason),
    ]
}

/// The image with the digest checked, unless the image already names it.
pub fn shown_image(f: &Finding) -> String {
    match &f.digest {
        Some(d) if !f.image.contains('@') => format!("{}@{d}", f.image),
        _ => f.image.clone(),
    }
}
