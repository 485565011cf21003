//! Which images does a Kubernetes object run?
//!
//! This module owns the walk from an object (as JSON, the way an AdmissionReview or a manifest
//! carries it) to every image its pods would pull: `containers`, `initContainers`,
//! `ephemeralContainers` and image volumes (`volumes[].image.reference`), for every kind with a
//! pod spec. It does not parse the references (see `reference`) and makes no network calls.
//!
//! Nothing is skipped silently: a container whose `image` is missing or not a string, a list
//! that is not a list, or a missing pod spec is an error the caller turns into a denial, so an
//! oddly shaped object cannot hide an image. Work is bounded by [`MAX_IMAGE_USES`].

use serde_json::{Map, Value};

mod resource;

pub use resource::ResourceIdentity;

/// Most image uses one object may hold; an object with more is refused, not walked further.
pub const MAX_IMAGE_USES: usize = 1_000;

/// The pod spec lists whose entries are containers, in the order they are reported.
const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

/// Where an image is used, kept for messages: `spec.template.spec.initContainers[0]`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageUse {
    /// JSON path of the container or volume within the object.
    pub path: String,
    /// Container name, or volume name for image volumes ("" when the object names none).
    pub container: String,
    /// The image reference, raw, as written.
    pub image: String,
}

impl ImageUse {
    /// Whether the use is in a pod template (a Deployment's, a Job's, ...), which pods are
    /// created from later, rather than in a Pod itself: mutating webhooks (sidecar injectors)
    /// run on the Pod, so only a template can still hold an injector's placeholder legitimately.
    pub fn in_pod_template(&self) -> bool {
        self.path.contains("template.spec.")
    }
}

/// The kinds of object that carry a pod spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    /// `v1` Pod.
    Pod,
    /// `apps/v1` (or legacy `extensions`) Deployment.
    Deployment,
    /// `apps/v1` (or legacy `extensions`) ReplicaSet.
    ReplicaSet,
    /// `apps/v1` StatefulSet.
    StatefulSet,
    /// `apps/v1` (or legacy `extensions`) DaemonSet.
    DaemonSet,
    /// `batch/v1` Job.
    Job,
    /// `batch/v1` CronJob.
    CronJob,
    /// `v1` ReplicationController.
    ReplicationController,
    /// `v1` PodTemplate.
    PodTemplate,
}

impl WorkloadKind {
    /// The kind for an API group (`""` for the core group) and kind name, if it has a pod spec.
    /// Versions do not matter: `batch/v1beta1` CronJob and `extensions/v1beta1` Deployment,
    /// ReplicaSet and DaemonSet have the same shape.
    pub fn from_kind(group: &str, kind: &str) -> Option<WorkloadKind> {
        let found = match (group, kind) {
            ("", "Pod") => WorkloadKind::Pod,
            ("apps" | "extensions", "Deployment") => WorkloadKind::Deployment,
            ("apps" | "extensions", "ReplicaSet") => WorkloadKind::ReplicaSet,
            ("apps" | "extensions", "DaemonSet") => WorkloadKind::DaemonSet,
            ("apps", "StatefulSet") => WorkloadKind::StatefulSet,
            ("batch", "Job") => WorkloadKind::Job,
            ("batch", "CronJob") => WorkloadKind::CronJob,
            ("", "ReplicationController") => WorkloadKind::ReplicationController,
            ("", "PodTemplate") => WorkloadKind::PodTemplate,
            _ => return None,
        };
        Some(found)
    }

    /// The keys leading from the object to its pod spec.
    pub fn pod_spec_path(self) -> &'static [&'static str] {
        match self {
            WorkloadKind::Pod => &["spec"],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template", "spec"],
            WorkloadKind::PodTemplate => &["template", "spec"],
            WorkloadKind::Deployment
            | WorkloadKind::ReplicaSet
            | WorkloadKind::StatefulSet
            | WorkloadKind::DaemonSet
            | WorkloadKind::Job
            | WorkloadKind::ReplicationController => &["spec", "template", "spec"],
        }
    }
}

