//! Field errors collected while validating one document, rendered the way policy-controller's
//! knative `apis.FieldError` renders them: errors with the same message are merged, their paths
//! sorted and joined (`expected exactly one, got both: spec.authorities[0].key.data,
//! spec.authorities[0].key.kms`), and the merged errors sorted by message.
//!
//! Errors the Kubernetes API server itself raises before policy-controller's webhook runs (the
//! CRD schema) are kept apart and, as in a cluster, reported instead of the webhook's.

use std::collections::BTreeMap;

/// Values longer than this are shortened in messages (a whole PEM block helps nobody).
const MAX_VALUE_CHARS: usize = 100;

/// The errors of one document.
#[derive(Debug, Default)]
pub(super) struct FieldErrors {
    schema: Vec<(String, String)>,
    webhook: Vec<FieldError>,
}

#[derive(Debug)]
struct FieldError {
    message: String,
    paths: Vec<String>,
    details: String,
}

impl FieldErrors {
    /// `missing field(s): <at>.<field>, ...`
    pub(super) fn missing(&mut self, at: &str, fields: &[&str]) {
        self.push("missing field(s)", at, fields, "");
    }

    /// `expected exactly one, got neither: <at>.<field>, ...`
    pub(super) fn missing_one_of(&mut self, at: &str, fields: &[&str]) {
        self.push("expected exactly one, got neither", at, fields, "");
    }

    /// `expected exactly one, got both: <at>.<field>, ...`
    pub(super) fn multiple_one_of(&mut self, at: &str, fields: &[&str]) {
        self.push("expected exactly one, got both", at, fields, "");
    }

    /// `must not set the field(s): <at>.<field>, ...`
    pub(super) fn disallowed(&mut self, at: &str, fields: &[&str]) {
        self.push("must not set the field(s)", at, fields, "");
    }

    /// `invalid value: <value>: <path>` with `details` after it.
    pub(super) fn invalid_value(&mut self, path: &str, value: &str, details: &str) {
        let message = format!("invalid value: {}", shorten(value));
        self.push(&message, path, &[""], details);
    }

    /// An error of the CRD schema, reported as the API server does: `<path>: Invalid value: ...`.
    pub(super) fn schema_invalid(&mut self, path: &str, detail: &str) {
        self.schema.push((path.to_string(), detail.to_string()));
    }

    /// Whether nothing was found.
    pub(super) fn is_empty(&self) -> bool {
        self.schema.is_empty() && self.webhook.is_empty()
    }

    /// The first path of the first reported error, for `LoadError::field`.
    pub(super) fn first_path(&self) -> Option<String> {
        if let Some((path, _)) = self.schema.first() {
            return Some(path.clone());
        }
        self.merged().into_iter().next()?.paths.into_iter().next()
    }

    /// The message: schema errors if there are any, else the merged webhook errors.
    pub(super) fn render(&self) -> String {
        if !self.schema.is_empty() {
            let lines: Vec<String> = self
                .schema
                .iter()
                .map(|(path, detail)| format!("{path}: Invalid value: {detail}"))
                .collect();
            return lines.join("; ");
        }
        let lines: Vec<String> = self.merged().iter().map(render_one).collect();
        lines.join("; ")
    }

    fn push(&mut self, message: &str, at: &str, fields: &[&str], details: &str) {
        self.webhook.push(FieldError {
            message: message.to_string(),
            paths: fields.iter().map(|f| join(at, f)).collect(),
            details: details.to_string(),
        });
    }

    /// knative's merge: one error per (message, details), paths sorted and deduplicated.
    fn merged(&self) -> Vec<FieldError> {
        let mut groups: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
        for e in &self.webhook {
            let paths = groups.entry((&e.message, &e.details)).or_default();
            paths.extend(e.paths.iter().cloned());
        }
        groups
            .into_iter()
            .map(|((message, details), mut paths)| {
                paths.sort();
                paths.dedup();
                FieldError {
                    message: message.to_string(),
                    paths,
                    details: details.to_string(),
                }
            })
            .collect()
    }
}

/// `<at>.<field>`, or whichever of the two is not empty.
pub(super) fn join(at: &str, field: &str) -> String {
    match (at.is_empty(), field.is_empty()) {
        (true, _) => field.to_string(),
        (false, true) => at.to_string(),
        (false, false) => format!("{at}.{field}"),
    }
}

fn render_one(e: &FieldError) -> String {
    let mut text = format!("{}: {}", e.message, e.paths.join(", "));
    if !e.details.is_empty() {
        text.push_str(&format!(" ({})", e.details));
    }
    text
}

fn shorten(value: &str) -> String {
    let first_line = value.lines().next().unwrap_or("");
    if first_line.len() == value.len() && value.chars().count() <= MAX_VALUE_CHARS {
        return value.to_string();
    }
    let head: String = first_line.chars().take(MAX_VALUE_CHARS).collect();
    format!("{head}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_message_errors_merge_with_sorted_paths() {
        let mut errs = FieldErrors::default();
        errs.missing("spec.a", &["subject", "subjectRegExp"]);
        errs.missing("spec.a", &["issuer", "issuerRegExp"]);
        assert_eq!(
            errs.render(),
            "missing field(s): spec.a.issuer, spec.a.issuerRegExp, spec.a.subject, spec.a.subjectRegExp"
        );
        assert_eq!(errs.first_path().as_deref(), Some("spec.a.issuer"));
    }

    #[test]
    fn invalid_value_names_value_path_and_details() {
        let mut errs = FieldErrors::default();
        errs.invalid_value("spec.mode", "garbage", "unsupported mode");
        assert_eq!(
            errs.render(),
            "invalid value: garbage: spec.mode (unsupported mode)"
        );
    }

    #[test]
    fn long_values_are_shortened() {
        let mut errs = FieldErrors::default();
        errs.invalid_value("spec.x", "-----BEGIN PUBLIC KEY-----\nAAAA\n", "");
        assert_eq!(
            errs.render(),
            "invalid value: -----BEGIN PUBLIC KEY-----...: spec.x"
        );
    }

    #[test]
    fn schema_errors_replace_webhook_errors() {
        let mut errs = FieldErrors::default();
        errs.multiple_one_of("spec.authorities[0]", &["key", "keyless", "static"]);
        errs.schema_invalid(
            "spec.authorities[0].keyless.identities",
            "\"null\": required",
        );
        assert_eq!(
            errs.render(),
            "spec.authorities[0].keyless.identities: Invalid value: \"null\": required"
        );
    }
}
