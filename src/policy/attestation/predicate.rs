//! Predicate types: cosign's short names (`cosign attest --type`, policy-controller's
//! `predicateType`) and the in-toto predicate URIs they stand for, as cosign's
//! `options.PredicateTypeMap` maps them.

/// `(short name, predicate URI)`, in cosign's order.
pub const SHORT_NAMES: &[(&str, &str)] = &[
    ("custom", "https://cosign.sigstore.dev/attestation/v1"),
    ("slsaprovenance", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance02", "https://slsa.dev/provenance/v0.2"),
    ("slsaprovenance1", "https://slsa.dev/provenance/v1"),
    ("link", "https://in-toto.io/Link/v1"),
    ("spdx", "https://spdx.dev/Document"),
    ("spdxjson", "https://spdx.dev/Document"),
    ("cyclonedx", "https://cyclonedx.org/bom"),
    ("vuln", "https://cosign.sigstore.dev/attestation/vuln/v1"),
    ("openvex", "https://openvex.dev/ns"),
];

/// The predicate URI `predicate_type` names: a short name's URI, else the text itself (a URI
/// the validation step already checked).
pub fn predicate_uri(predicate_type: &str) -> &str {
    SHORT_NAMES
        .iter()
        .find(|(short, _)| *short == predicate_type)
        .map_or(predicate_type, |(_, uri)| uri)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_map_to_cosigns_uris_and_uris_stay() {
        assert_eq!(
            predicate_uri("slsaprovenance1"),
            "https://slsa.dev/provenance/v1"
        );
        assert_eq!(
            predicate_uri("slsaprovenance"),
            predicate_uri("slsaprovenance02")
        );
        assert_eq!(predicate_uri("spdxjson"), "https://spdx.dev/Document");
        assert_eq!(
            predicate_uri("vuln"),
            "https://cosign.sigstore.dev/attestation/vuln/v1"
        );
        assert_eq!(
            predicate_uri("https://example.com/p/v1"),
            "https://example.com/p/v1"
        );
        assert_eq!(predicate_uri("Custom"), "Custom");
    }
}