/// Why the images of an object could not be listed. Each one means "deny".
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The object itself is not a JSON object.
    #[error("the {kind:?} object must be a JSON object, found {found}")]
    ObjectNotAnObject {
        /// The kind the object was read as.
        kind: WorkloadKind,
        /// What was there instead ("null", "a list", ...).
        found: &'static str,
    },
    /// A key on the way to the pod spec is missing or null.
    #[error("the {kind:?} object has no pod spec at `{path}`")]
    PodSpecMissing {
        /// The kind the object was read as.
        kind: WorkloadKind,
        /// The pod spec path of that kind.
        path: String,
    },
    /// Something that must be an object is not.
    #[error("`{path}` must be an object, found {found}")]
    NotAnObject {
        /// JSON path of the value.
        path: String,
        /// What was there instead.
        found: &'static str,
    },
    /// A container or volume list is not a list.
    #[error("`{path}` must be a list, found {found}")]
    NotAList {
        /// JSON path of the value.
        path: String,
        /// What was there instead.
        found: &'static str,
    },
    /// A container without a string `image`, or an image volume without a string `reference`.
    #[error(
        "`{path}` must be a string naming an image, found {found}; every container and image volume must name its image"
    )]
    ImageNotAString {
        /// JSON path of the missing or malformed value.
        path: String,
        /// What was there instead ("nothing", "null", "a number", ...).
        found: &'static str,
    },
    /// More than [`MAX_IMAGE_USES`] images in one object.
    #[error("the object uses more than {limit} images; refusing to check it")]
    TooManyImages {
        /// The limit that was exceeded.
        limit: usize,
    },
}

/// Every image the pods of `object` would run, in the order containers, init containers,
/// ephemeral containers, image volumes.
pub fn extract_images(kind: WorkloadKind, object: &Value) -> Result<Vec<ImageUse>, ExtractError> {
    let spec = pod_spec(kind, object)?;
    let base = kind.pod_spec_path().join(".");
    let mut uses = Vec::new();
    for list in CONTAINER_LISTS {
        collect_containers(spec, &format!("{base}.{list}"), list, &mut uses)?;
    }
    collect_image_volumes(spec, &format!("{base}.volumes"), &mut uses)?;
    Ok(uses)
}

/// Follows the kind's pod spec path; every step must be an object.
fn pod_spec(kind: WorkloadKind, object: &Value) -> Result<&Map<String, Value>, ExtractError> {
    let mut current = object.as_object().ok_or(ExtractError::ObjectNotAnObject {
        kind,
        found: json_type(object),
    })?;
    let keys = kind.pod_spec_path();
    for (depth, key) in keys.iter().enumerate() {
        let path = || keys[..=depth].join(".");
        let value = present(current, key).ok_or_else(|| ExtractError::PodSpecMissing {
            kind,
            path: keys.join("."),
        })?;
        current = as_object(value, path)?;
    }
    Ok(current)
}

/// Adds the image of every entry of `spec[list]`.
fn collect_containers(
    spec: &Map<String, Value>,
    path: &str,
    list: &str,
    uses: &mut Vec<ImageUse>,
) -> Result<(), ExtractError> {
    for (index, entry) in entries(spec, list, path)?.iter().enumerate() {
        check_room(uses)?;
        let entry_path = format!("{path}[{index}]");
        let container = as_object(entry, || entry_path.clone())?;
        let image = image_string(container, "image", || format!("{entry_path}.image"))?;
        uses.push(ImageUse {
            container: name_of(container),
            image,
            path: entry_path,
        });
    }
    Ok(())
}

/// Adds `reference` of every volume that has an `image` source.
fn collect_image_volumes(
    spec: &Map<String, Value>,
    path: &str,
    uses: &mut Vec<ImageUse>,
) -> Result<(), ExtractError> {
    for (index, entry) in entries(spec, "volumes", path)?.iter().enumerate() {
        let volume = as_object(entry, || format!("{path}[{index}]"))?;
        let Some(source) = present(volume, "image") else {
            continue;
        };
        check_room(uses)?;
        let image_path = format!("{path}[{index}].image");
        let source = as_object(source, || image_path.clone())?;
        let image = image_string(source, "reference", || format!("{image_path}.reference"))?;
        uses.push(ImageUse {
            container: name_of(volume),
            image,
            path: image_path,
        });
    }
    Ok(())
}

