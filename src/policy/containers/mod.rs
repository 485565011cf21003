//! containers-policy.json (CRI-O's and podman's `policy.json`), from JSON to the one model: parse
//! and validate with containers/image's rules (`policy_json`, read by `strict_json`) -> compile
//! each requirement of a scope into an [`ImagePolicy`](super::ImagePolicy) (`compile`).

pub(super) mod compile;
pub(super) mod policy_json;
