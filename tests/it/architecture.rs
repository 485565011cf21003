//! The flow goes one way: a stage may use earlier stages only. This test reads `src/` and fails
//! on any `crate::<later stage>` path in a stage module, so the rule in the conventions cannot
//! drift silently.

// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

/// Pipeline order. The edges (admission, audit, cluster, manifest, reload, server) may use any of these.
const STAGES: [&str; 8] = [
    "workload",
    "reference",
    "policy",
    "registry",
    "signature",
    "verdict",
    "engine",
    "admission",
];

/// Modules that sit on top of the engine and are used by no stage (`cluster`: the Kubernetes
/// client, a shell beside `server`).
const EDGES: [&str; 6] = [
    "admission",
    "audit",
    "cluster",
    "manifest",
    "reload",
    "server",
];

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

/// The stage a source file belongs to: `src/<stage>.rs` or `src/<stage>/...`.
fn stage_of(file: &str) -> Option<&'static str> {
    let rel = file.split("/src/").nth(1)?;
    let first = rel.split('/').next()?.trim_end_matches(".rs");
    STAGES
        .iter()
        .chain(EDGES.iter())
        .find(|s| **s == first)
        .copied()
}

#[test]
fn no_stage_uses_a_later_stage_or_an_edge() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut violations = Vec::new();
    for (file, text) in &files {
        let Some(stage) = stage_of(file) else {
            continue;
        };
        let Some(position) = STAGES.iter().position(|s| *s == stage) else {
            continue;
        };
        let later = STAGES[position + 1..]
            .iter()
            .chain(EDGES.iter().filter(|e| **e != stage));
        for forbidden in later {
            if text.contains(&format!("crate::{forbidden}")) {
                violations.push(format!("{file} ({stage}) uses crate::{forbidden}"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "backward dependencies:\n{}",
        violations.join("\n")
    );
    assert!(files.len() > 20, "read the sources");
}

/// The Kubernetes API client lives in the shells that need it, `cluster` (policy objects, pull
/// secrets) and `audit` (listing pods, writing PolicyReports), and the CLI that starts them: the
/// engine and its stages never talk to the API server, so the same verdict comes out with or
/// without one.
#[test]
fn only_the_cluster_shell_uses_the_kubernetes_client() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let client_paths = [
        "kube::Client",
        "kube::api",
        "kube::runtime",
        "kube::discovery",
    ];
    let offenders: Vec<String> = files
        .iter()
        .filter(|(file, _)| {
            !["/src/cluster/", "/src/audit/", "/src/cli/"]
                .iter()
                .any(|shell| file.contains(shell))
        })
        .filter(|(_, text)| client_paths.iter().any(|p| text.contains(p)))
        .map(|(file, _)| file.clone())
        .collect();
    assert!(
        offenders.is_empty(),
        "Kubernetes client outside src/cluster: {offenders:?}"
    );
}

/// The server learns nothing of the Kubernetes API: would-deny decisions leave it through
/// `server::WouldDenySink`, which `cluster::events` implements with a bounded queue, so an Event
/// writer stuck on the API server cannot hold up an admission answer.
#[test]
fn the_server_does_not_use_the_cluster_shell() {
    let mut files = Vec::new();
    sources(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src/server"),
        &mut files,
    );
    let offenders: Vec<&String> = files
        .iter()
        .filter(|(_, text)| text.contains("crate::cluster") || text.contains("kube::api"))
        .map(|(file, _)| file)
        .collect();
    assert!(files.len() >= 3, "read the server sources");
    assert!(
        offenders.is_empty(),
        "server uses the cluster shell: {offenders:?}"
    );
}

/// Modules that must stay away from some others, with why. Mirrors only change where bytes are
/// read from, never what a policy or a signature identity says; placeholders are decided from the
/// policy alone, without a registry call.
#[test]
fn mirrors_relocate_reads_and_placeholders_stay_offline() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rules = [
        (
            "registry/mirrors/mod.rs",
            ["crate::policy", "crate::signature"],
        ),
        (
            "registry/mirrors/containerd.rs",
            ["crate::policy", "crate::signature"],
        ),
        (
            "engine/placeholders.rs",
            ["crate::registry", "super::cache"],
        ),
    ];
    for (file, forbidden) in rules {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        for path in forbidden {
            assert!(!text.contains(path), "src/{file} uses {path}");
        }
    }
}

/// The engine decides an image in `engine/evaluate.rs`; the steps it calls (the cluster's floor
/// over namespaced policies, `requireDigest` pinning, multi-arch selection, one policy judged on
/// one digest) never call back into it, nor reach for the whole `Engine`: they get what they
/// need as arguments, so the decision reads one way.
#[test]
fn engine_steps_do_not_call_back_into_the_decision() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/engine");
    let steps = [
        "authorities.rs",
        "multi_arch.rs",
        "namespaced.rs",
        "require_digest.rs",
    ];
    let mut offenders = Vec::new();
    for step in steps {
        let text = std::fs::read_to_string(root.join(step)).unwrap();
        for name in ["evaluate", "Engine"] {
            if text.contains(name) {
                offenders.push(format!("src/engine/{step} names {name}"));
            }
        }
    }
    let decision = std::fs::read_to_string(root.join("evaluate.rs")).unwrap();
    assert!(
        decision.contains("multi_arch::") && decision.contains("require_digest::"),
        "evaluate.rs no longer calls the steps this test guards; update the list"
    );
    assert!(offenders.is_empty(), "steps calling back: {offenders:?}");
}
