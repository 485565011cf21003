//! Identity rules against containers/image's own tables (`signature/policy_reference_match_test.go`
//! @ containers/image main: `prmExactMatchTestTable`, `prmRepositoryMatchTestTable`, the
//! `matchRepoDigestOrExact` and `remapIdentity` cases), adapted where the image side cannot occur
//! in Signet: an image is never name-only (`busybox` is `busybox:latest`), and an image with a tag
//! and a digest is judged by its digest, as CRI-O hands it to containers/image. Upstream's
//! upper-case "other" digest is written in lower case (Signet refuses upper-case hex).

use super::*;

const DIGEST: &str = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const OTHER: &str = "@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const RHEL: &str = "registry.access.redhat.com/rhel7/rhel:7.2.3";
const RHEL_UNTAGGED: &str = "registry.access.redhat.com/rhel7/rhel";

fn image(s: &str) -> ImageReference {
    ImageReference::parse(s).unwrap()
}

fn ok(rule: &IdentityRule, img: &str, signed: &str) -> bool {
    identity_accepts(rule, &image(img), signed).is_ok()
}

fn d(name: &str) -> String {
    format!("{name}{DIGEST}")
}

fn o(name: &str) -> String {
    format!("{name}{OTHER}")
}

/// (image, signature, matchExact, matchRepoDigestOrExact, matchRepository).
fn table() -> Vec<(String, String, bool, bool, bool)> {
    let s = |x: &str| x.to_string();
    vec![
        (s("busybox:latest"), s("busybox:latest"), true, true, true),
        (s(RHEL), s(RHEL), true, true, true),
        (d("busybox"), d("busybox"), true, true, true),
        (
            s("library/busybox:latest"),
            s("busybox:latest"),
            true,
            true,
            true,
        ),
        (
            s("docker.io/library/busybox:latest"),
            s("busybox:latest"),
            true,
            true,
            true,
        ),
        (d("library/busybox"), d("busybox"), true, true, true),
        (
            s("busybox:latest"),
            s("busybox:notlatest"),
            false,
            false,
            true,
        ),
        (
            s("busybox:latest"),
            s("notbusybox:latest"),
            false,
            false,
            false,
        ),
        (
            s("busybox:latest"),
            s("hostname/library/busybox:notlatest"),
            false,
            false,
            false,
        ),
        (s("busybox:latest"), s(RHEL), false, false, false),
        (d("busybox"), d("notbusybox"), false, false, false),
        (s("busybox:latest"), d("busybox"), false, false, true),
        (d("busybox"), s("busybox:latest"), false, true, true),
        (d("busybox"), o("busybox"), false, true, true),
        (format!("{RHEL}tagsuffix"), s(RHEL), false, false, true),
        (
            s("docker.io/library/busybox:notlatest"),
            s("busybox:latest"),
            false,
            false,
            true,
        ),
        // Name-only signatures (what `cosign sign` writes).
        (s("busybox:latest"), s("busybox"), false, false, true),
        (d("busybox"), s("busybox"), false, false, true),
        (s(RHEL), s(RHEL_UNTAGGED), false, false, true),
        // Signatures with a tag and a digest must match both, which an image never has.
        (s("busybox:latest"), d("busybox:latest"), false, false, true),
        (d("busybox"), d("busybox:latest"), false, true, true),
        // Invalid signed references match nothing.
        (
            s("busybox:latest"),
            s("UPPERCASE_IS_INVALID_IN_DOCKER_REFERENCES"),
            false,
            false,
            false,
        ),
        (s("busybox:latest"), s(""), false, false, false),
    ]
}

#[test]
fn match_exact_repo_digest_or_exact_and_repository_follow_containers_image() {
    for (img, signed, exact, repo_digest, repository) in table() {
        let case = format!("{img} vs {signed}");
        assert_eq!(
            ok(&IdentityRule::MatchExact, &img, &signed),
            exact,
            "matchExact {case}"
        );
        let rule = IdentityRule::MatchRepoDigestOrExact;
        assert_eq!(
            ok(&rule, &img, &signed),
            repo_digest,
            "matchRepoDigestOrExact {case}"
        );
        let rule = IdentityRule::MatchRepository;
        assert_eq!(
            ok(&rule, &img, &signed),
            repository,
            "matchRepository {case}"
        );
    }
}

#[test]
fn an_image_with_tag_and_digest_is_judged_by_its_digest_as_cri_o_does() {
    let img = format!("busybox:latest{DIGEST}");
    assert!(ok(
        &IdentityRule::MatchRepoDigestOrExact,
        &img,
        "busybox:other"
    ));
    assert!(ok(&IdentityRule::MatchExact, &img, &d("busybox")));
    assert!(!ok(&IdentityRule::MatchExact, &img, "busybox:latest"));
}

#[test]
fn exact_reference_and_exact_repository_ignore_the_image() {
    let img = "mirror.local/anything:v9";
    for (configured, signed, want) in [
        ("busybox:latest", "docker.io/library/busybox:latest", true),
        ("busybox:latest", "busybox:notlatest", false),
        ("busybox:latest", "busybox", false),
        (RHEL, RHEL, true),
        (&d("busybox"), &d("library/busybox"), true),
        (&d("busybox"), &o("busybox"), false),
    ] {
        let rule = IdentityRule::ExactReference(configured.to_string());
        assert_eq!(
            ok(&rule, img, signed),
            want,
            "exactReference {configured} vs {signed}"
        );
    }
    for (configured, signed, want) in [
        ("busybox", "busybox:notlatest", true),
        ("docker.io/library/busybox", "busybox", true),
        (RHEL_UNTAGGED, RHEL, true),
        ("busybox", "notbusybox:latest", false),
    ] {
        let rule = IdentityRule::ExactRepository(configured.to_string());
        assert_eq!(
            ok(&rule, img, signed),
            want,
            "exactRepository {configured} vs {signed}"
        );
    }
}

