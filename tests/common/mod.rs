//! Shared integration-test harness: a real registry, fake images, cosign-style key signatures,
//! an HTTPS test client and a fault-injecting TCP proxy. Use with `mod common;` from `tests/*.rs`.
//!
//! Needs Debian's `docker-registry` and `htpasswd` (apache2-utils) on PATH.
// Each test area (and each bench) uses a different subset of the harness.
#![allow(dead_code, unused_imports)]

pub mod apiserver;
pub mod attestation_layers;
pub mod audit;
pub mod bundles;
pub mod cluster_e2e;
pub mod containers_image;
pub mod control_plane;
pub mod cosign;
pub mod crio;
pub mod faults;
pub mod generated;
pub mod hostile;
pub mod images;
pub mod implementations;
pub mod keyless;
pub mod keyless_webhook;
pub mod kube_objects;
pub mod limits;
pub mod load;
pub mod policy_objects;
pub mod proxy;
pub mod realm;
pub mod registry;
pub mod shared_plane;
pub mod signet_cli;
pub mod signing;
pub mod tls;
pub mod tools;
pub mod tsa;
pub mod webhook;
pub mod webhook_client;

pub use images::{
    copy_manifest, delete_manifest, digest_ref, move_tag, oci_client, pull_manifest, push_image,
    push_index, push_manifest, push_platform_image, reference, registry_digest, retag,
    sha256_digest,
};
pub use proxy::{Mode, TcpProxy};
pub use registry::TestRegistry;
pub use signing::{
    SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SigLayer, TestKey, append_signature_layers,
    pull_signature_layers, push_signature_layers, sig_tag, sign, sign_image,
    simple_signing_payload,
};
pub use tls::{https_client, install_crypto_provider};

/// Replace `path` with `content` in one rename, as a ConfigMap update or the kubelet swaps
/// files: a watcher polling its directory never sees it half-written, nor a temporary file
/// beside it (the temporary file is made in the system's temporary directory, where the
/// tests' directories are too, so the rename stays on one filesystem).
pub fn replace_file(path: &std::path::Path, content: &str) {
    use std::io::Write as _;
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(content.as_bytes()).unwrap();
    tmp.persist(path).unwrap();
}

/// A new file in `dir` named `prefix…suffix` holding `content`, removed when dropped: a name no
/// other test can take, unlike one made of a port number.
pub fn temp_file_in(
    dir: &std::path::Path,
    (prefix, suffix): (&str, &str),
    content: &str,
) -> tempfile::NamedTempFile {
    use std::io::Write as _;
    let mut file = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(suffix)
        .tempfile_in(dir)
        .unwrap();
    file.write_all(content.as_bytes()).unwrap();
    file
}
