//! Attestations made by the real cosign (`cosign attest --key`, offline) on images pushed with
//! the real crane to Debian's docker-registry, judged by `signet verify` (the CLI over the same
//! engine as the webhook) under ClusterImagePolicies with `attestations` and Rego, CUE and CEL
//! policies: admitted when a trusted key attested the image's own digest with the predicate type
//! the policy names and the policy accepts the Statement; denied otherwise, naming the
//! attestation, its authority and the policy's own message.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use crate::common::TestRegistry;
use crate::common::cosign::{CosignKey, crane_push};
use crate::common::tools::{run, run_ok, tool};

const SLSA1: &str = "https://slsa.dev/provenance/v1";
const BUILDER: &str = "https://builder.example/ci";

/// `text` indented by `spaces`, for YAML block scalars.
fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines().map(|line| format!("{pad}{line}\n")).collect()
}

/// A ClusterImagePolicy `name` over `glob` with one key authority `builder` (the PEMs of
/// `keys`, `threshold` when several) requiring one attestation of `predicate_type` under a
/// `language` policy `policy` (no policy when `None`).
fn attestation_policy(
    name: &str,
    glob: &str,
    keys: &[&CosignKey],
    predicate_type: &str,
    policy: Option<(&str, &str)>,
) -> String {
    let pems: Vec<String> = keys.iter().map(|k| k.public_pem()).collect();
    attestation_policy_pems(name, glob, &pems, predicate_type, policy)
}

/// [`attestation_policy`] with the keys as PEM text.
fn attestation_policy_pems(
    name: &str,
    glob: &str,
    keys: &[String],
    predicate_type: &str,
    policy: Option<(&str, &str)>,
) -> String {
    let pems: String = keys.concat();
    let threshold = match keys.len() {
        1 => String::new(),
        n => format!("      threshold: {n}\n"),
    };
    let policy = match policy {
        None => String::new(),
        Some((language, text)) => format!(
            "      policy:\n        type: {language}\n        data: |\n{}",
            indent(text, 10)
        ),
    };
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: {name}\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: builder\n    key:\n      \
         data: |\n{}{threshold}    attestations:\n    - name: {predicate_type}\n      predicateType: {predicate_type}\n{policy}",
        indent(&pems, 8)
    )
}

/// A key policy (signatures) over `glob`.
fn signature_policy(glob: &str, key: &CosignKey) -> String {
    format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  name: signed\n\
         spec:\n  images:\n  - glob: \"{glob}\"\n  authorities:\n  - name: signer\n    key:\n      data: |\n{}",
        indent(&key.public_pem(), 8)
    )
}

/// `signet verify` of `image` under the policy documents `policies`: (admitted, output).
fn verify(image: &str, host: &str, policies: &[String]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.yaml");
    std::fs::write(&path, policies.join("---\n")).unwrap();
    let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .arg("verify")
        .arg("--policy")
        .arg(&path)
        .arg(format!("--insecure-registry={host}"))
        .arg(image));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn admitted(image: &str, host: &str, policies: &[String], case: &str) {
    let (admitted, text) = verify(image, host, policies);
    assert!(admitted, "{case}: denied:\n{text}");
}

fn denied(image: &str, host: &str, policies: &[String], case: &str, wanted: &[&str]) {
    let (admitted, text) = verify(image, host, policies);
    assert!(!admitted, "{case}: admitted:\n{text}");
    for want in wanted {
        assert!(text.contains(want), "{case}: no {want:?} in:\n{text}");
    }
}

fn write_predicate(dir: &Path, name: &str, json: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, json).unwrap();
    path
}

fn provenance(builder: &str) -> String {
    format!(
        r#"{{"buildDefinition": {{"buildType": "https://example/build/v1", "externalParameters": {{}}}}, "runDetails": {{"builder": {{"id": "{builder}"}}}}}}"#
    )
}

/// A registry, a cosign key and a directory for predicates, for one test.
struct Setup {
    /// Kept running for the test.
    _registry: TestRegistry,
    host: String,
    glob: String,
    dir: tempfile::TempDir,
    key: CosignKey,
}

