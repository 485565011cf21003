//! JSON read as strictly as containers/image reads policy.json ("unrecognized, duplicated or
//! otherwise invalid fields cause the entire file to be rejected"): objects keep their order and
//! refuse duplicate keys, and typed accessors name the offending field by its path
//! (`transports.docker["quay.io/crio"][0].keyData`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// A JSON value whose objects keep order and have unique keys.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Json {
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    /// Parse `text`, refusing duplicate keys anywhere.
    pub(super) fn parse(text: &str) -> Result<Json, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "an array",
            Json::Object(_) => "an object",
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json::Number(v as f64))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json::Number(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut entries: Vec<(String, Json)> = Vec::new();
        while let Some((key, value)) = map.next_entry::<String, Json>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom(format!("duplicate key {key:?}")));
            }
            entries.push((key, value));
        }
        Ok(Json::Object(entries))
    }
}

/// A field that is not what it must be: its path and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FieldProblem {
    pub field: String,
    pub reason: String,
}

impl FieldProblem {
    pub(super) fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}

/// `path.key`, or `path["key"]` when the key is not a plain identifier.
pub(super) fn member(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric());
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// An object at `path`.
pub(super) struct Obj<'a> {
    pub path: String,
    pub entries: &'a [(String, Json)],
}

impl<'a> Obj<'a> {
    /// `value` as an object, or a problem at `path`.
    pub(super) fn of(value: &'a Json, path: &str) -> Result<Obj<'a>, FieldProblem> {
        match value {
            Json::Object(entries) => Ok(Obj {
                path: path.to_string(),
                entries,
            }),
            other => Err(wrong_type(path, "an object", other)),
        }
    }

    /// Refuse any key not in `allowed` (containers/image's "Unknown key").
    pub(super) fn only(&self, allowed: &[&str]) -> Result<(), FieldProblem> {
        match self
            .entries
            .iter()
            .find(|(k, _)| !allowed.contains(&k.as_str()))
        {
            Some((key, _)) => Err(FieldProblem::new(
                &member(&self.path, key),
                format!("unknown key {key:?}"),
            )),
            None => Ok(()),
        }
    }

    pub(super) fn get(&self, key: &str) -> Option<&'a Json> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub(super) fn at(&self, key: &str) -> String {
        member(&self.path, key)
    }

    /// A string member, `None` when absent.
    pub(super) fn string(&self, key: &str) -> Result<Option<&'a str>, FieldProblem> {
        match self.get(key) {
            None => Ok(None),
            Some(Json::String(s)) => Ok(Some(s)),
            Some(other) => Err(wrong_type(&self.at(key), "a string", other)),
        }
    }

    /// A string member that must be present.
    pub(super) fn required_string(&self, key: &str) -> Result<&'a str, FieldProblem> {
        self.string(key)?
            .ok_or_else(|| FieldProblem::new(&self.at(key), format!("{key} is missing")))
    }

    /// An array of strings, `None` when absent.
    pub(super) fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, FieldProblem> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let at = self.at(key);
        let Json::Array(items) = value else {
            return Err(wrong_type(&at, "an array of strings", value));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Json::String(s) => Ok(s.as_str()),
                other => Err(wrong_type(&format!("{at}[{i}]"), "a string", other)),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// Bytes as Go's `encoding/json` reads a `[]byte`: standard base64 (line breaks ignored).
    pub(super) fn bytes(&self, key: &str) -> Result<Option<Vec<u8>>, FieldProblem> {
        match self.string(key)? {
            None => Ok(None),
            Some(text) => decode_base64(text, &self.at(key)).map(Some),
        }
    }

    /// An array of base64 strings (`[][]byte`), `None` when absent.
    pub(super) fn bytes_list(&self, key: &str) -> Result<Option<Vec<Vec<u8>>>, FieldProblem> {
        let Some(items) = self.strings(key)? else {
            return Ok(None);
        };
        let at = self.at(key);
        items
            .iter()
            .enumerate()
            .map(|(i, text)| decode_base64(text, &format!("{at}[{i}]")))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn decode_base64(text: &str, at: &str) -> Result<Vec<u8>, FieldProblem> {
    let compact: String = text.chars().filter(|c| !matches!(c, '\r' | '\n')).collect();
    BASE64.decode(compact).map_err(|e| {
        FieldProblem::new(
            at,
            format!(
                "not base64 (the data of a key or certificate is its PEM, base64-encoded): {e}"
            ),
        )
    })
}

/// `value` as an array at `path`.
pub(super) fn array<'a>(value: &'a Json, path: &str) -> Result<&'a [Json], FieldProblem> {
    match value {
        Json::Array(items) => Ok(items),
        other => Err(wrong_type(path, "an array", other)),
    }
}

fn wrong_type(path: &str, want: &str, found: &Json) -> FieldProblem {
    FieldProblem::new(path, format!("must be {want}, not {}", found.kind()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert!(
            Json::parse(r#"{"a": {"b": 1, "b": 2}}"#)
                .unwrap_err()
                .contains("duplicate key \"b\"")
        );
        assert!(Json::parse(r#"{"a": 1, "a": 1}"#).is_err());
        let ok = Json::parse(r#"{"b": [1, "x", null, true], "a": {}}"#).unwrap();
        let Json::Object(entries) = ok else { panic!() };
        assert_eq!(entries[0].0, "b");
    }

    #[test]
    fn accessors_name_the_field_and_decode_go_byte_slices() {
        let value = Json::parse(r#"{"keyData": "aGVs\nbG8=", "n": 1, "list": ["aGk="]}"#).unwrap();
        let obj = Obj::of(&value, "transports.docker[\"x\"][0]").unwrap();
        assert_eq!(obj.bytes("keyData").unwrap().unwrap(), b"hello");
        assert_eq!(
            obj.bytes_list("list").unwrap().unwrap(),
            vec![b"hi".to_vec()]
        );
        let err = obj.string("n").unwrap_err();
        assert_eq!(err.field, "transports.docker[\"x\"][0].n");
        assert_eq!(err.reason, "must be a string, not a number");
        assert_eq!(
            obj.only(&["keyData", "list"]).unwrap_err().reason,
            "unknown key \"n\""
        );
        assert_eq!(member("transports", "docker"), "transports.docker");
        assert_eq!(
            member("transports.docker", "quay.io/x"),
            "transports.docker[\"quay.io/x\"]"
        );
    }
}
