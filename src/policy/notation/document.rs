//! The trust policy document (`trustpolicy.json`, and `trustpolicy.oci.json`, the same schema
//! under the name Notation 1.2+ reads first), parsed and validated by the rules of notation-go's
//! `OCIDocument.Validate`, in its order and with its words: version `1.0`; at least one
//! statement; unique names; a level (with overrides); trust stores and trusted identities unless
//! the level is `skip`; registry scopes (`*` alone, or fully qualified repositories, each in one
//! statement only). Unknown fields are refused (Notation ignores them; a misspelt `override`
//! would silently change what is enforced).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

use regex::Regex;
use serde::Deserialize;

use super::identity::{self, NotationIdentity};
use super::level::{self, Enforcement};
use super::trust_store::{StoreKind, valid_name};

/// The only version Notation defines.
pub const SUPPORTED_VERSION: &str = "1.0";

/// How a trust policy is written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Document {
    #[serde(default)]
    version: String,
    #[serde(default)]
    trust_policies: Vec<Statement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Statement {
    #[serde(default)]
    name: String,
    #[serde(default)]
    registry_scopes: Vec<String>,
    #[serde(default)]
    signature_verification: SignatureVerification,
    #[serde(default)]
    trust_stores: Vec<String>,
    #[serde(default)]
    trusted_identities: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SignatureVerification {
    #[serde(default)]
    level: String,
    #[serde(default, rename = "override")]
    overrides: BTreeMap<String, String>,
    #[serde(default)]
    verify_timestamp: String,
}

/// When a timestamp countersignature is verified (`verifyTimestamp`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampOption {
    /// `always` (the default).
    Always,
    /// `afterCertExpiry`: only when the signing certificate has expired.
    AfterCertExpiry,
}

/// One valid statement.
#[derive(Debug, Clone)]
pub struct ValidStatement {
    /// `name`.
    pub name: String,
    /// `registryScopes`: `*`, or repositories.
    pub scopes: Vec<String>,
    /// The level's name as written.
    pub level: String,
    /// The checks' actions; `None` for `skip`.
    pub enforcement: Option<Enforcement>,
    /// `verifyTimestamp`.
    pub verify_timestamp: TimestampOption,
    /// `trustStores`, parsed.
    pub stores: Vec<(StoreKind, String)>,
    /// `trustedIdentities`, parsed.
    pub identities: Vec<NotationIdentity>,
}

/// Parse and validate `text`; the error as notation-go gives it.
pub fn parse(text: &str) -> Result<Vec<ValidStatement>, String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("malformed trust policy: {e}"))?;
    let statements = value.get("trustPolicies").and_then(|s| s.as_array());
    let blob = statements.is_some_and(|s| s.iter().any(|s| s.get("globalPolicy").is_some()));
    if blob {
        return Err("this is a blob trust policy (trustpolicy.blob.json: its statements have globalPolicy): it applies to files signed with `notation blob sign`, not to images; give the OCI trust policy (trustpolicy.oci.json or trustpolicy.json)".into());
    }
    let document: Document =
        serde_json::from_value(value).map_err(|e| format!("malformed trust policy: {e}"))?;
    if document.version.is_empty() {
        return Err(
            "oci trust policy document has empty version, version must be specified".into(),
        );
    }
    if document.version != SUPPORTED_VERSION {
        return Err(format!(
            "oci trust policy document uses unsupported version {:?} (Notation defines {SUPPORTED_VERSION:?})",
            document.version
        ));
    }
    if document.trust_policies.is_empty() {
        return Err("oci trust policy document can not have zero trust policy statements".into());
    }
    let mut names = BTreeSet::new();
    let mut statements = Vec::with_capacity(document.trust_policies.len());
    for statement in document.trust_policies {
        if !names.insert(statement.name.clone()) {
            return Err(format!(
                "multiple oci trust policy statements use the same name {:?}, statement names must be unique",
                statement.name
            ));
        }
        statements.push(core(statement).map_err(|e| format!("oci trust policy: {e}"))?);
    }
    check_scopes(&statements)?;
    Ok(statements)
}

