//! Secrets a `ClusterImagePolicy` names (`key.secretRef`, `keyless.ca-cert.secretRef`,
//! `source[].signaturePullSecrets`), read as policy-controller reads them: from the namespace
//! Signet itself runs in (policy-controller's `system.Namespace()`), whatever namespace the
//! reference names; a key Secret must hold exactly one data entry, whose value is the PEM.
//!
//! Only cluster mode (`signet serve --watch-policies`) reads Secrets: the cluster shell watches
//! Signet's namespace and hands the Secrets here, and the policies are compiled again when one
//! changes. A Secret that is missing, too large, empty or holds several entries never makes a
//! policy load without it: the authority naming it admits nothing and says why (fail closed,
//! where policy-controller drops the whole policy). File mode refuses the fields, and `signet
//! policy check` accepts them with a note (it cannot read the cluster).

use std::collections::BTreeMap;
use std::sync::Arc;

/// At most this many Secrets are kept from Signet's namespace.
pub const MAX_SECRETS: usize = 256;
/// A Secret whose data is larger than this (all entries together) is kept as too large.
pub const MAX_SECRET_BYTES: usize = 64 * 1024;
/// At most this many `signaturePullSecrets` per source.
pub const MAX_PULL_SECRETS: usize = 16;

/// How the Secrets a policy names are read.
#[derive(Debug, Clone, Default)]
pub enum PolicySecrets {
    /// Files (`serve --policy`, `review`, `verify`): the fields are refused.
    #[default]
    Refused,
    /// `signet policy check`: accepted and noted; authorities naming a Secret admit nothing.
    Checked,
    /// `serve --watch-policies`: read from the Secrets of Signet's namespace.
    Cluster(Arc<ClusterSecrets>),
}

/// The Secrets of Signet's namespace, as last listed or watched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterSecrets {
    /// Signet's namespace, the only one read.
    pub namespace: String,
    /// By name.
    pub secrets: BTreeMap<String, SecretContent>,
    /// The ConfigMaps of the same namespace (`policy.configMapRef`), by name: their data
    /// entries, or their size when over [`MAX_SECRET_BYTES`].
    pub config_maps: BTreeMap<String, Result<BTreeMap<String, String>, usize>>,
}

/// One Secret as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretContent {
    /// Its `type` and data entries (decoded), within [`MAX_SECRET_BYTES`].
    Data {
        /// `type`, such as `kubernetes.io/dockerconfigjson` (`Opaque` when unset).
        kind: String,
        /// Entries by key.
        data: BTreeMap<String, Vec<u8>>,
    },
    /// Larger than [`MAX_SECRET_BYTES`]: not kept.
    TooLarge(usize),
}

/// A Secret's data entries by key.
type SecretData = BTreeMap<String, Vec<u8>>;

/// A pull secret's content as the registry stage parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullSecretData {
    /// `<namespace>/<name>`, for messages.
    pub name: String,
    /// `type` of the Secret.
    pub kind: String,
    /// `.dockerconfigjson` (or legacy `.dockercfg`) bytes.
    pub config: Vec<u8>,
}

impl PolicySecrets {
    /// The PEM of key Secret `name` (for `field`), or why it cannot be used: the message of a
    /// denial. `Err(None)`: refused in this mode (reported by the caller).
    pub(super) fn key_pem(&self, name: &str, field: &str) -> Result<String, Option<String>> {
        let cluster = match self {
            Self::Refused => return Err(None),
            Self::Checked => {
                return Err(Some(format!(
                    "{field}: Secret <Signet's namespace>/{name} is read only when served with \
                     --watch-policies"
                )));
            }
            Self::Cluster(cluster) => cluster,
        };
        let at = format!("{}/{name}", cluster.namespace);
        let create = format!(
            "create it with one entry holding the PEM: `kubectl create secret generic {name} -n {} \
             --from-file=cosign.pub=<public key file>`",
            cluster.namespace
        );
        let (_, data) = cluster.found(name, field, &create)?;
        let mut entries = data.values();
        match (entries.next(), entries.next()) {
            (Some(pem), None) => String::from_utf8(pem.clone()).map_err(|_| {
                Some(format!(
                    "{field}: Secret {at} does not hold text (a PEM); {create}"
                ))
            }),
            (None, _) => Err(Some(format!(
                "{field}: Secret {at} contains no data; {create}"
            ))),
            (Some(_), Some(_)) => Err(Some(format!(
                "{field}: Secret {at} contains {} data entries, only one is supported (as in \
                 policy-controller); {create}",
                data.len()
            ))),
        }
    }

