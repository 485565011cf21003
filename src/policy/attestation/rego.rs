//! Rego attestation policies, as cosign's `ValidateJSONWithModuleInput` evaluates them for
//! policy-controller: the module must be `package sigstore` (Rego v0 syntax, as cosign parses
//! it), the input is the in-toto Statement, and `data.sigstore.isCompliant` decides:
//!
//! - `true` admits; `false` or undefined denies (`policy is not compliant for query …`);
//! - a set of result objects `{"result": bool, "error": string, "warning": string}`: the first
//!   with `result: true` admits, unless it carries a warning, which policy-controller counts as
//!   a failure of the attestation (`warning: …`); otherwise the last object's `error` is the
//!   message.
//!
//! The interpreter checks its own clock ([`EVALUATION_BUDGET`]); builtins whose output size an
//! argument chooses (`numbers.range`) are refused at load, since one call could allocate
//! without bound between two clock checks.

use std::num::NonZeroU32;

use regorus::utils::limits::ExecutionTimerConfig;
use regorus::{Engine, Value};

use super::{EVALUATION_BUDGET, Evaluation};

/// The rule policy-controller evaluates.
const RULE: &str = "data.sigstore.isCompliant";
/// The query as cosign spells it in its messages.
const QUERY: &str = "isCompliant = data.sigstore.isCompliant";
/// Builtins whose result size is an argument, not the input.
const UNBOUNDED_BUILTINS: &[&str] = &["numbers.range", "numbers.range_step"];
/// Interpreter work units between clock checks.
const CHECK_INTERVAL: u32 = 32;

/// A parsed Rego module, ready to be cloned per evaluation.
#[derive(Debug, Clone)]
pub(super) struct RegoPolicy {
    engine: Engine,
}

impl RegoPolicy {
    /// Parse `text` as module `sigstore.rego`.
    pub(super) fn compile(text: &str) -> Result<RegoPolicy, String> {
        if let Some(builtin) = UNBOUNDED_BUILTINS.iter().find(|b| text.contains(*b)) {
            return Err(format!(
                "the Rego builtin {builtin} is refused: its result is as large as its argument asks, \
                 which no evaluation budget bounds; compute over the input instead"
            ));
        }
        let mut engine = Engine::new();
        engine.set_rego_v0(true);
        let check_interval = NonZeroU32::new(CHECK_INTERVAL).unwrap_or(NonZeroU32::MIN);
        engine.set_execution_timer_config(ExecutionTimerConfig {
            limit: EVALUATION_BUDGET,
            check_interval,
        });
        let package = engine
            .add_policy("sigstore.rego".to_string(), text.to_string())
            .map_err(|e| format!("the Rego module does not parse: {e}"))?;
        if package != "data.sigstore" {
            return Err(format!(
                "the Rego module declares {:?}; policy-controller evaluates {RULE}: declare `package sigstore`",
                package.trim_start_matches("data.")
            ));
        }
        // OPA (policy-controller) compiles the module before any input: unknown functions,
        // unsafe variables and conflicting rules fail there. regorus prepares at the first
        // evaluation, so one is made now, over an empty input; only what it refuses as a
        // module, not what that input makes undefined, is an error.
        let mut trial = engine.clone();
        trial.set_input(Value::new_object());
        if let Err(e) = trial.eval_rule(RULE.to_string()) {
            let message = e.to_string();
            if !is_budget_error(&message) {
                return Err(format!("the Rego module does not compile: {message}"));
            }
        }
        Ok(RegoPolicy { engine })
    }

    /// Evaluate over `statement`.
    pub(super) fn evaluate(&self, statement: &serde_json::Value) -> Evaluation {
        let mut engine = self.engine.clone();
        let input = match Value::from_json_str(&statement.to_string()) {
            Ok(input) => input,
            Err(e) => return Evaluation::Fail(format!("the Statement cannot be read: {e}")),
        };
        engine.set_input(input);
        match engine.eval_rule(RULE.to_string()) {
            Ok(Value::Bool(true)) => Evaluation::Pass,
            Ok(Value::Set(results)) => result_objects(results.iter()),
            Ok(Value::Array(results)) => result_objects(results.iter()),
            Ok(_) => Evaluation::Fail(format!("policy is not compliant for query '{QUERY}'")),
            Err(e) => Evaluation::Fail(evaluation_error(&e.to_string())),
        }
    }
}

