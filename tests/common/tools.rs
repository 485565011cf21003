//! The real third-party programs the end-to-end tests run (kube-apiserver, etcd, kubectl, cosign,
//! crane), built from pinned Go module versions by `scripts/tools.sh` into `.tools/` (or
//! `$SIGNET_TOOLS`). A missing tool fails the test with the command that builds it: these tests
//! never skip.

use std::path::PathBuf;
use std::process::{Command, Output};

/// Where `scripts/tools.sh` keeps the tools.
fn tools_dir() -> PathBuf {
    match std::env::var_os("SIGNET_TOOLS") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools"),
    }
}

/// The path of a built tool: `.tools/<package>-<version>/<name>` for whichever version was built.
pub fn tool(name: &str) -> PathBuf {
    let package = match name {
        "kube-apiserver" | "kubectl" | "etcd" => "kube",
        other => other,
    };
    let dir = tools_dir();
    let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| {
                path.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{package}-v")))
                    && path.join(".done").exists()
            })
            .map(|path| path.join(name))
            .find(|path| path.exists())
    });
    found.unwrap_or_else(|| {
        panic!(
            "{name} is not built under {}: run scripts/tools.sh (scripts/test.sh does)",
            dir.display()
        )
    })
}

/// Runs a tool to completion; panics (with its output) when it cannot be started.
pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs a tool that must succeed and returns its standard output.
pub fn run_ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}
