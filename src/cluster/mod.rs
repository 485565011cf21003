//! The Kubernetes client side of Signet, a shell beside `server` and `cli`: policy objects
//! watched live with kube-runtime (`policies`), registry credentials read from pull secrets
//! (`pull_secrets`), and would-deny Events written for the server (`events`). The engine knows
//! nothing of it; this module only feeds the engine policy documents, as the files do, and
//! reports what the server decided.

pub mod events;
pub mod policies;
pub mod pull_secrets;

pub use events::{EventQueue, EventSettings};
pub use policies::{POLICY_KINDS, PolicyKind, PolicySync, watch_policies};
pub use pull_secrets::{PullIdentity, PullSecretError, PullSecrets};
