//! Tests of the Notation envelope verifier: the Notary Project's own vectors (`vectors.rs`,
//! fixtures under tests/fixtures/notation with their PROVENANCE) and envelopes made and forged
//! here (`forged.rs`).

mod cli;
mod forged;
mod vectors;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub(super) fn at(seconds: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(seconds).unwrap())
}

pub(super) fn failed(outcome: &super::CheckOutcome) -> &str {
    match outcome {
        super::CheckOutcome::Failed(why) => why,
        other => panic!("expected a failed check, got {other:?}"),
    }
}

/// The check failed, in words that contain `words`.
pub(super) fn assert_fails(outcome: &super::CheckOutcome, words: &str) {
    let why = failed(outcome);
    assert!(why.contains(words), "{words:?} not in {why:?}");
}

/// An `x509.subject` trusted identity of these attribute pairs.
pub(super) fn subject(pairs: &[(&str, &str)]) -> super::TrustedIdentity {
    let pairs = pairs
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()));
    super::TrustedIdentity::Subject(pairs.collect())
}