/// policy-controller's result objects.
fn result_objects<'v>(results: impl Iterator<Item = &'v Value>) -> Evaluation {
    let mut failure = format!("policy is not compliant for query '{QUERY}'");
    for result in results {
        let Ok(object) =
            serde_json::from_str::<serde_json::Value>(&result.to_json_str().unwrap_or_default())
        else {
            return Evaluation::Fail(format!(
                "policy is not compliant for query '{QUERY}': unreadable result"
            ));
        };
        let text = |key: &str| match object.get(key) {
            None | Some(serde_json::Value::Null) => Ok(String::new()),
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(format!("{key} is {other}, not a string")),
        };
        let compliant = match object.get("result") {
            None | Some(serde_json::Value::Null) => Ok(false),
            Some(serde_json::Value::Bool(b)) => Ok(*b),
            Some(other) => Err(format!("result is {other}, not a boolean")),
        };
        let (compliant, error, warning) = match (compliant, text("error"), text("warning")) {
            (Ok(c), Ok(e), Ok(w)) if object.is_object() => (c, e, w),
            (c, e, w) => {
                let detail = [c.err(), e.err(), w.err()].into_iter().flatten().next();
                return Evaluation::Fail(format!(
                    "policy is not compliant for query '{QUERY}': unexpected result {}",
                    detail.unwrap_or_else(|| object.to_string())
                ));
            }
        };
        match (compliant, warning.is_empty()) {
            (true, true) => return Evaluation::Pass,
            (true, false) => return Evaluation::Fail(format!("warning: {warning}")),
            (false, _) => {
                failure =
                    format!("policy is not compliant for query '{QUERY}' with errors: {error}");
            }
        }
    }
    Evaluation::Fail(failure)
}

/// Whether `error` is the interpreter's clock stopping it.
fn is_budget_error(error: &str) -> bool {
    let lowered = error.to_ascii_lowercase();
    lowered.contains("time limit")
        || lowered.contains("timed out")
        || lowered.contains("execution") && lowered.contains("limit")
}

/// An evaluation error, naming the budget when the clock stopped it.
fn evaluation_error(error: &str) -> String {
    if is_budget_error(error) {
        format!(
            "the Rego evaluation ran over its budget of {} ms: {error}",
            EVALUATION_BUDGET.as_millis()
        )
    } else {
        format!("the Rego evaluation failed: {error}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(policy: &str, input: serde_json::Value) -> Evaluation {
        match RegoPolicy::compile(policy) {
            Ok(p) => p.evaluate(&input),
            Err(e) => Evaluation::Fail(format!("compile: {e}")),
        }
    }

    const E2E: &str = "package sigstore\ndefault isCompliant = false\nisCompliant {\n  input.predicateType == \"https://cosign.sigstore.dev/attestation/v1\"\n  input.predicate.Data == \"foobar e2e test\"\n}\n";

    #[test]
    fn policy_controllers_e2e_policy_admits_its_statement_and_denies_another() {
        let good = json!({"predicateType": "https://cosign.sigstore.dev/attestation/v1", "predicate": {"Data": "foobar e2e test"}});
        assert_eq!(eval(E2E, good), Evaluation::Pass);
        let bad = json!({"predicateType": "https://cosign.sigstore.dev/attestation/v1", "predicate": {"Data": "other"}});
        assert_eq!(
            eval(E2E, bad),
            Evaluation::Fail(
                "policy is not compliant for query 'isCompliant = data.sigstore.isCompliant'"
                    .into()
            )
        );
    }

    #[test]
    fn result_objects_carry_the_policys_error_and_warnings_fail() {
        let policy = "package sigstore\nisCompliant[response] {\n  response := {\"result\": input.ok, \"error\": \"builder.id is not ours\", \"warning\": input.w}\n}\n";
        assert_eq!(eval(policy, json!({"ok": true, "w": ""})), Evaluation::Pass);
        let Evaluation::Fail(denied) = eval(policy, json!({"ok": false, "w": ""})) else {
            panic!("admitted")
        };
        assert!(
            denied.ends_with("with errors: builder.id is not ours"),
            "{denied}"
        );
        assert_eq!(
            eval(policy, json!({"ok": true, "w": "old scan"})),
            Evaluation::Fail("warning: old scan".into())
        );
    }

    #[test]
    fn load_refuses_syntax_errors_other_packages_and_unbounded_builtins() {
        for (policy, wanted) in [
            ("package sigstore\nisCompliant {", "does not parse"),
            (
                "package other\nisCompliant = true",
                "declare `package sigstore`",
            ),
            (
                "package sigstore\nisCompliant { count(numbers.range(1, 1e12)) > 0 }",
                "numbers.range",
            ),
            (
                "package sigstore\nisCompliant { no_such_function(input) }",
                "does not compile",
            ),
        ] {
            let err = RegoPolicy::compile(policy).err().unwrap_or_default();
            assert!(err.contains(wanted), "{policy}: {err}");
        }
    }

    #[test]
    fn a_policy_that_loops_is_stopped_by_the_budget() {
        let policy = "package sigstore\nisCompliant { count([x | some a, b, c, d; input.l[a]; input.l[b]; input.l[c]; input.l[d]; x := a + b + c + d]) > 0 }\n";
        let list: Vec<u32> = (0..200).collect();
        let start = std::time::Instant::now();
        let outcome = eval(policy, json!({ "l": list }));
        // Unbounded, this runs for hours; bounded, it ends near the budget (a wide margin for
        // a busy machine running the other tests beside it).
        assert!(
            start.elapsed() < EVALUATION_BUDGET * 10,
            "{:?}",
            start.elapsed()
        );
        let Evaluation::Fail(message) = outcome else {
            panic!("admitted")
        };
        assert!(message.contains("budget"), "{message}");
    }
}
