//! Serving certificates for the webhook Service: a CA and a leaf for
//! `<service>.<namespace>.svc[.cluster.local]`, plus the kustomize patch that puts the CA into
//! the `ValidatingWebhookConfiguration`'s `caBundle`. An existing CA is reused so that renewing
//! the serving certificate never changes `caBundle`.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

/// What to issue.
#[derive(Debug, Clone)]
pub struct CertRequest {
    /// The Service name (`signet`).
    pub service: String,
    /// Its namespace (`signet-system`).
    pub namespace: String,
    /// Validity of the serving certificate, in days.
    pub days: u32,
    /// Validity of a new CA, in days.
    pub ca_days: u32,
}

/// Longest validity accepted, in days (100 years): beyond it the dates overflow.
pub const MAX_DAYS: u32 = 36_500;

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertsError {
    /// The request names something Kubernetes or X.509 cannot hold.
    #[error("{0}")]
    Invalid(String),
    /// The kustomize base is not there.
    #[error(
        "the kustomize base {0} does not exist: give --manifests the path of Signet's \
         manifests/base (or your own base), from where you run the command"
    )]
    NoManifests(PathBuf),
    /// rcgen refused the parameters or the existing CA.
    #[error("certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// The files written, for the caller to print.
#[derive(Debug)]
pub struct Written {
    /// Was an existing CA reused?
    pub reused_ca: bool,
    /// The DNS names of the serving certificate.
    pub dns_names: Vec<String>,
    /// The output directory.
    pub dir: PathBuf,
    /// Was an existing `kustomization.yaml` kept (a renewal keeps the step to enforcing)?
    pub kept_kustomization: bool,
}

impl CertRequest {
    /// Refuse what the Service, its DNS name or the certificate cannot be: a name that is not
    /// a DNS label, a validity of zero days or of more than [`MAX_DAYS`].
    pub fn validate(&self) -> Result<(), CertsError> {
        dns_label("--service", &self.service, true)?;
        dns_label("--namespace", &self.namespace, false)?;
        for (flag, days) in [("--days", self.days), ("--ca-days", self.ca_days)] {
            if !(1..=MAX_DAYS).contains(&days) {
                return Err(CertsError::Invalid(format!(
                    "{flag} {days}: give a number of days from 1 to {MAX_DAYS}"
                )));
            }
        }
        Ok(())
    }
}

/// A Service name is an RFC 1035 label (starts with a letter), a namespace an RFC 1123 label:
/// lowercase letters, digits and `-`, at most 63, starting and ending with a letter or digit.
fn dns_label(flag: &str, name: &str, letter_first: bool) -> Result<(), CertsError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let first_ok = match letter_first {
        true => name.starts_with(|c: char| c.is_ascii_lowercase()),
        false => alnum(name.chars().next()),
    };
    let valid = (1..=63).contains(&name.len())
        && name.chars().all(allowed)
        && first_ok
        && alnum(name.chars().last());
    match valid {
        true => Ok(()),
        false => Err(CertsError::Invalid(format!(
            "{flag} {name:?} is not a valid Kubernetes name: use at most 63 lowercase letters, \
             digits and '-', starting with a {} and ending with a letter or digit",
            if letter_first {
                "letter"
            } else {
                "letter or digit"
            }
        ))),
    }
}

/// Issue `ca.crt`/`ca.key` (unless present), `tls.crt`/`tls.key`, `caBundle.patch.yaml` and a
/// `kustomization.yaml` over `manifests` (a path from the current directory) into `out`. The
/// kustomization refers to `manifests` by a path relative to `out`, so it works from anywhere,
/// and renames the Service and namespace to the request's, so that certificate, Service,
/// Secret and webhook agree.
pub fn generate(
    request: &CertRequest,
    out: &Path,
    manifests: &Path,
) -> Result<Written, CertsError> {
    request.validate()?;
    let base = manifests
        .canonicalize()
        .map_err(|_| CertsError::NoManifests(manifests.to_path_buf()))?;
    std::fs::create_dir_all(out).map_err(|e| io(out, e))?;
    let out_dir = out.canonicalize().map_err(|e| io(out, e))?;
    let resource = relative_path(&out_dir, &base);
    let (ca_pem, ca_key, reused_ca) = load_or_make_ca(request, out)?;
    let issuer = Issuer::from_ca_cert_pem(&ca_pem, &ca_key)?;
    let dns_names = dns_names(request);
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let cert = serving_params(request, &dns_names)?.signed_by(&key, &issuer)?;
    write(&out.join("tls.crt"), cert.pem().as_bytes(), false)?;
    write(&out.join("tls.key"), key.serialize_pem().as_bytes(), true)?;
    write(
        &out.join("caBundle.patch.yaml"),
        ca_bundle_patch(&ca_pem).as_bytes(),
        false,
    )?;
    // Written once: a renewal keeps it, and with it the operator's step to enforcing.
    let kustomization_path = out.join("kustomization.yaml");
    let kept_kustomization = kustomization_path.exists();
    if !kept_kustomization {
        let audit = base.parent().map(|p| p.join("components/audit"));
        let audit = audit
            .filter(|a| a.join("kustomization.yaml").exists())
            .map(|a| relative_path(&out_dir, &a));
        let text = kustomization(&resource, audit.as_deref(), request);
        write(&kustomization_path, text.as_bytes(), false)?;
    }
    Ok(Written {
        reused_ca,
        dns_names,
        dir: out.to_path_buf(),
        kept_kustomization,
    })
}

