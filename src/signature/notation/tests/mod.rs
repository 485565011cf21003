//! Tests of the Notation envelope verifier: the Notary Project's own vectors (`vectors.rs`,
//! fixtures under tests/fixtures/notation with their PROVENANCE) and envelopes made and forged
//! here (`forged.rs`).

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
