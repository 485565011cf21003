//! Notary Project (Notation) trust policies and trust stores, read as Notation reads them
//! (`--notation-trust-policy`, `--notation-trust-store`): `document` parses and validates the
//! trust policy (`trustpolicy.json` / `trustpolicy.oci.json`, version 1.0), `level` gives each
//! verification level's actions, `identity` parses trusted identities, `trust_store` reads the
//! `x509/{ca|signingAuthority|tsa}/{name}/` directories.
//!
//! Each statement compiles into one [`ImagePolicy`] with one `notation` authority (a `skip`
//! statement into a `static: pass` one: Notation verifies nothing there). The statement that
//! governs an image is Notation's: the one whose `registryScopes` names the image's repository,
//! else the `*` one, else none (then only Signet's other policies, or `--no-match`, decide).
//!
//! Revocation (OCSP, CRL) needs network requests Signet does not make: a statement whose level
//! enforces it (`strict`, or an override to `enforce`) is refused at load, naming the override
//! that accepts signatures without that check.

mod document;
mod identity;
mod level;
mod trust_store;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::error::{LoadError, LoadErrorKind};
use super::load::read_limited;
use super::model::{AuthorityKind, ImagePolicy, StaticAction, StaticAuthority};
use crate::reference::ImageReference;

pub use document::TimestampOption;
pub use identity::NotationIdentity;
pub use level::{Action, Enforcement};
pub use trust_store::{NotationTrustStore, StoreKind};

/// The file names Notation reads in its configuration directory, the first found wins
/// (notation-go `LoadOCIDocument`).
pub const TRUST_POLICY_FILES: [&str; 2] = ["trustpolicy.oci.json", "trustpolicy.json"];

/// A `notation` authority: a Notary Project signature whose certificate chain leads to one of
/// `stores`, by one of `identities`, judged at `level`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotationAuthority {
    /// The trust policy statement (or authority) it came from, for messages.
    pub statement: String,
    /// The level as written (`strict`, `permissive`, `audit`).
    pub level: String,
    /// What each check's failure does.
    pub enforcement: Enforcement,
    /// `verifyTimestamp`.
    pub verify_timestamp: TimestampOption,
    /// The trust stores, read.
    pub stores: Vec<Arc<NotationTrustStore>>,
    /// `trustedIdentities`.
    pub identities: Vec<NotationIdentity>,
}

impl NotationAuthority {
    /// The certificates (DER) of the stores of `kind`.
    pub fn certificates(&self, kind: StoreKind) -> Vec<Vec<u8>> {
        self.stores
            .iter()
            .filter(|s| s.kind == kind)
            .flat_map(|s| s.certificates.iter().cloned())
            .collect()
    }

    /// `"ca:a", "tsa:b"`, for messages.
    pub fn store_names(&self) -> String {
        let names: Vec<String> = self
            .stores
            .iter()
            .map(|s| format!("{:?}", s.reference()))
            .collect();
        names.join(", ")
    }
}

/// A loaded trust policy: its statements, compiled.
#[derive(Debug, Clone)]
pub struct NotationTrustPolicy {
    /// The file it was read from.
    pub source: String,
    statements: Vec<Statement>,
}

#[derive(Debug, Clone)]
struct Statement {
    scopes: Vec<String>,
    policy: ImagePolicy,
}

impl NotationTrustPolicy {
    /// Read the trust policy `policy` (a file, or Notation's configuration directory holding
    /// `trustpolicy.oci.json` or `trustpolicy.json`) and the stores it names under the trust
    /// store directory `store` (`{store}/x509/...`, Notation's `truststore` directory).
    pub fn load(policy: &Path, store: &Path) -> Result<Self, LoadError> {
        let file = trust_policy_file(policy)?;
        let source = file.display().to_string();
        let text = read_limited(&file, &source)?;
        Self::parse(&text, &source, store)
    }

    /// [`NotationTrustPolicy::load`] of `text`, named `source` in messages.
    pub fn parse(text: &str, source: &str, store: &Path) -> Result<Self, LoadError> {
        let invalid = |e: String| LoadError::file(source, LoadErrorKind::Invalid(e));
        let unsupported = |e: String| LoadError::file(source, LoadErrorKind::Unsupported(e));
        let mut statements = Vec::new();
        for valid in document::parse(text).map_err(invalid)? {
            let kind = match valid.enforcement {
                None => AuthorityKind::Static(StaticAuthority {
                    action: StaticAction::Pass,
                    message: None,
                    unusable: false,
                }),
                Some(enforcement) => {
                    refuse_revocation(&valid.name, &valid.level, enforcement)
                        .map_err(unsupported)?;
                    let mut stores = Vec::with_capacity(valid.stores.len());
                    for (kind, name) in &valid.stores {
                        let loaded = trust_store::load(store, *kind, name).map_err(|e| {
                            invalid(format!("trust policy statement {:?}: {e}", valid.name))
                        })?;
                        stores.push(Arc::new(loaded));
                    }
                    AuthorityKind::Notation(NotationAuthority {
                        statement: valid.name.clone(),
                        level: valid.level.clone(),
                        enforcement,
                        verify_timestamp: valid.verify_timestamp,
                        stores,
                        identities: valid.identities,
                    })
                }
            };
            let mut policy = statement_policy(&valid.name, source, kind);
            policy.refresh_fingerprint();
            statements.push(Statement {
                scopes: valid.scopes,
                policy,
            });
        }
        Ok(Self {
            source: source.to_string(),
            statements,
        })
    }

