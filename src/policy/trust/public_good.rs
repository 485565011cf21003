//! The Sigstore public-good `trusted_root.json` compiled into the binary (provenance in
//! `public_good/README.md`): the trust of a `keyless` authority that names none, as cosign and
//! sigstore-go embed theirs. Offline by construction; a `--trust-root` named
//! [`PUBLIC_GOOD_TRUST_ROOT`] replaces it (see [`super::TrustRoots::get`]).

use std::sync::{Arc, OnceLock};

use super::KeylessTrust;

/// The name the embedded root answers to (`trustRootRef: sigstore-public-good`), and the name a
/// `--trust-root` must have to replace it.
pub const PUBLIC_GOOD_TRUST_ROOT: &str = "sigstore-public-good";
/// The date of the embedded snapshot (the sigstore-rs commit it was copied from).
pub const PUBLIC_GOOD_SNAPSHOT: &str = "2026-07-02";

const TRUSTED_ROOT_JSON: &str = include_str!("public_good/trusted_root.json");

/// The embedded root, parsed once. `None` only if the embedded file were broken, which
/// `embedded_root_parses_with_windows` rules out; callers then report the authority as
/// unsupported, never admit.
pub(super) fn embedded() -> Option<&'static Arc<KeylessTrust>> {
    static ROOT: OnceLock<Option<Arc<KeylessTrust>>> = OnceLock::new();
    ROOT.get_or_init(|| {
        let origin =
            format!("embedded Sigstore public-good trust root (snapshot {PUBLIC_GOOD_SNAPSHOT})");
        match super::trust_root::parse_trusted_root(TRUSTED_ROOT_JSON, &origin) {
            Ok(trust) => Some(Arc::new(trust)),
            Err(error) => {
                tracing::error!(%error, "the embedded Sigstore trust root does not parse");
                None
            }
        }
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The embedded copy is the sigstore-rs file whose parsing `trust_root.rs` tests in detail.
    #[test]
    fn embedded_root_parses_with_windows() {
        let trust = embedded().expect("embedded root parses");
        assert!(trust.origin.contains(PUBLIC_GOOD_SNAPSHOT));
        let fixture =
            "../shared/fixtures/third_party/sigstore-rs/trust_root/prod/trusted_root.json";
        assert_eq!(std::fs::read_to_string(fixture).unwrap(), TRUSTED_ROOT_JSON);
        assert_eq!(trust.certificate_authorities.len(), 2);
        assert!(trust.certificate_authorities[0].valid_for.end.is_some());
        assert_eq!((trust.rekor_keys.len(), trust.ct_keys.len()), (1, 2));
    }
}
