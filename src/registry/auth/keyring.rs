//! Which configured key serves an image, as the kubelet's credential keyring decides
//! (kubernetes `pkg/credentialprovider/keyring.go`): a key is `host[:port][/path]`, optionally
//! with a scheme and with `/v1/` or `/v2/` before the path, which are dropped; it matches an
//! image when the ports are equal, the hosts have as many dot-separated parts and each part
//! matches (a part may be a glob: `*.example.com`, `app*.example.com`; `*` stays within its
//! part), and the key's path is a prefix of the image's path (a plain string prefix, as the
//! kubelet compares it). The keys are tried in reverse lexicographic order, so a longer key
//! wins over a shorter one with the same prefix and a plain host over a glob.

/// One key of a docker config, taken apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Pattern {
    /// The key as the kubelet indexes it: `host[:port][/path]`, scheme and `/v1/`/`/v2/` gone.
    pub key: String,
    host_parts: Vec<String>,
    port: String,
    path: String,
}

impl Pattern {
    /// The pattern of a config key; `None` when it names no host.
    pub fn parse(key: &str, normalise_host: impl Fn(&str) -> String) -> Option<Pattern> {
        let schemeless = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        let (authority, path) = match schemeless.find('/') {
            Some(at) => schemeless.split_at(at),
            None => (schemeless, ""),
        };
        let path = ["/v1/", "/v2/"]
            .iter()
            .find_map(|api| {
                path.strip_prefix(&api[..3])
                    .filter(|_| path.starts_with(api))
            })
            .unwrap_or(path);
        let path = if path == "/" { "" } else { path };
        let (host, port) = split_port(authority);
        let host = normalise_host(&host.to_ascii_lowercase());
        if host.is_empty() {
            return None;
        }
        let with_port = match port {
            "" => host.clone(),
            port => format!("{host}:{port}"),
        };
        Some(Pattern {
            key: format!("{with_port}{path}"),
            host_parts: host.split('.').map(str::to_string).collect(),
            port: port.to_string(),
            path: path.to_string(),
        })
    }

    /// Whether the key serves `repository` at `registry` (already normalised).
    pub fn matches(&self, registry: &str, repository: &str) -> bool {
        let (host, port) = split_port(registry);
        let host = host.to_ascii_lowercase();
        let parts: Vec<&str> = host.split('.').collect();
        port == self.port
            && parts.len() == self.host_parts.len()
            && format!("/{repository}").starts_with(&self.path)
            && self
                .host_parts
                .iter()
                .zip(&parts)
                .all(|(glob, part)| glob_matches(glob.as_bytes(), part.as_bytes()))
    }
}

/// `host` and `port` of `host[:port]` (`[v6]:port` too); the port is "" when none is given.
fn split_port(authority: &str) -> (&str, &str) {
    if let Some(rest) = authority.strip_prefix('[')
        && let Some((host, after)) = rest.split_once(']')
    {
        return (host, after.strip_prefix(':').unwrap_or(""));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (host, port),
        _ => (authority, ""),
    }
}

/// Shell-style glob of one host part: `*` any run of characters, `?` one, others literal.
fn glob_matches(glob: &[u8], text: &[u8]) -> bool {
    match glob.split_first() {
        None => text.is_empty(),
        Some((b'*', rest)) => (0..=text.len()).any(|skip| glob_matches(rest, &text[skip..])),
        Some((b'?', rest)) => !text.is_empty() && glob_matches(rest, &text[1..]),
        Some((c, rest)) => text.first() == Some(c) && glob_matches(rest, &text[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(key: &str) -> Pattern {
        Pattern::parse(key, str::to_string).unwrap()
    }

    #[test]
    fn keys_are_indexed_as_the_kubelet_indexes_them() {
        for (key, indexed) in [
            ("registry.example", "registry.example"),
            ("https://registry.example/", "registry.example"),
            ("https://registry.example/v1/", "registry.example"),
            ("http://registry.example/v2/team", "registry.example/team"),
            (
                "Registry.Example:5000/team/app",
                "registry.example:5000/team/app",
            ),
            ("*.example.com", "*.example.com"),
        ] {
            assert_eq!(pattern(key).key, indexed, "{key}");
        }
        assert_eq!(Pattern::parse("https:///path", str::to_string), None);
    }

    #[test]
    fn ports_host_parts_and_path_prefixes_decide() {
        let yes = [
            ("registry.example/team", "registry.example", "team/app"),
            ("registry.example/team", "registry.example", "team-b/app"),
            ("registry.example:5000", "registry.example:5000", "a/b"),
            ("*.example.com", "eu.example.com", "a"),
            ("app*.example.com", "app-eu.example.com", "a"),
            ("*.*.example.com", "a.b.example.com", "a"),
            ("reg?.example", "reg1.example", "a"),
        ];
        for (key, registry, repository) in yes {
            assert!(
                pattern(key).matches(registry, repository),
                "{key} {registry}/{repository}"
            );
        }
        let no = [
            ("registry.example/team", "registry.example", "other/app"),
            ("registry.example:5000", "registry.example", "a"),
            ("registry.example", "registry.example:5000", "a"),
            ("*.example.com", "a.b.example.com", "a"),
            ("*.example.com", "example.com", "a"),
            ("*.example.com", "example.com.evil", "a"),
            ("registry.example", "registry.example.evil", "a"),
        ];
        for (key, registry, repository) in no {
            assert!(
                !pattern(key).matches(registry, repository),
                "{key} {registry}/{repository}"
            );
        }
    }
}