    /// The statement that governs `image`: the one naming its repository, else the `*` one.
    pub fn policy_for(&self, image: &ImageReference) -> Option<&ImagePolicy> {
        let repository = image.name();
        let named = |scope: &str| self.find(|s| s.scopes.iter().any(|x| x == scope));
        named(&repository).or_else(|| named("*"))
    }

    fn find(&self, pick: impl Fn(&Statement) -> bool) -> Option<&ImagePolicy> {
        self.statements.iter().find(|s| pick(s)).map(|s| &s.policy)
    }

    /// Every statement's policy, in the file's order, with its registry scopes.
    pub fn statements(&self) -> impl Iterator<Item = (&[String], &ImagePolicy)> {
        self.statements
            .iter()
            .map(|s| (s.scopes.as_slice(), &s.policy))
    }
}

/// The file `path` names: itself, or in a directory the first of [`TRUST_POLICY_FILES`].
fn trust_policy_file(path: &Path) -> Result<PathBuf, LoadError> {
    if !path.is_dir() {
        return Ok(path.to_path_buf());
    }
    TRUST_POLICY_FILES
        .iter()
        .map(|name| path.join(name))
        .find(|file| file.is_file())
        .ok_or_else(|| {
            let message = format!(
                "holds neither {} nor {}: give the trust policy file, or Notation's configuration directory holding it",
                TRUST_POLICY_FILES[0], TRUST_POLICY_FILES[1]
            );
            LoadError::file(&path.display().to_string(), LoadErrorKind::Io(std::io::Error::new(std::io::ErrorKind::NotFound, message)))
        })
}

/// Refuse a level that enforces revocation checking, which Signet cannot do offline.
fn refuse_revocation(name: &str, level: &str, enforcement: Enforcement) -> Result<(), String> {
    if enforcement.revocation != Action::Enforce {
        return Ok(());
    }
    Err(format!(
        "trust policy statement {name:?} enforces revocation checking (level {level:?}), which needs \
         OCSP and CRL requests Signet does not make; to accept signatures without a revocation \
         check, add \"override\": {{\"revocation\": \"log\"}} (or \"skip\") to its \
         signatureVerification"
    ))
}

/// The policy of one statement: no globs (the trust policy selects it), enforcing, the index
/// digest signed (what `notation sign` signs).
fn statement_policy(name: &str, source: &str, kind: AuthorityKind) -> ImagePolicy {
    ImagePolicy::of_one_authority(
        (name.to_string(), source, None),
        format!("notation:{name}"),
        kind,
    )
}

/// A `notation:` authority of a `ClusterImagePolicy`, as written (its stores apart).
pub(crate) struct InlineStatement<'a> {
    /// The authority's name, for messages.
    pub name: &'a str,
    /// `level`.
    pub level: &'a str,
    /// `override`.
    pub overrides: &'a std::collections::BTreeMap<String, String>,
    /// `verifyTimestamp`.
    pub verify_timestamp: &'a str,
    /// `trustedIdentities`.
    pub identities: &'a [String],
}

/// Compile a `notation:` authority: the trust policy's rules for its level, override,
/// identities and revocation, its stores' `(name, type, PEM)` read as a trust store directory's
/// files are.
pub(crate) fn compile_inline<'a>(
    statement: InlineStatement<'_>,
    stores: impl Iterator<Item = (&'a str, &'a str, &'a str)>,
) -> Result<NotationAuthority, String> {
    let name = statement.name;
    let enforcement = match level::resolve(statement.level, statement.overrides)? {
        Some(enforcement) => enforcement,
        None => {
            return Err(
                "level skip verifies nothing: write `static: {action: pass}` for that".into(),
            );
        }
    };
    refuse_revocation(name, statement.level, enforcement)
        .map_err(|e| e.replace("signatureVerification", "notation authority"))?;
    let verify_timestamp = match statement.verify_timestamp {
        "" | "always" => TimestampOption::Always,
        "afterCertExpiry" => TimestampOption::AfterCertExpiry,
        other => {
            return Err(format!(
                "verifyTimestamp must be \"always\" or \"afterCertExpiry\", but got {other:?}"
            ));
        }
    };
    let identities = match statement.identities {
        [] => {
            return Err(
                "trustedIdentities is empty: write \"*\" or x509.subject identities".into(),
            );
        }
        some => identity::parse_all(some).map_err(|e| format!("trustedIdentities {e}"))?,
    };
    let mut loaded = Vec::new();
    for (i, (store_name, kind, data)) in stores.enumerate() {
        let kind = match kind {
            "" => StoreKind::Ca,
            other => StoreKind::parse(other).ok_or_else(|| {
                format!("trustStores[{i}].type {other:?} is not ca, signingAuthority or tsa")
            })?,
        };
        let store = trust_store::from_pem(store_name, kind, data)
            .map_err(|e| format!("trustStores[{i}]: {e}"))?;
        loaded.push(Arc::new(store));
    }
    if loaded.is_empty() {
        return Err(
            "trustStores is empty: give the CA certificates signatures must chain to".into(),
        );
    }
    Ok(NotationAuthority {
        statement: name.to_string(),
        level: statement.level.to_string(),
        enforcement,
        verify_timestamp,
        stores: loaded,
        identities,
    })
}
