//! Named trust roots for keyless authorities, loaded from the files given with `--trust-root`:
//! policy-controller `TrustRoot` objects (YAML or JSON, named by `metadata.name`) and sigstore
//! `trusted_root.json` files (named by file stem, so `sigstore-public-good.json` is
//! `sigstore-public-good`). A policy refers to one with `keyless.trustRootRef` or
//! `ctlog.trustRootRef`; the root named `default` supplies Rekor keys to `keyless.ca-cert`.
//! Everything is local: a TrustRoot that would need TUF or the network is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;

use super::public_good::{self, PUBLIC_GOOD_TRUST_ROOT};
use super::trust_root_formats::{self as formats, FieldFailure, TrustRootSpec, TrustedRoot};
use super::{KeylessTrust, TrustError};
use crate::policy::error::{LoadError, LoadErrorKind};
use crate::policy::secret_refs::PolicySecrets;

/// The trust root a `keyless.ca-cert` authority takes its Rekor keys from.
pub const DEFAULT_TRUST_ROOT: &str = "default";
/// At most this many trust roots.
pub const MAX_TRUST_ROOTS: usize = 100;

/// Trust roots by name.
#[derive(Debug, Clone, Default)]
pub struct TrustRoots {
    by_name: BTreeMap<String, Arc<KeylessTrust>>,
    /// How the Secrets policies name are read (`secretRef`, `signaturePullSecrets`): trust
    /// material by name too, and compiled in with the roots.
    secrets: PolicySecrets,
}

/// A `TrustRoot` object (or a `v1` `List` of them); `metadata` stays open as in Kubernetes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TrustRootObject {
    api_version: String,
    kind: String,
    #[serde(default)]
    metadata: Metadata,
    #[serde(default)]
    spec: Option<TrustRootSpec>,
    #[serde(default)]
    #[allow(dead_code, reason = "part of the closed schema; not read by Signet")]
    status: Option<serde_yaml::Value>,
    #[serde(default)]
    items: Option<Vec<serde_yaml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
struct Metadata {
    #[serde(default)]
    name: String,
}

impl TrustRoots {
    /// Load every file (directories: `*.yaml`, `*.yml`, `*.json`, sorted, hidden entries
    /// skipped). Two roots with one name are an error.
    pub fn load(paths: &[PathBuf]) -> Result<TrustRoots, LoadError> {
        let mut roots = TrustRoots::default();
        for path in paths {
            for file in crate::policy::policy_files(path)? {
                let name = file.display().to_string();
                let text = crate::policy::read_limited(&file, &name)?;
                roots.add_text(&text, &name, &stem(&file))?;
            }
        }
        Ok(roots)
    }

    /// Trust roots from the text of one file; `source` names it in errors and `stem` names a
    /// `trusted_root.json`.
    pub fn from_text(text: &str, source: &str, stem: &str) -> Result<TrustRoots, LoadError> {
        let mut roots = TrustRoots::default();
        roots.add_text(text, source, stem)?;
        Ok(roots)
    }

    /// Add (or replace) a root built some other way, such as CRI-O's PEM form.
    pub fn insert(&mut self, name: &str, trust: KeylessTrust) {
        self.by_name.insert(name.to_string(), Arc::new(trust));
    }

    /// These roots, with policies' Secrets read as `secrets` says.
    pub fn with_secrets(mut self, secrets: PolicySecrets) -> TrustRoots {
        self.secrets = secrets;
        self
    }

    /// How policies' Secrets are read.
    pub fn secrets(&self) -> &PolicySecrets {
        &self.secrets
    }

    /// The root called `name`; for [`PUBLIC_GOOD_TRUST_ROOT`], the embedded snapshot unless a
    /// root of that name was given.
    pub fn get(&self, name: &str) -> Option<&Arc<KeylessTrust>> {
        match self.by_name.get(name) {
            None if name == PUBLIC_GOOD_TRUST_ROOT => public_good::embedded(),
            found => found,
        }
    }

    /// The public-good root: the one given under [`PUBLIC_GOOD_TRUST_ROOT`], else the embedded
    /// snapshot.
    pub fn public_good(&self) -> Option<&Arc<KeylessTrust>> {
        self.get(PUBLIC_GOOD_TRUST_ROOT)
    }