impl Setup {
    /// Images under `<host>/<prefix>/`, covered by `glob`.
    fn start(prefix: &str) -> Setup {
        let registry = TestRegistry::start();
        let host = registry.host();
        Setup {
            glob: format!("{host}/{prefix}/**"),
            host,
            _registry: registry,
            dir: tempfile::tempdir().unwrap(),
            key: CosignKey::generate("attest"),
        }
    }

    /// Our builder's provenance and another builder's, as predicate files.
    fn provenances(&self) -> (std::path::PathBuf, std::path::PathBuf) {
        (
            write_predicate(self.dir.path(), "ours.json", &provenance(BUILDER)),
            write_predicate(
                self.dir.path(),
                "theirs.json",
                &provenance("https://evil.example"),
            ),
        )
    }
}

const REGO: &str = r#"package sigstore
isCompliant[response] {
  id := input.predicate.runDetails.builder.id
  response := {
    "result": id == "https://builder.example/ci",
    "error": sprintf("builder.id is %q, not our builder", [id]),
  }
}"#;
const CUE: &str = "predicateType: \"https://slsa.dev/provenance/v1\"\npredicate: runDetails: builder: id: \"https://builder.example/ci\"";
/// Six nested loops over the builder id's characters (26^6 steps): far over any budget.
const LOOPING: &str = "package sigstore\nisCompliant {\n  chars := split(input.predicate.runDetails.builder.id, \"\")\n  count([x | chars[a]; chars[b]; chars[c]; chars[d]; chars[e]; chars[f]; x := a + b + c + d + e + f]) > 0\n}";
const CEL: &str = "predicate.runDetails.builder.id == 'https://builder.example/ci'";

#[test]
fn slsa_provenance_attested_by_cosign_is_admitted_or_denied_under_rego_cue_and_cel() {
    let setup = Setup::start("att");
    let (host, glob, key) = (&setup.host, &setup.glob, &setup.key);
    let (ours, theirs) = setup.provenances();

    let good = crane_push(&format!("{host}/att/good:v1"), "good");
    key.attest(&good, "slsaprovenance1", &ours);
    let bad = crane_push(&format!("{host}/att/bad:v1"), "bad");
    key.attest(&bad, "slsaprovenance1", &theirs);

    for (language, text, message) in [
        (
            "rego",
            REGO,
            "builder.id is \"https://evil.example\", not our builder",
        ),
        (
            "cue",
            CUE,
            "predicate.runDetails.builder.id: conflicting values \"https://builder.example/ci\" and \"https://evil.example\"",
        ),
        ("cel", CEL, "the CEL expression is false"),
    ] {
        let policy = attestation_policy(
            "provenance",
            glob,
            &[key],
            "slsaprovenance1",
            Some((language, text)),
        );
        admitted(
            &good,
            host,
            std::slice::from_ref(&policy),
            &format!("{language}: our builder"),
        );
        denied(
            &bad,
            host,
            &[policy],
            &format!("{language}: another builder"),
            &[
                "AttestationFailed",
                "attestation \"slsaprovenance1\" (slsaprovenance1) from authority \"builder\"",
                message,
            ],
        );
    }
    // The full URI names the same type; without a policy any verified attestation of it admits.
    let by_uri = attestation_policy("provenance", glob, &[key], SLSA1, None);
    admitted(&bad, host, &[by_uri], "no policy, type by URI");
}

