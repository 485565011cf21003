//! `signet verify` run as a person runs it: a policy file written to a temporary directory,
//! the verdict read from the exit status and the output.

use std::path::Path;
use std::process::Command;

use super::tools::run;

/// `signet verify --policy <policy_yaml> <extra...> <image>`: (admitted, stdout and stderr).
pub fn signet_verify(policy_yaml: &str, image: &str, extra: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policy_yaml).expect("write policy");
    signet_verify_file(&path, image, extra)
}

/// `signet verify` with the policy file `path`.
pub fn signet_verify_file(path: &Path, image: &str, extra: &[String]) -> (bool, String) {
    let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("verify")
        .arg("--policy")
        .arg(path)
        .args(extra)
        .arg(image));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}
