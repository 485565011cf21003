//! Syntax checks on strings inside a policy: KMS URIs and `source.oci` as policy-controller
//! checks them (`pkg/apis/policy/common/validation.go`), and the repository names of Signet's
//! `signedIdentity`, and Go's idea of a request URI for predicate types.

use std::sync::LazyLock;

use regex::Regex;

use crate::reference::ImageReference;

const KMS_PREFIXES: &[&str] = &["awskms://", "azurekms://", "hashivault://", "gcpkms://"];
const AWS_KMS_FORMAT: &str =
    "kms key should be in the format awskms://[ENDPOINT]/[ID/ALIAS/ARN] (endpoint optional)";

/// policy-controller's four accepted AWS KMS reference shapes.
static AWS_KMS: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    let uuid =
        "m?r?k?-?[A-Fa-f0-9]{8}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{4}-?[A-Fa-f0-9]{12}";
    let arn = "arn:(?:aws|aws-us-gov|aws-cn):kms:[a-z0-9-]+:[0-9]{12}:";
    let host = "([^/]*)/";
    [
        format!("^awskms://{host}({uuid})$"),
        format!("^awskms://{host}({arn}key/{uuid})$"),
        format!("^awskms://{host}((alias/.*))$"),
        format!("^awskms://{host}({arn}(alias/.*))$"),
    ]
    .iter()
    .filter_map(|re| Regex::new(re).ok())
    .collect()
});

/// `key.kms`: a supported provider prefix, and for AWS a key or alias ARN.
pub(super) fn validate_kms(kms: &str) -> Result<(), String> {
    if !KMS_PREFIXES.iter().any(|p| kms.starts_with(p)) {
        return Err(format!(
            "malformed KMS format, should be prefixed by any of the supported providers: [{}]",
            KMS_PREFIXES.join(" ")
        ));
    }
    if kms.starts_with("awskms://") {
        return validate_aws_kms(kms);
    }
    Ok(())
}

fn validate_aws_kms(kms: &str) -> Result<(), String> {
    let parts: Vec<&str> = kms.split('/').collect();
    let (Some(endpoint), Some(key_id)) = (parts.get(2).copied(), parts.get(3).copied()) else {
        return Err("malformed AWS KMS format 'awskms://$ENDPOINT/$KEYID'".into());
    };
    if !AWS_KMS.iter().any(|re| re.is_match(kms)) {
        return Err(AWS_KMS_FORMAT.into());
    }
    if endpoint.starts_with("arn") || endpoint.starts_with("alias") {
        return Err(AWS_KMS_FORMAT.into());
    }
    if !endpoint.is_empty() && !is_host_port(endpoint) {
        return Err(format!(
            "malformed endpoint: address {endpoint}: missing port in address"
        ));
    }
    match arn_resource(key_id) {
        Some("key" | "alias") => Ok(()),
        Some(other) => Err(format!("ARN resource {other:?} is not key or alias")),
        None => Err("failed to parse either key or alias arn".into()),
    }
}

/// Go's `arn.Parse(..).Resource`: `arn:partition:service:region:account:resource`.
fn arn_resource(text: &str) -> Option<&str> {
    if !text.starts_with("arn:") {
        return None;
    }
    text.splitn(6, ':').nth(5)
}

/// Go's `net.SplitHostPort` succeeding, roughly.
fn is_host_port(text: &str) -> bool {
    match text.rsplit_once(':') {
        Some((host, _)) if host.starts_with('[') => host.ends_with(']'),
        Some((host, _)) => !host.contains(':'),
        None => false,
    }
}

/// `source[].oci`: a registry, or a registry with a repository (go-containerregistry, strict).
pub(super) fn validate_oci(oci: &str) -> Result<(), String> {
    match oci.split_once('/') {
        Some((registry, repo)) if registry.contains('.') || registry.contains(':') => {
            check_registry(registry)?;
            check_repository(repo)
        }
        _ => check_registry(oci),
    }
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = registry.rsplit_once(':').unwrap_or((registry, ""));
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if host_ok && port.chars().all(|c| c.is_ascii_digit()) {
        return Ok(());
    }
    Err(format!(
        "registries must be valid RFC 3986 URI authorities: {registry}"
    ))
}

