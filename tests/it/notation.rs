//! Notary Project (Notation) signatures made by the real `notation` CLI (`scripts/tools.sh`
//! builds it) in registries the tests start, judged by `signet verify`, `signet review` and
//! `signet policy check` with Notation's own trust policy and trust store as Notation writes
//! them: `notation cert generate-test` keys and stores, the trust policy of notaryproject.dev's
//! documentation unchanged (tests/fixtures/notation/PROVENANCE), JWS and COSE envelopes, the
//! referrers tag schema (Debian's docker-registry has no referrers API) and the referrers API
//! (go-containerregistry's registry with `-referrers`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tempfile::TempDir;

use crate::common::implementations::{Implementation, RunningRegistry};
use crate::common::tools::{run, run_ok, tool};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notation")
        .join(name)
}

/// Notation's configuration directory of one test (`XDG_CONFIG_HOME`), so tests never share
/// keys, stores or policies.
struct NotationHome {
    dir: TempDir,
}

impl NotationHome {
    fn new() -> NotationHome {
        NotationHome {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn notation(&self) -> Command {
        let mut command = Command::new(tool("notation"));
        command
            .env("XDG_CONFIG_HOME", self.dir.path())
            .env("HOME", self.dir.path());
        command
    }

    /// `notation cert generate-test NAME`: a key and a self-signed certificate, and a trust
    /// store `ca:NAME` holding it; `--default` makes it the signing key.
    fn generate_test(&self, name: &str, default: bool) {
        let mut command = self.notation();
        command.args(["cert", "generate-test", name]);
        if default {
            command.arg("--default");
        }
        run_ok(&mut command);
    }

    /// `notation sign` with the default key (or `--key`), plus `extra`.
    fn sign(&self, image: &str, extra: &[&str]) {
        run_ok(
            self.notation()
                .args(["sign", "--insecure-registry"])
                .args(extra)
                .arg(image),
        );
    }

    /// Notation's trust store directory.
    fn store(&self) -> PathBuf {
        self.dir.path().join("notation/truststore")
    }

    /// A trust policy file written here.
    fn policy(&self, text: &str) -> PathBuf {
        static WRITTEN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = WRITTEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = self.dir.path().join(format!("trustpolicy-{n}.json"));
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A one-layer image pushed with crane; its `host/repo@digest`.
fn push(host: &str, repo: &str, seed: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("seed"), seed).unwrap();
    let tar = dir.path().join("layer.tar");
    run_ok(
        Command::new("tar")
            .arg("cf")
            .arg(&tar)
            .arg("-C")
            .arg(dir.path())
            .arg("seed"),
    );
    let out = run_ok(
        Command::new(tool("crane"))
            .args(["append", "--insecure", "-f"])
            .arg(&tar)
            .args(["-t", &format!("{host}/{repo}:{seed}")]),
    );
    out.trim().to_string()
}

/// A policy covering nothing the tests push: only the Notation trust policy decides.
const ELSEWHERE: &str = "apiVersion: policy.sigstore.dev/v1beta1
kind: ClusterImagePolicy
metadata:
  name: elsewhere
spec:
  images:
  - glob: elsewhere.invalid/**
  authorities:
  - static:
      action: pass
";

/// `signet verify IMAGE` with the trust policy and store (none: without Notation flags);
/// (admitted, output).
fn verify(host: &str, image: &str, notation: Option<(&Path, &Path)>) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, ELSEWHERE).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_signet"));
    command
        .arg("verify")
        .arg("--policy")
        .arg(&policy)
        .args(["--insecure-registry", host]);
    if let Some((trust_policy, store)) = notation {
        command
            .arg("--notation-trust-policy")
            .arg(trust_policy)
            .arg("--notation-trust-store")
            .arg(store);
    }
    let output = run(command.arg(image));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The documented permissive policy with its level (and override) replaced, its store and
/// identities as written.
fn documented_with(verification: Value) -> String {
    let text = std::fs::read_to_string(fixture("permissive-trustpolicy.json")).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    document["trustPolicies"][0]["signatureVerification"] = verification;
    document.to_string()
}

#[test]
fn an_image_signed_by_notation_is_admitted_under_the_documented_trust_policy_and_refused_without_it()
 {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    let jws = push(&host, "net-monitor", "v1");
    home.sign(&jws, &[]);
    let cose = push(&host, "net-monitor", "v2");
    home.sign(&cose, &["--signature-format", "cose"]);
    let documented = fixture("permissive-trustpolicy.json");
    let store = home.store();
    for image in [&jws, &cose] {
        let (admitted, out) = verify(&host, image, Some((&documented, &store)));
        assert!(admitted, "{image}: {out}");
        assert!(out.contains("Notation certificate"), "{out}");
        let (admitted, out) = verify(&host, image, None);
        assert!(!admitted, "admitted without the trust policy: {out}");
        assert!(
            out.contains("NoPolicyMatch") || out.contains("no image policy covers"),
            "{out}"
        );
    }
    // `signet review` and `signet audit` read the same flags: a Pod running both is admitted,
    // one that adds an unsigned image is refused.
    let unsigned = push(&host, "net-monitor", "v3");
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.yaml");
    std::fs::write(&policy, ELSEWHERE).unwrap();
    let pod = |images: &[&String]| {
        let containers: Vec<Value> = images
            .iter()
            .enumerate()
            .map(|(i, image)| json!({"name": format!("c{i}"), "image": image}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "team"},
               "spec": {"containers": containers}})
        .to_string()
    };
    let signet = |command: &str, target: &Path| {
        let mut signet = Command::new(env!("CARGO_BIN_EXE_signet"));
        signet.arg(command);
        if command == "audit" {
            signet.arg("--manifests");
        }
        run(signet
            .arg(target)
            .arg("--policy")
            .arg(&policy)
            .args(["--insecure-registry", &host, "--notation-trust-policy"])
            .arg(&documented)
            .arg("--notation-trust-store")
            .arg(&store))
    };
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(manifests.join("pod.yaml"), pod(&[&jws, &cose])).unwrap();
    for command in ["review", "audit"] {
        let out = signet(command, &manifests);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{command}: {text}");
    }
    std::fs::write(manifests.join("pod.yaml"), pod(&[&jws, &unsigned])).unwrap();
    for command in ["review", "audit"] {
        let out = signet(command, &manifests);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{command}: {text}");
        assert!(
            text.contains("no Notation signature is associated"),
            "{command}: {text}"
        );
    }
    // Notation itself agrees (the CLI v1.3.2 reads trustpolicy.json).
    let config = home.dir.path().join("notation/trustpolicy.json");
    std::fs::copy(&documented, &config).unwrap();
    run_ok(
        home.notation()
            .args(["verify", "--insecure-registry", &jws]),
    );
    run_ok(
        home.notation()
            .args(["verify", "--insecure-registry", &cose]),
    );
}

#[test]
fn signatures_found_through_the_referrers_api_are_verified_too() {
    let registry = RunningRegistry::start(Implementation::Ggcr { referrers: true });
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    let image = push(&host, "api/app", "v1");
    home.sign(&image, &["--force-referrers-tag=false"]);
    let documented = fixture("permissive-trustpolicy.json");
    let (admitted, out) = verify(&host, &image, Some((&documented, &home.store())));
    assert!(admitted, "{out}");
    let unsigned = push(&host, "api/app", "v2");
    let (admitted, out) = verify(&host, &unsigned, Some((&documented, &home.store())));
    assert!(!admitted, "{out}");
    assert!(out.contains("no Notation signature is associated"), "{out}");
}

#[test]
fn the_documented_strict_policy_is_refused_at_load_saying_what_to_write() {
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", false);
    let strict = fixture("quickstart-trustpolicy.json");
    let (admitted, out) = verify(
        "127.0.0.1:1",
        "127.0.0.1:1/x:1",
        Some((&strict, &home.store())),
    );
    assert!(!admitted, "{out}");
    assert!(out.contains("enforces revocation checking"), "{out}");
    assert!(
        out.contains(r#""override": {"revocation": "log"}"#),
        "{out}"
    );
    let check = run(Command::new(env!("CARGO_BIN_EXE_signet"))
        .args(["policy", "check", "--notation-trust-policy"])
        .arg(&strict)
        .arg("--notation-trust-store")
        .arg(home.store()));
    assert!(!check.status.success());
    assert!(String::from_utf8_lossy(&check.stderr).contains("enforces revocation checking"));
    let documented = fixture("permissive-trustpolicy.json");
    let check = run_ok(
        Command::new(env!("CARGO_BIN_EXE_signet"))
            .args(["policy", "check", "--notation-trust-policy"])
            .arg(&documented)
            .arg("--notation-trust-store")
            .arg(home.store()),
    );
    assert!(
        check.contains("statement \"wabbit-networks-images\": registryScopes *"),
        "{check}"
    );
    assert!(check.contains("level permissive"), "{check}");
}

#[test]
fn a_signature_from_another_trust_store_or_for_another_image_is_refused() {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    home.generate_test("acme-rockets.io", false);
    let image = push(&host, "net-monitor", "v1");
    home.sign(&image, &[]);
    // The documented policy naming the other store: the chain leads to the wrong one.
    let other = documented_with(json!({"level": "permissive"}))
        .replace("ca:wabbit-networks.io", "ca:acme-rockets.io");
    let other = home.policy(&other);
    let (admitted, out) = verify(&host, &image, Some((&other, &home.store())));
    assert!(!admitted, "{out}");
    assert!(out.contains("NotationSignatureInvalid"), "{out}");
    assert!(out.contains("Notation signature sha256:"), "{out}");
    assert!(
        out.contains(r#"certificate chain does not lead to trust store "ca:acme-rockets.io""#),
        "{out}"
    );
    // Another image carries a copy of the signature, attached to its own digest.
    let another = push(&host, "net-monitor", "v2");
    copy_signature(&host, "net-monitor", &image, &another);
    let documented = fixture("permissive-trustpolicy.json");
    let (admitted, out) = verify(&host, &another, Some((&documented, &home.store())));
    assert!(!admitted, "a signature of another image admitted: {out}");
    assert!(out.contains("Notation signature sha256:"), "{out}");
    let (admitted, out) = verify(&host, &image, Some((&documented, &home.store())));
    assert!(admitted, "{out}");
}

/// Attach the Notation signature of `from` to `to` (same repository) as the referrers tag
/// schema would: the signature manifest with `to` as its subject, listed in `to`'s referrers
/// tag. The envelope still signs `from`.
fn copy_signature(host: &str, repo: &str, from: &str, to: &str) {
    let crane = |args: &[&str]| run_ok(Command::new(tool("crane")).arg("--insecure").args(args));
    let digest_of = |image: &str| image.rsplit_once('@').unwrap().1.to_string();
    let (from_digest, to_digest) = (digest_of(from), digest_of(to));
    let tag = |digest: &str| format!("{host}/{repo}:{}", digest.replace(':', "-"));
    let index: Value = serde_json::from_str(&crane(&["manifest", &tag(&from_digest)])).unwrap();
    let entry = index["manifests"][0].clone();
    let signature = crane(&[
        "manifest",
        &format!("{host}/{repo}@{}", entry["digest"].as_str().unwrap()),
    ]);
    let mut signature: Value = serde_json::from_str(&signature).unwrap();
    let subject = crane(&["manifest", to]);
    signature["subject"] = json!({
        "mediaType": serde_json::from_str::<Value>(&subject).unwrap()["mediaType"],
        "digest": to_digest,
        "size": subject.len(),
    });
    let bytes = serde_json::to_vec(&signature).unwrap();
    let copied = format!("sha256:{}", sha256_hex(&bytes));
    put_manifest(host, repo, "copied-signature", &signature);
    let index = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "artifactType": "application/vnd.cncf.notary.signature",
            "digest": copied,
            "size": bytes.len(),
        }],
    });
    put_manifest(host, repo, &to_digest.replace(':', "-"), &index);
}

/// `PUT /v2/<repo>/manifests/<reference>` of `manifest` (typed by its `mediaType`).
fn put_manifest(host: &str, repo: &str, reference: &str, manifest: &Value) {
    use std::io::{Read as _, Write as _};
    let body = serde_json::to_vec(manifest).unwrap();
    let media_type = manifest["mediaType"].as_str().unwrap();
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    let head = format!(
        "PUT /v2/{repo}/manifests/{reference} HTTP/1.1\r\nHost: {host}\r\n\
         Content-Type: {media_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[test]
fn a_scope_that_does_not_cover_the_registry_leaves_the_image_to_no_match() {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    let image = push(&host, "net-monitor", "v1");
    home.sign(&image, &[]);
    for scopes in [
        json!(["registry.acme-rockets.io/software/net-monitor"]),
        json!([format!("{host}/net-monitor/other")]),
        json!([format!("{host}/net")]),
    ] {
        let text = std::fs::read_to_string(fixture("permissive-trustpolicy.json")).unwrap();
        let mut document: Value = serde_json::from_str(&text).unwrap();
        document["trustPolicies"][0]["registryScopes"] = scopes.clone();
        let policy = home.policy(&document.to_string());
        let (admitted, out) = verify(&host, &image, Some((&policy, &home.store())));
        assert!(!admitted, "{scopes}: {out}");
        assert!(out.contains("no image policy covers"), "{scopes}: {out}");
    }
    let text = std::fs::read_to_string(fixture("permissive-trustpolicy.json")).unwrap();
    let mut document: Value = serde_json::from_str(&text).unwrap();
    document["trustPolicies"][0]["registryScopes"] = json!([format!("{host}/net-monitor")]);
    let policy = home.policy(&document.to_string());
    let (admitted, out) = verify(&host, &image, Some((&policy, &home.store())));
    assert!(admitted, "the exact repository scope: {out}");
}

#[test]
fn each_verification_level_enforces_what_notation_enforces() {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", false);
    home.generate_test("untrusted.example", true);
    // Signed by a key whose certificate is in no store the policy names.
    let untrusted = push(&host, "net-monitor", "v1");
    home.sign(&untrusted, &[]);
    let unsigned = push(&host, "net-monitor", "v2");
    let cases = [
        (
            json!({"level": "strict", "override": {"revocation": "skip"}}),
            false,
            false,
        ),
        (
            json!({"level": "strict", "override": {"revocation": "log"}}),
            false,
            false,
        ),
        (json!({"level": "permissive"}), false, false),
        (json!({"level": "audit"}), true, false),
        (
            json!({"level": "permissive", "override": {"authenticity": "log"}}),
            true,
            false,
        ),
    ];
    for (verification, admits_untrusted, admits_unsigned) in cases {
        let policy = home.policy(&documented_with(verification.clone()));
        let (admitted, out) = verify(&host, &untrusted, Some((&policy, &home.store())));
        assert_eq!(
            admitted, admits_untrusted,
            "{verification} untrusted: {out}"
        );
        if admitted {
            assert!(out.contains("logged, not enforced"), "{out}");
        } else {
            assert!(
                out.contains("certificate chain does not lead to trust store"),
                "{out}"
            );
        }
        let (admitted, out) = verify(&host, &unsigned, Some((&policy, &home.store())));
        assert_eq!(admitted, admits_unsigned, "{verification} unsigned: {out}");
    }
    // skip verifies nothing: both admitted (as Notation's skip), and no store is needed.
    let skip = r#"{"version": "1.0", "trustPolicies": [{"name": "skip", "registryScopes": ["*"], "signatureVerification": {"level": "skip"}}]}"#;
    let skip = home.policy(skip);
    for image in [&untrusted, &unsigned] {
        let (admitted, out) = verify(&host, image, Some((&skip, &home.store())));
        assert!(admitted, "{out}");
    }
}

#[test]
fn notations_own_e2e_trust_policies_load_as_notation_judges_them() {
    use signet::policy::{LoadErrorKind, NotationTrustPolicy};
    let store = tempfile::tempdir().unwrap();
    let home = NotationHome::new();
    home.generate_test("e2e", false);
    std::fs::create_dir_all(store.path().join("x509/ca")).unwrap();
    std::fs::rename(
        home.store().join("x509/ca/e2e"),
        store.path().join("x509/ca/e2e"),
    )
    .unwrap();
    // Invalid for Notation; valid but enforcing revocation (refused by Signet: offline); valid.
    let invalid = [
        "blob_trust_policy",
        "empty_registry_scope_trustpolicy",
        "empty_trusted_identity_trustpolicy",
        "invalid_format_trustpolicy",
        "malformed_registry_scope_trustpolicy",
        "malformed_trust_store_trustpolicy",
        "malformed_trusted_identity_trustpolicy",
        "missing_country_trusted_identity_trustpolicy",
        "missing_organization_trusted_identity_trustpolicy",
        "missing_state_trusted_identity_trustpolicy",
        "multi_statements_with_multi_wildcard_registry_scope_trustpolicy",
        "multi_statements_with_the_same_name_trustpolicy",
        "multi_statements_with_the_same_registry_scope_trustpolicy",
        "overlapped_registry_scope_trustpolicy",
        "overlapped_trusted_identity_trustpolicy",
        "override_integrity_for_permissive_trustpolicy",
        "unset_trust_store_trustpolicy",
        "unset_trusted_identity_trustpolicy",
        "wildcard_plus_other_registry_scope_trustpolicy",
        "wildcard_plus_other_trusted_identity_trustpolicy",
        "wildcard_trust_store_trustpolicy",
    ];
    let valid = [
        "audit_trustpolicy",
        "override_strict_trustpolicy",
        "permissive_trustpolicy",
        "skip_trustpolicy",
    ];
    let dir = fixture("e2e-trustpolicies");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_str().unwrap().to_string();
        seen += 1;
        let loaded = NotationTrustPolicy::load(&path, store.path());
        match loaded {
            Ok(_) => assert!(valid.contains(&name.as_str()), "{name} loaded"),
            Err(e) if invalid.contains(&name.as_str()) => {
                assert!(matches!(e.kind, LoadErrorKind::Invalid(_)), "{name}: {e}");
            }
            Err(e) => {
                assert!(!valid.contains(&name.as_str()), "{name}: {e}");
                assert!(
                    matches!(&e.kind, LoadErrorKind::Unsupported(m) if m.contains("enforces revocation checking")),
                    "{name}: {e}"
                );
            }
        }
    }
    assert_eq!(seen, 43, "every file of the fixture was judged");
}

/// The `openssl ca` sections every test CA here shares: any subject, no copied extensions.
const OPENSSL_CA_SECTIONS: &str = "[ ca ]\ndefault_ca = test\n[ test ]\ndir = .\n\
    database = ./index.txt\nnew_certs_dir = ./newcerts\nserial = ./serial\ndefault_md = sha256\n\
    policy = any\ncopy_extensions = none\nunique_subject = no\n[ any ]\ncountryName = optional\n\
    stateOrProvinceName = optional\norganizationName = optional\ncommonName = supplied\n\
    [ req ]\ndistinguished_name = dn\nprompt = no\n[ dn ]\nCN = unused\n";

/// `dir` as an `openssl ca` directory with `config` = the shared sections and `extensions`.
fn openssl_ca_dir(dir: &Path, config: &str, extensions: &str) {
    std::fs::create_dir(dir.join("newcerts")).unwrap();
    std::fs::write(dir.join("index.txt"), "").unwrap();
    std::fs::write(dir.join("serial"), "01\n").unwrap();
    std::fs::write(
        dir.join(config),
        format!("{OPENSSL_CA_SECTIONS}{extensions}"),
    )
    .unwrap();
}

/// `openssl ca`'s date form for now plus `offset` seconds.
fn utc_from_now(offset: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A key `name.key` and its request `name.csr` for `subject`.
fn openssl_request(dir: &Path, config: &str, name: &str, subject: &str) {
    let (key, csr) = (format!("{name}.key"), format!("{name}.csr"));
    run_ok(Command::new("openssl").current_dir(dir).args([
        "req", "-newkey", "rsa:3072", "-nodes", "-keyout", &key, "-out", &csr, "-subj", subject,
        "-config", config,
    ]));
}

/// Issue `name.crt` for `name.csr`, signed by `issuer.0` (itself when `issuer.0 == name`)
/// with extensions section `issuer.1`, valid from `dates.0` to `dates.1`.
fn openssl_issue(dir: &Path, config: &str, issuer: (&str, &str), name: &str, dates: (&str, &str)) {
    let (csr, crt) = (format!("{name}.csr"), format!("{name}.crt"));
    let (ca_key, ca_crt) = (format!("{}.key", issuer.0), format!("{}.crt", issuer.0));
    let mut command = Command::new("openssl");
    command
        .current_dir(dir)
        .args(["ca", "-batch", "-notext", "-config", config]);
    if issuer.0 == name {
        command.args(["-selfsign"]);
    } else {
        command.args(["-cert", &ca_crt]);
    }
    run_ok(command.args([
        "-keyfile",
        &ca_key,
        "-in",
        &csr,
        "-out",
        &crt,
        "-startdate",
        dates.0,
        "-enddate",
        dates.1,
        "-extensions",
        issuer.1,
    ]));
}

/// A self-signed CA `name.crt` valid from an hour ago for 30 days. Certificates made in the
/// second a test signs would leave a timestamp's accuracy reaching before their validity,
/// which notation (and Signet) rightly refuses.
fn openssl_root(dir: &Path, config: &str, name: &str, subject: &str) {
    openssl_request(dir, config, name, subject);
    let dates = (utc_from_now(-3600), utc_from_now(30 * 86_400));
    openssl_issue(dir, config, (name, "root"), name, (&dates.0, &dates.1));
}

/// A CA and a code-signing leaf made with openssl (`openssl ca`, so the leaf's validity can end
/// at a chosen second), and a notation signing key entry naming them.
struct OpensslCa {
    dir: TempDir,
}

impl OpensslCa {
    const EXTENSIONS: &str = "[ root ]\nbasicConstraints = critical, CA:TRUE\n\
        keyUsage = critical, keyCertSign, cRLSign\n[ leaf ]\nbasicConstraints = critical, CA:FALSE\n\
        keyUsage = critical, digitalSignature\nextendedKeyUsage = codeSigning\n";

    fn new() -> OpensslCa {
        let dir = tempfile::tempdir().unwrap();
        openssl_ca_dir(dir.path(), "ca.cnf", Self::EXTENSIONS);
        openssl_root(
            dir.path(),
            "ca.cnf",
            "ca",
            "/C=US/ST=WA/O=Test CA/CN=Test Root",
        );
        OpensslCa { dir }
    }

    /// A leaf `/C=US/ST=WA/O=acme/CN=builder` valid from an hour ago for `seconds` more.
    fn leaf(&self, seconds: i64) {
        let subject = "/C=US/ST=WA/O=acme/CN=builder";
        openssl_request(self.dir.path(), "ca.cnf", "leaf", subject);
        let (start, end) = (utc_from_now(-3600), utc_from_now(seconds));
        openssl_issue(
            self.dir.path(),
            "ca.cnf",
            ("ca", "leaf"),
            "leaf",
            (&start, &end),
        );
        let chain = std::fs::read_to_string(self.dir.path().join("leaf.crt")).unwrap()
            + &std::fs::read_to_string(self.dir.path().join("ca.crt")).unwrap();
        std::fs::write(self.dir.path().join("chain.crt"), chain).unwrap();
    }

    /// Add the leaf as notation signing key `name` of `home`, and the CA as store `ca:name`.
    fn install(&self, home: &NotationHome, name: &str) {
        let keys = home.dir.path().join("notation/signingkeys.json");
        let mut document: Value = std::fs::read_to_string(&keys)
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap_or_else(|_| json!({"keys": []}));
        document["keys"].as_array_mut().unwrap().push(json!({
            "name": name,
            "keyPath": self.dir.path().join("leaf.key"),
            "certPath": self.dir.path().join("chain.crt"),
        }));
        std::fs::write(&keys, document.to_string()).unwrap();
        let store = home.store().join("x509/ca").join(name);
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(self.dir.path().join("ca.crt"), store.join("ca.crt")).unwrap();
    }
}

#[test]
fn a_leaf_of_a_ca_made_in_the_test_is_judged_by_identity_and_expiry() {
    // Long enough for pushing, signing and the checks while valid on a slow machine; the
    // sleep to expiry counts from after the leaf was made, so it always passes its end.
    const VALID_FOR: i64 = 25;
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("unused.example", true);
    let ca = OpensslCa::new();
    ca.leaf(VALID_FOR);
    ca.install(&home, "test-ca");
    let image = push(&host, "builds/app", "v1");
    let signed_at = std::time::Instant::now();
    home.sign(&image, &["--key", "test-ca"]);
    let statement = |verification: Value, identity: &str| {
        home.policy(
            &json!({"version": "1.0", "trustPolicies": [{
                "name": "builds",
                "registryScopes": [format!("{host}/builds/app")],
                "signatureVerification": verification,
                "trustStores": ["ca:test-ca"],
                "trustedIdentities": [identity],
            }]})
            .to_string(),
        )
    };
    let strict = json!({"level": "strict", "override": {"revocation": "skip"}});
    let ours = "x509.subject: C=US, ST=WA, O=acme";
    // While the leaf is valid: its identity decides.
    let (admitted, out) = verify(
        &host,
        &image,
        Some((&statement(strict.clone(), ours), &home.store())),
    );
    assert!(admitted, "{out}");
    assert!(out.contains("CN=builder,O=acme,ST=WA,C=US"), "{out}");
    let theirs = "x509.subject: C=US, ST=WA, O=acme, CN=deployer";
    let (admitted, out) = verify(
        &host,
        &image,
        Some((&statement(strict.clone(), theirs), &home.store())),
    );
    assert!(!admitted, "{out}");
    assert!(out.contains("not a trusted identity"), "{out}");
    // Once it has expired (and no timestamp says when it signed): strict refuses, permissive
    // logs.
    let expired = std::time::Duration::from_secs(VALID_FOR as u64 + 2);
    std::thread::sleep(expired.saturating_sub(signed_at.elapsed()));
    let (admitted, out) = verify(
        &host,
        &image,
        Some((&statement(strict, ours), &home.store())),
    );
    assert!(!admitted, "{out}");
    assert!(
        out.contains("authentic timestamp") && out.contains("is not valid at verification time"),
        "{out}"
    );
    let permissive = json!({"level": "permissive"});
    let (admitted, out) = verify(
        &host,
        &image,
        Some((&statement(permissive, ours), &home.store())),
    );
    assert!(admitted, "{out}");
    assert!(
        out.contains("logged, not enforced: authentic timestamp"),
        "{out}"
    );
}

#[test]
fn one_cluster_image_policy_accepts_a_cosign_key_or_a_notation_certificate() {
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    let signed = push(&host, "team/web", "v1");
    home.sign(&signed, &[]);
    let unsigned = push(&host, "team/web", "v2");
    let certificate = std::fs::read_to_string(
        home.store()
            .join("x509/ca/wabbit-networks.io/wabbit-networks.io.crt"),
    )
    .unwrap();
    let indented: String = certificate
        .lines()
        .map(|l| format!("          {l}\n"))
        .collect();
    let key = crate::common::cosign::CosignKey::generate("pw");
    let key_pem: String = key
        .public_pem()
        .lines()
        .map(|l| format!("        {l}\n"))
        .collect();
    let policy = format!(
        "apiVersion: signet.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: either
spec:
  images:
  - glob: \"{host}/team/**\"
  authorities:
  - name: cosign-key
    key:
      data: |
{key_pem}  - name: notation-ca
    notation:
      level: permissive
      trustStores:
      - name: wabbit-networks.io
        data: |
{indented}      trustedIdentities: [\"*\"]
"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, &policy).unwrap();
    let run_verify = |image: &str| {
        let output = run(Command::new(env!("CARGO_BIN_EXE_signet"))
            .arg("verify")
            .arg("--policy")
            .arg(&file)
            .args(["--insecure-registry", &host, image]));
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let (admitted, out) = run_verify(&signed);
    assert!(admitted, "{out}");
    assert!(out.contains("either/notation-ca"), "{out}");
    let (admitted, out) = run_verify(&unsigned);
    assert!(!admitted, "{out}");
    assert!(
        out.contains("cosign-key") && out.contains("notation-ca"),
        "{out}"
    );
    // CRI-O cannot verify Notation signatures: the export says so and writes nothing, for the
    // authority and for a trust policy's statements alike.
    let out_dir = dir.path().join("crio");
    let documented = fixture("permissive-trustpolicy.json");
    let cosign = format!("  - name: cosign-key\n    key:\n      data: |\n{key_pem}");
    assert!(policy.contains(&cosign));
    let notation_only = dir.path().join("notation-only.yaml");
    std::fs::write(&notation_only, policy.replace(&cosign, "")).unwrap();
    let elsewhere = dir.path().join("elsewhere.yaml");
    std::fs::write(&elsewhere, ELSEWHERE).unwrap();
    for with_trust_policy in [false, true] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_signet"));
        let policy = match with_trust_policy {
            false => &notation_only,
            true => &elsewhere,
        };
        command.args(["export", "crio", "--policy"]).arg(policy);
        if with_trust_policy {
            command
                .arg("--notation-trust-policy")
                .arg(&documented)
                .arg("--notation-trust-store")
                .arg(home.store());
        }
        let export = run(command.arg("--out").arg(&out_dir));
        let stderr = String::from_utf8_lossy(&export.stderr);
        assert_eq!(export.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("not carried"), "{stderr}");
        assert!(!out_dir.join("policy.json").exists());
    }
}

/// An RFC 3161 timestamp authority over HTTP, offline: each request is answered by
/// `openssl ts -reply` with a TSA certificate under a root made here.
struct OpensslTsa {
    dir: TempDir,
    url: String,
}

impl OpensslTsa {
    const EXTENSIONS: &str = "[ root ]\nbasicConstraints = critical, CA:TRUE\n\
        keyUsage = critical, keyCertSign, cRLSign\n[ tsaext ]\nbasicConstraints = critical, CA:FALSE\n\
        keyUsage = critical, digitalSignature\nextendedKeyUsage = critical, timeStamping\n\
        [ tsa ]\ndefault_tsa = tsa1\n[ tsa1 ]\ndir = .\nserial = ./tsaserial\nsigner_cert = ./tsa.crt\n\
        certs = ./root.crt\nsigner_key = ./tsa.key\nsigner_digest = sha256\n\
        default_policy = 1.2.3.4.1\ndigests = sha256, sha384, sha512\naccuracy = secs:1\n\
        ordering = no\ntsa_name = no\ness_cert_id_chain = no\ness_cert_id_alg = sha256\n";

    fn start() -> OpensslTsa {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("tsaserial"), "01\n").unwrap();
        openssl_ca_dir(dir.path(), "tsa.cnf", Self::EXTENSIONS);
        openssl_root(
            dir.path(),
            "tsa.cnf",
            "root",
            "/C=US/O=Test TSA/CN=Test TSA Root",
        );
        openssl_request(dir.path(), "tsa.cnf", "tsa", "/C=US/O=Test TSA/CN=Test TSA");
        let dates = (utc_from_now(-3600), utc_from_now(20 * 86_400));
        let dates = (dates.0.as_str(), dates.1.as_str());
        openssl_issue(dir.path(), "tsa.cnf", ("root", "tsaext"), "tsa", dates);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let work = dir.path().to_path_buf();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                Self::answer(stream, &work);
            }
        });
        OpensslTsa { dir, url }
    }

    /// One HTTP POST of a TimeStampReq, answered with `openssl ts -reply`'s TimeStampResp.
    fn answer(mut stream: std::net::TcpStream, work: &Path) {
        use std::io::{BufRead as _, BufReader, Read as _, Write as _};
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut length = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut query = vec![0; length];
        reader.read_exact(&mut query).unwrap();
        std::fs::write(work.join("query.tsq"), &query).unwrap();
        run_ok(Command::new("openssl").current_dir(work).args([
            "ts",
            "-reply",
            "-config",
            "tsa.cnf",
            "-queryfile",
            "query.tsq",
            "-out",
            "reply.tsr",
        ]));
        let reply = std::fs::read(work.join("reply.tsr")).unwrap();
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/timestamp-reply\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            reply.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&reply).unwrap();
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root.crt")
    }

    /// The root as trust store `tsa:name` of `home`.
    fn install(&self, home: &NotationHome, name: &str) {
        let store = home.store().join("x509/tsa").join(name);
        std::fs::create_dir_all(&store).unwrap();
        std::fs::copy(self.root(), store.join("root.crt")).unwrap();
    }
}

#[test]
fn a_timestamped_signature_outlives_its_expired_certificate_under_strict() {
    // Long enough for pushing, signing and the checks while valid on a slow machine; the
    // sleep to expiry counts from after the leaf was made, so it always passes its end.
    const VALID_FOR: i64 = 25;
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("unused.example", true);
    let tsa = OpensslTsa::start();
    tsa.install(&home, "test-tsa");
    let other_tsa = OpensslTsa::start();
    other_tsa.install(&home, "other-tsa");
    let ca = OpensslCa::new();
    ca.leaf(VALID_FOR);
    ca.install(&home, "test-ca");
    let timestamped = push(&host, "builds/app", "v1");
    let plain = push(&host, "builds/app", "v2");
    let signed_at = std::time::Instant::now();
    let root = tsa.root();
    let root = root.to_str().unwrap();
    home.sign(
        &timestamped,
        &[
            "--key",
            "test-ca",
            "--timestamp-url",
            &tsa.url,
            "--timestamp-root-cert",
            root,
        ],
    );
    home.sign(&plain, &["--key", "test-ca"]);
    let policy = |stores: &[&str]| {
        home.policy(
            &json!({"version": "1.0", "trustPolicies": [{
                "name": "builds",
                "registryScopes": ["*"],
                "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
                "trustStores": stores,
                "trustedIdentities": ["x509.subject: C=US, ST=WA, O=acme"],
            }]})
            .to_string(),
        )
    };
    let with_tsa = policy(&["ca:test-ca", "tsa:test-tsa"]);
    let (admitted, out) = verify(&host, &timestamped, Some((&with_tsa, &home.store())));
    assert!(admitted, "{out}");
    assert!(out.contains("RFC 3161 timestamp"), "{out}");
    let expired = std::time::Duration::from_secs(VALID_FOR as u64 + 2);
    std::thread::sleep(expired.saturating_sub(signed_at.elapsed()));
    // The certificate has expired: the timestamp proves it signed while valid.
    let (admitted, out) = verify(&host, &timestamped, Some((&with_tsa, &home.store())));
    assert!(admitted, "{out}");
    let (admitted, out) = verify(&host, &plain, Some((&with_tsa, &home.store())));
    assert!(
        !admitted,
        "an expired certificate without a timestamp: {out}"
    );
    // A timestamp from a TSA the policy does not trust proves nothing.
    let wrong_tsa = policy(&["ca:test-ca", "tsa:other-tsa"]);
    let (admitted, out) = verify(&host, &timestamped, Some((&wrong_tsa, &home.store())));
    assert!(!admitted, "{out}");
    assert!(out.contains("authentic timestamp"), "{out}");
    let no_tsa = policy(&["ca:test-ca"]);
    let (admitted, out) = verify(&host, &timestamped, Some((&no_tsa, &home.store())));
    assert!(!admitted, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_webhook_denies_in_the_house_words_naming_the_notation_signature_and_trust_store() {
    use crate::common::webhook::{TestWebhook, WebhookOptions};
    let registry = RunningRegistry::start(Implementation::Debian);
    let host = registry.host();
    let home = NotationHome::new();
    home.generate_test("wabbit-networks.io", true);
    home.generate_test("acme-rockets.io", false);
    let signed = push(&host, "team/web", "v1");
    home.sign(&signed, &["--signature-format", "cose"]);
    let pem = |store: &str| {
        let file = home.store().join(format!("x509/ca/{store}/{store}.crt"));
        let text = std::fs::read_to_string(file).unwrap();
        text.lines()
            .map(|l| format!("          {l}\n"))
            .collect::<String>()
    };
    let policy = |store: &str| {
        format!(
            "apiVersion: signet.dev/v1alpha1
kind: ClusterImagePolicy
metadata:
  name: release-images
spec:
  images:
  - glob: \"{host}/team/**\"
  authorities:
  - name: notation-ca
    notation:
      level: strict
      override: {{revocation: skip}}
      trustStores:
      - name: {store}
        data: |
{}      trustedIdentities: [\"x509.subject: C=US, ST=WA, O=Notary\"]
",
            pem(store)
        )
    };
    let trusted = TestWebhook::start(WebhookOptions::new(
        policy("wabbit-networks.io"),
        std::slice::from_ref(&host),
    ))
    .await;
    let (allowed, message) = trusted.review_image(&signed).await;
    assert!(allowed, "{message}");
    trusted.shutdown().await;
    let other = TestWebhook::start(WebhookOptions::new(
        policy("acme-rockets.io"),
        std::slice::from_ref(&host),
    ))
    .await;
    let (allowed, message) = other.review_image(&signed).await;
    assert!(!allowed);
    assert!(
        message.starts_with("SignatureValidationFailed: "),
        "{message}"
    );
    assert!(
        message.contains(
            "Source image rejected by policy \"release-images\": Notation signature sha256:"
        ),
        "{message}"
    );
    assert!(
        message.contains(r#"certificate chain does not lead to trust store "ca:acme-rockets.io""#),
        "{message}"
    );
    other.shutdown().await;
}
