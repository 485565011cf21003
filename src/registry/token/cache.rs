//! Bearer tokens already obtained, so a review does not ask the token service again for every
//! read. Keyed by registry, scope and credential: a token one tenant's credential obtained is
//! never presented for another tenant (or for an anonymous request), even for the same
//! repository. Bounded by count (registries and repositories are chosen by pod authors), and each
//! token lives at most a minute or the shorter lifetime its service gave.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::registry::AuthKey;

/// Tokens held at once; the least used go first.
const MAX_TOKENS: usize = 1024;
/// How long a token is reused at most (registries issue them for 60 s or more).
pub(super) const TOKEN_TTL: Duration = Duration::from_secs(60);

/// (registry, scope, the credential the token was obtained with).
pub(in crate::registry) type TokenKey = (String, String, AuthKey);

/// The tokens, shared by every clone of a registry client.
pub(in crate::registry) struct Tokens {
    held: quick_cache::sync::Cache<TokenKey, (Arc<str>, Instant)>,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            held: quick_cache::sync::Cache::new(MAX_TOKENS),
        }
    }
}

impl Tokens {
    /// The token for `key`, while it lives.
    pub fn get(&self, key: &TokenKey) -> Option<Arc<str>> {
        let (token, until) = self.held.get(key)?;
        (Instant::now() < until).then_some(token)
    }

    /// Keep `token` for `lifetime` (at most [`TOKEN_TTL`]).
    pub fn put(&self, key: TokenKey, token: Arc<str>, lifetime: Duration) {
        let lifetime = lifetime.min(TOKEN_TTL);
        if !lifetime.is_zero() {
            self.held.insert(key, (token, Instant::now() + lifetime));
        }
    }

    /// Forget the token for `key` (the registry refused it).
    pub fn forget(&self, key: &TokenKey) {
        self.held.remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Credentials;

    fn key(credentials: &Credentials, scope: &str) -> TokenKey {
        let key = credentials.auth_key("r.io", "a/b");
        ("r.io".to_string(), scope.to_string(), key)
    }

    #[test]
    fn a_token_is_only_found_with_the_credential_and_scope_that_obtained_it() {
        let tenant = Credentials::from_docker_config_json(
            br#"{"auths":{"r.io":{"username":"x","password":"1"}}}"#,
        )
        .unwrap();
        let tokens = Tokens::default();
        let scope = "repository:app:pull";
        tokens.put(key(&tenant, scope), "token-of-x".into(), TOKEN_TTL);
        assert_eq!(
            tokens.get(&key(&tenant, scope)).as_deref(),
            Some("token-of-x")
        );
        assert_eq!(tokens.get(&key(&Credentials::default(), scope)), None);
        assert_eq!(tokens.get(&key(&tenant, "repository:other:pull")), None);
    }

    #[test]
    fn expired_tokens_are_not_given_and_a_zero_lifetime_is_not_kept() {
        let tokens = Tokens::default();
        let none = Credentials::default();
        tokens.put(key(&none, "a"), "t".into(), Duration::from_millis(1));
        tokens.put(key(&none, "b"), "t".into(), Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(tokens.get(&key(&none, "a")), None);
        assert_eq!(tokens.get(&key(&none, "b")), None);
    }

    #[test]
    fn the_cache_holds_a_bounded_number_of_tokens() {
        let tokens = Tokens::default();
        let none = Credentials::default();
        for i in 0..(MAX_TOKENS * 3) {
            tokens.put(
                key(&none, &format!("repository:r{i}:pull")),
                "t".into(),
                TOKEN_TTL,
            );
        }
        assert!(tokens.len() <= MAX_TOKENS, "{} tokens held", tokens.len());
    }
}