    /// The names, sorted (the embedded public-good root included).
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.by_name.keys().map(String::as_str).collect();
        if !self.by_name.contains_key(PUBLIC_GOOD_TRUST_ROOT) {
            names.push(PUBLIC_GOOD_TRUST_ROOT);
            names.sort_unstable();
        }
        names
    }

    fn add_text(&mut self, text: &str, source: &str, stem: &str) -> Result<(), LoadError> {
        if let Some(root) = trusted_root_json(text) {
            let root = root.map_err(|e| file_error(source, e))?;
            let trust = formats::from_trusted_root(&root, &format!("trusted root {stem}"))
                .map_err(|failure| field_error(source, &format!("TrustedRoot/{stem}"), failure))?;
            return self.add(stem, trust, source);
        }
        for document in serde_yaml::Deserializer::from_str(text) {
            let value = serde_yaml::Value::deserialize(document)
                .map_err(|e| file_error(source, e.to_string()))?;
            if !value.is_null() {
                self.add_object(value, source)?;
            }
        }
        Ok(())
    }

    fn add_object(&mut self, value: serde_yaml::Value, source: &str) -> Result<(), LoadError> {
        let object: TrustRootObject = serde_yaml::from_value(value)
            .map_err(|e| file_error(source, format!("not a TrustRoot: {e}")))?;
        if object.api_version == "v1" && object.kind == "List" {
            for item in object.items.unwrap_or_default() {
                self.add_object(item, source)?;
            }
            return Ok(());
        }
        let id = format!("TrustRoot/{}", object.metadata.name);
        if !object.api_version.starts_with("policy.sigstore.dev/") || object.kind != "TrustRoot" {
            let message = format!(
                "kind {:?} ({:?}) is not a TrustRoot of policy.sigstore.dev",
                object.kind, object.api_version
            );
            return Err(invalid(source, &id, None, message));
        }
        if object.metadata.name.is_empty() {
            return Err(invalid(
                source,
                &id,
                None,
                "metadata.name is required".into(),
            ));
        }
        let trust = compile_spec(object.spec.unwrap_or_default(), &object.metadata.name)
            .map_err(|failure| field_error(source, &id, failure))?;
        self.add(&object.metadata.name, trust, source)
    }

    fn add(&mut self, name: &str, trust: KeylessTrust, source: &str) -> Result<(), LoadError> {
        let id = format!("TrustRoot/{name}");
        if self.by_name.contains_key(name) {
            return Err(invalid(
                source,
                &id,
                None,
                "trust root defined twice".into(),
            ));
        }
        if self.by_name.len() == MAX_TRUST_ROOTS {
            let message = format!("more than {MAX_TRUST_ROOTS} trust roots (Signet's limit)");
            let kind = LoadErrorKind::Unsupported(message);
            return Err(LoadError::object(source, Some(id), None, kind));
        }
        self.insert(name, trust);
        Ok(())
    }
}

/// `spec` of a TrustRoot: only `sigstoreKeys` works offline.
fn compile_spec(spec: TrustRootSpec, name: &str) -> Result<KeylessTrust, FieldFailure> {
    use super::TrustError::{Missing, Unsupported};
    if spec.remote.is_some() {
        let why = "TUF remotes need the network; Signet is offline: use spec.sigstoreKeys";
        return Err(("spec.remote".into(), Unsupported(why.into())));
    }
    if spec.repository.is_some() {
        let why = "serialized TUF repositories are not supported yet: use spec.sigstoreKeys";
        return Err(("spec.repository".into(), Unsupported(why.into())));
    }
    let Some(keys) = spec.sigstore_keys else {
        return Err(("spec.sigstoreKeys".into(), Missing("required".into())));
    };
    formats::from_sigstore_keys(&keys, &format!("TrustRoot {name}"))
}

/// A `trusted_root.json`'s text as trust, `origin` naming it in messages.
pub(super) fn parse_trusted_root(text: &str, origin: &str) -> Result<KeylessTrust, String> {
    let root = trusted_root_json(text).ok_or("not a trusted_root.json")??;
    formats::from_trusted_root(&root, origin).map_err(|(field, e)| format!("{field}: {e}"))
}

/// `Some` when `text` is a JSON object whose `mediaType` is a trusted root's.
fn trusted_root_json(text: &str) -> Option<Result<TrustedRoot, String>> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let media_type = value.get("mediaType")?.as_str()?;
    if !media_type.starts_with(formats::TRUSTED_ROOT_MEDIA_TYPE) {
        return None;
    }
    Some(serde_json::from_value(value).map_err(|e| format!("not a trusted_root.json: {e}")))
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default()
        .to_string()
}

fn file_error(source: &str, message: String) -> LoadError {
    LoadError::file(source, LoadErrorKind::Invalid(message))
}

fn field_error(source: &str, object: &str, (field, error): FieldFailure) -> LoadError {
    let kind = match &error {
        TrustError::Unsupported(m) => LoadErrorKind::Unsupported(m.clone()),
        _ => LoadErrorKind::Invalid(error.to_string()),
    };
    let field = (!field.is_empty()).then_some(field);
    LoadError::object(source, Some(object.to_string()), field, kind)
}