#[test]
fn attestations_of_another_type_digest_or_key_and_missing_signatures_deny() {
    let setup = Setup::start("other");
    let (host, glob, key, dir) = (&setup.host, &setup.glob, &setup.key, &setup.dir);
    let stranger = CosignKey::generate("");
    let predicate = write_predicate(dir.path(), "p.json", &provenance(BUILDER));
    let provenance_policy = attestation_policy(
        "provenance",
        glob,
        &[key],
        "slsaprovenance1",
        Some(("cel", CEL)),
    );

    // Another predicate type than the policy names.
    let scanned = crane_push(&format!("{host}/other/scanned:v1"), "scanned");
    let scan = write_predicate(
        dir.path(),
        "vuln.json",
        r#"{"invocation": {"uri": "invocation.example.com/ci"}, "scanner": {"uri": "scanner.example.com", "version": "1", "result": {}}, "metadata": {"scanStartedOn": "2026-12-01T00:00:00Z", "scanFinishedOn": "2026-12-01T00:01:00Z"}}"#,
    );
    key.attest(&scanned, "vuln", &scan);
    denied(
        &scanned,
        host,
        std::slice::from_ref(&provenance_policy),
        "another predicate type",
        &[
            "no verified attestation of type https://slsa.dev/provenance/v1",
            "verified types: https://cosign.sigstore.dev/attestation/vuln/v1",
        ],
    );
    // ... which a vuln policy with time bounds (policy-controller's CUE) admits.
    let window = "import \"time\"\nbefore: time.Parse(time.RFC3339, \"2026-12-02T00:00:00Z\")\nafter: time.Parse(time.RFC3339, \"2026-11-30T00:00:00Z\")\npredicate: {\n  scanner: uri: \"scanner.example.com\"\n  metadata: {\n    scanStartedOn: <before\n    scanStartedOn: >after\n    scanFinishedOn: <before\n  }\n}";
    let vuln_policy = attestation_policy("scan", glob, &[key], "vuln", Some(("cue", window)));
    admitted(&scanned, host, &[vuln_policy], "a vuln scan in the window");

    // Signed by another key.
    let foreign = crane_push(&format!("{host}/other/foreign:v1"), "foreign");
    stranger.attest(&foreign, "slsaprovenance1", &predicate);
    denied(
        &foreign,
        host,
        std::slice::from_ref(&provenance_policy),
        "another key",
        &["none of its 1 signatures verifies with the 1 trusted key(s)"],
    );

    // A valid attestation of another digest, copied under this digest's .att tag.
    let attested = crane_push(&format!("{host}/other/attested:v1"), "attested");
    key.attest(&attested, "slsaprovenance1", &predicate);
    admitted(
        &attested,
        host,
        std::slice::from_ref(&provenance_policy),
        "its own attestation",
    );
    let copy = crane_push(&format!("{host}/other/copy:v1"), "copy");
    let tag = |image: &str| {
        let (repo, digest) = image.split_once('@').unwrap();
        format!("{repo}:{}.att", digest.replace(':', "-"))
    };
    run_ok(Command::new(tool("crane")).args(["copy", "--insecure", &tag(&attested), &tag(&copy)]));
    denied(
        &copy,
        host,
        std::slice::from_ref(&provenance_policy),
        "another digest's attestation",
        &["its Statement is about another image"],
    );

    // An attestation alone where a signature is also required (a second policy).
    let signed_too = [provenance_policy.clone(), signature_policy(glob, key)];
    denied(
        &attested,
        host,
        &signed_too,
        "attested, not signed",
        &["policy \"signed\"", "no signature exists"],
    );
    key.sign(&attested, &[]);
    admitted(&attested, host, &signed_too, "attested and signed");
    // ... and a signature alone does not satisfy the attestation policy.
    let only_signed = crane_push(&format!("{host}/other/only-signed:v1"), "only signed");
    key.sign(&only_signed, &[]);
    denied(
        &only_signed,
        host,
        &signed_too,
        "signed, not attested",
        &["the image has no attestations"],
    );
}

