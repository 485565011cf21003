//! Conformance with sigstore policy-controller's own policy fixtures
//! (`test/testdata/policy-controller/{valid,invalid}` of github.com/sigstore/policy-controller,
//! copied under ../shared/fixtures/third_party/policy-controller; see its README for the commit).
//!
//! policy-controller's `e2e_test_policy_crd.sh` creates each file in a cluster: every `valid/`
//! file must be accepted, every `invalid/` file refused with each `# ERROR:` line of the file in
//! the error text. Here the same files go through `validate_document` (policy-controller's rules,
//! no compilation), and each invalid file must be refused as `Invalid` with every field path of
//! its `# ERROR:` lines in the message. The tally also reports how many expected lines appear
//! verbatim. Finally it reports which valid files Signet can compile, and why the others are
//! `Unsupported`.
// Test code: a failed expectation should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::path::{Path, PathBuf};

use signet::policy::{LoadErrorKind, PolicySet, validate_document};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/fixtures/third_party/policy-controller/test/testdata/policy-controller"
);

/// The `*.yaml` files of one fixture directory, sorted; empty if the directory is missing
/// (each test then fails on the count).
fn yaml_files(set: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(Path::new(FIXTURES).join(set))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

/// The expected error lines, as the e2e script cuts them: everything after `ERROR:`.
fn expected_errors(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.split_once("ERROR:"))
        .map(|(_, expected)| expected.trim().to_string())
        .collect()
}

/// The field paths inside an expected error line (`spec.authorities[0].key.data`, or the
/// `keyless.identities` of the API server's message).
fn field_paths(expected: &str) -> Vec<String> {
    expected
        .split([' ', ','])
        .map(|token| token.trim_end_matches(':'))
        .filter(|token| is_field_path(token))
        .map(str::to_string)
        .collect()
}

fn is_field_path(token: &str) -> bool {
    let segment = |s: &str| {
        let name = s.split('[').next().unwrap_or("");
        name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    token.contains('.') && token.split('.').all(segment)
}

#[test]
fn valid_policy_controller_fixtures_pass_validation() {
    let files = yaml_files("valid");
    assert!(!files.is_empty(), "no fixtures under {FIXTURES}/valid");
    let mut accepted = 0;
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        match validate_document(&text, &file.display().to_string()) {
            Ok(()) => accepted += 1,
            Err(e) => eprintln!("REFUSED valid fixture: {e}"),
        }
    }
    println!(
        "policy-controller valid/: {accepted}/{} accepted",
        files.len()
    );
    assert_eq!(accepted, files.len());
}

#[test]
fn invalid_policy_controller_fixtures_are_refused_naming_their_fields() {
    let files = yaml_files("invalid");
    assert!(!files.is_empty(), "no fixtures under {FIXTURES}/invalid");
    let (mut refused, mut verbatim, mut lines) = (0, 0, 0);
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let expected = expected_errors(&text);
        assert!(!expected.is_empty(), "{}: no ERROR line", file.display());
        let err = match validate_document(&text, &file.display().to_string()) {
            Ok(()) => panic!("{}: accepted, want an error", file.display()),
            Err(e) => e,
        };
        let LoadErrorKind::Invalid(message) = &err.kind else {
            panic!("{}: want Invalid, got {err}", file.display());
        };
        for line in &expected {
            let paths = field_paths(line);
            assert!(
                !paths.is_empty(),
                "{}: no field path in {line:?}",
                file.display()
            );
            for path in paths {
                assert!(
                    message.contains(&path),
                    "{}: {path:?} not in {message:?}",
                    file.display()
                );
            }
            lines += 1;
            verbatim +=
                usize::from(message.contains(line.trim_start_matches("validation failed: ")));
        }
        refused += 1;
    }
    println!(
        "policy-controller invalid/: {refused}/{} refused with the expected fields; {verbatim}/{lines} expected lines verbatim",
        files.len()
    );
}

