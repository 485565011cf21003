//! CEL attestation policies (Signet's `policy.type: cel`): one expression, in the language
//! Kubernetes' ValidatingAdmissionPolicy uses, over the variables `predicate`, `predicateType`
//! and `subject` of the in-toto Statement (the `cel-interpreter` crate); as a `spec.policy`, over
//! `authorityMatches`, `spec`, `metadata` and `typemeta` of the result. `true` admits; `false`,
//! another type or an error denies, saying which. A variable the input lacks is `null`.
//!
//! CEL has no unbounded loops (its macros iterate over the input), so the Statement's size
//! caps the work; the parser recurses, so the text is capped in length and bracket nesting.

use cel_interpreter::{Context, Program, Value};
use serde_json::Value as Json;

use super::Evaluation;

/// Longest expression accepted.
const MAX_EXPRESSION_BYTES: usize = 16 * 1024;
/// Deepest bracket nesting accepted (the parser recurses on it).
const MAX_NESTING: usize = 32;
/// The variables a policy sees: a Statement's, then a `spec.policy` input's.
pub(super) const VARIABLES: [&str; 7] = [
    "predicate",
    "predicateType",
    "subject",
    "authorityMatches",
    "spec",
    "metadata",
    "typemeta",
];

/// A parsed CEL expression.
pub(super) struct CelPolicy {
    program: Program,
}

impl std::fmt::Debug for CelPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CelPolicy")
    }
}

impl CelPolicy {
    /// Parse `text`.
    pub(super) fn compile(text: &str) -> Result<CelPolicy, String> {
        if text.len() > MAX_EXPRESSION_BYTES {
            return Err(format!(
                "the CEL expression is {} bytes, over Signet's limit of {MAX_EXPRESSION_BYTES}",
                text.len()
            ));
        }
        let mut depth = 0usize;
        for c in text.chars() {
            match c {
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth > MAX_NESTING {
                return Err(format!(
                    "the CEL expression nests brackets deeper than {MAX_NESTING}"
                ));
            }
        }
        // The parser panics on some malformed input (an unreachable visitor in antlr4rust):
        // a policy must never take the process down, so a panic is a parse error.
        let source = text.trim();
        match std::panic::catch_unwind(|| Program::compile(source)) {
            Ok(Ok(program)) => Ok(CelPolicy { program }),
            Ok(Err(e)) => Err(format!("the CEL expression does not parse: {e}")),
            Err(_) => Err("the CEL expression does not parse".into()),
        }
    }

    /// Evaluate over `statement`.
    pub(super) fn evaluate(&self, statement: &Json) -> Evaluation {
        let mut context = Context::default();
        for name in VARIABLES {
            let value = statement.get(name).cloned().unwrap_or(Json::Null);
            if let Err(e) = context.add_variable(name, value) {
                return Evaluation::Fail(format!("the input's {name} cannot be read: {e}"));
            }
        }
        let run = std::panic::AssertUnwindSafe(|| self.program.execute(&context));
        let Ok(result) = std::panic::catch_unwind(run) else {
            return Evaluation::Fail("the CEL evaluation failed".into());
        };
        match result {
            Ok(Value::Bool(true)) => Evaluation::Pass,
            Ok(Value::Bool(false)) => Evaluation::Fail("the CEL expression is false".into()),
            Ok(other) => Evaluation::Fail(format!(
                "the CEL expression gave {:?}, not a boolean",
                other.type_of()
            )),
            Err(e) => Evaluation::Fail(format!("the CEL evaluation failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement() -> Json {
        json!({
            "predicateType": "https://slsa.dev/provenance/v1",
            "subject": [{"name": "r/x", "digest": {"sha256": "ab"}}],
            "predicate": {"runDetails": {"builder": {"id": "https://builder.example/ci"}}, "buildDefinition": {"resolvedDependencies": [{"uri": "git+https://x"}]}}
        })
    }

    fn eval(text: &str) -> Evaluation {
        match CelPolicy::compile(text) {
            Ok(p) => p.evaluate(&statement()),
            Err(e) => Evaluation::Fail(format!("compile: {e}")),
        }
    }

    #[test]
    fn true_admits_false_and_other_types_and_errors_deny() {
        assert_eq!(
            eval("predicate.runDetails.builder.id == 'https://builder.example/ci'"),
            Evaluation::Pass
        );
        assert_eq!(
            eval("predicateType.startsWith('https://slsa.dev/') && size(subject) == 1"),
            Evaluation::Pass
        );
        assert_eq!(
            eval("predicate.buildDefinition.resolvedDependencies.all(d, d.uri.startsWith('git+'))"),
            Evaluation::Pass
        );
        assert_eq!(
            eval("predicate.runDetails.builder.id == 'evil'"),
            Evaluation::Fail("the CEL expression is false".into())
        );
        assert!(
            matches!(eval("predicateType"), Evaluation::Fail(m) if m.contains("not a boolean"))
        );
        assert!(
            matches!(eval("predicate.nothing.here == 1"), Evaluation::Fail(m) if m.contains("evaluation failed"))
        );
    }

    #[test]
    fn load_refuses_syntax_errors_and_deep_nesting() {
        assert!(
            CelPolicy::compile("predicate ==")
                .err()
                .unwrap_or_default()
                .contains("does not parse")
        );
        let deep = format!("{}true{}", "(".repeat(100), ")".repeat(100));
        assert!(
            CelPolicy::compile(&deep)
                .err()
                .unwrap_or_default()
                .contains("deeper")
        );
    }
}