/// The entries of list `key`; an absent or null list has none.
fn entries<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a [Value], ExtractError> {
    match present(map, key) {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(ExtractError::NotAList {
            path: path.to_owned(),
            found: json_type(other),
        }),
    }
}

/// `map[key]` unless absent or null (Kubernetes decodes a null field as unset).
fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|value| !value.is_null())
}

fn as_object(
    value: &Value,
    path: impl FnOnce() -> String,
) -> Result<&Map<String, Value>, ExtractError> {
    value.as_object().ok_or_else(|| ExtractError::NotAnObject {
        path: path(),
        found: json_type(value),
    })
}

/// `map[key]` as an image string; anything else is an error naming the path.
fn image_string(
    map: &Map<String, Value>,
    key: &str,
    path: impl FnOnce() -> String,
) -> Result<String, ExtractError> {
    match map.get(key) {
        Some(Value::String(image)) => Ok(image.clone()),
        other => Err(ExtractError::ImageNotAString {
            path: path(),
            found: other.map_or("nothing", json_type),
        }),
    }
}

/// The `name` of a container or volume, or "" when it has none.
fn name_of(map: &Map<String, Value>) -> String {
    map.get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn check_room(uses: &[ImageUse]) -> Result<(), ExtractError> {
    if uses.len() >= MAX_IMAGE_USES {
        return Err(ExtractError::TooManyImages {
            limit: MAX_IMAGE_USES,
        });
    }
    Ok(())
}

/// How a JSON value is described in messages (never the value itself).
pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALL_KINDS: [WorkloadKind; 9] = [
        WorkloadKind::Pod,
        WorkloadKind::Deployment,
        WorkloadKind::ReplicaSet,
        WorkloadKind::StatefulSet,
        WorkloadKind::DaemonSet,
        WorkloadKind::Job,
        WorkloadKind::CronJob,
        WorkloadKind::ReplicationController,
        WorkloadKind::PodTemplate,
    ];

    fn uses(kind: WorkloadKind, object: &Value) -> Vec<(String, String, String)> {
        extract_images(kind, object)
            .unwrap_or_else(|e| panic!("{kind:?}: {e}"))
            .into_iter()
            .map(|u| (u.path, u.container, u.image))
            .collect()
    }

    fn triple(path: &str, container: &str, image: &str) -> (String, String, String) {
        (path.to_owned(), container.to_owned(), image.to_owned())
    }

    fn pod(spec: Value) -> Value {
        json!({ "apiVersion": "v1", "kind": "Pod", "spec": spec })
    }

    #[test]
    fn from_kind_knows_every_pod_template_kind() {
        let cases = [
            ("", "Pod", Some(WorkloadKind::Pod)),
            ("apps", "Deployment", Some(WorkloadKind::Deployment)),
            ("extensions", "Deployment", Some(WorkloadKind::Deployment)),
            ("apps", "ReplicaSet", Some(WorkloadKind::ReplicaSet)),
            ("extensions", "ReplicaSet", Some(WorkloadKind::ReplicaSet)),
            ("apps", "StatefulSet", Some(WorkloadKind::StatefulSet)),
            ("apps", "DaemonSet", Some(WorkloadKind::DaemonSet)),
            ("extensions", "DaemonSet", Some(WorkloadKind::DaemonSet)),
            ("batch", "Job", Some(WorkloadKind::Job)),
            ("batch", "CronJob", Some(WorkloadKind::CronJob)),
            (
                "",
                "ReplicationController",
                Some(WorkloadKind::ReplicationController),
            ),
            ("", "PodTemplate", Some(WorkloadKind::PodTemplate)),
            ("apps", "Pod", None),
            ("", "Deployment", None),
            ("", "pod", None),
            ("rbac.authorization.k8s.io", "Role", None),
            ("example.com", "CustomType", None),
            ("", "", None),
        ];
        for (group, kind, expected) in cases {
            assert_eq!(
                WorkloadKind::from_kind(group, kind),
                expected,
                "{group:?} {kind:?}"
            );
        }
    }

    #[test]
    fn pod_spec_paths() {
        assert_eq!(WorkloadKind::Pod.pod_spec_path(), ["spec"]);
        assert_eq!(
            WorkloadKind::Deployment.pod_spec_path(),
            ["spec", "template", "spec"]
        );
        assert_eq!(
            WorkloadKind::CronJob.pod_spec_path(),
            ["spec", "jobTemplate", "spec", "template", "spec"]
        );
        assert_eq!(
            WorkloadKind::PodTemplate.pod_spec_path(),
            ["template", "spec"]
        );
        for kind in [
            WorkloadKind::ReplicaSet,
            WorkloadKind::StatefulSet,
            WorkloadKind::DaemonSet,
            WorkloadKind::Job,
            WorkloadKind::ReplicationController,
        ] {
            assert_eq!(
                kind.pod_spec_path(),
                ["spec", "template", "spec"],
                "{kind:?}"
            );
        }
    }

    #[test]
    fn finds_every_container_list_and_image_volumes_in_order() {
        let object = pod(json!({
            "initContainers": [{ "name": "init", "image": "busybox:1.36" }],
            "containers": [
                { "name": "app", "image": "ghcr.io/o/app:v1" },
                { "name": "side", "image": "nginx" }
            ],
            "ephemeralContainers": [{ "name": "debug", "image": "alpine" }],
            "volumes": [
                { "name": "data", "emptyDir": {} },
                { "name": "rbd", "rbd": { "image": "not-a-container-image" } },
                { "name": "models", "image": { "reference": "ghcr.io/o/models:v2", "pullPolicy": "Always" } }
            ]
        }));
        assert_eq!(
            uses(WorkloadKind::Pod, &object),
            [
                triple("spec.containers[0]", "app", "ghcr.io/o/app:v1"),
                triple("spec.containers[1]", "side", "nginx"),
                triple("spec.initContainers[0]", "init", "busybox:1.36"),
                triple("spec.ephemeralContainers[0]", "debug", "alpine"),
                triple("spec.volumes[2].image", "models", "ghcr.io/o/models:v2"),
            ]
        );
    }

    #[test]
    fn paths_follow_each_kind_to_its_pod_spec() {
        let spec = json!({ "containers": [{ "name": "c", "image": "i" }] });
        for kind in ALL_KINDS {
            let mut object = json!({});
            let keys = kind.pod_spec_path();
            let mut slot = &mut object;
            for key in keys {
                slot = &mut slot[*key];
            }
            *slot = spec.clone();
            let expected = format!("{}.containers[0]", keys.join("."));
            assert_eq!(
                uses(kind, &object),
                [triple(&expected, "c", "i")],
                "{kind:?}"
            );
        }
    }

    #[test]
    fn absent_null_and_empty_lists_are_fine() {
        assert!(uses(WorkloadKind::Pod, &pod(json!({}))).is_empty());
        let nulls = json!({ "containers": null, "initContainers": null, "ephemeralContainers": null, "volumes": null });
        assert!(uses(WorkloadKind::Pod, &pod(nulls)).is_empty());
        let empty = json!({ "containers": [], "initContainers": [], "ephemeralContainers": [], "volumes": [] });
        assert!(uses(WorkloadKind::Pod, &pod(empty)).is_empty());
    }

    #[test]
    fn empty_image_and_missing_name_are_returned_as_is() {
        let object = pod(json!({ "containers": [{ "image": "" }] }));
        assert_eq!(
            uses(WorkloadKind::Pod, &object),
            [triple("spec.containers[0]", "", "")]
        );
        let object = pod(json!({ "containers": [{ "name": 7, "image": " x " }] }));
        assert_eq!(
            uses(WorkloadKind::Pod, &object),
            [triple("spec.containers[0]", "", " x ")]
        );
    }

    #[test]
    fn missing_pod_spec_is_an_error() {
        let deployment = json!({ "kind": "Deployment", "spec": { "replicas": 1 } });
        let err = extract_images(WorkloadKind::Deployment, &deployment).unwrap_err();
        assert!(
            matches!(&err, ExtractError::PodSpecMissing { path, .. } if path == "spec.template.spec"),
            "{err:?}"
        );
        assert!(err.to_string().contains("spec.template.spec"), "{err}");
        for kind in ALL_KINDS {
            let err = extract_images(kind, &json!({})).unwrap_err();
            assert!(
                matches!(err, ExtractError::PodSpecMissing { .. }),
                "{kind:?}: {err:?}"
            );
        }
        let null_spec = json!({ "spec": null });
        assert!(matches!(
            extract_images(WorkloadKind::Pod, &null_spec),
            Err(ExtractError::PodSpecMissing { .. })
        ));
    }

    #[test]
    fn pod_spec_that_is_not_an_object_is_an_error() {
        let err = extract_images(WorkloadKind::Pod, &json!({ "spec": [] })).unwrap_err();
        assert!(
            matches!(&err, ExtractError::NotAnObject { path, found: "a list" } if path == "spec"),
            "{err:?}"
        );
        let err =
            extract_images(WorkloadKind::Job, &json!({ "spec": { "template": "x" } })).unwrap_err();
        assert!(
            matches!(&err, ExtractError::NotAnObject { path, .. } if path == "spec.template"),
            "{err:?}"
        );
        for object in [json!(null), json!([]), json!("pod"), json!(1), json!(true)] {
            let err = extract_images(WorkloadKind::Pod, &object).unwrap_err();
            assert!(
                matches!(err, ExtractError::ObjectNotAnObject { .. }),
                "{object}: {err:?}"
            );
        }
    }

    #[test]
    fn list_that_is_not_a_list_is_an_error() {
        for list in [
            "containers",
            "initContainers",
            "ephemeralContainers",
            "volumes",
        ] {
            let object = pod(json!({ list: { "name": "c", "image": "hidden" } }));
            let err = extract_images(WorkloadKind::Pod, &object).unwrap_err();
            let expected = format!("spec.{list}");
            assert!(
                matches!(&err, ExtractError::NotAList { path, found: "an object" } if *path == expected),
                "{list}: {err:?}"
            );
        }
    }

    #[test]
    fn container_without_a_string_image_is_an_error_naming_the_path() {
        let bad_images = [
            (json!({ "name": "c" }), "nothing"),
            (json!({ "name": "c", "image": null }), "null"),
            (json!({ "name": "c", "image": 5 }), "a number"),
            (json!({ "name": "c", "image": ["nginx"] }), "a list"),
            (
                json!({ "name": "c", "image": { "reference": "nginx" } }),
                "an object",
            ),
            (json!({ "name": "c", "Image": "nginx" }), "nothing"),
        ];
        for (container, found_expected) in bad_images {
            let object = json!({ "spec": { "template": { "spec": {
                "containers": [{ "name": "ok", "image": "nginx" }],
                "initContainers": [container.clone()]
            } } } });
            let err = extract_images(WorkloadKind::Deployment, &object).unwrap_err();
            assert!(
                matches!(&err, ExtractError::ImageNotAString { path, found }
                    if path == "spec.template.spec.initContainers[0].image" && *found == found_expected),
                "{container}: {err:?}"
            );
            assert!(
                err.to_string()
                    .contains("spec.template.spec.initContainers[0].image")
            );
        }
    }

    #[test]
    fn container_entry_that_is_not_an_object_is_an_error() {
        let object = pod(json!({ "containers": [{ "image": "a" }, "nginx"] }));
        let err = extract_images(WorkloadKind::Pod, &object).unwrap_err();
        assert!(
            matches!(&err, ExtractError::NotAnObject { path, .. } if path == "spec.containers[1]"),
            "{err:?}"
        );
    }

    #[test]
    fn image_volume_must_name_its_reference() {
        let cases = [
            (
                json!({ "name": "v", "image": {} }),
                "spec.volumes[0].image.reference",
            ),
            (
                json!({ "name": "v", "image": { "reference": null } }),
                "spec.volumes[0].image.reference",
            ),
            (
                json!({ "name": "v", "image": { "reference": 1 } }),
                "spec.volumes[0].image.reference",
            ),
            (
                json!({ "name": "v", "image": "nginx" }),
                "spec.volumes[0].image",
            ),
            (json!("v"), "spec.volumes[0]"),
        ];
        for (volume, expected_path) in cases {
            let err = extract_images(
                WorkloadKind::Pod,
                &pod(json!({ "volumes": [volume.clone()] })),
            )
            .unwrap_err();
            let path = match &err {
                ExtractError::ImageNotAString { path, .. }
                | ExtractError::NotAnObject { path, .. } => path,
                other => panic!("{volume}: {other:?}"),
            };
            assert_eq!(path, expected_path, "{volume}");
        }
        let null_image = pod(json!({ "volumes": [{ "name": "v", "image": null }] }));
        assert!(uses(WorkloadKind::Pod, &null_image).is_empty());
        let empty_ref = pod(json!({ "volumes": [{ "name": "v", "image": { "reference": "" } }] }));
        assert_eq!(
            uses(WorkloadKind::Pod, &empty_ref),
            [triple("spec.volumes[0].image", "v", "")]
        );
    }

    fn containers(n: usize) -> Value {
        Value::Array(
            (0..n)
                .map(|i| json!({ "name": format!("c{i}"), "image": "i" }))
                .collect(),
        )
    }

    #[test]
    fn at_most_a_thousand_image_uses() {
        let at_limit = pod(json!({ "containers": containers(MAX_IMAGE_USES) }));
        assert_eq!(
            extract_images(WorkloadKind::Pod, &at_limit).unwrap().len(),
            MAX_IMAGE_USES
        );
        let over = pod(json!({ "containers": containers(MAX_IMAGE_USES + 1) }));
        assert!(matches!(
            extract_images(WorkloadKind::Pod, &over),
            Err(ExtractError::TooManyImages {
                limit: MAX_IMAGE_USES
            })
        ));
        let volumes: Vec<Value> = (0..2)
            .map(|i| json!({ "name": format!("v{i}"), "image": { "reference": "r" } }))
            .collect();
        let split = pod(json!({
            "containers": containers(600),
            "initContainers": containers(399),
            "volumes": volumes
        }));
        assert!(matches!(
            extract_images(WorkloadKind::Pod, &split),
            Err(ExtractError::TooManyImages { .. })
        ));
        let many_plain_volumes: Vec<Value> = (0..5_000)
            .map(|i| json!({ "name": format!("v{i}") }))
            .collect();
        let plain = pod(json!({ "containers": containers(3), "volumes": many_plain_volumes }));
        assert_eq!(extract_images(WorkloadKind::Pod, &plain).unwrap().len(), 3);
    }

    #[test]
    fn serializes_for_reports() {
        let u = ImageUse {
            path: "spec.containers[0]".into(),
            container: "app".into(),
            image: "nginx".into(),
        };
        assert_eq!(
            serde_json::to_value(&u).unwrap(),
            json!({ "path": "spec.containers[0]", "container": "app", "image": "nginx" })
        );
    }

    #[test]
    fn odd_json_never_panics() {
        let leaves = [
            json!(null),
            json!(true),
            json!(0),
            json!(-1.5),
            json!(""),
            json!("x"),
            json!([]),
            json!({}),
            json!([null]),
            json!([{}]),
            json!([{ "image": null }]),
            json!([{ "image": "i", "name": null }]),
            json!({ "image": "i" }),
            json!({ "reference": "r" }),
            json!([{ "image": { "reference": [] } }]),
        ];
        let keys = [
            "spec",
            "template",
            "jobTemplate",
            "containers",
            "initContainers",
            "ephemeralContainers",
            "volumes",
            "image",
        ];
        for kind in ALL_KINDS {
            for leaf in &leaves {
                for key in keys {
                    let mut object = json!({});
                    let mut slot = &mut object;
                    for step in kind.pod_spec_path() {
                        slot = &mut slot[*step];
                    }
                    slot[key] = leaf.clone();
                    let _ = extract_images(kind, &object);
                    let _ = extract_images(kind, &json!({ key: leaf }));
                    let _ = extract_images(kind, leaf);
                }
            }
        }
    }
}
