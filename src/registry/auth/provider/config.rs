//! The kubelet's `CredentialProviderConfig` (`--image-credential-provider-config`), read and
//! checked as the kubelet checks it (kubernetes `pkg/credentialprovider/plugin/config.go`): at
//! least one provider; each named as a file of the plugin directory (no `/`, no spaces, not `.`
//! or `..`, no duplicates), with an `apiVersion` the kubelet speaks, at least one `matchImages`
//! key and a `defaultCacheDuration`. Unknown fields are refused (a typo in a credential
//! configuration should fail at start, not later as a denial). Service-account-token mode
//! (`tokenAttributes`) is refused: Signet has no pod token to give the plugin.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::super::keyring::Pattern;
use super::super::registry_host;
use super::ProviderError;

/// Largest configuration file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The request and response API versions the kubelet speaks to plugins.
pub(super) const PLUGIN_API_VERSIONS: [&str; 3] = [
    "credentialprovider.kubelet.k8s.io/v1",
    "credentialprovider.kubelet.k8s.io/v1beta1",
    "credentialprovider.kubelet.k8s.io/v1alpha1",
];

const CONFIG_API_VERSIONS: [&str; 3] = [
    "kubelet.config.k8s.io/v1",
    "kubelet.config.k8s.io/v1beta1",
    "kubelet.config.k8s.io/v1alpha1",
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ConfigFile {
    api_version: String,
    kind: String,
    #[serde(default)]
    providers: Vec<ProviderFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProviderFile {
    name: String,
    #[serde(default)]
    match_images: Vec<String>,
    default_cache_duration: Option<String>,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: Vec<EnvVar>,
    token_attributes: Option<serde_yaml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvVar {
    name: String,
    value: String,
}

/// One configured plugin, checked.
#[derive(Debug)]
pub(super) struct ProviderConfig {
    pub name: String,
    pub match_images: Vec<Pattern>,
    pub default_cache_duration: Duration,
    pub api_version: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

/// Reads and checks the configuration at `path`.
pub(super) fn read(path: &Path) -> Result<Vec<ProviderConfig>, ProviderError> {
    let invalid = |detail: String| ProviderError::Config {
        path: path.display().to_string(),
        detail,
    };
    let text = read_bounded(path).map_err(|e| invalid(e.to_string()))?;
    parse(&text).map_err(invalid)
}

fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {MAX_CONFIG_BYTES} bytes"
        )));
    }
    Ok(text)
}

/// Parses a configuration (YAML or JSON).
pub(super) fn parse(text: &str) -> Result<Vec<ProviderConfig>, String> {
    let file: ConfigFile = serde_yaml::from_str(text).map_err(|e| e.to_string())?;
    if !CONFIG_API_VERSIONS.contains(&file.api_version.as_str()) {
        return Err(format!(
            "apiVersion {:?} is not one of {CONFIG_API_VERSIONS:?}",
            file.api_version
        ));
    }
    if file.kind != "CredentialProviderConfig" {
        return Err(format!(
            "kind {:?} is not CredentialProviderConfig",
            file.kind
        ));
    }
    if file.providers.is_empty() {
        return Err("providers: at least one provider is required".into());
    }
    let mut checked: Vec<ProviderConfig> = Vec::with_capacity(file.providers.len());
    for (at, provider) in file.providers.into_iter().enumerate() {
        let checked_one =
            check(provider, &checked).map_err(|detail| format!("providers[{at}]: {detail}"))?;
        checked.push(checked_one);
    }
    Ok(checked)
}

fn check(provider: ProviderFile, before: &[ProviderConfig]) -> Result<ProviderConfig, String> {
    let name = provider.name;
    if name.is_empty() || name.contains('/') || name.contains(' ') || name == "." || name == ".." {
        return Err(format!(
            "name {name:?} must name a file of the plugin directory (no '/', no spaces, not '.' or '..')"
        ));
    }
    if before.iter().any(|p| p.name == name) {
        return Err(format!("name {name:?} is given twice"));
    }
    if !PLUGIN_API_VERSIONS.contains(&provider.api_version.as_str()) {
        return Err(format!(
            "apiVersion {:?} is not one of {PLUGIN_API_VERSIONS:?}",
            provider.api_version
        ));
    }
    if provider.token_attributes.is_some() {
        return Err(
            "tokenAttributes (service account token mode) is not supported: Signet has no pod \
             service account token to give the plugin; remove it, or give the pod an \
             imagePullSecret"
                .into(),
        );
    }
    if provider.match_images.is_empty() {
        return Err("matchImages: at least one image pattern is required".into());
    }
    let match_images = provider
        .match_images
        .iter()
        .map(|key| {
            Pattern::parse(key, registry_host)
                .ok_or_else(|| format!("matchImages {key:?} names no registry host"))
        })
        .collect::<Result<_, _>>()?;
    let cache = provider
        .default_cache_duration
        .ok_or("defaultCacheDuration is required (\"0s\" caches nothing)")?;
    let default_cache_duration = parse_go_duration(&cache).ok_or_else(|| {
        format!("defaultCacheDuration {cache:?} is not a duration such as 12h, 30m or 0s")
    })?;
    Ok(ProviderConfig {
        name,
        match_images,
        default_cache_duration,
        api_version: provider.api_version,
        args: provider.args,
        env: provider
            .env
            .into_iter()
            .map(|v| (v.name, v.value))
            .collect(),
    })
}