    /// The registry configurations of pull Secrets `names` (for `field`), or why they cannot
    /// be used. `Err(None)`: refused in this mode.
    pub(super) fn pull_secrets(
        &self,
        names: &[&str],
        field: &str,
    ) -> Result<Vec<PullSecretData>, Option<String>> {
        let cluster = match self {
            Self::Refused => return Err(None),
            Self::Checked => {
                return Err(Some(format!(
                    "{field}: Secrets {} of Signet's namespace are read only when served with \
                     --watch-policies",
                    names.join(", ")
                )));
            }
            Self::Cluster(cluster) => cluster,
        };
        if names.len() > MAX_PULL_SECRETS {
            return Err(Some(format!(
                "{field}: {} pull secrets exceed Signet's limit of {MAX_PULL_SECRETS}",
                names.len()
            )));
        }
        names
            .iter()
            .map(|name| pull_secret(cluster, name, field))
            .collect()
    }
}

impl PolicySecrets {
    /// The text of entry `key` of ConfigMap `name` (a `policy.configMapRef`, for `field`), or
    /// why it cannot be read. `Err(None)`: refused in this mode.
    pub(crate) fn config_map_text(
        &self,
        name: &str,
        key: &str,
        field: &str,
    ) -> Result<String, Option<String>> {
        let cluster = match self {
            Self::Refused => return Err(None),
            Self::Checked => {
                return Err(Some(format!(
                    "{field}: ConfigMap <Signet's namespace>/{name} is read only when served \
                     with --watch-policies"
                )));
            }
            Self::Cluster(cluster) => cluster,
        };
        let at = format!("{}/{name}", cluster.namespace);
        let create = format!(
            "create it in {}: `kubectl create configmap {name} -n {} --from-file={key}=<policy \
             file>`",
            cluster.namespace, cluster.namespace
        );
        match cluster.config_maps.get(name) {
            None => Err(Some(format!(
                "{field}: ConfigMap {at} not found (Signet reads ConfigMaps from its own \
                 namespace only); {create}"
            ))),
            Some(Err(size)) => Err(Some(format!(
                "{field}: ConfigMap {at} holds {size} bytes, more than Signet's limit of \
                 {MAX_SECRET_BYTES}; {create}"
            ))),
            Some(Ok(data)) => data.get(key).cloned().ok_or_else(|| {
                Some(format!(
                    "{field}: ConfigMap {at} has no entry {key:?}; {create}"
                ))
            }),
        }
    }
}

impl ClusterSecrets {
    /// The type and entries of Secret `name` (for `field`), or why it cannot be read, ending
    /// with `create` (how to make it).
    fn found(
        &self,
        name: &str,
        field: &str,
        create: &str,
    ) -> Result<(&String, &SecretData), Option<String>> {
        let at = format!("{}/{name}", self.namespace);
        match self.secrets.get(name) {
            None => Err(Some(format!(
                "{field}: Secret {at} not found (Signet reads Secrets from its own namespace \
                 only); {create}"
            ))),
            Some(SecretContent::TooLarge(size)) => Err(Some(format!(
                "{field}: Secret {at} holds {size} bytes, more than Signet's limit of \
                 {MAX_SECRET_BYTES}; {create}"
            ))),
            Some(SecretContent::Data { kind, data }) => Ok((kind, data)),
        }
    }
}

