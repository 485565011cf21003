//! The Kubernetes client side of Signet, a shell beside `server` and `cli`: policy objects
//! watched live with kube-runtime (`policies`), each pod's own registry credentials read from
//! its pull secrets (`pull_secrets`), and would-deny Events written for the server (`events`).
//! The engine knows nothing of the API server; this module only feeds it policy documents, as
//! the files do, and credentials through [`crate::engine::CredentialSource`], and reports what
//! the server decided.

pub mod events;
pub mod policies;
pub mod policy_secrets;
pub mod pull_secrets;

pub use events::{EventQueue, EventSettings};
pub use policies::{POLICY_KINDS, PolicyKind, PolicySync, watch_policies};
pub use policy_secrets::{SecretSync, watch_policy_secrets};
pub use pull_secrets::{PodCredentials, PullIdentity, PullSecretError, PullSecrets};