#[test]
fn custom_spdx_thresholds_and_hostile_policies() {
    let setup = Setup::start("more");
    let (host, glob, key, dir) = (&setup.host, &setup.glob, &setup.key, &setup.dir);
    let second = CosignKey::generate("second");

    // custom: cosign wraps the file's text as predicate.Data (policy-controller's e2e policy).
    let custom = crane_push(&format!("{host}/more/custom:v1"), "custom");
    let data = write_predicate(dir.path(), "custom.txt", "foobar key e2e test");
    key.attest(&custom, "custom", &data);
    let e2e = "predicateType: \"https://cosign.sigstore.dev/attestation/v1\"\npredicate: Data: \"foobar key e2e test\"";
    admitted(
        &custom,
        host,
        &[attestation_policy(
            "custom",
            glob,
            &[key],
            "custom",
            Some(("cue", e2e)),
        )],
        "custom e2e",
    );
    let wrong = e2e.replace("foobar key", "other");
    denied(
        &custom,
        host,
        &[attestation_policy(
            "custom",
            glob,
            &[key],
            "custom",
            Some(("cue", &wrong)),
        )],
        "custom e2e, other data",
        &["predicate.Data: conflicting values"],
    );

    // spdxjson, with policy-controller's example policy.
    let sbom = crane_push(&format!("{host}/more/sbom:v1"), "sbom");
    let document = write_predicate(
        dir.path(),
        "sbom.json",
        r#"{"spdxVersion": "SPDX-2.3", "name": "sbom", "packages": []}"#,
    );
    key.attest(&sbom, "spdxjson", &document);
    let example = "predicateType: \"https://spdx.dev/Document\"";
    admitted(
        &sbom,
        host,
        &[attestation_policy(
            "sbom",
            glob,
            &[key],
            "spdxjson",
            Some(("cue", example)),
        )],
        "spdxjson example",
    );

    // Threshold 2: one key's attestation is not enough, both are.
    let twice = crane_push(&format!("{host}/more/twice:v1"), "twice");
    let predicate = write_predicate(dir.path(), "p.json", &provenance(BUILDER));
    key.attest(&twice, "slsaprovenance1", &predicate);
    let both = attestation_policy(
        "two",
        glob,
        &[key, &second],
        "slsaprovenance1",
        Some(("cel", CEL)),
    );
    denied(
        &twice,
        host,
        std::slice::from_ref(&both),
        "one of two keys",
        &["1 of the 2 distinct signers required attested it"],
    );
    second.attest(&twice, "slsaprovenance1", &predicate);
    admitted(&twice, host, &[both], "both keys");

    // A Rego policy that loops is stopped by its budget: denied, naming the budget.
    let looping = LOOPING;
    let stuck = attestation_policy(
        "stuck",
        glob,
        &[key],
        "slsaprovenance1",
        Some(("rego", looping)),
    );
    denied(&twice, host, &[stuck], "a looping Rego policy", &["budget"]);

    // A Statement at the size cap is evaluated; one over it is refused, naming the limit.
    let padding = |n: usize| {
        format!(
            r#"{{"buildDefinition": {{"buildType": "https://example/build/v1", "externalParameters": {{"pad": "{}"}}}}, "runDetails": {{"builder": {{"id": "https://builder.example/ci"}}}}}}"#,
            "a".repeat(n)
        )
    };
    let large = crane_push(&format!("{host}/more/large:v1"), "large");
    key.attest(
        &large,
        "slsaprovenance1",
        &write_predicate(dir.path(), "large.json", &padding(1024 * 1024 - 2048)),
    );
    admitted(
        &large,
        host,
        &[attestation_policy(
            "large",
            glob,
            &[key],
            "slsaprovenance1",
            Some(("cel", CEL)),
        )],
        "a Statement just under the cap",
    );
    let huge = crane_push(&format!("{host}/more/huge:v1"), "huge");
    key.attest(
        &huge,
        "slsaprovenance1",
        &write_predicate(dir.path(), "huge.json", &padding(1024 * 1024 + 16)),
    );
    denied(
        &huge,
        host,
        &[attestation_policy(
            "huge",
            glob,
            &[key],
            "slsaprovenance1",
            Some(("cel", CEL)),
        )],
        "a Statement over the cap",
        &["over Signet's limit of 1048576"],
    );
}

