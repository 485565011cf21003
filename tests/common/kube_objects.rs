//! Kubernetes objects in the shapes kubectl creates, for tests to store in an API server.

use serde_json::{Value, json};

/// A Secret of type `kubernetes.io/dockerconfigjson` holding basic-auth credentials for
/// `registry`, in the shape `kubectl create secret docker-registry` produces.
pub fn docker_config_secret(
    namespace: &str,
    name: &str,
    registry: &str,
    user: &str,
    pass: &str,
) -> Value {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = json!({"auths": {registry: {
        "username": user, "password": pass, "auth": b64(&format!("{user}:{pass}"))
    }}});
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": b64(&config.to_string())}
    })
}

/// A ServiceAccount naming `pull_secrets` as its imagePullSecrets.
pub fn service_account(namespace: &str, name: &str, pull_secrets: &[&str]) -> Value {
    let refs: Vec<Value> = pull_secrets.iter().map(|s| json!({"name": s})).collect();
    json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
        "imagePullSecrets": refs
    })
}
