//! An authority's Secrets put in place before it is compiled, as policy-controller's reconciler
//! inlines them: `key.secretRef` and `keyless.ca-cert.secretRef` become `data` (the Secret's
//! one entry). An authority whose Secret cannot be used compiles to one that admits nothing and
//! says why; in file mode the fields are refused (see [`crate::policy::secret_refs`]).

use std::borrow::Cow;

use super::cluster_image_policy as wire;
use super::compile::Findings;
use crate::policy::field_error::join;
use crate::policy::model::{
    Authority, AuthorityKind, SignatureFormat, StaticAction, StaticAuthority,
};
use crate::policy::secret_refs::PolicySecrets;

/// Why `secretRef` is refused in file mode, and what to do instead.
pub(super) const SECRET_KEY_REASON: &str = "Secrets are read only in cluster mode (`signet \
     serve --watch-policies`, from Signet's own namespace, for ClusterImagePolicy objects); with \
     policy files (or in an ImagePolicy) put the PEM in the data field instead: \
     `kubectl get secret NAME -n NAMESPACE -o jsonpath='{.data.KEY}' | base64 -d`";

/// Why `signaturePullSecrets` is refused in file mode, and what to do instead.
pub(super) const PULL_SECRETS_REASON: &str = "Secrets are read only in cluster mode (`signet \
     serve --watch-policies`, from Signet's own namespace, for ClusterImagePolicy objects); with \
     policy files Signet reads signatures with its own registry credentials (--registry-config) \
     and the pod's imagePullSecrets: give the credentials there and remove signaturePullSecrets";

/// An authority with its Secrets in place.
pub(super) enum Inlined<'a> {
    /// Ready to compile (borrowed when it names no Secret).
    Ready(Box<Cow<'a, wire::Authority>>),
    /// A Secret it names cannot be used: it admits nothing, for this reason.
    Unusable(String),
    /// Refused (reported in the findings).
    Refused,
}

/// Put the key Secrets of authority `a` (at `at`) in place.
pub(super) fn inline_key_secrets<'a>(
    a: &'a wire::Authority,
    at: &str,
    secrets: &PolicySecrets,
    findings: &mut Findings,
) -> Inlined<'a> {
    let key_name = a.key.as_ref().and_then(|k| k.secret_ref.as_ref());
    let ca_name = a
        .keyless
        .as_ref()
        .and_then(|k| k.ca_cert.as_ref())
        .and_then(|c| c.secret_ref.as_ref());
    let (field, reference) = match (key_name, ca_name) {
        (Some(r), _) => (join(at, "key.secretRef"), r),
        (None, Some(r)) => (join(at, "keyless.ca-cert.secretRef"), r),
        (None, None) => return Inlined::Ready(Box::new(Cow::Borrowed(a))),
    };
    let pem = match secrets.key_pem(&reference.name, &field) {
        Ok(pem) => pem,
        Err(Some(reason)) => return Inlined::Unusable(reason),
        Err(None) => {
            findings.add(&field, SECRET_KEY_REASON);
            return Inlined::Refused;
        }
    };
    let mut inlined = a.clone();
    let target = match key_name {
        Some(_) => inlined.key.as_mut(),
        None => inlined.keyless.as_mut().and_then(|k| k.ca_cert.as_mut()),
    };
    if let Some(key) = target {
        key.data = pem;
        key.secret_ref = None;
    }
    Inlined::Ready(Box::new(Cow::Owned(inlined)))
}

/// The authority that stands for one whose Secret cannot be used: it fails every image with
/// `reason`, so the policy denies unless another of its authorities admits.
pub(super) fn unusable_authority(a: &wire::Authority, i: usize, reason: String) -> Authority {
    Authority {
        name: match a.name.is_empty() {
            true => format!("authority-{i}"),
            false => a.name.clone(),
        },
        kind: AuthorityKind::Static(StaticAuthority {
            action: StaticAction::Fail,
            message: Some(reason),
            unusable: true,
        }),
        source: None,
        format: SignatureFormat::Any,
        attestations: Vec::new(),
    }
}

/// What `signet policy check` says about each Secret a document names (it cannot read them).
pub(crate) fn check_notes(doc: &wire::Document, source: &str) -> Vec<String> {
    let object = doc.object_id();
    let mut notes = Vec::new();
    for (i, a) in doc.spec.authorities.iter().enumerate() {
        let at = format!("spec.authorities[{i}]");
        let mut note = |field: String, names: String| {
            notes.push(format!(
                "{source} {object} {field}: read from Secret {names} of Signet's namespace when \
                 served with --watch-policies (until then this authority admits nothing)"
            ));
        };
        if let Some(r) = a.key.as_ref().and_then(|k| k.secret_ref.as_ref()) {
            note(join(&at, "key.secretRef"), r.name.clone());
        }
        let ca = a.keyless.as_ref().and_then(|k| k.ca_cert.as_ref());
        if let Some(r) = ca.and_then(|c| c.secret_ref.as_ref()) {
            note(join(&at, "keyless.ca-cert.secretRef"), r.name.clone());
        }
        for (j, s) in a.sources.iter().enumerate() {
            if !s.signature_pull_secrets.is_empty() {
                let names: Vec<&str> = s
                    .signature_pull_secrets
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect();
                note(
                    format!("{at}.source[{j}].signaturePullSecrets"),
                    names.join(", "),
                );
            }
        }
    }
    notes
}

#[cfg(test)]
mod tests;