/// A looping Rego policy under the webhook: its image is denied naming the budget, while a
/// review of another image, sent at the same time, is answered (the server keeps serving); a
/// warn-mode policy admits with the words a denial would have.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_keeps_serving_while_a_rego_policy_loops_and_warn_mode_warns() {
    use crate::common::webhook::{
        TestWebhook, WebhookOptions, allowed, container, pod_review, response,
    };
    let registry = TestRegistry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let key = CosignKey::generate("attest");
    let predicate = write_predicate(dir.path(), "p.json", &provenance(BUILDER));
    let slow = crane_push(&format!("{host}/slow/app:v1"), "slow");
    key.attest(&slow, "slsaprovenance1", &predicate);
    let fast = crane_push(&format!("{host}/fast/app:v1"), "fast");
    key.attest(&fast, "slsaprovenance1", &predicate);
    let warned = crane_push(&format!("{host}/warned/app:v1"), "warned");
    key.attest(&warned, "slsaprovenance1", &predicate);
    let looping = LOOPING;
    let lenient = attestation_policy(
        "lenient",
        &format!("{host}/warned/**"),
        &[&key],
        "slsaprovenance1",
        Some((
            "cel",
            "predicate.runDetails.builder.id == 'https://other.example'",
        )),
    ) + "  mode: warn\n";
    let policies = [
        lenient,
        attestation_policy(
            "stuck",
            &format!("{host}/slow/**"),
            &[&key],
            "slsaprovenance1",
            Some(("rego", looping)),
        ),
        attestation_policy(
            "quick",
            &format!("{host}/fast/**"),
            &[&key],
            "slsaprovenance1",
            Some(("cel", CEL)),
        ),
    ];
    let webhook = TestWebhook::start(WebhookOptions::new(
        policies.join("---\n"),
        std::slice::from_ref(&host),
    ))
    .await;
    let (stuck, quick) = tokio::join!(webhook.review_image(&slow), webhook.review_image(&fast));
    assert!(!stuck.0, "the looping policy admitted");
    assert!(stuck.1.contains("budget"), "{}", stuck.1);
    assert!(quick.0, "the other image was denied: {}", quick.1);
    // And it still answers afterwards.
    assert!(webhook.review_image(&fast).await.0);
    // Warn mode admits with the same words as a denial.
    let answer = webhook
        .review(&pod_review("w", vec![container("app", &warned)], vec![]))
        .await;
    assert!(allowed(&answer), "warn mode denied: {answer}");
    let warnings = response(&answer)["warnings"].to_string();
    assert!(
        warnings.contains("attestation \\\"slsaprovenance1\\\" (slsaprovenance1) from authority \\\"builder\\\": the CEL expression is false"),
        "{warnings}"
    );
    webhook.shutdown().await;
}

/// `signet export crio` cannot carry attestations: the authority is left out and reported as
/// `refuses` (the export fails, writing nothing), never exported as a plain signature check,
/// which would admit images without the attestation.
#[test]
fn export_crio_reports_that_it_cannot_carry_attestations() {
    let key = CosignKey::generate("");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.yaml");
    let policy = attestation_policy(
        "provenance",
        "registry.example.com/apps/*",
        &[&key],
        "slsaprovenance1",
        Some(("cel", CEL)),
    );
    std::fs::write(&file, policy).unwrap();
    let out = dir.path().join("out");
    let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["export", "crio", "--policy"])
        .arg(&file)
        .arg("--out")
        .arg(&out));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("refuses: ClusterImagePolicy provenance: authority builder requires attestations [slsaprovenance1 (slsaprovenance1)], which containers-policy.json cannot carry"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
}

mod hostile_envelopes {
    //! Envelopes cosign would not write, pushed by hand under the `.att` tag: what each proves.

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde_json::{Value, json};

    use super::*;
    use crate::common::attestation_layers::push_attestation_layers;
    use crate::common::bundles::pae;
    use crate::common::images::push_image;
    use crate::common::signing::{TestKey, sign};

    const IN_TOTO: &str = "application/vnd.in-toto+json";

