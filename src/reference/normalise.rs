//! Docker's normalisation of a name (`splitDockerDomain`): which part is the registry, Docker
//! Hub's defaults (`docker.io`, `library/`), and the spellings of one registry (host case, Docker
//! Hub's other names, HTTPS's default port).

/// The registry Docker Hub images are normalised to.
pub(super) const DEFAULT_REGISTRY: &str = "docker.io";
/// Docker Hub's legacy name, normalised to [`DEFAULT_REGISTRY`].
const LEGACY_DEFAULT_REGISTRY: &str = "index.docker.io";
/// The namespace of Docker Hub's official images.
pub(super) const OFFICIAL_PREFIX: &str = "library/";
/// Docker Hub's names: containerd's resolver reaches `docker.io` at `registry-1.docker.io`, and
/// `index.docker.io` is its legacy name; all three are one registry.
const DOCKER_HUB_NAMES: [&str; 3] = ["docker.io", "index.docker.io", "registry-1.docker.io"];
/// HTTPS's default port: `https://host:443/v2/` is `https://host/v2/`.
const HTTPS_DEFAULT_PORT: &str = ":443";

/// Docker's `splitDockerDomain`: which part is the registry, and the Docker Hub defaults.
pub(super) fn split_registry(name: &str) -> (String, String) {
    let (registry, path) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (canonical_registry(first), rest),
        _ => (DEFAULT_REGISTRY.to_owned(), name),
    };
    let repository = if registry == DEFAULT_REGISTRY && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path.to_owned()
    };
    (registry, repository)
}

/// Is the first component of a name a registry rather than a path component?
fn looks_like_registry(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// A registry as it is kept: host names lowercased (DNS ignores case, so `GHCR.IO` is the
/// host `ghcr.io`, and a policy for `ghcr.io` must see it), and Docker Hub's legacy name mapped
/// to `docker.io`. A single label such as `Foo` keeps its case: lowercased it would no longer
/// read as a registry when printed and parsed again.
pub(super) fn canonical_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    if lower == LEGACY_DEFAULT_REGISTRY {
        DEFAULT_REGISTRY.to_owned()
    } else if lower != registry && looks_like_registry(&lower) {
        lower
    } else {
        registry.to_owned()
    }
}

/// The registry `registry` (`host[:port]`, as parsed) is to a runtime that reaches it over
/// HTTPS: without the default port `:443`, and `docker.io` for Docker Hub's other names. Other
/// ports are other registries (`host:80` is `host` only over plain HTTP, which a name alone
/// does not say), so they stay.
pub fn same_registry(registry: &str) -> String {
    let host = registry
        .strip_suffix(HTTPS_DEFAULT_PORT)
        .unwrap_or(registry);
    let lower = host.to_ascii_lowercase();
    if DOCKER_HUB_NAMES.contains(&lower.as_str()) {
        DEFAULT_REGISTRY.to_owned()
    } else {
        host.to_owned()
    }
}
