//! The Kubernetes client side of Signet, a shell beside `server` and `cli`: policy objects
//! watched live with kube-runtime (`policies`). The engine knows nothing of it; this module
//! only feeds the engine policy documents, as the files do.

pub mod policies;
pub mod pull_secrets;

pub use policies::{POLICY_KINDS, PolicyKind, PolicySync, watch_policies};
pub use pull_secrets::{PullIdentity, PullSecretError, PullSecrets};