    fn statement(digest: &str, predicate: Value) -> Vec<u8> {
        let hex = digest.trim_start_matches("sha256:");
        serde_json::to_vec(&json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": hex}}],
            "predicateType": SLSA1,
            "predicate": predicate,
        }))
        .unwrap()
    }

    /// A DSSE envelope over `payload` with the signatures of `signers` over its PAE.
    fn envelope(payload_type: &str, payload: &[u8], signatures: &[String]) -> Vec<u8> {
        let sigs: Vec<Value> = signatures
            .iter()
            .map(|s| json!({"keyid": "", "sig": s}))
            .collect();
        serde_json::to_vec(&json!({
            "payloadType": payload_type,
            "payload": BASE64.encode(payload),
            "signatures": sigs,
        }))
        .unwrap()
    }

    async fn push_attestations(
        registry: &TestRegistry,
        repo: &str,
        digest: &str,
        envelopes: Vec<Vec<u8>>,
    ) {
        push_attestation_layers(registry, (repo, digest), envelopes, SLSA1, &[]).await;
    }

    #[tokio::test]
    async fn envelopes_are_judged_by_their_trusted_signature_over_the_pae_and_their_statement() {
        let registry = TestRegistry::start();
        let host = registry.host();
        let ours = TestKey::generate();
        let foreign = TestKey::generate();
        let policy = attestation_policy_pems(
            "hand",
            &format!("{host}/hand/**"),
            std::slice::from_ref(&ours.public_pem),
            "slsaprovenance1",
            Some(("cel", CEL)),
        );
        let good = json!({"runDetails": {"builder": {"id": BUILDER}}});
        let check =
            |repo: &'static str,
             envelopes: fn(&str, &TestKey, &TestKey, &Value) -> Vec<Vec<u8>>| {
                let (registry, ours, foreign, good, policy, host) =
                    (&registry, &ours, &foreign, &good, &policy, &host);
                async move {
                    let digest = push_image(registry, &format!("{repo}:v1"), repo).await;
                    push_attestations(
                        registry,
                        repo,
                        &digest,
                        envelopes(&digest, ours, foreign, good),
                    )
                    .await;
                    verify(
                        &format!("{host}/{repo}@{digest}"),
                        host,
                        std::slice::from_ref(policy),
                    )
                }
            };

        // Two signatures, the first foreign: ours verifies, the envelope counts.
        let (ok, text) = check("hand/two", |d, ours, foreign, good| {
            let payload = statement(d, good.clone());
            let signed = pae(IN_TOTO, &payload);
            vec![envelope(
                IN_TOTO,
                &payload,
                &[sign(foreign, &signed), sign(ours, &signed)],
            )]
        })
        .await;
        assert!(ok, "two signatures, one ours: {text}");

        // Only a foreign signature beside ours over the bare payload (not the PAE).
        let (ok, text) = check("hand/bare", |d, ours, foreign, good| {
            let payload = statement(d, good.clone());
            vec![envelope(
                IN_TOTO,
                &payload,
                &[sign(foreign, &pae(IN_TOTO, &payload)), sign(ours, &payload)],
            )]
        })
        .await;
        assert!(
            !ok && text.contains("none of its 2 signatures verifies"),
            "bare payload: {text}"
        );

        // Another payload type, signed correctly.
        let (ok, text) = check("hand/type", |d, ours, _, good| {
            let payload = statement(d, good.clone());
            vec![envelope(
                "application/json",
                &payload,
                &[sign(ours, &pae("application/json", &payload))],
            )]
        })
        .await;
        assert!(
            !ok && text.contains("not an in-toto Statement"),
            "payload type: {text}"
        );

        // A Statement naming the image by sha512 only.
        let (ok, text) = check("hand/sha512", |d, ours, _, good| {
            let mut value: Value = serde_json::from_slice(&statement(d, good.clone())).unwrap();
            value["subject"][0]["digest"] = json!({"sha512": d.trim_start_matches("sha256:")});
            let payload = serde_json::to_vec(&value).unwrap();
            vec![envelope(
                IN_TOTO,
                &payload,
                &[sign(ours, &pae(IN_TOTO, &payload))],
            )]
        })
        .await;
        assert!(
            !ok && text.contains("about another image"),
            "sha512 subject: {text}"
        );

        // A predicate nested 10 000 deep: refused as JSON, no crash.
        let (ok, text) = check("hand/deep", |d, ours, _, _| {
            let hex = d.trim_start_matches("sha256:");
            let deep = format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"digest":{{"sha256":"{hex}"}}}}],"predicateType":"{SLSA1}","predicate":{}1{}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            );
            vec![envelope(IN_TOTO, deep.as_bytes(), &[sign(ours, &pae(IN_TOTO, deep.as_bytes()))])]
        })
        .await;
        assert!(
            !ok && text.contains("recursion limit"),
            "deep nesting: {text}"
        );
    }
}

