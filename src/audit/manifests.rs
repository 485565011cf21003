//! A GitOps repository as audit targets: every `.yaml`, `.yml` and `.json` file under a
//! directory, recursively, read with the same parser `signet review` uses.
//!
//! A file that is not a Kubernetes manifest (a Helm template, a values file, a broken document)
//! is skipped with a note in the report instead of stopping the audit, but a tree where every
//! file was skipped is an error: a CI gate must not pass on garbage. A `kustomization.yaml` is not
//! rendered (its `images:` overrides and patches are not applied): that is said in a note the
//! CLI also prints. Hidden directories (`.git`) and symbolic links are not followed. The walk is
//! bounded by [`MAX_FILES`].

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
    /// No `.yaml`, `.yml` or `.json` file at all.
    #[error("found no .yaml, .yml or .json file under {0}: check the path given to --manifests")]
    NoFiles(PathBuf),
    /// Every file was skipped: nothing was audited.
    #[error(
        "every one of the {count} file(s) under {dir} was skipped, so nothing was audited \
         (first: {first}); fix them or point --manifests at the rendered manifests"
    )]
    AllSkipped {
        /// The directory.
        dir: PathBuf,
        /// How many files.
        count: usize,
        /// The first note, to start from.
        first: String,
    },
}

/// What a scan found: the targets, and notes about skipped files and unrendered
/// kustomizations.
#[derive(Debug, Default)]
pub struct Scanned {
    /// The workloads found.
    pub targets: Vec<Target>,
    /// Files skipped, and kustomizations not applied.
    pub notes: Vec<String>,
    /// The `kustomization.yaml` files seen (relative paths); their overrides are not applied.
    pub kustomizations: Vec<String>,
}

/// The targets found under `dir`, and notes about files skipped.
pub fn scan(dir: &Path) -> Result<Scanned, ScanError> {
    let mut files = Vec::new();
    walk(dir, dir, &mut files)?;
    files.sort();
    if files.is_empty() {
        return Err(ScanError::NoFiles(dir.to_path_buf()));
    }
    let mut scanned = Scanned::default();
    let mut skipped = 0;
    for file in &files {
        let shown = relative(dir, file);
        if is_kustomization(file) {
            scanned.notes.push(kustomization_note(&shown));
            scanned.kustomizations.push(shown);
            continue;
        }
        let before = scanned.notes.len();
        match read(file) {
            Ok(text) => targets_of(&shown, &text, &mut scanned.targets, &mut scanned.notes),
            Err(why) => scanned.notes.push(format!("skipped {shown}: {why}")),
        }
        let unread = format!("skipped {shown}: ");
        if scanned.notes[before..]
            .iter()
            .any(|n| n.starts_with(&unread))
        {
            skipped += 1;
        }
    }
    if skipped + scanned.kustomizations.len() == files.len() {
        return Err(ScanError::AllSkipped {
            dir: dir.to_path_buf(),
            count: files.len(),
            first: scanned.notes.first().cloned().unwrap_or_default(),
        });
    }
    Ok(scanned)
}

/// `kustomization.yaml` or `kustomization.yml`: kustomize's file names.
fn is_kustomization(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| matches!(n, "kustomization.yaml" | "kustomization.yml"))
}

fn kustomization_note(shown: &str) -> String {
    format!(
        "{shown} is a kustomization and is not rendered: its images:, patches and name \
         prefixes are NOT applied, so the files beside it are audited as written; to audit what \
         is deployed, run `kustomize build` and audit its output"
    )
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
