//! Reading an index's fields as the runtimes' Go decoder does, or refusing it.
//!
//! containerd and CRI-O decode an index with Go's `encoding/json`, which matches object keys
//! case-insensitively (with Unicode folding: `ſ` is `s`, `K` is `k`, `İ` and `ı` are `i`), lets
//! the last of several matching keys win, and reads `null` as "absent". A derived Rust decoder
//! matches keys exactly, so `{"digest": signed, "Digest": unsigned}` would be judged by the first
//! while a runtime pulls the second. Here a field is taken only when exactly one key of the
//! object folds to its name; two or more spellings of one field refuse the whole index (exact
//! repeats collapse to the last, as in Go).

use serde_json::{Map, Value};

use crate::reference::clip;
use crate::workload::json_type;

/// The value of `name` in `object` as Go would decode it (`None` when absent or `null`); an
/// error when several keys fold to `name`.
pub(super) fn field<'v>(
    object: &'v Map<String, Value>,
    name: &str,
) -> Result<Option<&'v Value>, String> {
    let mut found = object.iter().filter(|(key, _)| folds_to(key, name));
    let Some((key, value)) = found.next() else {
        return Ok(None);
    };
    if let Some((other, _)) = found.next() {
        return Err(format!(
            "the field {name:?} is written more than once ({:?} and {:?}); runtimes \
             read the last one, Signet refuses to guess which",
            clip(key),
            clip(other)
        ));
    }
    Ok(Some(value).filter(|value| !value.is_null()))
}

/// The string `name` of `object` (`""` when absent or `null`, as in Go).
pub(super) fn string(object: &Map<String, Value>, name: &str) -> Result<String, String> {
    match field(object, name)? {
        None => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(format!(
            "the field {name:?} is {}, not a string",
            json_type(other)
        )),
    }
}

/// The object `name` of `object`, when present and not `null`.
pub(super) fn object<'v>(
    object: &'v Map<String, Value>,
    name: &str,
) -> Result<Option<&'v Map<String, Value>>, String> {
    match field(object, name)? {
        None => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(other) => Err(format!(
            "the field {name:?} is {}, not an object",
            json_type(other)
        )),
    }
}

/// Whether Go's `encoding/json` would decode `key` into the field named `name` (ASCII `name`).
fn folds_to(key: &str, name: &str) -> bool {
    let mut folded = key.chars().map(fold);
    name.chars()
        .all(|wanted| folded.next() == Some(wanted.to_ascii_lowercase()))
        && folded.next().is_none()
}

/// One character as Go's case-insensitive key match sees it: ASCII lower-cased, and the four
/// non-ASCII letters whose simple case mapping lands on an ASCII letter.
fn fold(c: char) -> char {
    match c {
        '\u{017F}' => 's',
        '\u{212A}' => 'k',
        '\u{0130}' | '\u{0131}' => 'i',
        other => other.to_ascii_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn parsed(text: &str) -> Map<String, Value> {
        match serde_json::from_str(text).unwrap() {
            Value::Object(map) => map,
            other => panic!("{other}"),
        }
    }

    #[test]
    fn keys_match_as_go_matches_them() {
        for key in ["os", "OS", "Os", "o\u{017F}", "O\u{017F}"] {
            let map = parsed(&format!(r#"{{"{key}": "linux"}}"#));
            assert_eq!(string(&map, "os").unwrap(), "linux", "{key}");
        }
        let map = parsed(r#"{"D\u0130GEST": "x"}"#);
        assert_eq!(string(&map, "digest").unwrap(), "x");
        assert_eq!(string(&parsed(r#"{"osx": "a"}"#), "os").unwrap(), "");
    }

    #[test]
    fn two_spellings_of_one_field_are_refused_and_exact_repeats_keep_the_last() {
        for text in [
            r#"{"digest": "a", "Digest": "b"}"#,
            r#"{"os": "linux", "o\u017F": "windows"}"#,
            r#"{"architecture": "arm64", "ARCHITECTURE": "amd64"}"#,
        ] {
            let map = parsed(text);
            let name = if text.contains("igest") {
                "digest"
            } else if text.contains("rchitecture") {
                "architecture"
            } else {
                "os"
            };
            let error = string(&map, name).unwrap_err();
            assert!(error.contains("more than once"), "{error}");
        }
        assert_eq!(
            string(&parsed(r#"{"os": "a", "os": "b"}"#), "os").unwrap(),
            "b"
        );
    }

    #[test]
    fn null_is_absent_and_other_types_are_refused() {
        let map = parsed(r#"{"os": null, "platform": null, "variant": 7}"#);
        assert_eq!(string(&map, "os").unwrap(), "");
        assert!(object(&map, "platform").unwrap().is_none());
        assert!(string(&map, "variant").is_err());
    }
}