/// cosign's bundle format (`--new-bundle-format`, cosign 3's default): the attestation is a
/// Sigstore bundle attached as a referrer (the referrers tag on this registry), found with the
/// signatures and judged like an `.att` envelope; an image signature bundle is not an
/// attestation.
#[test]
fn attestations_in_sigstore_bundles_are_found_as_referrers_and_judged() {
    let setup = Setup::start("bundled");
    let (host, glob, key) = (&setup.host, &setup.glob, &setup.key);
    let (ours, theirs) = setup.provenances();
    let policy = attestation_policy(
        "bundled",
        glob,
        &[key],
        "slsaprovenance1",
        Some(("cue", CUE)),
    );

    let good = crane_push(&format!("{host}/bundled/good:v1"), "good");
    key.attest_with(&good, "slsaprovenance1", &ours, &["--new-bundle-format"]);
    admitted(
        &good,
        host,
        std::slice::from_ref(&policy),
        "a bundle from our builder",
    );

    let bad = crane_push(&format!("{host}/bundled/bad:v1"), "bad");
    key.attest_with(&bad, "slsaprovenance1", &theirs, &["--new-bundle-format"]);
    denied(
        &bad,
        host,
        std::slice::from_ref(&policy),
        "a bundle from another builder",
        &["predicate.runDetails.builder.id: conflicting values"],
    );

    // A cosign 3 image signature (a bundle too) is not an attestation.
    let signed = crane_push(&format!("{host}/bundled/signed:v1"), "signed");
    key.sign(&signed, &["--new-bundle-format"]);
    denied(
        &signed,
        host,
        std::slice::from_ref(&policy),
        "a signature bundle only",
        &["no verified attestation of type https://slsa.dev/provenance/v1"],
    );
}

/// policy-controller's own attestation policies (e2e data, examples, and the CUE policies of its
/// tests; tests/fixtures/policy-controller-attestations/PROVENANCE): every ClusterImagePolicy
/// loads with its attestations compiled (one names a TrustRoot object Signet is not given, and
/// is refused for that alone), and the CUE policies decide as its tests expect.
#[test]
fn policy_controllers_attestation_policies_load_and_decide_as_its_tests_expect() {
    use signet::policy::{AttestationPolicy, Evaluation, PolicyLanguage, PolicySet};
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/policy-controller-attestations");
    let mut loaded = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let text = std::fs::read_to_string(&path).unwrap();
        match PolicySet::from_yaml(&text, &name) {
            Ok(set) => {
                let attestations: usize = set
                    .policies()
                    .iter()
                    .flat_map(|p| &p.authorities)
                    .map(|a| a.attestations.len())
                    .sum();
                assert!(attestations > 0, "{name}: no attestation compiled");
                loaded += 1;
            }
            Err(e) => {
                let shown = e.to_string();
                assert!(
                    name.contains("trustroot") && shown.contains("trustRootRef"),
                    "{name}: {shown}"
                );
                assert!(!shown.contains(".attestations"), "{name}: {shown}");
            }
        }
    }
    assert_eq!(loaded, 7, "every fixture but the TrustRoot one loads");

    let cue = |file: &str| {
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        AttestationPolicy::compile(PolicyLanguage::Cue, &text).unwrap()
    };
    let custom = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://cosign.sigstore.dev/attestation/v1",
        "subject": [{"name": "registry.local/demo", "digest": {"sha256": "ab"}}],
        "predicate": {"Data": "foobar e2e test", "Timestamp": "2022-04-07T19:22:25Z"}
    });
    let vuln_predicate: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("vuln-predicate.json")).unwrap())
            .unwrap();
    let vuln = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://cosign.sigstore.dev/attestation/vuln/v1",
        "subject": [{"name": "registry.local/demo", "digest": {"sha256": "ab"}}],
        "predicate": vuln_predicate
    });
    assert_eq!(cue("cue-works.cue").evaluate(&custom), Evaluation::Pass);
    assert!(
        matches!(cue("cue-fails.cue").evaluate(&custom), Evaluation::Fail(m) if m.contains("predicateType"))
    );
    assert_eq!(cue("cue-vuln-works.cue").evaluate(&vuln), Evaluation::Pass);
    assert!(matches!(
        cue("cue-vuln-fails.cue").evaluate(&vuln),
        Evaluation::Fail(_)
    ));
}