fn dns_names(request: &CertRequest) -> Vec<String> {
    let base = format!("{}.{}.svc", request.service, request.namespace);
    vec![base.clone(), format!("{base}.cluster.local")]
}

fn load_or_make_ca(
    request: &CertRequest,
    out: &Path,
) -> Result<(String, KeyPair, bool), CertsError> {
    let (cert_path, key_path) = (out.join("ca.crt"), out.join("ca.key"));
    if cert_path.exists() && key_path.exists() {
        let cert = read(&cert_path)?;
        let key = KeyPair::from_pem(&read(&key_path)?)?;
        return Ok((cert, key, true));
    }
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name("signet-ca");
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    (params.not_before, params.not_after) = validity(request.ca_days);
    let cert = params.self_signed(&key)?;
    write(&cert_path, cert.pem().as_bytes(), false)?;
    write(&key_path, key.serialize_pem().as_bytes(), true)?;
    Ok((cert.pem(), key, false))
}

fn serving_params(
    request: &CertRequest,
    dns_names: &[String],
) -> Result<CertificateParams, CertsError> {
    let mut params = CertificateParams::new(dns_names.to_vec())?;
    params.distinguished_name = name(&dns_names[0]);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    (params.not_before, params.not_after) = validity(request.days);
    Ok(params)
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn
}

/// From an hour ago (clock skew) for `days` days.
fn validity(days: u32) -> (OffsetDateTime, OffsetDateTime) {
    let now = OffsetDateTime::now_utc();
    (
        now - Duration::hours(1),
        now + Duration::days(i64::from(days)),
    )
}

fn ca_bundle_patch(ca_pem: &str) -> String {
    let bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "# Written by `signet certs generate`: the CA of Signet's serving certificate, for the\n# validating webhook and (with components/mutate) the mutating one.\n- op: add\n  path: /webhooks/0/clientConfig/caBundle\n  value: {bundle}\n"
    )
}

/// `to` as seen from the directory `from` (both absolute): `../../manifests/base`.
fn relative_path(from: &Path, to: &Path) -> PathBuf {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    path
}

/// The base with the CA in the webhooks, and the Service and namespace the certificate names;
/// audit first (components/audit, when the base has it beside it).
fn kustomization(base: &Path, audit: Option<&Path>, request: &CertRequest) -> String {
    let CertRequest {
        service, namespace, ..
    } = request;
    let components = match audit {
        Some(audit) => format!(
            "components:\n\
             \x20 # Audit first: Signet admits everything and reports what it would deny (warnings,\n\
             \x20 # Events). To enforce, delete the next line and run kubectl apply -k again.\n\
             \x20 - {}\n",
            audit.display()
        ),
        None => "# No components/audit beside the base: this install enforces at once.\n".into(),
    };
    format!(
        "# Written by `signet certs generate`: Signet with this directory's CA in the webhook,\n\
         # its Service {service} in the namespace {namespace} (the names the certificate serves).\n\
         apiVersion: kustomize.config.k8s.io/v1beta1\n\
         kind: Kustomization\n\
         namespace: {namespace}\n\
         resources:\n  - {base}\n\
         {components}\
         patches:\n\
         \x20 - path: caBundle.patch.yaml\n\
         \x20   target: {{group: admissionregistration.k8s.io, version: v1, kind: ValidatingWebhookConfiguration, name: signet}}\n\
         \x20 - path: caBundle.patch.yaml\n\
         \x20   target: {{group: admissionregistration.k8s.io, version: v1, kind: MutatingWebhookConfiguration, name: signet}}\n\
         \x20 - target: {{group: admissionregistration.k8s.io, version: v1, name: signet}}\n\
         \x20   patch: |\n\
         \x20     - {{op: replace, path: /webhooks/0/clientConfig/service/name, value: {service}}}\n\
         \x20     - {{op: replace, path: /webhooks/0/clientConfig/service/namespace, value: {namespace}}}\n\
         \x20     - {{op: test, path: /webhooks/0/namespaceSelector/matchExpressions/0/values/0, value: signet-system}}\n\
         \x20     - {{op: replace, path: /webhooks/0/namespaceSelector/matchExpressions/0/values/0, value: {namespace}}}\n\
         \x20 - target: {{kind: FlowSchema, name: signet-admission}}\n\
         \x20   patch: |\n\
         \x20     - {{op: replace, path: /spec/rules/0/subjects/0/serviceAccount/namespace, value: {namespace}}}\n\
         \x20 - target: {{kind: Service, name: signet}}\n\
         \x20   patch: |\n\
         \x20     - {{op: replace, path: /metadata/name, value: {service}}}\n\
         \x20 - target: {{kind: Namespace, name: signet-system}}\n\
         \x20   patch: |\n\
         \x20     - {{op: replace, path: /metadata/name, value: {namespace}}}\n",
        base = base.display()
    )
}

fn read(path: &Path) -> Result<String, CertsError> {
    std::fs::read_to_string(path).map_err(|e| io(path, e))
}

/// Write a file; private keys are created readable by the owner only.
fn write(path: &Path, bytes: &[u8], private: bool) -> Result<(), CertsError> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    file.write_all(bytes).map_err(|e| io(path, e))
}

fn io(path: &Path, source: std::io::Error) -> CertsError {
    CertsError::Io {
        path: path.display().to_string(),
        source,
    }
}
