//! sigstore policy-controller `ClusterImagePolicy` / `ImagePolicy` documents (and Signet's
//! extensions to them), from YAML to the one model: parse (`parse`, into the wire types of
//! `cluster_image_policy`) -> validate as policy-controller does (`validate`, with `key` and
//! `syntax`) -> compile into [`ImagePolicy`](super::ImagePolicy) (`compile`, `compile_keyless`,
//! `resource_match` for `spec.match`).

mod attestation_compile;
pub(super) mod cluster_image_policy;
pub(super) mod compile;
mod compile_keyless;
pub(super) mod compile_secrets;
mod key;
pub(super) mod parse;
mod resource_match;
mod syntax;
pub(super) mod validate;

pub use resource_match::{LabelOperator, LabelRequirement, ResourceMatch};
