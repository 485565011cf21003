//! The signed identity rule: which `critical.identity.docker-reference` an authority accepts for
//! an image. The sigstore crate does not check this claim at all; without it a signature made for
//! `evil.io/tool` would admit `ghcr.io/org/app` whenever both were signed by the same key.

use crate::policy::IdentityRule;
use crate::reference::ImageReference;

use super::Mismatch;

/// Does `signed` (the payload's docker-reference) satisfy `rule` for `image`?
pub fn identity_accepts(
    rule: &IdentityRule,
    image: &ImageReference,
    signed: &str,
) -> Result<(), Mismatch> {
    let required = match rule {
        IdentityRule::AnyRepository => return Ok(()),
        IdentityRule::MatchRepository => image.name(),
        IdentityRule::ExactRepository(repository) => normalised_name(repository),
        IdentityRule::RemapIdentity {
            prefix,
            signed_prefix,
        } => remap(&image.name(), prefix, signed_prefix),
    };
    match ImageReference::parse(signed) {
        Ok(found) if found.name() == required => Ok(()),
        _ => Err(Mismatch::IdentityMismatch {
            required: format!("repository {required}"),
            found: signed.to_string(),
        }),
    }
}

/// The normalised `registry/repository` of a configured repository, or the text itself when it
/// does not parse (then nothing can match it, which fails closed).
fn normalised_name(repository: &str) -> String {
    ImageReference::parse(repository)
        .map(|r| r.name())
        .unwrap_or_else(|_| repository.to_string())
}

/// containers-policy.json's `remapIdentity`: an image under `prefix` is expected to be signed
/// under `signed_prefix` (a mirror serving images published elsewhere). Prefixes match whole path
/// components only, so `mirror.io/a` never remaps `mirror.io/ab`.
fn remap(name: &str, prefix: &str, signed_prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match name.strip_prefix(prefix) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => {
            format!("{}{rest}", signed_prefix.trim_end_matches('/'))
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(s: &str) -> ImageReference {
        ImageReference::parse(s).unwrap()
    }

    #[test]
    fn match_repository_accepts_tagged_and_untagged_claims_of_the_same_repository() {
        let img = image("ghcr.io/org/app:v1");
        for signed in [
            "ghcr.io/org/app",
            "ghcr.io/org/app:v1",
            "ghcr.io/org/app:v2",
        ] {
            assert!(identity_accepts(&IdentityRule::MatchRepository, &img, signed).is_ok());
        }
    }

    #[test]
    fn match_repository_refuses_another_repository_and_names_both() {
        let err = identity_accepts(
            &IdentityRule::MatchRepository,
            &image("ghcr.io/org/app:v1"),
            "ghcr.io/org/other",
        )
        .unwrap_err();
        assert_eq!(
            err,
            Mismatch::IdentityMismatch {
                required: "repository ghcr.io/org/app".into(),
                found: "ghcr.io/org/other".into()
            }
        );
    }

    #[test]
    fn docker_hub_short_names_are_normalised_on_both_sides() {
        let img = image("nginx:1.27");
        assert!(
            identity_accepts(
                &IdentityRule::MatchRepository,
                &img,
                "index.docker.io/library/nginx"
            )
            .is_ok()
        );
    }

    #[test]
    fn unparsable_claim_is_a_mismatch() {
        let img = image("ghcr.io/org/app");
        assert!(identity_accepts(&IdentityRule::MatchRepository, &img, "not a ref!").is_err());
    }

    #[test]
    fn remap_identity_maps_mirror_to_origin_on_component_boundaries() {
        let rule = IdentityRule::RemapIdentity {
            prefix: "mirror.local/k8s".into(),
            signed_prefix: "registry.k8s.io".into(),
        };
        assert!(
            identity_accepts(
                &rule,
                &image("mirror.local/k8s/pause:3.10"),
                "registry.k8s.io/pause"
            )
            .is_ok()
        );
        assert!(
            identity_accepts(
                &rule,
                &image("mirror.local/k8sx/pause"),
                "registry.k8s.io/pause"
            )
            .is_err()
        );
    }

    #[test]
    fn exact_and_any_repository() {
        let img = image("mirror.local/app");
        let exact = IdentityRule::ExactRepository("ghcr.io/org/app".into());
        assert!(identity_accepts(&exact, &img, "ghcr.io/org/app").is_ok());
        assert!(identity_accepts(&exact, &img, "mirror.local/app").is_err());
        assert!(identity_accepts(&IdentityRule::AnyRepository, &img, "anything/at:all").is_ok());
    }
}
