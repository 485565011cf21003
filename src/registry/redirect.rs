//! Where a registry may send Signet with a redirect. Registries redirect blob downloads to
//! storage hosts (S3, a CDN), so redirects are followed, but a hostile or compromised registry
//! must not be able to aim the webhook, from inside the cluster, at what only the cluster can
//! reach: plain HTTP, link-local metadata endpoints (169.254.169.254), loopback, private and
//! cluster-internal addresses (`*.svc`, `*.cluster.local`). Those are refused unless the target is
//! the registry itself or a host the operator configured. These rules judge the URL (`addresses.rs`
//! has the address ranges); names are judged again after DNS resolution by the client that follows
//! hops away from the registry (`clients.rs`, `resolver.rs`). The `Authorization` header is never
//! carried to another host (reqwest drops it on any change of host, port or scheme; hops away from
//! the registry are sent without it).

use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

use super::addresses::internal_host;

/// Most redirects followed for one request.
const MAX_REDIRECTS: usize = 3;

/// Why a redirect was refused; the message becomes the denial's detail.
#[derive(Debug, thiserror::Error)]
#[error("redirect to {target} refused: {why}")]
pub struct RedirectRefused {
    /// Scheme, host and port of the target (never its path or query, which may carry tokens).
    pub target: String,
    /// Which rule refused it.
    pub why: &'static str,
}

/// The redirect policy for all registry traffic. `configured` are the `host[:port]`s the operator
/// named (plain-HTTP registries): they may be redirected to as they are.
pub fn policy(configured: Vec<String>) -> Policy {
    Policy::custom(move |attempt| match check(&attempt, &configured) {
        Ok(()) => attempt.follow(),
        Err(refused) => attempt.error(refused),
    })
}

/// The redirect policy of requests to a registry (or a token realm) on its own host, whose
/// address is trusted whatever it is: hops on the same scheme, host and port are followed; any
/// other hop is handed back to the caller unfollowed (as the 3xx answer), which judges it and
/// follows it with the client that refuses internal addresses after DNS resolution
/// (`clients.rs`): this client's resolver trusts every name.
pub fn same_origin_only() -> Policy {
    Policy::custom(|attempt| {
        let same = attempt.previous().first().is_some_and(|o| {
            authority(o) == authority(attempt.url()) && o.scheme() == attempt.url().scheme()
        });
        match (same, attempt.previous().len() > MAX_REDIRECTS) {
            (_, true) => {
                let target = shown(attempt.url());
                attempt.error(RedirectRefused {
                    target,
                    why: "too many redirects",
                })
            }
            (true, false) => attempt.follow(),
            (false, false) => attempt.stop(),
        }
    })
}

fn check(attempt: &Attempt<'_>, configured: &[String]) -> Result<(), RedirectRefused> {
    let origin = attempt.previous().first();
    judge(attempt.url(), origin, attempt.previous().len(), configured)
}

/// The rules, apart from reqwest's types so they can be tested alone.
pub(super) fn judge(
    target: &Url,
    origin: Option<&Url>,
    hops: usize,
    configured: &[String],
) -> Result<(), RedirectRefused> {
    let refuse = |why| {
        Err(RedirectRefused {
            target: shown(target),
            why,
        })
    };
    if hops > MAX_REDIRECTS {
        return refuse("too many redirects");
    }
    let target_authority = authority(target);
    if origin.is_some_and(|o| authority(o) == target_authority && o.scheme() == target.scheme()) {
        return Ok(());
    }
    if configured.contains(&target_authority) {
        return Ok(());
    }
    if target.scheme() != "https" {
        return refuse("only https redirects are followed");
    }
    let Some(host) = target.host_str() else {
        return refuse("no host");
    };
    match host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(_) if internal_host(host) => refuse("internal or link-local address"),
        Err(_) if internal_host(host) => refuse("cluster-internal name"),
        _ => Ok(()),
    }
}

/// `host[:port]` as registries are configured (the port only when not the scheme's default).
pub(super) fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

pub(super) fn shown(url: &Url) -> String {
    format!("{}://{}", url.scheme(), authority(url))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn follows(target: &str, configured: &[&str]) -> bool {
        let origin = url("https://registry.example/v2/a/blobs/sha256:x");
        let configured: Vec<String> = configured.iter().map(|s| s.to_string()).collect();
        judge(&url(target), Some(&origin), 1, &configured).is_ok()
    }

    #[test]
    fn public_https_storage_and_the_registry_itself_are_followed() {
        assert!(follows("https://storage.example.com/blob?sig=1", &[]));
        assert!(follows("https://registry.example/other", &[]));
        assert!(follows("https://93.184.216.34/blob", &[]));
    }

    #[test]
    fn plain_http_is_refused_unless_configured() {
        assert!(!follows("http://storage.example.com/blob", &[]));
        assert!(!follows("http://registry.example/blob", &[]));
        assert!(follows("http://127.0.0.1:5000/blob", &["127.0.0.1:5000"]));
        assert!(!follows("http://127.0.0.1:5001/blob", &["127.0.0.1:5000"]));
    }

    #[test]
    fn metadata_loopback_private_and_cluster_addresses_are_refused() {
        for target in [
            "https://169.254.169.254/latest/meta-data/",
            "https://127.0.0.1/x",
            "https://10.0.0.1/x",
            "https://172.16.3.4/x",
            "https://192.168.1.1/x",
            "https://100.64.0.1/x",
            "https://[::1]/x",
            "https://[fe80::1]/x",
            "https://[fd00::1]/x",
            "https://[::ffff:169.254.169.254]/x",
            "https://kubernetes.default.svc/api",
            "https://minio.storage.svc.cluster.local/b",
            "https://metadata.google.internal/computeMetadata",
            "https://localhost/x",
            "https://storage/x",
        ] {
            assert!(!follows(target, &[]), "{target} was followed");
        }
    }

    #[test]
    fn long_chains_are_cut() {
        let target = url("https://storage.example.com/b");
        assert!(judge(&target, None, MAX_REDIRECTS + 1, &[]).is_err());
    }

    #[test]
    fn the_message_never_shows_the_path_or_query() {
        let origin = url("https://registry.example/");
        let refused = judge(
            &url("http://evil.example:8080/x?token=secret"),
            Some(&origin),
            1,
            &[],
        )
        .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "redirect to http://evil.example:8080 refused: only https redirects are followed"
        );
    }
}
