//! DNS for the places a registry sends Signet to (blob storage after a redirect, token realms on
//! another host): a name counts as the addresses it resolves to, so `realm.attacker.example`
//! resolving to 127.0.0.1, 10.0.0.5 or 169.254.169.254 is refused like those addresses are.
//! Checking at connection time, inside the HTTP client, also covers every redirect hop and DNS
//! rebinding (the address checked is the address connected to). The hosts the operator named
//! (`--insecure-registry`, registries.conf locations) may resolve anywhere.
//!
//! A refusal and a name that does not resolve give the same error, so a registry cannot learn
//! from a denial which internal names exist; the log says which it was.

use std::net::SocketAddr;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::addresses::internal_ip;

/// What a refused or failed lookup becomes (the transport error's source).
#[derive(Debug, thiserror::Error)]
#[error("no address Signet may connect to")]
pub struct NoPublicAddress;

/// Resolves with the system resolver and refuses names that resolve to any internal address.
#[derive(Debug, Clone)]
pub(super) struct PublicOnly {
    /// Lower-case host names (no port) that may resolve anywhere.
    trusted: Arc<Vec<String>>,
}

impl PublicOnly {
    /// `configured` are the `host[:port]`s the operator named.
    pub fn new(configured: &[String]) -> Self {
        let trusted = configured.iter().map(|a| normalized(host_of(a))).collect();
        Self {
            trusted: Arc::new(trusted),
        }
    }

    /// The addresses `name` may be reached at, or why not.
    pub async fn lookup(&self, name: &str) -> Result<Vec<SocketAddr>, NoPublicAddress> {
        let name = normalized(name);
        let found: Vec<SocketAddr> = match tokio::net::lookup_host((name.as_str(), 0)).await {
            Ok(found) => found.collect(),
            Err(e) => {
                tracing::warn!(name, error = %e, "a registry sent Signet to a name that does not resolve");
                return Err(NoPublicAddress);
            }
        };
        if self.trusted.contains(&name) {
            return Ok(found);
        }
        match found.iter().find(|a| internal_ip(a.ip())) {
            Some(internal) => {
                tracing::warn!(
                    name,
                    address = %internal.ip(),
                    "refused: a registry sent Signet to a name that resolves to an internal address"
                );
                Err(NoPublicAddress)
            }
            None if found.is_empty() => Err(NoPublicAddress),
            None => Ok(found),
        }
    }
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let this = self.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let found = this.lookup(&name).await?;
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// The host of `host[:port]` (IPv6 in brackets kept whole).
fn host_of(authority: &str) -> &str {
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') && port.chars().all(|c| c.is_ascii_digit()) => {
            host
        }
        _ => authority,
    }
}

fn normalized(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_the_operator_named_them() {
        let resolver = PublicOnly::new(&["localhost:5000".to_string()]);
        assert!(resolver.lookup("localhost").await.is_ok());
        assert!(resolver.lookup("LOCALHOST.").await.is_ok());
        let resolver = PublicOnly::new(&["registry.example:5000".to_string()]);
        for name in ["localhost", "LocalHost."] {
            assert!(resolver.lookup(name).await.is_err(), "{name} was resolved");
        }
    }

    #[tokio::test]
    async fn a_refusal_reads_like_a_name_that_does_not_exist() {
        let resolver = PublicOnly::new(&[]);
        let refused = resolver.lookup("localhost").await.unwrap_err();
        let missing = resolver.lookup("no-such-name.invalid").await.unwrap_err();
        assert_eq!(refused.to_string(), missing.to_string());
    }

    #[test]
    fn configured_hosts_lose_their_port() {
        assert_eq!(host_of("r.example:5000"), "r.example");
        assert_eq!(host_of("r.example"), "r.example");
        assert_eq!(host_of("[::1]:5000"), "[::1]");
    }
}