/// A Go `time.Duration` string as Kubernetes writes `metav1.Duration` (`12h0m0s`, `1.5s`,
/// `300ms`, `0s`, `0`); `None` for a negative or malformed one.
pub(super) fn parse_go_duration(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let value: f64 = rest[..number_end].parse().ok()?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += value * seconds;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
- name: ecr-credential-provider
  matchImages: ["*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn"]
  defaultCacheDuration: "12h"
  apiVersion: credentialprovider.kubelet.k8s.io/v1
  args: ["get-credentials"]
  env:
  - name: AWS_PROFILE
    value: node
"#;

    #[test]
    fn the_kubelet_s_own_example_reads() {
        let providers = parse(GOOD).unwrap();
        assert_eq!(providers.len(), 1);
        let p = &providers[0];
        assert_eq!(p.name, "ecr-credential-provider");
        assert_eq!(p.default_cache_duration, Duration::from_secs(12 * 3600));
        assert_eq!(p.args, ["get-credentials"]);
        assert_eq!(p.env, [("AWS_PROFILE".into(), "node".into())]);
        assert!(p.match_images[0].matches("123.dkr.ecr.us-east-1.amazonaws.com", "team/app"));
        assert!(!p.match_images[0].matches("123.dkr.ecr.us-east-1.amazonaws.com.evil", "a"));
    }

    #[test]
    fn every_rule_the_kubelet_checks_is_refused_with_its_field() {
        let cases = [
            ("name: ecr-credential-provider", "name: ../bin/sh", "name"),
            ("name: ecr-credential-provider", "name: \"a b\"", "name"),
            ("name: ecr-credential-provider", "name: ..", "name"),
            (
                "apiVersion: credentialprovider.kubelet.k8s.io/v1",
                "apiVersion: credentialprovider.kubelet.k8s.io/v2",
                "apiVersion",
            ),
            (
                "defaultCacheDuration: \"12h\"",
                "defaultCacheDuration: \"-1s\"",
                "defaultCacheDuration",
            ),
            ("defaultCacheDuration: \"12h\"", "", "defaultCacheDuration"),
            (
                "matchImages: [\"*.dkr.ecr.*.amazonaws.com\", \"*.dkr.ecr.*.amazonaws.com.cn\"]",
                "matchImages: []",
                "matchImages",
            ),
            ("args: [\"get-credentials\"]", "argz: [\"x\"]", "argz"),
            (
                "args: [\"get-credentials\"]",
                "tokenAttributes: {serviceAccountTokenAudience: x}",
                "tokenAttributes",
            ),
            (
                "kind: CredentialProviderConfig",
                "kind: KubeletConfiguration",
                "kind",
            ),
            ("providers:", "providers: []\nother:", "other"),
        ];
        for (from, to, field) in cases {
            let text = GOOD.replace(from, to);
            let error = parse(&text)
                .err()
                .unwrap_or_else(|| panic!("accepted {to}"));
            assert!(error.contains(field), "{to}: {error}");
        }
        let twice = format!("{GOOD}{}", &GOOD[GOOD.find("- name").unwrap()..]);
        assert!(parse(&twice).unwrap_err().contains("twice"));
    }

    #[test]
    fn go_durations_parse_as_kubernetes_writes_them() {
        for (text, seconds) in [
            ("0", 0.0),
            ("0s", 0.0),
            ("12h0m0s", 43200.0),
            ("1.5s", 1.5),
            ("300ms", 0.3),
            ("1h30m", 5400.0),
        ] {
            assert_eq!(
                parse_go_duration(text),
                Some(Duration::from_secs_f64(seconds)),
                "{text}"
            );
        }
        for bad in ["", "-1s", "1", "1d", "s", "1h-", "abc"] {
            assert_eq!(parse_go_duration(bad), None, "{bad}");
        }
    }
}
