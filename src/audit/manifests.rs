//! A GitOps repository as audit targets: every `.yaml`, `.yml` and `.json` file under a
//! directory, recursively, read with the same parser `signet review` uses.
//!
//! A file that is not a Kubernetes manifest (a Helm template, a values file, a broken document)
//! is skipped with a note in the report instead of stopping the audit; hidden directories
//! (`.git`) and symbolic links are not followed. The walk is bounded by [`MAX_FILES`].

use std::path::{Path, PathBuf};

use super::Target;
use crate::manifest::{Document, MAX_MANIFEST_BYTES, parse_manifest};
use crate::workload::{ResourceIdentity, extract_images};

/// Most manifest files read from one directory tree.
pub const MAX_FILES: usize = 20_000;

/// Why a directory could not be audited at all.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The directory (or one below it) cannot be listed.
    #[error("cannot list {path}: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// More than [`MAX_FILES`] manifest files.
    #[error("more than {MAX_FILES} manifest files under {0}")]
    TooManyFiles(PathBuf),
}

/// The targets found under `dir`, and notes about files skipped.
pub fn scan(dir: &Path) -> Result<(Vec<Target>, Vec<String>), ScanError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    let mut targets = Vec::new();
    let mut notes = Vec::new();
    for file in &files {
        let shown = relative(dir, file);
        match read(file) {
            Ok(text) => targets_of(&shown, &text, &mut targets, &mut notes),
            Err(why) => notes.push(format!("skipped {shown}: {why}")),
        }
    }
    Ok((targets, notes))
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), ScanError> {
    let list = |source| ScanError::List {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(list)? {
        let entry = entry.map_err(list)?;
        let path = entry.path();
        let kind = entry.file_type().map_err(list)?;
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if kind.is_dir() && !hidden {
            walk(root, &path, files)?;
        } else if kind.is_file() && is_manifest(&path) {
            if files.len() >= MAX_FILES {
                return Err(ScanError::TooManyFiles(root.to_path_buf()));
            }
            files.push(path);
        }
    }
    Ok(())
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

fn relative(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

fn read(file: &Path) -> Result<String, String> {
    let size = std::fs::metadata(file).map_err(|e| e.to_string())?.len();
    if size > MAX_MANIFEST_BYTES as u64 {
        return Err(format!("over the {MAX_MANIFEST_BYTES}-byte limit"));
    }
    std::fs::read_to_string(file).map_err(|e| e.to_string())
}

/// The workloads of one file; anything unreadable becomes a note.
fn targets_of(shown: &str, text: &str, targets: &mut Vec<Target>, notes: &mut Vec<String>) {
    let documents = match parse_manifest(text) {
        Ok(documents) => documents,
        Err(why) => {
            return notes.push(format!(
                "skipped {shown}: not a Kubernetes manifest ({why})"
            ));
        }
    };
    for document in documents {
        match document {
            Document::Workload(w) => targets.push(Target {
                source: shown.to_string(),
                api_version: string_at(&w.object, "apiVersion"),
                kind: string_at(&w.object, "kind"),
                name: w
                    .display
                    .split_once('/')
                    .map_or("-", |(_, n)| n)
                    .to_string(),
                namespace: w.namespace,
                uses: extract_images(w.kind, &w.object).map_err(|e| e.to_string()),
                running: false,
                owner: None,
                labels: ResourceIdentity::labels_of(&w.object),
            }),
            Document::AdmissionReview(_) => notes.push(format!(
                "skipped an AdmissionReview in {shown}: use `signet review` for those"
            )),
            Document::Other { .. } => {}
        }
    }
}

fn string_at(object: &serde_json::Value, key: &str) -> String {
    object
        .get(key)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("-")
        .to_string()
}