/// Keyless attestations in Sigstore bundles (made offline with the test Fulcio and Rekor of
/// tests/common/keyless.rs): admitted when the certificate names an allowed identity, the log
/// entry verifies and the policy accepts the Statement; denied for another identity or another
/// builder.
#[tokio::test(flavor = "multi_thread")]
async fn keyless_attestation_bundles_are_judged_by_identity_and_policy() {
    use crate::common::bundles::{Forgery, attach_bundles, dsse_bundle};
    use crate::common::keyless::{
        GITHUB_ISSUER, Leaf, TestFulcio, TestRekor, keyless_policy, trust_root_yaml,
    };
    use crate::common::push_image;
    use crate::common::webhook::{TestWebhook, WebhookOptions};

    const EMAIL: &str = "release@example.com";
    let registry = TestRegistry::start();
    let (fulcio, rekor) = (TestFulcio::new(), TestRekor::new());
    let glob = format!("{}/**", registry.host());
    let identities = format!("[{{issuer: {GITHUB_ISSUER}, subject: {EMAIL}}}]");
    let policy = keyless_policy("release", &glob, "test-sigstore", &identities)
        + &format!(
            "    attestations:\n    - name: provenance\n      predicateType: slsaprovenance1\n      policy:\n        type: cel\n        data: \"{CEL}\"\n"
        );
    let mut options = WebhookOptions::new(policy, &[registry.host()]);
    options.trust_roots = vec![(
        "trust-root.yaml".into(),
        trust_root_yaml("test-sigstore", &fulcio, &rekor),
    )];
    let webhook = TestWebhook::start(options).await;

    let attest = |digest: &str, builder: &str, email: &str| {
        let hex = digest.trim_start_matches("sha256:");
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "app", "digest": {"sha256": hex}}],
            "predicateType": SLSA1,
            "predicate": {"buildDefinition": {"buildType": "x"}, "runDetails": {"builder": {"id": builder}}},
        });
        let signer = fulcio.issue(&Leaf::email(email, GITHUB_ISSUER));
        dsse_bundle(
            &signer,
            &rekor,
            &serde_json::to_vec(&statement).unwrap(),
            Forgery::default(),
        )
    };
    let host = registry.host();
    for (repo, builder, email, admits, words) in [
        ("kl/good", BUILDER, EMAIL, true, ""),
        (
            "kl/other-builder",
            "https://evil.example",
            EMAIL,
            false,
            "the CEL expression is false",
        ),
        (
            "kl/other-identity",
            BUILDER,
            "mallory@example.com",
            false,
            "none of the authority's identities allows",
        ),
    ] {
        let digest = push_image(&registry, &format!("{repo}:v1"), repo).await;
        attach_bundles(
            &registry,
            repo,
            &digest,
            vec![attest(&digest, builder, email)],
        )
        .await;
        let (admitted, message) = webhook
            .review_image(&format!("{host}/{repo}@{digest}"))
            .await;
        assert_eq!(admitted, admits, "{repo}: {message}");
        assert!(message.contains(words), "{repo}: {message}");
    }
    webhook.shutdown().await;
}
