//! The subset against every CUE attestation policy of policy-controller's tests, e2e data and
//! examples (test/testdata/policies/*.cue, test/testdata/policy-controller/e2e/*attestations*,
//! examples/policies/*attestation*), with the verdicts policy-controller's tests expect.

use serde_json::json;

use super::*;

fn eval(policy: &str, statement: Json) -> Evaluation {
    match CuePolicy::compile(policy) {
        Ok(p) => p.evaluate(&statement),
        Err(e) => Evaluation::Fail(format!("compile: {e}")),
    }
}

fn refused(policy: &str) -> String {
    CuePolicy::compile(policy)
        .err()
        .unwrap_or_else(|| "compiled".into())
}

const CUSTOM: &str = "https://cosign.sigstore.dev/attestation/v1";
const VULN: &str = "https://cosign.sigstore.dev/attestation/vuln/v1";

const CUE_WORKS: &str = "import \"time\"\n\nbefore: time.Parse(time.RFC3339, \"2049-10-09T17:10:27Z\")\n\npredicateType: \"https://cosign.sigstore.dev/attestation/v1\"\n\npredicate: {\n    Timestamp: <before\n}\n";
const CUE_FAILS: &str = "import \"time\"\n\nbefore: time.Parse(time.RFC3339, \"2049-10-09T17:10:27Z\")\n\npredicateType: \"cosignnotreally.sigstore.dev/attestation/v1\"\n\npredicate: {\n    Timestamp: <before\n}\n";

fn vuln_policy(before: &str, suffix: &str) -> String {
    format!(
        "import \"time\"\n\nbefore: time.Parse(time.RFC3339, \"{before}\")\nafter: time.Parse(time.RFC3339, \"2022-03-09T17:10:27Z\")\n\npredicateType: \"https://cosign.sigstore.dev/attestation/vuln/v1\"\n\npredicate: {{\n  invocation: {{\n    // the invocation\n    uri: \"invocation.example.com/cosign-testing{suffix}\"\n  }}\n  scanner: {{\n    uri: \"fakescanner.example.com/cosign-testing{suffix}\"\n  }}\n  metadata: {{\n    scanStartedOn: <before\n    scanStartedOn: >after\n    scanFinishedOn: <before\n    scanFinishedOn: >after\n  }}\n}}\n"
    )
}

fn custom_statement(data: &str) -> Json {
    json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": CUSTOM,
        "subject": [{"name": "registry.local/demo", "digest": {"sha256": "ab"}}],
        "predicate": {"Data": data, "Timestamp": "2022-04-07T19:22:25Z"}
    })
}

fn vuln_statement() -> Json {
    json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": VULN,
        "predicate": {
            "invocation": {"parameters": null, "uri": "invocation.example.com/cosign-testing", "event_id": "", "builder.id": ""},
            "scanner": {"uri": "fakescanner.example.com/cosign-testing", "version": "", "result": null},
            "metadata": {"scanStartedOn": "2022-04-12T00:00:00Z", "scanFinishedOn": "2022-04-12T00:10:00Z"}
        }
    })
}

#[test]
fn cue_works_and_cue_fails_decide_as_policy_controllers_tests_expect() {
    assert_eq!(eval(CUE_WORKS, custom_statement("x")), Evaluation::Pass);
    let Evaluation::Fail(message) = eval(CUE_FAILS, custom_statement("x")) else {
        panic!("cue-fails admitted")
    };
    assert!(
        message.starts_with("predicateType: conflicting values"),
        "{message}"
    );
    let mut late = custom_statement("x");
    late["predicate"]["Timestamp"] = json!("2050-01-01T00:00:00Z");
    let Evaluation::Fail(message) = eval(CUE_WORKS, late) else {
        panic!("a late timestamp admitted")
    };
    assert!(
        message.contains("out of bound <\"2049-10-09T17:10:27Z\""),
        "{message}"
    );
}

#[test]
fn the_vuln_policies_decide_as_policy_controllers_tests_expect() {
    assert_eq!(
        eval(&vuln_policy("2022-04-15T17:10:27Z", ""), vuln_statement()),
        Evaluation::Pass
    );
    // cue-vuln-fails: wrong URIs and a window that ends before the scan.
    let fails = vuln_policy("2022-04-01T17:10:27Z", "-invalid");
    assert!(matches!(
        eval(&fails, vuln_statement()),
        Evaluation::Fail(_)
    ));
    // The window alone.
    let Evaluation::Fail(message) =
        eval(&vuln_policy("2022-04-01T17:10:27Z", ""), vuln_statement())
    else {
        panic!("admitted")
    };
    assert!(
        message.starts_with("predicate.metadata.scanFinishedOn: invalid value"),
        "{message}"
    );
}

