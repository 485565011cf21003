//! Reading an AdmissionReview body for a review: only the fields a review reads are built, the
//! rest (`managedFields`, `status`, env, probes, resources, …) is skipped as it is parsed.
//!
//! The request's own fields are kube's types (so a missing `uid` or an unknown `operation` is
//! refused as kube refuses it). Each object (`object`, `oldObject`) becomes a `DynamicObject`
//! whose `metadata` holds only what reviews and audit read (name, generateName, namespace, uid,
//! labels, annotations, ownerReferences) and whose `data` holds only the pod spec fields
//! Signet reads, under every pod spec path of every workload kind (`spec`, `spec.template.spec`,
//! `spec.jobTemplate.spec.template.spec`, `template.spec`): the container lists' `name` and
//! `image`, image volumes' `name` and `image`, `imagePullSecrets` and `serviceAccountName`.
//! Wherever the shape is not the expected one (a list that is an object, a spec that is a
//! list, a container that is a string), the value is kept whole, so the walk in `workload`
//! reports exactly the error it reports on the full object. Keys are read borrowed.
//!
//! Equal to [`super::parse_review_full`] on everything a review reads (tested against it on
//! every captured AdmissionReview, `tests/it/admission_decode.rs`), and refusing what it refuses:
//! the metadata fields not kept are still type-checked. One difference: a key repeated within
//! the request or the metadata is refused here (kube-apiserver never sends one; the full
//! decoder took the last).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::authentication::v1::UserInfo;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use kube::core::admission::{AdmissionRequest, AdmissionResponse, Operation};
use kube::core::{DynamicObject, GroupVersionKind, GroupVersionResource, ObjectMeta, TypeMeta};
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::AdmissionError;

/// The review as read: kube's envelope.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Review {
    api_version: String,
    kind: String,
    #[serde(default)]
    request: Option<Request>,
    #[serde(default)]
    #[allow(dead_code)]
    response: Option<AdmissionResponse>,
}

/// kube's `AdmissionRequest` fields, objects read by [`WireObject`], `options` skipped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    uid: String,
    kind: GroupVersionKind,
    resource: GroupVersionResource,
    #[serde(default)]
    sub_resource: Option<String>,
    #[serde(default)]
    request_kind: Option<GroupVersionKind>,
    #[serde(default)]
    request_resource: Option<GroupVersionResource>,
    #[serde(default)]
    request_sub_resource: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    operation: Operation,
    user_info: UserInfo,
    #[serde(default)]
    object: Option<WireObject>,
    #[serde(default)]
    old_object: Option<WireObject>,
    #[serde(default)]
    dry_run: bool,
    #[serde(default)]
    #[allow(dead_code)]
    options: Option<IgnoredAny>,
}

/// The metadata reviews and audit records read, and every other field of kube's `ObjectMeta`
/// type-checked as kube checks it (a `creationTimestamp` that is not a time is refused as
/// before) but not kept: `managedFields`, the bulk of the metadata, is checked without building
/// anything.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    #[serde(default)]
    #[allow(dead_code)]
    creation_timestamp: Option<Time>,
    #[serde(default)]
    #[allow(dead_code)]
    deletion_timestamp: Option<Time>,
    #[serde(default)]
    #[allow(dead_code)]
    deletion_grace_period_seconds: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    generation: Option<i64>,
    #[serde(default)]
    #[allow(dead_code)]
    finalizers: Option<Vec<AnyString>>,
    #[serde(default)]
    #[allow(dead_code)]
    resource_version: Option<AnyString>,
    #[serde(default)]
    #[allow(dead_code)]
    self_link: Option<AnyString>,
    #[serde(default)]
    #[allow(dead_code)]
    managed_fields: Option<Vec<ManagedFields>>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    generate_name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    owner_references: Option<Vec<OwnerReference>>,
}

/// A `managedFields` entry, type-checked as k8s-openapi's `ManagedFieldsEntry` (strings, a
/// time, `fieldsV1` any JSON) and dropped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
struct ManagedFields {
    #[serde(default)]
    api_version: Option<AnyString>,
    #[serde(default)]
    fields_type: Option<AnyString>,
    #[serde(default, rename = "fieldsV1")]
    fields_v1: Option<IgnoredAny>,
    #[serde(default)]
    manager: Option<AnyString>,
    #[serde(default)]
    operation: Option<AnyString>,
    #[serde(default)]
    subresource: Option<AnyString>,
    #[serde(default)]
    time: Option<Time>,
}

/// A string, checked to be one and not kept.
struct AnyString;

impl<'de> Deserialize<'de> for AnyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(AnyString)
    }
}

impl<'de> Visitor<'de> for AnyString {
    type Value = AnyString;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E>(self, _: &str) -> Result<AnyString, E> {
        Ok(AnyString)
    }
}

