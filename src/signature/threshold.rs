//! Signet's `threshold` extension: how many *distinct* trusted signers must have signed. Key
//! authorities count distinct trusted keys (the same key twice counts once); keyless
//! authorities count distinct allowed identities, each filled by a different certificate
//! identity (a maximum matching, so one signer whose certificate matches two identities fills
//! only one). With a threshold of 1 this is policy-controller's any-of. It only counts
//! acceptances the signature checks produced; it verifies nothing itself.

use crate::policy::CertificateIdentity;

use super::keyless::identity_allowed;
use super::{Acceptance, Mismatch};

/// Most signers named in a message.
const MAX_NAMED: usize = 8;

/// Acceptances, and each other signature's reason, for one authority.
#[derive(Default)]
pub(super) struct Tally {
    accepted: Vec<Acceptance>,
    reasons: Vec<Mismatch>,
}

impl Tally {
    /// Nothing examined yet.
    pub(super) fn new() -> Tally {
        Tally::default()
    }

    /// Record one signature's result.
    pub(super) fn add(&mut self, result: Result<Acceptance, Mismatch>) {
        match result {
            Ok(acceptance) => self.accepted.push(acceptance),
            Err(mismatch) => self.reasons.push(mismatch),
        }
    }

    /// Distinct trusted keys among the acceptances, in the order first seen.
    pub(super) fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for a in &self.accepted {
            if !keys.contains(&a.key_fingerprint) {
                keys.push(a.key_fingerprint.clone());
            }
        }
        keys
    }

    /// Distinct allowed identities filled by distinct certificate identities: the signers.
    pub(super) fn identities(&self, allowed: &[CertificateIdentity]) -> Vec<String> {
        let mut signers: Vec<(String, Vec<usize>)> = Vec::new();
        for a in &self.accepted {
            let Some(cert) = &a.certificate else { continue };
            let described = cert.identity.describe();
            if signers.iter().any(|(d, _)| *d == described) {
                continue;
            }
            let fits = (0..allowed.len())
                .filter(|i| identity_allowed(&allowed[*i], &cert.identity))
                .collect();
            signers.push((described, fits));
        }
        let mut holder: Vec<Option<usize>> = vec![None; allowed.len()];
        for s in 0..signers.len() {
            assign(s, &signers, &mut holder, &mut vec![false; allowed.len()]);
        }
        let mut matched: Vec<usize> = holder.into_iter().flatten().collect();
        matched.sort_unstable();
        matched.into_iter().map(|s| signers[s].0.clone()).collect()
    }

    /// The verdict: the first acceptance when `signers` (named as `describe` puts it) reach
    /// `threshold`; when nothing was accepted, why (no signature, the one signature's reason, or
    /// every signature's reason); otherwise how many of how many were found.
    pub(super) fn decide(
        self,
        signers: Vec<String>,
        threshold: usize,
        describe: impl Fn(&str) -> String,
    ) -> Result<Acceptance, Mismatch> {
        match self.accepted.into_iter().next() {
            Some(first) if signers.len() >= threshold.max(1) => Ok(first),
            None => Err(Mismatch::over_layers(self.reasons, Mismatch::NoSignature)),
            Some(_) => Err(Mismatch::ThresholdNotMet {
                required: threshold,
                count: signers.len(),
                found: signers
                    .iter()
                    .take(MAX_NAMED)
                    .map(|s| describe(s))
                    .collect(),
            }),
        }
    }
}

/// Kuhn's augmenting path: give signer `s` an identity, moving others if that frees one.
fn assign(
    s: usize,
    signers: &[(String, Vec<usize>)],
    holder: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &i in &signers[s].1 {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        let free = match holder[i] {
            None => true,
            Some(other) => assign(other, signers, holder, seen),
        };
        if free {
            holder[i] = Some(s);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Matcher;
    use crate::signature::{CertifiedSigner, FulcioIdentity};

    fn key(fingerprint: &str) -> Acceptance {
        Acceptance {
            key_fingerprint: fingerprint.into(),
            signed_reference: String::new(),
            certificate: None,
        }
    }

    fn signed_by(email: &str) -> Acceptance {
        Acceptance {
            certificate: Some(CertifiedSigner {
                identity: FulcioIdentity {
                    issuer: Some("https://issuer".into()),
                    emails: vec![email.into()],
                    ..FulcioIdentity::default()
                },
                log_index: 1,
                integrated_time: 1,
            }),
            ..key(email)
        }
    }

    fn allowed(pattern: &str) -> CertificateIdentity {
        CertificateIdentity {
            issuer: Matcher::Exact("https://issuer".into()),
            subject: Matcher::regex(pattern).unwrap(),
        }
    }

    #[test]
    fn the_same_key_twice_counts_once_and_names_what_was_found() {
        let mut tally = Tally::new();
        tally.add(Ok(key("sha256:aa")));
        tally.add(Ok(key("sha256:aa")));
        let signers = tally.keys();
        let err = tally
            .decide(signers, 2, |k| format!("key {k}"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "signed by 1 of 2 required signers (key sha256:aa); each signer counts once"
        );
    }

    #[test]
    fn two_distinct_keys_meet_a_threshold_of_two() {
        let mut tally = Tally::new();
        tally.add(Ok(key("sha256:aa")));
        tally.add(Err(Mismatch::NoSignature));
        tally.add(Ok(key("sha256:bb")));
        let signers = tally.keys();
        assert!(tally.decide(signers, 2, |s: &str| s.to_string()).is_ok());
    }

    #[test]
    fn no_acceptance_reports_the_most_informative_failure() {
        let mut tally = Tally::new();
        tally.add(Err(Mismatch::TransparencyLogMissing));
        let signers = tally.keys();
        assert_eq!(
            tally
                .decide(signers, 2, |s: &str| s.to_string())
                .unwrap_err(),
            Mismatch::TransparencyLogMissing
        );
    }

    #[test]
    fn one_signer_fills_one_identity_even_when_it_matches_two() {
        let ids = [allowed("a@x|b@x"), allowed("a@x")];
        let mut tally = Tally::new();
        tally.add(Ok(signed_by("a@x")));
        tally.add(Ok(signed_by("a@x")));
        assert_eq!(tally.identities(&ids).len(), 1);
        // b@x can only take the first identity; a@x then moves to the second.
        tally.add(Ok(signed_by("b@x")));
        assert_eq!(tally.identities(&ids).len(), 2);
    }
}