fn pull_secret(
    cluster: &ClusterSecrets,
    name: &str,
    field: &str,
) -> Result<PullSecretData, Option<String>> {
    let at = format!("{}/{name}", cluster.namespace);
    let create = format!(
        "create it in {}: `kubectl create secret docker-registry {name} -n {} --docker-server=... \
         --docker-username=... --docker-password=...`",
        cluster.namespace, cluster.namespace
    );
    let (kind, data) = cluster.found(name, field, &create)?;
    let key = match kind.as_str() {
        "kubernetes.io/dockerconfigjson" => ".dockerconfigjson",
        "kubernetes.io/dockercfg" => ".dockercfg",
        other => {
            return Err(Some(format!(
                "{field}: Secret {at} is of type {other:?}, not kubernetes.io/dockerconfigjson; \
                 {create}"
            )));
        }
    };
    match data.get(key) {
        Some(config) => Ok(PullSecretData {
            name: at,
            kind: kind.clone(),
            config: config.clone(),
        }),
        None => Err(Some(format!(
            "{field}: Secret {at} has no {key} entry; {create}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(entries: &[(&str, &[u8])]) -> PolicySecrets {
        let data = entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_vec()))
            .collect();
        let mut secrets = BTreeMap::new();
        secrets.insert(
            "key".to_string(),
            SecretContent::Data {
                kind: "Opaque".into(),
                data,
            },
        );
        secrets.insert("big".to_string(), SecretContent::TooLarge(1 << 20));
        PolicySecrets::Cluster(Arc::new(ClusterSecrets {
            namespace: "signet-system".into(),
            secrets,
            config_maps: BTreeMap::new(),
        }))
    }

    #[test]
    fn a_key_secret_must_hold_exactly_one_text_entry() {
        let one = cluster(&[("cosign.pub", b"PEM")]);
        assert_eq!(one.key_pem("key", "f").unwrap(), "PEM");
        for (entries, says) in [
            (vec![], "contains no data"),
            (
                vec![("a", b"x".as_slice()), ("b", b"y".as_slice())],
                "2 data entries",
            ),
            (vec![("a", b"\xff\xfe".as_slice())], "does not hold text"),
        ] {
            let message = cluster(&entries).key_pem("key", "f").unwrap_err().unwrap();
            assert!(message.contains(says), "{message}");
            assert!(message.contains("signet-system/key"), "{message}");
        }
        let missing = one.key_pem("nope", "f").unwrap_err().unwrap();
        assert!(
            missing.contains("signet-system/nope not found"),
            "{missing}"
        );
        assert!(missing.contains("kubectl create secret"), "{missing}");
        let big = one.key_pem("big", "f").unwrap_err().unwrap();
        assert!(big.contains("limit"), "{big}");
        assert_eq!(PolicySecrets::Refused.key_pem("key", "f"), Err(None));
        let checked = PolicySecrets::Checked.key_pem("key", "f").unwrap_err();
        assert!(checked.unwrap().contains("--watch-policies"));
    }

    #[test]
    fn a_policy_config_map_entry_is_read_in_cluster_mode_only() {
        let mut secrets = ClusterSecrets {
            namespace: "signet-system".into(),
            ..ClusterSecrets::default()
        };
        let data = BTreeMap::from([("policy.rego".to_string(), "package sigstore".to_string())]);
        secrets.config_maps.insert("p".into(), Ok(data));
        secrets.config_maps.insert("big".into(), Err(1 << 20));
        let cluster = PolicySecrets::Cluster(Arc::new(secrets));
        let text = cluster.config_map_text("p", "policy.rego", "f");
        assert_eq!(text.unwrap(), "package sigstore");
        for (name, key, says) in [
            ("p", "other", "has no entry \"other\""),
            ("nope", "k", "signet-system/nope not found"),
            ("big", "k", "limit"),
        ] {
            let why = cluster
                .config_map_text(name, key, "f")
                .unwrap_err()
                .unwrap();
            assert!(why.contains(says), "{why}");
            assert!(why.contains("kubectl create configmap"), "{why}");
        }
        let refused = PolicySecrets::Refused.config_map_text("p", "k", "f");
        assert_eq!(refused, Err(None));
        let checked = PolicySecrets::Checked
            .config_map_text("p", "k", "f")
            .unwrap_err();
        assert!(checked.unwrap().contains("--watch-policies"));
    }

    #[test]
    fn a_pull_secret_must_be_a_docker_config() {
        let opaque = cluster(&[(".dockerconfigjson", b"{}")]);
        let message = opaque.pull_secrets(&["key"], "f").unwrap_err().unwrap();
        assert!(
            message.contains("not kubernetes.io/dockerconfigjson"),
            "{message}"
        );
        let many: Vec<&str> = vec!["key"; MAX_PULL_SECRETS + 1];
        let message = opaque.pull_secrets(&many, "f").unwrap_err().unwrap();
        assert!(message.contains("limit"), "{message}");
    }
}
