//! Signet: a Kubernetes validating admission webhook that admits only signed container images.
//!
//! Modules are declared in pipeline order. A stage may import earlier stages only:
//! workload -> reference -> policy -> registry -> signature -> verdict -> engine; the edges
//! (admission, audit, manifest, server) sit on top of the engine.
#![forbid(unsafe_code)]

pub mod admission;
pub mod audit;
pub mod certs;
pub mod cluster;
pub mod engine;
pub mod expiring;
pub mod manifest;
pub mod policy;
pub mod reference;
pub mod registry;
pub mod reload;
pub mod server;
pub mod signature;
pub mod verdict;
pub mod workload;

/// The example policy shipped in the repository, used when no `--policy` is given.
pub const EMBEDDED_POLICY: &str = include_str!("../examples/policy.yaml");