fn invalid(source: &str, object: &str, field: Option<String>, message: String) -> LoadError {
    LoadError::object(
        source,
        Some(object.to_string()),
        field,
        LoadErrorKind::Invalid(message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = "../shared/fixtures/third_party";

    fn read(path: &str) -> String {
        std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap()
    }

    // sigstore-rs trust_root/prod/trusted_root.json: the public-good root.
    #[test]
    fn public_good_trusted_root_json_is_named_by_stem_with_validity_windows() {
        let text = read("sigstore-rs/trust_root/prod/trusted_root.json");
        let roots = TrustRoots::from_text(&text, "t.json", "sigstore-public-good").unwrap();
        let trust = roots.get("sigstore-public-good").unwrap();
        assert_eq!(trust.certificate_authorities.len(), 2);
        assert_eq!(trust.certificate_authorities[1].intermediates.len(), 1);
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

    // sigstore-conformance bundle-verify/rekor2-happy-path/trusted_root.json (staging root) and
    // trust-root-tlog-missing-validity-start_fail/trusted_root.json.
    #[test]
    fn staging_root_loads_rekor_v2_log_ids_tsas_and_skips_the_pkcs1_ct_key() {
        let dir = "sigstore-conformance/test/assets/bundle-verify";
        let text = read(&format!("{dir}/rekor2-happy-path/trusted_root.json"));
        let roots = TrustRoots::from_text(&text, "t.json", "staging").unwrap();
        let trust = roots.get("staging").unwrap();
        // The Ed25519 Rekor v2 log is found by its stated signed-note key ID.
        let v2 = "f30d5a999d92e662484244263f174cb8eacbfe8264bc583d32741799e3825dc9";
        assert_eq!(trust.rekor_keys.get(v2).unwrap().log_id, v2);
        assert_eq!(trust.rekor_keys.len(), 2);
        // Of three CT logs, the PKCS#1 RSA one is skipped.
        assert_eq!(trust.ct_keys.len(), 2);
        assert_eq!(trust.timestamp_authorities.len(), 1);
        assert_eq!(trust.timestamp_authorities[0].intermediates.len(), 1);
        let text = read(&format!(
            "{dir}/trust-root-tlog-missing-validity-start_fail/trusted_root.json"
        ));
        let err = TrustRoots::from_text(&text, "t.json", "t").unwrap_err();
        assert_eq!(
            err.field.as_deref(),
            Some("tlogs[1].publicKey.validFor.start"),
            "{err}"
        );
    }

    // policy-controller test/testdata/trustroot/valid/valid-sigstore-keys.yaml.
    #[test]
    fn policy_controller_trust_root_object_loads_by_metadata_name() {
        let text = read("policy-controller/test/testdata/trustroot/valid/valid-sigstore-keys.yaml");
        let roots = TrustRoots::from_text(&text, "tr.yaml", "tr").unwrap();
        assert_eq!(
            roots.names(),
            ["bring-your-own-sigstore-keys", "sigstore-public-good"]
        );
        let trust = roots.get("bring-your-own-sigstore-keys").unwrap();
        assert!(!trust.certificate_authorities.is_empty());
        assert_eq!(trust.rekor_keys.len(), 1);
        assert_eq!(trust.ct_keys.len(), 1);
    }

    // policy-controller test/testdata/trustroot/e2e/with-remote.yaml, with-repository.yaml.
    #[test]
    fn trust_roots_that_need_tuf_are_refused_by_field() {
        for (file, field) in [
            ("with-remote.yaml", "spec.remote"),
            ("with-repository.yaml", "spec.repository"),
        ] {
            let text = read(&format!(
                "policy-controller/test/testdata/trustroot/e2e/{file}"
            ));
            let err = TrustRoots::from_text(&text, file, "x").unwrap_err();
            assert_eq!(err.field.as_deref(), Some(field), "{err}");
            assert!(matches!(err.kind, LoadErrorKind::Unsupported(_)), "{err}");
        }
    }

    #[test]
    fn broken_material_names_file_object_and_field() {
        let text = "apiVersion: policy.sigstore.dev/v1alpha1\nkind: TrustRoot\nmetadata: {name: t}\n\
                    spec:\n  sigstoreKeys:\n    certificateAuthorities: [{certChain: bm90IHBlbQ==}]\n";
        let err = TrustRoots::from_text(text, "t.yaml", "t").unwrap_err();
        assert_eq!(err.object.as_deref(), Some("TrustRoot/t"));
        assert_eq!(
            err.field.as_deref(),
            Some("spec.sigstoreKeys.certificateAuthorities[0].certChain")
        );
        let valid =
            read("policy-controller/test/testdata/trustroot/valid/valid-sigstore-keys.yaml");
        let twice = format!("{valid}\n---\n{valid}");
        let err = TrustRoots::from_text(&twice, "t.yaml", "t").unwrap_err();
        assert!(err.to_string().contains("defined twice"), "{err}");
        let policy = "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata: {name: p}\n";
        assert!(TrustRoots::from_text(policy, "p.yaml", "p").is_err());
    }
}
