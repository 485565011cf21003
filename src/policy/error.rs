//! Why a policy file could not be loaded, naming the file, the object and the field.

use std::fmt;

/// A policy file that could not be loaded. Displays as
/// `<file>: ClusterImagePolicy <name>: <field>: <message>` (parts that are unknown are left out).
#[derive(Debug)]
pub struct LoadError {
    /// The file path, or the source name given to `from_yaml`.
    pub file: String,
    /// `<kind>/<name>` (`ImagePolicy/<namespace>/<name>`) of the offending document, when known.
    pub object: Option<String>,
    /// The offending field, as policy-controller writes it (`spec.authorities[0].key.data`).
    pub field: Option<String>,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

/// The kinds of load failure.
#[derive(Debug, thiserror::Error)]
pub enum LoadErrorKind {
    /// The file or directory could not be read. Its message is the I/O error's, so it is not
    /// also given as the source (that would print it twice).
    #[error("{0}")]
    Io(std::io::Error),
    /// The text is not well-formed YAML (or JSON).
    #[error("{0}")]
    Yaml(String),
    /// policy-controller (or the Kubernetes API server in front of it) would refuse it too.
    #[error("{0}")]
    Invalid(String),
    /// Valid for policy-controller, but Signet cannot enforce it (yet), or it exceeds a limit.
    #[error("{0}")]
    Unsupported(String),
}

impl LoadError {
    /// An error about a whole file.
    pub(super) fn file(file: &str, kind: LoadErrorKind) -> Self {
        Self {
            file: file.to_string(),
            object: None,
            field: None,
            kind,
        }
    }

    /// An error about one object of a file.
    pub(super) fn object(
        file: &str,
        object: Option<String>,
        field: Option<String>,
        kind: LoadErrorKind,
    ) -> Self {
        Self {
            file: file.to_string(),
            object,
            field,
            kind,
        }
    }

    /// The message without file, object and field.
    pub fn message(&self) -> String {
        self.kind.to_string()
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.file)?;
        if let Some(object) = &self.object {
            match object.split_once('/') {
                Some((kind, name)) => write!(f, "{kind} {name}: ")?,
                None => write!(f, "{object}: ")?,
            }
        }
        let message = self.kind.to_string();
        match &self.field {
            // Validation messages already name their fields; say each only once.
            Some(field) if !message.contains(field.as_str()) => write!(f, "{field}: {message}"),
            _ => f.write_str(&message),
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_file_object_field_and_message() {
        let e = LoadError::object(
            "p.yaml",
            Some("ClusterImagePolicy/demo".into()),
            Some("spec.authorities[0].keyless".into()),
            LoadErrorKind::Unsupported("keyless authorities are not supported yet".into()),
        );
        assert_eq!(
            e.to_string(),
            "p.yaml: ClusterImagePolicy demo: spec.authorities[0].keyless: keyless authorities are not supported yet"
        );
    }

    #[test]
    fn display_does_not_repeat_a_field_the_message_names() {
        let e = LoadError::object(
            "p.yaml",
            Some("ImagePolicy/team/demo".into()),
            Some("spec.mode".into()),
            LoadErrorKind::Invalid("invalid value: x: spec.mode".into()),
        );
        assert_eq!(
            e.to_string(),
            "p.yaml: ImagePolicy team/demo: invalid value: x: spec.mode"
        );
    }
}
