//! `spec.authorities[].attestations`: which in-toto attestations an authority requires and the
//! policy each one's Statement must satisfy, compiled at load.
//!
//! An entry names a predicate type (cosign's short names or a URI, see `predicate.rs`) and an
//! optional policy over the whole in-toto Statement (`_type`, `subject`, `predicateType`,
//! `predicate`), as policy-controller feeds it to its policy engines:
//!
//! - `rego` (`rego.rs`): the `regorus` crate, Rego v0 syntax, rule `data.sigstore.isCompliant`
//!   (a boolean, or policy-controller's result objects with `result`, `error`, `warning`);
//! - `cue` (`cue.rs`): a subset of CUE implemented here, because no Rust CUE implementation
//!   exists; it covers every CUE attestation policy of policy-controller's tests and
//!   documentation and refuses anything else at load, naming the construct;
//! - `cel` (`cel.rs`, Signet's own): one expression over `predicate`, `predicateType` and
//!   `subject` with the `cel-interpreter` crate, true admits.
//!
//! Every evaluation is bounded: the Statement by [`MAX_STATEMENT_BYTES`], the time by
//! [`EVALUATION_BUDGET`] (Rego's interpreter checks its own clock; the engine also runs each
//! evaluation on a blocking thread under that deadline), and what a policy may allocate by
//! refusing, at load, the Rego builtins whose output size an argument chooses.

mod cel;
mod cue;
mod predicate;
mod rego;

use std::sync::Arc;
use std::time::Duration;

pub use predicate::predicate_uri;

/// The longest an evaluation of one policy over one Statement may take; over it, the
/// attestation fails.
pub const EVALUATION_BUDGET: Duration = Duration::from_millis(500);
/// The largest in-toto Statement (decoded DSSE payload) a policy is evaluated over.
pub const MAX_STATEMENT_BYTES: usize = 1024 * 1024;
/// The largest policy text (`policy.data`, or the ConfigMap value it names).
pub const MAX_POLICY_BYTES: usize = 64 * 1024;

/// One `attestations[]` entry, compiled.
#[derive(Debug, Clone)]
pub struct AttestationRequirement {
    /// `name`, for messages.
    pub name: String,
    /// `predicateType` as written (a short name or a URI), for messages.
    pub predicate_type: String,
    /// The URI the Statement's `predicateType` must equal.
    pub predicate_uri: String,
    /// `policy`; without one any verified attestation of the type satisfies the entry.
    pub policy: Option<Arc<AttestationPolicy>>,
}

/// The policy languages of `policy.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLanguage {
    /// `rego`.
    Rego,
    /// `cue` (Signet's subset).
    Cue,
    /// `cel` (Signet extension).
    Cel,
}

impl PolicyLanguage {
    /// The spelling in `policy.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rego => "rego",
            Self::Cue => "cue",
            Self::Cel => "cel",
        }
    }

    /// Parse `policy.type`.
    pub fn parse(text: &str) -> Option<PolicyLanguage> {
        [Self::Rego, Self::Cue, Self::Cel]
            .into_iter()
            .find(|l| l.as_str() == text)
    }
}

/// A compiled attestation policy.
#[derive(Debug)]
pub struct AttestationPolicy {
    /// The language.
    pub language: PolicyLanguage,
    /// The policy text as loaded (fingerprints hash it).
    pub text: String,
    compiled: Compiled,
}

#[derive(Debug)]
enum Compiled {
    Rego(Box<rego::RegoPolicy>),
    Cue(cue::CuePolicy),
    Cel(cel::CelPolicy),
    /// Its text cannot be read (a ConfigMap missing or too large): every evaluation fails
    /// with why.
    Unavailable(String),
}

/// What one evaluation concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evaluation {
    /// The Statement satisfies the policy.
    Pass,
    /// It does not: the policy's own message, or what went wrong.
    Fail(String),
}

impl AttestationPolicy {
    /// Compile `text` in `language`; the error says what is wrong, for the field's finding.
    pub fn compile(language: PolicyLanguage, text: &str) -> Result<AttestationPolicy, String> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(format!(
                "the policy is {} bytes, over Signet's limit of {MAX_POLICY_BYTES}",
                text.len()
            ));
        }
        let compiled = match language {
            PolicyLanguage::Rego => Compiled::Rego(Box::new(rego::RegoPolicy::compile(text)?)),
            PolicyLanguage::Cue => Compiled::Cue(cue::CuePolicy::compile(text)?),
            PolicyLanguage::Cel => Compiled::Cel(cel::CelPolicy::compile(text)?),
        };
        Ok(AttestationPolicy {
            language,
            text: text.to_string(),
            compiled,
        })
    }

    /// A policy whose text cannot be read now (`why`, with what to do): it denies until it can.
    pub fn unavailable(language: PolicyLanguage, why: String) -> AttestationPolicy {
        AttestationPolicy {
            language,
            text: why.clone(),
            compiled: Compiled::Unavailable(why),
        }
    }

    /// Evaluate the policy over one in-toto Statement (already decoded and size-checked). Runs
    /// on the calling thread: callers on an async runtime use a blocking thread.
    pub fn evaluate(&self, statement: &serde_json::Value) -> Evaluation {
        match &self.compiled {
            Compiled::Rego(p) => p.evaluate(statement),
            Compiled::Cue(p) => p.evaluate(statement),
            Compiled::Cel(p) => p.evaluate(statement),
            Compiled::Unavailable(why) => Evaluation::Fail(why.clone()),
        }
    }
}
