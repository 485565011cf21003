//! DSSE envelopes and the in-toto statements they carry: the pre-authentication encoding a DSSE
//! signature is made over, and the statement's subjects and predicate type, parsed strictly
//! enough that a statement cannot name two conflicting subjects lists or types. What a statement
//! must say for an image is decided in `bundle.rs`.

use std::collections::BTreeMap;

use serde::Deserialize;

/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto statement types read.
pub const STATEMENT_TYPES: &[&str] = &[
    "https://in-toto.io/Statement/v1",
    "https://in-toto.io/Statement/v0.1",
];
/// The predicate type of a cosign 3 image signature (`cosign sign` with bundles).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// DSSE v1 pre-authentication encoding: `DSSEv1 <len type> <type> <len body> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// What an in-toto statement claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// `predicateType`.
    pub predicate_type: String,
    /// Each subject's name (may be empty) and digests by algorithm (hex).
    pub subjects: Vec<StatementSubject>,
}

/// One `subject[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementSubject {
    /// `name`, empty when absent (cosign 3 image signatures name none).
    pub name: String,
    /// `digest`: algorithm -> lowercase hex.
    pub digest: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Wire {
    #[serde(rename = "_type")]
    statement_type: String,
    subject: Vec<WireSubject>,
    predicate_type: String,
    #[serde(default)]
    #[allow(dead_code)]
    predicate: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct WireSubject {
    #[serde(default)]
    name: String,
    digest: BTreeMap<String, String>,
}

/// Most subjects read from one statement.
const MAX_SUBJECTS: usize = 1024;

/// Parse an in-toto statement (the DSSE payload, exactly as signed).
pub fn parse_statement(payload_type: &str, payload: &[u8]) -> Result<Statement, String> {
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "DSSE payload type {payload_type:?} is not an in-toto statement"
        ));
    }
    let wire: Wire =
        serde_json::from_slice(payload).map_err(|e| format!("not an in-toto statement: {e}"))?;
    if !STATEMENT_TYPES.contains(&wire.statement_type.as_str()) {
        return Err(format!(
            "unknown in-toto statement type {:?}",
            wire.statement_type
        ));
    }
    if wire.subject.len() > MAX_SUBJECTS {
        return Err("the statement has too many subjects".into());
    }
    Ok(Statement {
        predicate_type: wire.predicate_type,
        subjects: wire
            .subject
            .into_iter()
            .map(|s| StatementSubject {
                name: s.name,
                digest: s.digest,
            })
            .collect(),
    })
}

impl Statement {
    /// The subject whose `algorithm` digest is `hex` (compared case-insensitively).
    pub fn subject_for(&self, algorithm: &str, hex: &str) -> Option<&StatementSubject> {
        self.subjects.iter().find(|s| {
            s.digest
                .get(algorithm)
                .is_some_and(|d| d.eq_ignore_ascii_case(hex))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_v1_encoding() {
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn a_cosign_3_statement_names_the_digest_and_the_sign_predicate() {
        let payload = br#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{"sha256":"c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172"},"annotations":{}}],"predicateType":"https://sigstore.dev/cosign/sign/v1"}"#;
        let statement = parse_statement(IN_TOTO_PAYLOAD_TYPE, payload).unwrap();
        assert_eq!(statement.predicate_type, COSIGN_SIGN_PREDICATE);
        let hex = "C811D58DE79C92F03214E63AA339484E488D694AE8A6283B5F3F17A9FAF50172";
        assert_eq!(statement.subject_for("sha256", hex).unwrap().name, "");
        assert!(statement.subject_for("sha512", hex).is_none());
    }

    #[test]
    fn other_payload_types_and_statement_types_are_refused() {
        assert!(parse_statement("application/json", b"{}").is_err());
        let old = br#"{"_type":"https://example.com/Other","subject":[],"predicateType":"x"}"#;
        assert!(parse_statement(IN_TOTO_PAYLOAD_TYPE, old).is_err());
    }
}