/// Fields Signet refuses in every valid fixture that uses them, by design or for another issue:
/// KMS keys (a cloud API at every review) and Secrets (read in cluster mode only; these files are
/// loaded as files). Attestations (with their CUE policies) and RSA with `hashAlgorithm: sha512`
/// load.
const REFUSED_FIELDS: [&str; 3] = [".kms", ".secretRef", ".signaturePullSecrets"];

/// Every field an `Unsupported` error names: its own and the "also not supported" list.
fn refused_fields(e: &signet::policy::LoadError) -> Vec<String> {
    let shown = e.to_string();
    let also: Vec<String> = shown
        .rsplit_once("(also not supported: ")
        .map(|(_, rest)| {
            rest.trim_end_matches(')')
                .split(", ")
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    e.field.iter().cloned().chain(also).collect()
}

/// The fixture without what [`REFUSED_FIELDS`] names: authorities with a KMS key or a Secret
/// dropped, `signaturePullSecrets` removed. `None` when no authority is left.
fn without_refused(text: &str) -> Option<String> {
    let mut out = Vec::new();
    for document in serde_yaml::Deserializer::from_str(text) {
        let mut value: serde_yaml::Value = serde::Deserialize::deserialize(document).unwrap();
        let authorities = value["spec"]["authorities"].as_sequence_mut()?;
        authorities.retain(|a| {
            let key = |k: &str| !a[k]["kms"].is_null() || !a[k]["secretRef"].is_null();
            !(key("key")
                || !a["keyless"]["ca-cert"]["kms"].is_null()
                || !a["keyless"]["ca-cert"]["secretRef"].is_null())
        });
        for authority in authorities.iter_mut() {
            for source in authority["source"].as_sequence_mut().into_iter().flatten() {
                if let Some(map) = source.as_mapping_mut() {
                    map.remove("signaturePullSecrets");
                }
            }
        }
        if authorities.is_empty() {
            return None;
        }
        out.push(serde_yaml::to_string(&value).unwrap());
    }
    Some(out.join("---\n"))
}

/// Every valid policy-controller fixture loads, or is refused only for [`REFUSED_FIELDS`] (each
/// named); and with those authorities taken out, the rest of every file loads (so `spec.match`,
/// globs, keyless with no trust root, `hashAlgorithm`, `insecureIgnoreSCT`, `source` all
/// compile). Prints the table of the report.
#[test]
fn valid_fixtures_load_or_are_refused_only_for_kms_secrets_or_rsa_sha512() {
    let files = yaml_files("valid");
    assert_eq!(files.len(), 14, "policy-controller's valid/ holds 14 files");
    println!("| file | as is | without KMS and Secret authorities |");
    println!("|---|---|---|");
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        let as_is = match PolicySet::from_yaml(&text, &name) {
            Ok(set) => format!("loads ({} policies)", set.policies().len()),
            Err(e) => {
                assert!(matches!(e.kind, LoadErrorKind::Unsupported(_)), "{e}");
                let fields = refused_fields(&e);
                assert!(!fields.is_empty(), "{e}");
                for field in &fields {
                    assert!(
                        REFUSED_FIELDS.iter().any(|f| field.ends_with(f)),
                        "{name}: refused for {field}: {e}"
                    );
                }
                if e.field.as_deref().is_some_and(|f| f.ends_with("key.kms")) {
                    assert!(e.to_string().contains("key.data"), "{e}");
                }
                format!("refused: {}", fields.join(", "))
            }
        };
        let rest = match without_refused(&text) {
            None => "no authority left".to_string(),
            Some(rest) => match PolicySet::from_yaml(&rest, &name) {
                Ok(set) => format!("loads ({} policies)", set.policies().len()),
                Err(e) => panic!("{name} without refused authorities: {e}"),
            },
        };
        println!("| {name} | {as_is} | {rest} |");
    }
}
