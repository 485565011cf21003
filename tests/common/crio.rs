//! containers-policy.json (CRI-O's `policy.json`) text for tests: requirements built from test
//! keys and the test Fulcio/Rekor, scopes, and the whole file.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::keyless::{TestFulcio, TestRekor};

/// The issuer the Kubernetes blog's CRI-O example names.
pub const GITHUB_OAUTH: &str = "https://github.com/login/oauth";
/// The email the Kubernetes blog's CRI-O example names.
pub const BLOG_EMAIL: &str = "sgrunert@redhat.com";

/// `sigstoreSigned` with `keyData` (base64 of the PEM) and `signedIdentity` of type `identity`.
pub fn key_requirement(public_pem: &str, identity: &str) -> Value {
    json!({
        "type": "sigstoreSigned",
        "keyData": BASE64.encode(public_pem),
        "signedIdentity": {"type": identity},
    })
}

/// `sigstoreSigned` with `fulcio` (the test CA's root as `caData`) and `rekorPublicKeyData`, as
/// the Kubernetes blog's example writes it (`matchRepository`).
pub fn fulcio_requirement(fulcio: &TestFulcio, rekor: &TestRekor, email: &str) -> Value {
    json!({
        "type": "sigstoreSigned",
        "signedIdentity": {"type": "matchRepository"},
        "fulcio": {
            "oidcIssuer": GITHUB_OAUTH,
            "subjectEmail": email,
            "caData": BASE64.encode(fulcio.root_pem()),
        },
        "rekorPublicKeyData": BASE64.encode(rekor.public_pem()),
    })
}

/// `{"default": [reject], "transports": {"docker": {scope: [requirement…]}}}`.
pub fn policy_json(scopes: &[(&str, Vec<Value>)]) -> String {
    let docker: serde_json::Map<String, Value> = scopes
        .iter()
        .map(|(scope, reqs)| (scope.to_string(), Value::Array(reqs.clone())))
        .collect();
    json!({"default": [{"type": "reject"}], "transports": {"docker": docker}}).to_string()
}