/// Parse an AdmissionReview body (`admission.k8s.io/v1` or `v1beta1`), reading only what a
/// review needs (see the module documentation). The body must be UTF-8 throughout, skipped
/// parts included, as for the full decoder.
pub fn parse_review(body: &[u8]) -> Result<AdmissionRequest<DynamicObject>, AdmissionError> {
    let text = std::str::from_utf8(body).map_err(|_| {
        AdmissionError::Malformed(serde::de::Error::custom("the body is not UTF-8"))
    })?;
    let review: Review = serde_json::from_str(text)?;
    if !matches!(
        review.api_version.as_str(),
        "admission.k8s.io/v1" | "admission.k8s.io/v1beta1"
    ) {
        return Err(AdmissionError::UnsupportedVersion(review.api_version));
    }
    let request = review.request.ok_or(AdmissionError::MissingRequest)?;
    Ok(AdmissionRequest {
        types: TypeMeta {
            api_version: review.api_version,
            kind: review.kind,
        },
        uid: request.uid,
        kind: request.kind,
        resource: request.resource,
        sub_resource: request.sub_resource,
        request_kind: request.request_kind,
        request_resource: request.request_resource,
        request_sub_resource: request.request_sub_resource,
        name: request.name,
        namespace: request.namespace,
        operation: request.operation,
        user_info: request.user_info,
        object: request.object.map(|o| o.0),
        old_object: request.old_object.map(|o| o.0),
        dry_run: request.dry_run,
        options: None,
    })
}

/// An object as kube's `DynamicObject` decoder reads it (`apiVersion` and `kind` into `types`
/// when both are strings, `metadata`, the rest into `data`), with only the read parts kept.
struct WireObject(DynamicObject);

impl<'de> Deserialize<'de> for WireObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ObjectVisitor)
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = WireObject;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<WireObject, A::Error> {
        let (mut api_version, mut kind, mut metadata) = (None, None, None);
        let mut data = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match key.as_ref() {
                "apiVersion" => api_version = Some(map.next_value::<Value>()?),
                "kind" => kind = Some(map.next_value::<Value>()?),
                "metadata" => metadata = Some(map.next_value::<Metadata>()?),
                "spec" => {
                    let value = map.next_value_seed(Pruned(Shape::Spec))?;
                    data.insert(key.into_owned(), value);
                }
                "template" => {
                    let value = map.next_value_seed(Pruned(Shape::Template))?;
                    data.insert(key.into_owned(), value);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let types = match (api_version, kind) {
            (Some(Value::String(api_version)), Some(Value::String(kind))) => {
                Some(TypeMeta { api_version, kind })
            }
            _ => None,
        };
        let metadata = metadata.map_or_else(ObjectMeta::default, |m| ObjectMeta {
            name: m.name,
            generate_name: m.generate_name,
            namespace: m.namespace,
            uid: m.uid,
            labels: m.labels,
            annotations: m.annotations,
            owner_references: m.owner_references,
            ..ObjectMeta::default()
        });
        Ok(WireObject(DynamicObject {
            types,
            metadata,
            data: Value::Object(data),
        }))
    }
}

/// Where a value sits, which says which of its fields are kept.
#[derive(Clone, Copy)]
enum Shape {
    /// A pod spec or a workload's spec (`template`, `jobTemplate` inside).
    Spec,
    /// A pod template or a job template: its `spec`.
    Template,
    /// `containers`, `initContainers`, `ephemeralContainers` or `volumes`: a list of entries.
    List,
    /// A container or a volume: its `name` and `image`.
    Entry,
    /// A value kept whole.
    Whole,
}

impl Shape {
    /// What is kept of field `key` of an object in this place: `None` skips it.
    fn field(self, key: &str) -> Option<Shape> {
        match self {
            Shape::Spec => match key {
                "containers" | "initContainers" | "ephemeralContainers" | "volumes" => {
                    Some(Shape::List)
                }
                "imagePullSecrets" | "serviceAccountName" => Some(Shape::Whole),
                "template" | "jobTemplate" => Some(Shape::Template),
                _ => None,
            },
            Shape::Template => (key == "spec").then_some(Shape::Spec),
            Shape::Entry => matches!(key, "name" | "image").then_some(Shape::Whole),
            // An object where a list belongs is kept whole, for the error that names it.
            Shape::List | Shape::Whole => Some(Shape::Whole),
        }
    }

    /// What is kept of each item of a list in this place.
    fn item(self) -> Shape {
        match self {
            Shape::List => Shape::Entry,
            _ => Shape::Whole,
        }
    }
}

/// A value read as `serde_json::Value` reads it, with the fields [`Shape`] skips left out.
struct Pruned(Shape);

impl<'de> DeserializeSeed<'de> for Pruned {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        match self.0 {
            Shape::Whole => Value::deserialize(deserializer),
            _ => deserializer.deserialize_any(self),
        }
    }
}

impl<'de> Visitor<'de> for Pruned {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Pruned(self.0.item()))? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            match self.0.field(&key) {
                Some(shape) => {
                    let value = map.next_value_seed(Pruned(shape))?;
                    fields.insert(key.into_owned(), value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(fields))
    }
}

/// An object key, borrowed from the body unless it holds escapes.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}
