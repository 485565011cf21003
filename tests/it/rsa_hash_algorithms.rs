//! RSA keys with `hashAlgorithm: sha384` or `sha512`: signatures made by openssl (PKCS#1 v1.5
//! over that digest, what cosign's `LoadVerifier` checks for an RSA key) over cosign's
//! simple-signing payload, stored under the `.sig` tag of an image in Debian's docker-registry,
//! judged by `signet verify`. policy-controller's `valid-policy-hash-algo-sha512.yaml` loads.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::common::TestRegistry;
use crate::common::signet_cli::signet_verify;
use crate::common::signing::{SigLayer, push_signature_layers, simple_signing_payload};
use crate::common::tools::{run, run_ok};
use crate::common::{digest_ref, push_image};

/// An RSA key pair made by openssl in `dir`: (private key path, public PEM).
fn rsa_key(dir: &Path, name: &str, bits: u32) -> (std::path::PathBuf, String) {
    let private = dir.join(format!("{name}.pem"));
    run_ok(
        Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
            .arg(format!("rsa_keygen_bits:{bits}"))
            .arg("-out")
            .arg(&private),
    );
    let public = run_ok(
        Command::new("openssl")
            .args(["pkey", "-pubout", "-in"])
            .arg(&private),
    );
    (private, public)
}

/// openssl's signature of `payload` with `private` over `digest` (`-sigopt` options added).
fn openssl_sign(dir: &Path, private: &Path, digest: &str, payload: &[u8], opts: &[&str]) -> String {
    let input = dir.join("payload.json");
    std::fs::write(&input, payload).unwrap();
    let output = dir.join("payload.sig");
    let mut command = Command::new("openssl");
    command
        .arg("dgst")
        .arg(format!("-{digest}"))
        .arg("-sign")
        .arg(private);
    for opt in opts {
        command.args(["-sigopt", opt]);
    }
    run_ok(command.arg("-out").arg(&output).arg(&input));
    BASE64.encode(std::fs::read(&output).unwrap())
}

fn verify(image: &str, public_pem: &str, hash: &str, host: &str) -> (bool, String) {
    let pem: String = public_pem
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    let policy = format!(
        "apiVersion: policy.sigstore.dev/v1beta1\nkind: ClusterImagePolicy\nmetadata:\n  \
         name: rsa\nspec:\n  images:\n  - glob: \"**\"\n  authorities:\n  - key:\n      \
         hashAlgorithm: {hash}\n      data: |\n{pem}"
    );
    signet_verify(&policy, image, &[format!("--insecure-registry={host}")])
}

#[tokio::test]
async fn rsa_signatures_over_sha512_and_sha384_verify_with_that_hash_only() {
    let registry = TestRegistry::start();
    let host = registry.host();
    let dir = tempfile::tempdir().unwrap();
    let (private, public) = rsa_key(dir.path(), "rsa", 3072);
    let (other_private, _) = rsa_key(dir.path(), "other", 3072);

    for (digest, wrong) in [("sha512", "sha384"), ("sha384", "sha512")] {
        let repo = format!("rsa-{digest}/app");
        let image_digest = push_image(&registry, &format!("{repo}:v1"), digest).await;
        let image = digest_ref(&registry, &repo, &image_digest);
        let reference = format!("{host}/{repo}");
        let payload = simple_signing_payload(&reference, &image_digest);
        let cases = [
            // (signed with, digest, padding, trusted hash, admitted, case)
            (
                &private,
                digest,
                &[][..],
                digest,
                true,
                "PKCS#1 v1.5 with the policy's hash",
            ),
            (
                &private,
                digest,
                &[][..],
                wrong,
                false,
                "another hashAlgorithm in the policy",
            ),
            (
                &private,
                digest,
                &[][..],
                "sha256",
                false,
                "the default sha256",
            ),
            (
                &private,
                wrong,
                &[][..],
                digest,
                false,
                "signed over another digest",
            ),
            (
                &private,
                digest,
                &["rsa_padding_mode:pss", "rsa_pss_saltlen:digest"][..],
                digest,
                false,
                "PSS padding (cosign's LoadVerifier checks PKCS#1 v1.5 for RSA keys)",
            ),
            (
                &other_private,
                digest,
                &[][..],
                digest,
                false,
                "another key",
            ),
        ];
        for (key, signed_over, opts, trusted, want, case) in cases {
            let signature = openssl_sign(dir.path(), key, signed_over, &payload, opts);
            let layer = SigLayer::new(payload.clone(), &signature);
            push_signature_layers(&registry, &repo, &image_digest, vec![layer]).await;
            let (admitted, text) = verify(&image, &public, trusted, &host);
            assert_eq!(admitted, want, "{digest}: {case}:\n{text}");
        }
    }
}

#[test]
fn policy_controller_s_sha512_fixture_loads() {
    let fixture = "../shared/fixtures/third_party/policy-controller/test/testdata/\
                   policy-controller/valid/valid-policy-hash-algo-sha512.yaml";
    let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["policy", "check"])
        .arg(fixture));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    assert!(text.contains("RSA 4096"), "{text}");
}
