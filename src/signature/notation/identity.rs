//! Trusted identities (`trustedIdentities` of a trust policy): `*`, or `x509.subject:` names
//! whose every attribute must equal the signing certificate's subject attribute of the same
//! type (trust-store-trust-policy.md, "Trusted Identities Constraints"; notation-go
//! `verifyX509TrustedIdentities`). A subject with one attribute type twice cannot be matched,
//! as in notation-go, whose distinguished-name parser refuses it.

use x509_cert::Certificate;

use super::TrustedIdentity;

/// Attribute types by OID, named as Go's `pkix.Name` (and so Notation's policies) name them.
const NAMES: &[(&str, &str)] = &[
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
    ("2.5.4.6", "C"),
    ("2.5.4.7", "L"),
    ("2.5.4.8", "ST"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.17", "POSTALCODE"),
    ("0.9.2342.19200300.100.1.25", "DC"),
    ("0.9.2342.19200300.100.1.1", "UID"),
];

/// The subject's attributes as (type, value); unreadable values are left out (so never match).
fn subject_attributes(cert: &Certificate) -> Vec<(String, String)> {
    cert.tbs_certificate()
        .subject()
        .iter()
        .filter_map(|attribute| {
            let oid = attribute.oid.to_string();
            let name = NAMES
                .iter()
                .find(|(o, _)| *o == oid)
                .map_or(oid.clone(), |(_, n)| (*n).to_string());
            let value = std::str::from_utf8(attribute.value.value()).ok()?;
            Some((name, value.to_string()))
        })
        .collect()
}

/// Does the signing certificate match one of `identities`? `Err` says why not.
pub(super) fn check(
    leaf: Option<&Certificate>,
    identities: &[TrustedIdentity],
) -> Result<(), String> {
    if identities.iter().any(|i| matches!(i, TrustedIdentity::Any)) {
        return Ok(());
    }
    if identities.is_empty() {
        return Err("the trust policy names no trusted identity".into());
    }
    let Some(leaf) = leaf else {
        return Err("the envelope carries no signing certificate".into());
    };
    let subject = subject_attributes(leaf);
    let described = leaf.tbs_certificate().subject().to_string();
    for (i, (name, _)) in subject.iter().enumerate() {
        if subject[..i].iter().any(|(n, _)| n == name) {
            return Err(format!(
                "the signing certificate's subject {described:?} has the attribute {name} more \
                 than once, which a trusted identity cannot match"
            ));
        }
    }
    let matches = |wanted: &[(String, String)]| {
        wanted.iter().all(|(name, value)| {
            subject
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
        })
    };
    let found = identities.iter().any(|identity| match identity {
        TrustedIdentity::Any => true,
        TrustedIdentity::Subject(wanted) => !wanted.is_empty() && matches(wanted),
    });
    match found {
        true => Ok(()),
        false => Err(format!(
            "the signing certificate's subject {described:?} matches none of the trust policy's \
             trusted identities"
        )),
    }
}