#[test]
fn the_e2e_and_example_policies_decide() {
    let e2e = "predicateType: \"https://cosign.sigstore.dev/attestation/v1\"\npredicate: Data: \"foobar key e2e test\"\n";
    assert_eq!(
        eval(e2e, custom_statement("foobar key e2e test")),
        Evaluation::Pass
    );
    let Evaluation::Fail(message) = eval(e2e, custom_statement("other")) else {
        panic!("admitted")
    };
    assert_eq!(
        message,
        "predicate.Data: conflicting values \"foobar key e2e test\" and \"other\""
    );
    let two_attestations = "import \"time\"\nbefore: time.Parse(time.RFC3339, \"2049-10-09T17:10:27Z\")\npredicateType: \"https://cosign.sigstore.dev/attestation/v1\"\npredicate: {\n  Data: \"foobar e2e test\"\n  Timestamp: <before\n}\n";
    assert_eq!(
        eval(two_attestations, custom_statement("foobar e2e test")),
        Evaluation::Pass
    );
    let spdx = "predicateType: \"https://spdx.dev/Document\"\n";
    assert_eq!(
        eval(spdx, json!({"predicateType": "https://spdx.dev/Document"})),
        Evaluation::Pass
    );
    assert!(matches!(
        eval(spdx, custom_statement("x")),
        Evaluation::Fail(_)
    ));
    let config = "config: \"linux/amd64\": config: User: \"65530\"\nconfig: \"linux/arm/v7\": config: User: \"65530\"\n";
    let data = json!({"config": {"linux/amd64": {"config": {"User": "65530"}}, "linux/arm/v7": {"config": {"User": "0"}}}});
    assert!(
        matches!(eval(config, data), Evaluation::Fail(m) if m.starts_with("config.linux/arm/v7.config.User"))
    );
}

#[test]
fn unification_keeps_cues_semantics() {
    // A field the Statement lacks is added, not an error; kinds must agree.
    assert_eq!(eval("predicate: Data: \"x\"", json!({})), Evaluation::Pass);
    assert!(matches!(
        eval("n: 1", json!({"n": "1"})),
        Evaluation::Fail(_)
    ));
    assert!(matches!(
        eval("n: 1", json!({"n": 1.5})),
        Evaluation::Fail(_)
    ));
    assert_eq!(
        eval(
            "n: >=2 & <10, s: =~\"^a\", t: !=\"b\", k: int",
            json!({"n": 3, "s": "abc", "t": "c", "k": 4})
        ),
        Evaluation::Pass
    );
    assert!(matches!(
        eval("s: !~\"^a\"", json!({"s": "abc"})),
        Evaluation::Fail(_)
    ));
    assert!(matches!(
        eval("p: {a: 1}", json!({"p": [1]})),
        Evaluation::Fail(_)
    ));
    assert!(
        matches!(eval("n: <\"x\"", json!({"n": 1})), Evaluation::Fail(m) if m.contains("mismatched types"))
    );
    // The policy contradicting itself is refused at load.
    assert!(refused("a: 1\na: 2").contains("contradicts itself"));
}

#[test]
fn everything_outside_the_subset_is_refused_naming_the_construct() {
    for (policy, named) in [
        (
            "import \"struct\"\na: struct.MaxFields(1)",
            "import \"struct\"",
        ),
        ("a: [1, 2]", "lists"),
        ("a: 1 | 2", "disjunctions"),
        ("#Def: {a: 1}", "definitions"),
        ("a?: 1", "optional field"),
        ("a!: 1", "required field"),
        ("_h: 1", "hidden fields"),
        ("if true {a: 1}", "\"if\""),
        ("a: len(b)", "calls"),
        ("a: b.c", "selectors"),
        ("a: \"\\(b)\"", "interpolation"),
        ("a: *1 | 2", "default markers"),
        ("[string]: 1", "pattern constraints"),
        ("a: 1 + 2", "operator \"+\""),
        (
            "a: time.Parse(time.RFC3339, \"2020-01-01T00:00:00Z\")",
            "without import",
        ),
        ("import \"time\"\na: time.Now()", "only time.Parse"),
        ("a: <b", "not found"),
        ("b: >1\na: <b", "one concrete value"),
        ("a: 1Ki", "multipliers"),
    ] {
        let error = refused(policy);
        assert!(error.contains(named), "{policy}: {error}");
    }
}

#[test]
fn time_parse_is_utc_rfc3339_with_a_trimmed_fraction() {
    assert_eq!(
        rfc3339("2049-10-09T17:10:27Z").as_deref(),
        Ok("2049-10-09T17:10:27Z")
    );
    assert_eq!(
        rfc3339("2022-01-01T02:00:00.500+02:00").as_deref(),
        Ok("2022-01-01T00:00:00.5Z")
    );
    assert!(rfc3339("yesterday").is_err());
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}1{}", "a: {".repeat(40), "}".repeat(40));
    assert!(refused(&deep).contains("nested deeper"));
    let shorthand = format!("{}1", "a: ".repeat(40));
    assert!(refused(&shorthand).contains("nested deeper"));
}
