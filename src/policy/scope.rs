//! containers-policy.json scopes of the `docker` transport: which scope governs an image
//! (containers/image `requirementsForImageRef` with `docker/policyconfiguration/naming.go`), and
//! the grammar of `remapIdentity` prefixes (`validateIdentityRemappingPrefix`).
//!
//! For `host:5000/ns/repo:tag` the scopes tried are, most specific first: `host:5000/ns/repo:tag`
//! (or `…@digest` when the image names a digest: CRI-O drops the tag of a `repo:tag@digest`),
//! `host:5000/ns/repo`, `host:5000/ns`, `host:5000`, then the wildcard domains of the host
//! without its port (`*.example.com`, `*.com`), then the transport default `""`, then `default`.
//! Only the first scope present applies; keys are compared as written, so scopes must be fully
//! expanded names (`docker.io/library/busybox`, not `busybox`).

use std::sync::LazyLock;

use regex::Regex;

use super::model::{ImagePolicy, Scope};
use crate::reference::ImageReference;

/// The scopes that may govern `image`, most specific first, ending with the transport default
/// and `default`.
pub(super) fn candidates(image: &ImageReference) -> Vec<Scope> {
    let name = image.name();
    let identity = match (image.digest(), image.tag()) {
        (Some(digest), _) => format!("{name}@{digest}"),
        (None, Some(tag)) => format!("{name}:{tag}"),
        (None, None) => name.clone(),
    };
    let mut out = vec![identity];
    let mut current = name.as_str();
    loop {
        out.push(current.to_string());
        match current.rfind('/') {
            Some(slash) => current = &current[..slash],
            None => break,
        }
    }
    let mut host = current.split(':').next().unwrap_or(current);
    while let Some(dot) = host.find('.') {
        host = &host[dot + 1..];
        out.push(format!("*.{host}"));
    }
    let mut scopes: Vec<Scope> = out.into_iter().map(Scope::Docker).collect();
    scopes.extend([Scope::DockerDefault, Scope::Default]);
    scopes
}

/// The requirements of the most specific scope of `policies` that covers `image`;
/// `positions` gives the positions in `policies` of a scope's requirements, in order.
pub(super) fn select<'a, I: Iterator<Item = usize>>(
    policies: &'a [ImagePolicy],
    image: &ImageReference,
    positions: impl Fn(&Scope) -> I,
) -> Vec<&'a ImagePolicy> {
    for scope in candidates(image) {
        let found: Vec<&ImagePolicy> = positions(&scope).map(|i| &policies[i]).collect();
        if !found.is_empty() {
            return found;
        }
    }
    Vec::new()
}

/// [`select`] by a scan of every requirement for each scope: what the index must agree with.
#[cfg(test)]
pub(super) fn select_by_scan<'a>(
    policies: &'a [ImagePolicy],
    image: &ImageReference,
) -> Vec<&'a ImagePolicy> {
    let in_scope = |scope: &Scope| {
        let scope = scope.clone();
        (0..policies.len()).filter(move |&i| policies[i].scope.as_ref() == Some(&scope))
    };
    select(policies, image, in_scope)
}

static DOMAIN: LazyLock<String> = LazyLock::new(|| {
    let component = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
    let host = format!(r"(?:{component}(?:\.{component})*|\[(?:[a-fA-F0-9:]+)\])");
    format!(r"{host}(?::[0-9]+)?")
});

static DOMAIN_ONLY: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{}$", *DOMAIN)).ok());
static DOMAIN_PREFIX: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(&format!("^{}/", *DOMAIN)).ok());
static NAME: LazyLock<Option<Regex>> = LazyLock::new(|| {
    let path = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*";
    Regex::new(&format!("^(?:{}/)?{path}(?:/{path})*$", *DOMAIN)).ok()
});

/// containers/image `validateIdentityRemappingPrefix`: `host[:port]`, or a name that starts
/// with one (`host[:port]/ns[/repo]`), without tag or digest.
pub(super) fn valid_remap_prefix(prefix: &str) -> bool {
    let is = |re: &LazyLock<Option<Regex>>| re.as_ref().is_some_and(|re| re.is_match(prefix));
    is(&DOMAIN_ONLY) || (is(&NAME) && is(&DOMAIN_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(scopes: &[&str]) -> Vec<Scope> {
        let mut out: Vec<Scope> = scopes
            .iter()
            .map(|s| Scope::Docker(s.to_string()))
            .collect();
        out.extend([Scope::DockerDefault, Scope::Default]);
        out
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// containers/image `TestDockerReferenceNamespaces` cases, and the identity first.
    #[test]
    fn candidates_are_identity_repository_namespaces_host_and_wildcard_domains() {
        let cases: &[(&str, &[&str])] = &[
            (
                "example.com/ns/repo:tag",
                &[
                    "example.com/ns/repo:tag",
                    "example.com/ns/repo",
                    "example.com/ns",
                    "example.com",
                    "*.com",
                ],
            ),
            (
                "example.com:8443/ns/repo:tag",
                &[
                    "example.com:8443/ns/repo:tag",
                    "example.com:8443/ns/repo",
                    "example.com:8443/ns",
                    "example.com:8443",
                    "*.com",
                ],
            ),
            (
                "busybox",
                &[
                    "docker.io/library/busybox:latest",
                    "docker.io/library/busybox",
                    "docker.io/library",
                    "docker.io",
                    "*.io",
                ],
            ),
            (
                "sub.quay.io/a/b/c:v1",
                &[
                    "sub.quay.io/a/b/c:v1",
                    "sub.quay.io/a/b/c",
                    "sub.quay.io/a/b",
                    "sub.quay.io/a",
                    "sub.quay.io",
                    "*.quay.io",
                    "*.io",
                ],
            ),
            (
                "localhost:5000/app:v1",
                &[
                    "localhost:5000/app:v1",
                    "localhost:5000/app",
                    "localhost:5000",
                ],
            ),
        ];
        for (image, want) in cases {
            let got = candidates(&ImageReference::parse(image).unwrap());
            assert_eq!(got, docker(want), "{image}");
        }
    }

    #[test]
    fn a_digest_is_the_identity_and_a_tag_beside_it_is_dropped() {
        for image in [
            format!("quay.io/a/b@{DIGEST}"),
            format!("quay.io/a/b:v1@{DIGEST}"),
        ] {
            let got = candidates(&ImageReference::parse(&image).unwrap());
            assert_eq!(
                got[0],
                Scope::Docker(format!("quay.io/a/b@{DIGEST}")),
                "{image}"
            );
            assert_eq!(got[1], Scope::Docker("quay.io/a/b".into()));
        }
    }

    #[test]
    fn remap_prefixes_follow_containers_image() {
        for ok in [
            "example.com",
            "example.com:5000",
            "example.com/ns",
            "example.com/ns/repo",
            "localhost",
            "[::1]:5000/ns",
            "busybox",
            "ns/repo",
        ] {
            assert!(valid_remap_prefix(ok), "{ok}");
        }
        for bad in [
            "",
            "example.com/",
            "example.com/ns:tag",
            "example.com/NS",
            "*.example.com",
            "example.com@sha256:00",
        ] {
            assert!(!valid_remap_prefix(bad), "{bad}");
        }
    }
}