fn check_repository(repo: &str) -> Result<(), String> {
    let ok = !repo.is_empty()
        && repo.split('/').all(|c| !c.is_empty())
        && repo
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-./".contains(c));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "repository can only contain the characters `abcdefghijklmnopqrstuvwxyz0123456789_-./`: {repo}"
        )),
    }
}

/// A repository name without tag or digest, normalised (`nginx` -> `docker.io/library/nginx`).
pub(super) fn repository_name(text: &str) -> Result<String, String> {
    let last_segment = text.rsplit('/').next().unwrap_or(text);
    if text.contains('@') || last_segment.contains(':') {
        return Err("want a repository without tag or digest".into());
    }
    ImageReference::parse(text)
        .map(|r| r.name())
        .map_err(|e| e.to_string())
}

/// A `remapIdentity` prefix: `host[:port]` with an optional path, no tag, digest or wildcard.
/// `index.docker.io` is spelled `docker.io`, as image names are.
pub(super) fn repository_prefix(text: &str) -> Result<String, String> {
    let trimmed = text.trim_end_matches('/');
    let (host, path) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    let host_like = host.contains('.') || host.contains(':') || host == "localhost";
    if !host_like || check_registry(host).is_err() {
        return Err("want host[:port] or host[:port]/path, the host written out".into());
    }
    if !path.is_empty() {
        check_repository(path)?;
    }
    Ok(match host {
        "index.docker.io" => trimmed.replacen("index.docker.io", "docker.io", 1),
        _ => trimmed.to_string(),
    })
}

/// Go's `url.ParseRequestURI`, roughly: an absolute URI with a scheme, or an absolute path.
pub(super) fn is_request_uri(text: &str) -> bool {
    let scheme_ok = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    };
    match text.split_once(':') {
        _ if text.starts_with('/') => !text.contains(char::is_whitespace),
        Some((scheme, rest)) => {
            scheme_ok(scheme) && !rest.is_empty() && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_kms_needs_a_key_or_alias_arn() {
        let valid = [
            "awskms:///arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "awskms:///arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias",
            "awskms://localhost:4566/arn:aws:kms:us-east-2:111122223333:alias/ExampleAlias",
            "hashivault://key/path",
        ];
        for kms in valid {
            assert!(validate_kms(kms).is_ok(), "{kms}");
        }
        let invalid = [
            "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab",
            "awskms://localhost:4566/1234abcd-12ab-34cd-56ef-1234567890ab",
            "awskms:///alias/ExampleAlias",
            "awskms://localhost:4566/alias/ExampleAlias",
            "awskms://localhost/arn:aws:kms:us-east-2:111122223333:alias/x",
            "vault://key",
        ];
        for kms in invalid {
            assert!(validate_kms(kms).is_err(), "{kms}");
        }
    }

    #[test]
    fn oci_sources_are_registries_or_repositories() {
        assert!(validate_oci("ghcr.io/org/signatures").is_ok());
        assert!(validate_oci("localhost:5000/sigs").is_ok());
        assert!(validate_oci("ghcr.io").is_ok());
        assert!(validate_oci("org/signatures").is_err());
        assert!(validate_oci("ghcr.io/Org").is_err());
    }

    #[test]
    fn repository_names_are_normalised_and_untagged() {
        assert_eq!(repository_name("nginx").unwrap(), "docker.io/library/nginx");
        assert_eq!(
            repository_name("localhost:5000/app").unwrap(),
            "localhost:5000/app"
        );
        assert!(repository_name("nginx:1.27").is_err());
        assert!(repository_name("ghcr.io/org/app:v1").is_err());
        assert!(repository_name("ghcr.io/org/app@sha256:00").is_err());
    }

    #[test]
    fn prefixes_name_a_host() {
        assert_eq!(
            repository_prefix("mirror.example.com/team/").unwrap(),
            "mirror.example.com/team"
        );
        assert_eq!(
            repository_prefix("index.docker.io/library").unwrap(),
            "docker.io/library"
        );
        assert!(repository_prefix("team/app").is_err());
        assert!(repository_prefix("mirror.example.com/*").is_err());
    }
}
