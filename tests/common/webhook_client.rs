//! Client certificates for webhook callers: a CA, certificates it issues for client
//! authentication, and the kube-apiserver side (an AdmissionConfiguration whose
//! WebhookAdmissionConfiguration kubeconfig presents a client certificate to one webhook
//! address), as docs/hardening.md tells an operator to write it.
//!
//! Every control plane of tests/common/control_plane.rs starts with this configuration. The
//! kubeconfig names only `127.0.0.1:<port>`, a port picked for it at start: a webhook there gets
//! the certificate, every other webhook is called as before (and a server that does not ask for
//! a client certificate never sees it), so it costs the other tests nothing.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rcgen::{CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

/// A certificate authority that issues client certificates.
pub struct ClientCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A client certificate and its key (PEM).
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientIdentity {
    /// Certificate then key, as reqwest's `Identity::from_pem` and curl's `--cert` take them.
    pub fn pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl ClientCa {
    /// A fresh CA named `name`.
    pub fn generate(name: &str) -> ClientCa {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} client CA"));
        let issuer = CertifiedIssuer::self_signed(params, key).expect("CA certificate");
        ClientCa { issuer }
    }

    /// The CA certificate (PEM).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A client certificate for `common_name` (extended key usage: client authentication).
    pub fn issue(&self, common_name: &str) -> ClientIdentity {
        self.issue_with(common_name, |params| {
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        })
    }

    /// A certificate for `common_name` after `adjust` changed its parameters.
    pub fn issue_with(
        &self,
        common_name: &str,
        adjust: impl FnOnce(&mut CertificateParams),
    ) -> ClientIdentity {
        let key = KeyPair::generate().expect("client key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        adjust(&mut params);
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("client certificate");
        ClientIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What a control plane presents to the webhook at `127.0.0.1:<port>`.
pub struct ApiserverWebhookClient {
    /// The only webhook port the kubeconfig names.
    pub port: u16,
    /// The CA of the certificate kube-apiserver presents there (what `--client-ca` trusts).
    pub ca_pem: String,
    /// The certificate and key kube-apiserver presents.
    pub identity: ClientIdentity,
}

/// Writes the kubeconfig and the AdmissionConfiguration into `dir`; returns the path of the
/// latter (for `--admission-control-config-file`) and what it configures.
pub fn write_admission_config(dir: &Path, port: u16) -> (String, ApiserverWebhookClient) {
    let ca = ClientCa::generate("kube-apiserver webhook");
    let identity = ca.issue("kube-apiserver-webhook-client");
    let kubeconfig = dir.join("webhook-client.kubeconfig");
    std::fs::write(&kubeconfig, webhook_kubeconfig(port, &identity)).expect("write kubeconfig");
    let config = dir.join("admission-config.yaml");
    std::fs::write(&config, admission_configuration(&kubeconfig)).expect("write admission config");
    let client = ApiserverWebhookClient {
        port,
        ca_pem: ca.pem(),
        identity,
    };
    (config.display().to_string(), client)
}

/// A kubeconfig whose user named `127.0.0.1:<port>` (the webhook's `host:port`; for a Service
/// reference it is `<service>.<namespace>.svc:<port>`) presents `identity`.
fn webhook_kubeconfig(port: u16, identity: &ClientIdentity) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nusers:\n- name: \"127.0.0.1:{port}\"\n  user:\n    \
         client-certificate-data: {}\n    client-key-data: {}\n",
        STANDARD.encode(&identity.cert_pem),
        STANDARD.encode(&identity.key_pem),
    )
}

/// Both webhook admission plugins read `kubeconfig` for the credentials they present.
fn admission_configuration(kubeconfig: &Path) -> String {
    let plugin = |name: &str| {
        format!(
            "- name: {name}\n  configuration:\n    apiVersion: apiserver.config.k8s.io/v1\n    \
             kind: WebhookAdmissionConfiguration\n    kubeConfigFile: \"{}\"\n",
            kubeconfig.display()
        )
    };
    format!(
        "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n{}{}",
        plugin("ValidatingAdmissionWebhook"),
        plugin("MutatingAdmissionWebhook"),
    )
}