/// `TestPRMRemapIdentityMatchesDockerReference` (valid configurations) and the rewriting cases
/// of `TestPRMRemapIdentityRemapReferencePrefix`.
#[test]
fn remap_identity_rewrites_the_prefix_then_matches_repo_digest_or_exact() {
    let remap = |prefix: &str, signed_prefix: &str| IdentityRule::RemapIdentity {
        prefix: prefix.into(),
        signed_prefix: signed_prefix.into(),
    };
    for (prefix, signed_prefix, img, signed, want) in [
        (
            "does-not-match.com",
            "x.rewritten",
            "busybox:latest",
            "busybox:latest",
            true,
        ),
        (
            "does-not-match.com",
            "x.rewritten",
            "busybox:latest",
            "notbusybox:latest",
            false,
        ),
        (
            "mirror.example",
            "public.com",
            "mirror.example/busybox:1",
            "public.com/busybox:1",
            true,
        ),
        (
            "mirror.example",
            "public.com",
            "mirror.example/busybox:1",
            "public.com/busybox:not1",
            false,
        ),
        (
            "mirror.example",
            "docker.io/library",
            "mirror.example/busybox:latest",
            "busybox:latest",
            true,
        ),
        (
            "mirror.example",
            "docker.io/library",
            "mirror.example/alpine:latest",
            "busybox:latest",
            false,
        ),
        (
            "docker.io/library",
            "original.com",
            "copied:latest",
            "original.com/copied:latest",
            true,
        ),
        (
            "docker.io/library",
            "original.com",
            "copied:latest",
            "original.com/ns/copied:latest",
            false,
        ),
        (
            "docker.io",
            "not-docker.example",
            "busybox",
            "not-docker.example/library/busybox:latest",
            true,
        ),
        (
            "mirror.example",
            "vendor.example",
            "prefixmirror.example/ns/image:tag",
            "vendor.example/ns/image:tag",
            false,
        ),
        (
            "mirror.example/ns",
            "vendor.example/v",
            "mirror.example/different-ns/image:tag",
            "vendor.example/v/image:tag",
            false,
        ),
        (
            "mirror.example",
            "vendor.example",
            &d("mirror.example/image"),
            "vendor.example/image:any",
            true,
        ),
        // A cosign (name-only) signature of the original is refused, as upstream.
        (
            "mirror.example",
            "vendor.example",
            "mirror.example/image:tag",
            "vendor.example/image",
            false,
        ),
        // Rewrites that do not give a normalised reference match nothing.
        (
            "mirror.example/ns/image",
            "notlocalhost",
            "mirror.example/ns/image:tag",
            "notlocalhost:tag",
            false,
        ),
        (
            "mirror.example/ns/image",
            "vendor.example:5000",
            "mirror.example/ns/image:tag",
            "vendor.example:5000:tag",
            false,
        ),
    ] {
        let rule = remap(prefix, signed_prefix);
        assert_eq!(
            ok(&rule, img, signed),
            want,
            "{prefix} -> {signed_prefix}: {img} vs {signed}"
        );
    }
}

#[test]
fn remap_repository_maps_mirror_to_origin_on_component_boundaries() {
    let rule = IdentityRule::RemapRepository {
        prefix: "mirror.local/k8s".into(),
        signed_prefix: "registry.k8s.io".into(),
    };
    assert!(ok(
        &rule,
        "mirror.local/k8s/pause:3.10",
        "registry.k8s.io/pause"
    ));
    assert!(!ok(
        &rule,
        "mirror.local/k8sx/pause",
        "registry.k8s.io/pause"
    ));
}

#[test]
fn mismatch_names_what_the_rule_requires() {
    let err = |rule: IdentityRule, img: &str, signed: &str| match identity_accepts(
        &rule,
        &image(img),
        signed,
    )
    .unwrap_err()
    {
        Mismatch::IdentityMismatch { required, .. } => required,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        err(
            IdentityRule::MatchRepository,
            "ghcr.io/org/app:v1",
            "ghcr.io/org/other"
        ),
        "repository ghcr.io/org/app"
    );
    assert_eq!(
        err(
            IdentityRule::MatchExact,
            "ghcr.io/org/app:v1",
            "ghcr.io/org/app"
        ),
        "exactly ghcr.io/org/app:v1 (matchExact)"
    );
    assert_eq!(
        err(
            IdentityRule::MatchRepoDigestOrExact,
            &d("ghcr.io/org/app"),
            "ghcr.io/org/app"
        ),
        "repository ghcr.io/org/app with a tag or digest (matchRepoDigestOrExact)"
    );
}

#[test]
fn docker_hub_short_names_are_normalised_on_both_sides() {
    let img = "nginx:1.27";
    assert!(ok(
        &IdentityRule::MatchRepository,
        img,
        "index.docker.io/library/nginx"
    ));
    assert!(ok(
        &IdentityRule::MatchExact,
        img,
        "docker.io/library/nginx:1.27"
    ));
}

#[test]
fn exact_and_any_repository() {
    let exact = IdentityRule::ExactRepository("ghcr.io/org/app".into());
    assert!(ok(&exact, "mirror.local/app", "ghcr.io/org/app"));
    assert!(!ok(&exact, "mirror.local/app", "mirror.local/app"));
    assert!(ok(
        &IdentityRule::AnyRepository,
        "mirror.local/app",
        "anything/at:all"
    ));
    assert!(ok(
        &IdentityRule::AnyRepository,
        "mirror.local/app",
        "not a ref!"
    ));
    assert!(!ok(
        &IdentityRule::MatchRepository,
        "mirror.local/app",
        "not a ref!"
    ));
}