/// notation-go's `validatePolicyCore`.
fn core(statement: Statement) -> Result<ValidStatement, String> {
    let name = statement.name;
    if name.is_empty() {
        return Err(
            "a trust policy statement is missing a name, every statement requires a name".into(),
        );
    }
    let verification = statement.signature_verification;
    let enforcement =
        level::resolve(&verification.level, &verification.overrides).map_err(|e| {
            format!("trust policy statement {name:?} has invalid signatureVerification: {e}")
        })?;
    let verify_timestamp = match verification.verify_timestamp.as_str() {
        "" | "always" => TimestampOption::Always,
        "afterCertExpiry" => TimestampOption::AfterCertExpiry,
        other => {
            return Err(format!(
                "trust policy statement {name:?} has invalid signatureVerification: verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {other:?}"
            ));
        }
    };
    let (stores, identities) = (&statement.trust_stores, &statement.trusted_identities);
    let (stores, identities) = match enforcement {
        None if !stores.is_empty() || !identities.is_empty() => {
            return Err(format!(
                "trust policy statement {name:?} is set to skip signature verification but configured with trust stores and/or trusted identities, remove them if signature verification needs to be skipped"
            ));
        }
        None => (Vec::new(), Vec::new()),
        Some(_) if stores.is_empty() || identities.is_empty() => {
            return Err(format!(
                "trust policy statement {name:?} is either missing trust stores or trusted identities, both must be specified"
            ));
        }
        Some(_) => (
            parse_stores(&name, stores)?,
            identity::parse_all(identities)
                .map_err(|e| format!("trust policy statement {name:?} {e}"))?,
        ),
    };
    Ok(ValidStatement {
        name,
        scopes: statement.registry_scopes,
        level: verification.level,
        enforcement,
        verify_timestamp,
        stores,
        identities,
    })
}

fn parse_stores(name: &str, stores: &[String]) -> Result<Vec<(StoreKind, String)>, String> {
    let mut out = Vec::with_capacity(stores.len());
    for store in stores {
        let Some((kind, store_name)) = store.split_once(':') else {
            return Err(format!(
                "trust policy statement {name:?} has malformed trust store value {store:?}. The required format is <TrustStoreType>:<TrustStoreName>"
            ));
        };
        let Some(kind) = StoreKind::parse(kind) else {
            return Err(format!(
                "trust policy statement {name:?} uses an unsupported trust store type {kind:?} in trust store value {store:?} (ca, signingAuthority or tsa)"
            ));
        };
        if !valid_name(store_name) {
            return Err(format!(
                "trust policy statement {name:?} uses an unsupported trust store name {store_name:?} in trust store value {store:?}. Named store name needs to follow [a-zA-Z0-9_.-]+ format"
            ));
        }
        out.push((kind, store_name.to_string()));
    }
    Ok(out)
}

/// notation-go's `validateRegistryScopes`.
fn check_scopes(statements: &[ValidStatement]) -> Result<(), String> {
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for statement in statements {
        let name = &statement.name;
        if statement.scopes.is_empty() {
            return Err(format!(
                "oci trust policy statement {name:?} has zero registry scopes, it must specify registry scopes with at least one value"
            ));
        }
        if statement.scopes.len() > 1 && statement.scopes.iter().any(|s| s == "*") {
            return Err(format!(
                "oci trust policy statement {name:?} uses wildcard registry scope '*', a wildcard scope cannot be used in conjunction with other scope values"
            ));
        }
        for scope in &statement.scopes {
            if scope != "*" {
                check_scope_format(scope)?;
            }
            *seen.entry(scope).or_default() += 1;
        }
    }
    match seen.iter().find(|(_, count)| **count > 1) {
        Some((scope, _)) => Err(format!(
            "registry scope {scope:?} is present in multiple oci trust policy statements, one registry scope value can only be associated with one statement"
        )),
        None => Ok(()),
    }
}

/// notation-go's `validateRegistryScopeFormat`: `domain[:port]/repository`, no wildcard.
fn check_scope_format(scope: &str) -> Result<(), String> {
    static DOMAIN: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))+)?(?::[0-9]+)?$").ok()
    });
    static REPOSITORY: LazyLock<Option<Regex>> = LazyLock::new(|| {
        Regex::new(r"^[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?(?:(?:/[a-z0-9]+(?:(?:(?:[._]|__|[-]*)[a-z0-9]+)+)?)+)?$").ok()
    });
    let is =
        |re: &LazyLock<Option<Regex>>, text: &str| re.as_ref().is_some_and(|re| re.is_match(text));
    let ensure = "make sure it is a fully qualified repository without the scheme, protocol or tag. For example domain.com/my/repository or a local scope like local/myOCILayout";
    if scope.len() > 1 && scope.contains('*') {
        return Err(format!(
            "registry scope {scope:?} with wild card(s) is not valid, {ensure}"
        ));
    }
    let valid = match scope.split_once('/') {
        Some((domain, repository)) => is(&DOMAIN, domain) && is(&REPOSITORY, repository),
        None => false,
    };
    match valid {
        true => Ok(()),
        false => Err(format!("registry scope {scope:?} is not valid, {ensure}")),
    }
}
