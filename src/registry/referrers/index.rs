//! The referrers index (an OCI image index), parsed with its entries counted as they are read:
//! past the limit the parse stops with [`RegistryError::TooManyReferrers`], so a huge index costs
//! no allocation for the entries beyond it. The bytes were bounded by the fetch.

use std::cell::Cell;
use std::fmt;

use oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::super::RegistryError;

/// The parts of an index entry or manifest descriptor we read.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub artifact_type: Option<String>,
}

/// The `manifests` of an image index, refusing more than `limit` entries while parsing (the
/// bytes were already bounded by the fetch).
pub(super) fn parse_index(
    bytes: &[u8],
    limit: usize,
    registry: &str,
) -> Result<Vec<Descriptor>, RegistryError> {
    let overflow = Cell::new(false);
    let seed = IndexSeed {
        limit,
        overflow: &overflow,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|entries| deserializer.end().map(|()| entries));
    match parsed {
        Ok(entries) => Ok(entries),
        Err(_) if overflow.get() => Err(RegistryError::TooManyReferrers { limit }),
        Err(e) => Err(RegistryError::Invalid {
            registry: registry.to_string(),
            detail: format!("referrers index is not an image index: {e}"),
        }),
    }
}

/// Deserialises an index object, keeping only `manifests` (bounded) and checking `mediaType`.
struct IndexSeed<'a> {
    limit: usize,
    overflow: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for IndexSeed<'_> {
    type Value = Vec<Descriptor>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for IndexSeed<'_> {
    type Value = Vec<Descriptor>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an OCI image index")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "manifests" if entries.is_some() => {
                    return Err(de::Error::duplicate_field("manifests"));
                }
                "manifests" => {
                    let seed = EntriesSeed {
                        limit: self.limit,
                        overflow: self.overflow,
                    };
                    entries = Some(map.next_value_seed(seed)?);
                }
                "mediaType" => {
                    let media_type = map.next_value::<String>()?;
                    if media_type != OCI_IMAGE_INDEX_MEDIA_TYPE {
                        return Err(de::Error::custom(format!("mediaType {media_type:?}")));
                    }
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        entries.ok_or_else(|| de::Error::missing_field("manifests"))
    }
}

/// The `manifests` array, stopping at the first entry past the limit.
struct EntriesSeed<'a> {
    limit: usize,
    overflow: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for EntriesSeed<'_> {
    type Value = Vec<Descriptor>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntriesSeed<'_> {
    type Value = Vec<Descriptor>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of descriptors")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = seq.next_element::<Descriptor>()? {
            if entries.len() == self.limit {
                self.overflow.set(true);
                return Err(de::Error::custom("too many entries"));
            }
            entries.push(entry);
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::referrers::{SIGSTORE_BUNDLE_MEDIA_TYPE, is_bundle_type};
    use oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;

    fn index(entries: usize) -> Vec<u8> {
        let entry = format!(
            r#"{{"mediaType":"{OCI_IMAGE_MEDIA_TYPE}","digest":"sha256:{}","size":1,"artifactType":"{SIGSTORE_BUNDLE_MEDIA_TYPE}"}}"#,
            "a".repeat(64)
        );
        let list = vec![entry; entries].join(",");
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_IMAGE_INDEX_MEDIA_TYPE}","manifests":[{list}]}}"#
        )
        .into_bytes()
    }

    #[test]
    fn an_index_within_the_entry_limit_parses() {
        let entries = parse_index(&index(3), 3, "r").unwrap();
        assert_eq!(entries.len(), 3);
        assert!(is_bundle_type(entries[0].artifact_type.as_deref()));
    }

    #[test]
    fn one_entry_over_the_limit_is_refused_as_a_limit_not_as_garbage() {
        assert_eq!(
            parse_index(&index(4), 3, "r").unwrap_err(),
            RegistryError::TooManyReferrers { limit: 3 }
        );
    }

    #[test]
    fn a_manifest_or_another_media_type_is_not_an_index() {
        let image = br#"{"schemaVersion":2,"layers":[]}"#;
        assert!(matches!(
            parse_index(image, 3, "r"),
            Err(RegistryError::Invalid { .. })
        ));
        let other = String::from_utf8(index(1))
            .unwrap()
            .replace(OCI_IMAGE_INDEX_MEDIA_TYPE, "application/json");
        assert!(parse_index(other.as_bytes(), 3, "r").is_err());
    }
}
