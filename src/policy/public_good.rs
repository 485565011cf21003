//! The Sigstore public-good `trusted_root.json` compiled into the binary (provenance in
//! `public_good/README.md`): the trust of a `keyless` authority that names none, as cosign and
//! sigstore-go embed theirs. Offline by construction; a `--trust-root` named
//! [`PUBLIC_GOOD_TRUST_ROOT`] replaces it (see [`super::TrustRoots::get`]).

use std::sync::{Arc, OnceLock};

use super::trust::KeylessTrust;

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

    #[test]
    fn embedded_root_parses_with_windows() {
        let trust = embedded().expect("embedded root parses");
        assert!(trust.origin.contains(PUBLIC_GOOD_SNAPSHOT));
        assert_eq!(trust.certificate_authorities.len(), 2);
        // The 2021 Fulcio root ended on 2022-12-31.
        assert_eq!(
            trust.certificate_authorities[0].valid_for.end,
            Some(1_672_531_199)
        );
        assert!(
            trust
                .rekor_keys
                .contains_key("c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d")
        );
        assert_eq!(trust.ct_keys.len(), 2);
    }
}
