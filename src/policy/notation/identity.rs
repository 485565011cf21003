//! Trusted identities: `*`, or `x509.subject: <DN>` with the distinguished name parsed as
//! notation-go's `pkix.ParseDistinguishedName` does (RFC 4514; `S` an alias of `ST`; `C`, `ST`
//! and `O` required; no multi-valued RDN, no repeated attribute, no `=#` hex values), and the
//! overlap rule between the identities of one statement.

/// One `trustedIdentities[]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NotationIdentity {
    /// `*`: any signer whose chain leads to the statement's trust stores.
    Any,
    /// `x509.subject: …`: every attribute listed must equal the signing certificate's subject
    /// attribute of that type (`(type, value)` pairs, types upper-cased as written, `S` as `ST`).
    Subject(Vec<(String, String)>),
    /// Another identity prefix (a plugin's): accepted by the format, matched by nothing here.
    Other(String),
}

impl NotationIdentity {
    /// The identity as a trust policy writes it.
    pub fn describe(&self) -> String {
        match self {
            Self::Any => "*".into(),
            Self::Subject(attributes) => {
                let dn: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("x509.subject: {}", dn.join(", "))
            }
            Self::Other(raw) => raw.clone(),
        }
    }
}

/// Parse one entry; the error as notation-go words it (without the statement name).
pub fn parse(entry: &str) -> Result<NotationIdentity, String> {
    if entry.is_empty() {
        return Err("has an empty trusted identity".into());
    }
    if entry == "*" {
        return Ok(NotationIdentity::Any);
    }
    let Some((prefix, value)) = entry.split_once(':') else {
        return Err(format!("has trusted identity {entry:?} missing separator"));
    };
    if prefix != "x509.subject" {
        return Ok(NotationIdentity::Other(entry.to_string()));
    }
    if value.is_empty() {
        return Err(format!(
            "has trusted identity {entry:?} without an identity value"
        ));
    }
    parse_dn(value.trim())
        .map(NotationIdentity::Subject)
        .map_err(|e| format!("has trusted identity {entry:?} with invalid identity value: {e}"))
}

/// The identities of one statement: `*` alone or not at all, no subject a subset of another.
pub fn parse_all(entries: &[String]) -> Result<Vec<NotationIdentity>, String> {
    if entries.len() > 1 && entries.iter().any(|e| e == "*") {
        return Err("uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values".into());
    }
    let parsed = entries
        .iter()
        .map(|e| parse(e))
        .collect::<Result<Vec<_>, _>>()?;
    for (i, a) in parsed.iter().enumerate() {
        for (j, b) in parsed.iter().enumerate() {
            if let (NotationIdentity::Subject(a), NotationIdentity::Subject(b)) = (a, b)
                && i != j
                && a.iter().all(|pair| b.contains(pair))
            {
                return Err(format!(
                    "has overlapping x509 trustedIdentities, {:?} overlaps with {:?}",
                    entries[i], entries[j]
                ));
            }
        }
    }
    Ok(parsed)
}

/// Parse an RFC 4514 distinguished name into `(type, value)` pairs, as Notation requires it.
fn parse_dn(name: &str) -> Result<Vec<(String, String)>, String> {
    if name.contains("=#") {
        return Err(format!(
            "unsupported distinguished name (DN) {name:?}: notation does not support x509.subject identities containing \"=#\""
        ));
    }
    let invalid = |why: &str| {
        format!(
            "parsing distinguished name (DN) {name:?} failed: {why}. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
        )
    };
    let mut attributes: Vec<(String, String)> = Vec::new();
    for rdn in split_unescaped(name, ',') {
        if split_unescaped(&rdn, '+').len() > 1 {
            return Err(format!(
                "distinguished name (DN) {name:?} has multi-valued RDN attributes, remove multi-valued RDN attributes as they are not supported"
            ));
        }
        let Some((kind, value)) = rdn.split_once('=') else {
            return Err(invalid("an attribute has no '='"));
        };
        let kind = match kind.trim() {
            "S" => "ST".to_string(),
            other => other.to_string(),
        };
        let value = unescape(value.trim()).ok_or_else(|| invalid("a bad escape"))?;
        if kind.is_empty()
            || !kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid("an attribute type is empty or not a name"));
        }
        if attributes.iter().any(|(k, _)| *k == kind) {
            return Err(format!(
                "distinguished name (DN) {name:?} has duplicate RDN attribute for {kind:?}, DN can only have unique RDN attributes"
            ));
        }
        attributes.push((kind, value));
    }
    for required in ["C", "ST", "O"] {
        if !attributes
            .iter()
            .any(|(k, v)| k == required && !v.is_empty())
        {
            return Err(format!(
                "distinguished name (DN) {name:?} has no mandatory RDN attribute for {required:?}, it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
            ));
        }
    }
    Ok(attributes)
}

/// `text` split at each `separator` not escaped by a backslash (the escapes kept).
fn split_unescaped(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if !escaped && c == separator {
            parts.push(std::mem::take(&mut current));
            continue;
        }
        escaped = !escaped && c == '\\';
        current.push(c);
    }
    parts.push(current);
    parts
}

/// RFC 4514 value escapes: `\<char>` and `\<hex><hex>` (UTF-8 bytes); `None` when malformed.
fn unescape(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1)?;
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(next);
                i += 2;
            }
        }
    }
    String::from_utf8(out).ok()
}
