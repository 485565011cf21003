//! The files a command reads: each file given, and every `.yaml`, `.yml` and `.json` file below
//! each directory given (recursively, sorted; hidden entries and symbolic links to directories
//! skipped), so `review DIR` and `policy check DIR` see a whole tree.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// The files of `paths`; a directory without any such file is an error (a wrong path).
pub fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        match path.is_dir() {
            true => {
                let before = out.len();
                walk(path, &mut out)?;
                anyhow::ensure!(
                    out.len() > before,
                    "{}: no .yaml, .yml or .json file in it",
                    path.display()
                );
            }
            false => out.push(path.clone()),
        }
    }
    Ok(out)
}

/// Append the `.yaml`, `.yml` and `.json` files below `dir` to `out`.
pub fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
        let is_manifest = path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
        if path.is_dir() && !path.is_symlink() {
            walk(&path, out)?;
        } else if path.is_file() && is_manifest {
            out.push(path);
        }
    }
    Ok(())
}
