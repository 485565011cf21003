//! Verification levels (`signatureVerification.level`) and their per-check actions, with the
//! `override` a statement may add, as notation-go's `GetVerificationLevel` computes them.

use std::collections::BTreeMap;

/// What a failed check does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The signature is refused.
    Enforce,
    /// The failure is logged (a warning on an admitted image); the signature still counts.
    Log,
    /// The check is not made.
    Skip,
}

impl Action {
    /// The spelling in a trust policy.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enforce => "enforce",
            Self::Log => "log",
            Self::Skip => "skip",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        [Self::Enforce, Self::Log, Self::Skip]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// The action of each of the five validations of the Notary Project specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Enforcement {
    /// The envelope's signature over its payload (always enforced where anything is checked).
    pub integrity: Action,
    /// The certificate chain leads to a trust store, and the signer is a trusted identity.
    pub authenticity: Action,
    /// Signing time within the certificate's validity (or an RFC 3161 timestamp that is).
    pub authentic_timestamp: Action,
    /// The signature's own expiry (`io.cncf.notary.expiry`).
    pub expiry: Action,
    /// OCSP/CRL revocation: never checked by Signet (it would need the network).
    pub revocation: Action,
}

/// The validations, as overrides name them.
pub const VALIDATIONS: [&str; 5] = [
    "integrity",
    "authenticity",
    "authenticTimestamp",
    "expiry",
    "revocation",
];

/// The levels, by name.
pub const LEVELS: [&str; 4] = ["strict", "permissive", "audit", "skip"];

/// A level with its actions; `None` for `skip` (nothing is verified).
pub fn base(level: &str) -> Option<Option<Enforcement>> {
    use Action::{Enforce, Log};
    let with = |authenticity, rest| Enforcement {
        integrity: Enforce,
        authenticity,
        authentic_timestamp: rest,
        expiry: rest,
        revocation: rest,
    };
    match level {
        "strict" => Some(Some(with(Enforce, Enforce))),
        "permissive" => Some(Some(with(Enforce, Log))),
        "audit" => Some(Some(with(Log, Log))),
        "skip" => Some(None),
        _ => None,
    }
}

/// The level named `level` with `overrides` applied; the error as notation-go words it.
pub fn resolve(
    level: &str,
    overrides: &BTreeMap<String, String>,
) -> Result<Option<Enforcement>, String> {
    if level.is_empty() {
        return Err(
            "signature verification level is empty or missing in the trust policy statement".into(),
        );
    }
    let Some(base) = base(level) else {
        return Err(format!(
            "invalid signature verification level {level:?} (one of {})",
            LEVELS.join(", ")
        ));
    };
    if overrides.is_empty() {
        return Ok(base);
    }
    let Some(mut enforcement) = base else {
        return Err(format!(
            "signature verification level {level:?} can't be used to customize signature verification"
        ));
    };
    for (validation, action) in overrides {
        if !VALIDATIONS.contains(&validation.as_str()) {
            return Err(format!(
                "verification type {validation:?} in custom signature verification is not supported, supported values are {}",
                VALIDATIONS.join(", ")
            ));
        }
        let Some(action) = Action::parse(action) else {
            return Err(format!(
                "verification action {action:?} in custom signature verification is not supported, supported values are enforce, log, skip"
            ));
        };
        if validation == "integrity" {
            return Err(format!(
                "{validation:?} verification can not be overridden in custom signature verification"
            ));
        }
        if validation != "revocation" && action == Action::Skip {
            return Err(format!(
                "{validation:?} verification can not be skipped in custom signature verification"
            ));
        }
        let slot = match validation.as_str() {
            "authenticity" => &mut enforcement.authenticity,
            "authenticTimestamp" => &mut enforcement.authentic_timestamp,
            "expiry" => &mut enforcement.expiry,
            _ => &mut enforcement.revocation,
        };
        *slot = action;
    }
    Ok(Some(enforcement))
}
