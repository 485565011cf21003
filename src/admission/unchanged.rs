//! UPDATE: which image uses the stored object already runs, unchanged.
//!
//! "Unchanged" means the same slot with the same reference: the same container (by name, in the
//! same list: `containers`, `initContainers`, `ephemeralContainers`, or the same image volume)
//! naming the same image string. A reference the old object used somewhere else (another
//! container, an init container now used by a main one, a new container, two containers that
//! swapped names) is verified: the tag may have moved since it was admitted, and where an image
//! runs changes what it can do. Entries without a name are matched by their index.

use std::collections::HashSet;

use crate::workload::ImageUse;

/// Where an image is used, independent of list order: the list path with indexes left out and
/// the container's (or volume's) name, or the full path when the entry has no name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    place: String,
    name: String,
    image: String,
}

impl Slot {
    fn of(usage: &ImageUse) -> Slot {
        let place = match usage.container.is_empty() {
            true => usage.path.clone(),
            false => without_indexes(&usage.path),
        };
        Slot {
            place,
            name: usage.container.clone(),
            image: usage.image.clone(),
        }
    }
}

/// `spec.template.spec.containers[2]` -> `spec.template.spec.containers[]`.
fn without_indexes(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            other => out.push(other),
        }
    }
    out
}

/// `uses` split into those the stored object already runs in the same slot (`old`), and the
/// rest, which must be verified.
pub(super) fn split_unchanged(
    uses: Vec<ImageUse>,
    old: &[ImageUse],
) -> (Vec<ImageUse>, Vec<ImageUse>) {
    let running: HashSet<Slot> = old.iter().map(Slot::of).collect();
    uses.into_iter()
        .partition(|usage| running.contains(&Slot::of(usage)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::{Value, json};

    use super::*;
    use crate::workload::{WorkloadKind, extract_images};

    fn uses(spec: Value) -> Vec<ImageUse> {
        extract_images(WorkloadKind::Pod, &json!({ "spec": spec })).unwrap()
    }

    fn c(name: &str, image: &str) -> Value {
        json!({ "name": name, "image": image })
    }

    /// The paths verified when `old` becomes `new`.
    fn verified(old: Value, new: Value) -> Vec<String> {
        let (_, changed) = split_unchanged(uses(new), &uses(old));
        changed.into_iter().map(|u| u.path).collect()
    }

    #[test]
    fn the_same_image_in_the_same_container_is_unchanged_even_reordered() {
        let old = json!({"containers": [c("a", "r/one:1"), c("b", "r/two:1")]});
        assert!(verified(old.clone(), old.clone()).is_empty());
        let reordered = json!({"containers": [c("b", "r/two:1"), c("a", "r/one:1")]});
        assert!(verified(old, reordered).is_empty());
    }

    #[test]
    fn an_image_moved_to_another_container_is_verified() {
        let old = json!({"containers": [c("a", "r/one:1"), c("b", "r/two:1")]});
        let moved = json!({"containers": [c("a", "r/two:1"), c("b", "r/two:1")]});
        assert_eq!(verified(old, moved), ["spec.containers[0]"]);
    }

    #[test]
    fn swapped_names_are_verified() {
        let old = json!({"containers": [c("a", "r/one:1"), c("b", "r/two:1")]});
        let swapped = json!({"containers": [c("b", "r/one:1"), c("a", "r/two:1")]});
        assert_eq!(
            verified(old, swapped),
            ["spec.containers[0]", "spec.containers[1]"]
        );
    }

    #[test]
    fn an_init_image_used_by_a_main_container_is_verified() {
        let old = json!({"initContainers": [c("setup", "r/tool:1")], "containers": [c("app", "r/app:1")]});
        let new = json!({"initContainers": [c("setup", "r/tool:1")], "containers": [c("app", "r/tool:1")]});
        assert_eq!(verified(old, new), ["spec.containers[0]"]);
        // And the same name moved from init to main with the same image.
        let old = json!({"initContainers": [c("x", "r/tool:1")], "containers": []});
        let new = json!({"containers": [c("x", "r/tool:1")]});
        assert_eq!(verified(old, new), ["spec.containers[0]"]);
    }

    #[test]
    fn a_main_image_reused_by_an_ephemeral_container_is_verified() {
        let old = json!({"containers": [c("app", "r/app:1")]});
        let new = json!({"containers": [c("app", "r/app:1")], "ephemeralContainers": [c("debug", "r/app:1")]});
        assert_eq!(verified(old, new), ["spec.ephemeralContainers[0]"]);
    }

    #[test]
    fn the_same_image_in_a_new_container_is_verified() {
        let old = json!({"containers": [c("app", "r/app:1")]});
        let new = json!({"containers": [c("app", "r/app:1"), c("sidecar", "r/app:1")]});
        assert_eq!(verified(old, new), ["spec.containers[1]"]);
    }

    #[test]
    fn unnamed_entries_match_by_index_and_volumes_by_name() {
        let unnamed = |images: &[&str]| json!({"containers": images.iter().map(|i| json!({"image": i})).collect::<Vec<_>>()});
        assert!(verified(unnamed(&["r/a:1", "r/b:1"]), unnamed(&["r/a:1", "r/b:1"])).is_empty());
        assert_eq!(
            verified(unnamed(&["r/a:1", "r/b:1"]), unnamed(&["r/b:1", "r/a:1"])),
            ["spec.containers[0]", "spec.containers[1]"]
        );
        let volume = |name: &str, image: &str| json!({"containers": [], "volumes": [{"name": name, "image": {"reference": image}}]});
        assert!(verified(volume("data", "r/d:1"), volume("data", "r/d:1")).is_empty());
        assert_eq!(
            verified(volume("data", "r/d:1"), volume("other", "r/d:1")),
            ["spec.volumes[0].image"]
        );
    }
}
