//! The integration tests, one test binary: a module per area (`cargo test --test it --
//! webhook_keyless::` runs one area). One binary links once (about 60 MB) where one per area
//! linked 50 times; the shared harness is `tests/common`, also used by the benches.

// Test code: a failed expectation should panic with its message (the harness in tests/common
// relies on this too, as each test file's crate root once allowed it).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;

mod admission_decode;
mod admission_guards;
mod architecture;
mod attestation_logs;
mod attestation_sources;
mod attestations;
mod audit_cluster;
mod audit_html;
mod audit_logs;
mod audit_manifests;
mod certs;
mod cli;
mod cluster_policies;
mod cluster_pull_secrets;
mod cosign_parity;
mod crio_export;
mod crio_namespace_reload;
mod crio_policy;
mod e2e_control_plane;
mod e2e_policy_secrets;
mod fuzz_seeds;
mod harness;
mod helm_chart;
mod helm_install;
mod image_build;
mod key_timestamps;
mod kube_apiserver;
mod manifests;
mod namespaced_policies;
mod notation;
mod policy_conformance;
mod policy_match_admission;
mod public_good_embedded;
mod registry_aliases;
mod registry_credential_providers;
mod registry_faults;
mod registry_implementations;
mod registry_quirks;
mod registry_realms;
mod result_policy;
mod rsa_hash_algorithms;
mod server_under_load;
mod signature_sources;
mod third_party_admission;
mod third_party_bundles;
mod third_party_containers_image;
mod third_party_containers_policy;
mod third_party_keyless;
mod third_party_workloads;
mod tls_rotation;
mod trust_root_windows;
mod webhook_bundles;
mod webhook_cache;
mod webhook_client_auth;
mod webhook_decision_memo;
mod webhook_events;
mod webhook_hostile_clients;
mod webhook_key_signatures;
mod webhook_keyless;
mod webhook_keyless_forgeries;
mod webhook_lifecycle;
mod webhook_metrics;
mod webhook_mirrors;
mod webhook_multiarch;
mod webhook_pinning;
mod webhook_placeholders;
mod webhook_policy_and_limits;
mod webhook_pull_secrets;
mod webhook_thresholds;
