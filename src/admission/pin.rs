//! `POST /mutate` (off unless `--enable-mutation`): the JSONPatch that pins each image the review
//! verified to the digest it was verified at, `repo:tag` -> `repo:tag@sha256:…`, so the kubelet
//! pulls exactly what was checked even if the tag moves later. The tag is kept for readers.
//!
//! Pinned: images whose verdict is `Verified` with a resolved digest (or denied only because
//! `requireDigest` wants the digest this patch writes). Never touched: images no policy covers,
//! images a policy does not verify, images already carrying a digest (so a second pass, or a GitOps
//! controller re-applying the pinned object, gets no patch), and images an UPDATE did not change.
//! Each replacement is preceded by a `test` of the value verified, so a patch never lands on an
//! image another webhook changed meanwhile. The patch never denies: `/validate` does.

use json_patch::jsonptr::PointerBuf;
use json_patch::{PatchOperation, ReplaceOperation, TestOperation};
use serde_json::Value;

use crate::verdict::{Decision, ImageVerdict, Outcome, Reason};

/// The operations that pin every verified image of `decision`.
pub fn pin_operations(decision: &Decision) -> Vec<PatchOperation> {
    decision
        .verdicts
        .iter()
        .filter_map(|v| pinned(v).map(|value| (pointer(&v.usage.path), v, value)))
        .flat_map(|(path, verdict, value)| {
            [
                PatchOperation::Test(TestOperation {
                    path: path.clone(),
                    value: Value::String(verdict.usage.image.clone()),
                }),
                PatchOperation::Replace(ReplaceOperation {
                    path,
                    value: Value::String(value),
                }),
            ]
        })
        .collect()
}

/// `image@digest` as written plus the verified digest, for an image that should be pinned.
fn pinned(verdict: &ImageVerdict) -> Option<String> {
    let digest = verdict.digest.as_ref()?;
    if verdict.usage.image.contains('@') {
        return None;
    }
    let verified = match &verdict.outcome {
        Outcome::Admit(code, _) => *code == crate::verdict::VERIFIED,
        Outcome::Deny(Reason::DigestRequired { pinned, .. })
        | Outcome::Warn(Reason::DigestRequired { pinned, .. }) => pinned.is_some(),
        Outcome::Deny(_) | Outcome::Warn(_) => false,
    };
    verified.then(|| format!("{}@{digest}", verdict.usage.image))
}

/// `spec.template.spec.containers[0]` -> `/spec/template/spec/containers/0/image`;
/// `spec.volumes[1].image` (an image volume) -> `/spec/volumes/1/image/reference`.
fn pointer(path: &str) -> PointerBuf {
    let mut tokens: Vec<String> = Vec::new();
    for segment in path.split('.') {
        match segment.split_once('[') {
            Some((name, index)) => {
                tokens.push(name.to_string());
                tokens.push(index.trim_end_matches(']').to_string());
            }
            None => tokens.push(segment.to_string()),
        }
    }
    let field = if path.ends_with(']') {
        "image"
    } else {
        "reference"
    };
    tokens.push(field.to_string());
    PointerBuf::from_tokens(tokens)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::reference::Digest;
    use crate::workload::ImageUse;

    fn verdict(path: &str, image: &str, outcome: Outcome, digest: bool) -> ImageVerdict {
        ImageVerdict {
            usage: ImageUse {
                path: path.into(),
                container: "c".into(),
                image: image.into(),
            },
            reference: None,
            digest: digest.then(|| Digest::sha256_of(b"x")),
            outcome,
        }
    }

    #[test]
    fn pointers_name_the_image_field_of_containers_and_volumes() {
        let p = pointer("spec.template.spec.containers[3]");
        assert_eq!(p.as_str(), "/spec/template/spec/containers/3/image");
        let p = pointer("spec.volumes[1].image");
        assert_eq!(p.as_str(), "/spec/volumes/1/image/reference");
    }

    #[test]
    fn only_verified_tag_references_are_pinned() {
        let verified = || Outcome::Admit("Verified", String::new());
        let decision = Decision {
            verdicts: vec![
                verdict("spec.containers[0]", "app:v1", verified(), true),
                verdict("spec.containers[1]", "app:v1@sha256:00", verified(), true),
                verdict(
                    "spec.containers[2]",
                    "other:v1",
                    Outcome::Admit("NoPolicyMatch", String::new()),
                    false,
                ),
                verdict(
                    "spec.containers[3]",
                    "same:v1",
                    Outcome::Admit("Unchanged", String::new()),
                    false,
                ),
                verdict(
                    "spec.containers[4]",
                    "bad:v1",
                    Outcome::Deny(Reason::NoPolicyMatch),
                    true,
                ),
            ],
            object_failure: None,
        };
        let ops = pin_operations(&decision);
        assert_eq!(ops.len(), 2, "{ops:?}");
        let text = serde_json::to_string(&ops).unwrap();
        let digest = Digest::sha256_of(b"x");
        assert!(text.contains(&format!("app:v1@{digest}")), "{text}");
        assert!(
            text.contains(r#""op":"test","path":"/spec/containers/0/image","value":"app:v1""#),
            "{text}"
        );
    }
}
