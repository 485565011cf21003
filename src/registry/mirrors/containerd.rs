//! containerd's registry host configuration (`config_path`, usually `/etc/containerd/certs.d`):
//! a directory per registry (`docker.io`, `registry.example:5000`) holding a `hosts.toml` whose
//! `[host."<url>"]` tables are the mirrors, asked in the order written, and whose `server` is the
//! registry itself (asked last). Read into the same rewrites as registries.conf, so Signet reads
//! images and signatures where the nodes pull them from (EKS, GKE and AKS nodes are configured
//! this way). A mirror's `capabilities` decide what it serves: `resolve` tags, `pull` content by
//! digest.
//!
//! What Signet cannot honour is left out with a warning rather than honoured differently: a
//! mirror with `skip_verify` (Signet never skips certificate checks), one with a path before
//! `/v2` or `override_path` (a URL prefix, not a repository prefix), and the `_default`
//! directory (it applies to every registry). Without those, the image is read from the next
//! place, as containerd falls back itself; a denial is the worst outcome, never an admission.

use std::path::Path;

use reqwest::Url;

use super::{Endpoint, MAX_MIRROR_ENTRIES, MirrorsError, PullFrom, Rewrite, check_location};

/// Largest `hosts.toml` read.
const MAX_HOSTS_FILE_BYTES: u64 = 64 * 1024;

/// One registry's rewrite and the hosts to reach over plain HTTP.
pub(super) struct HostsFile {
    pub rewrite: Rewrite,
    pub insecure: Vec<String>,
}

/// Every `<dir>/<registry>/hosts.toml`, at most [`MAX_MIRROR_ENTRIES`] registries.
pub(super) fn load(dir: &Path) -> Result<Vec<HostsFile>, MirrorsError> {
    let shown = dir.display().to_string();
    let read_error = |path: &str, source| MirrorsError::Read {
        path: path.to_string(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| read_error(&shown, e))? {
        let entry = entry.map_err(|e| read_error(&shown, e))?;
        if names.len() == MAX_MIRROR_ENTRIES {
            return Err(MirrorsError::Invalid {
                path: shown,
                index: MAX_MIRROR_ENTRIES,
                detail: format!("more than {MAX_MIRROR_ENTRIES} registry directories"),
            });
        }
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(&name).join("hosts.toml");
        let shown = path.display().to_string();
        if !path.is_file() {
            continue;
        }
        if name == "_default" {
            tracing::warn!(
                path = shown,
                "containerd's _default hosts are not read by Signet"
            );
            continue;
        }
        let size = std::fs::metadata(&path)
            .map_err(|e| read_error(&shown, e))?
            .len();
        if size > MAX_HOSTS_FILE_BYTES {
            return Err(MirrorsError::Invalid {
                path: shown,
                index: 0,
                detail: format!("larger than {MAX_HOSTS_FILE_BYTES} bytes"),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(|e| read_error(&shown, e))?;
        files.push(parse(&name, &text, &shown)?);
    }
    Ok(files)
}

/// The hosts.toml of registry `name`; `path` names it in errors.
pub(super) fn parse(name: &str, text: &str, path: &str) -> Result<HostsFile, MirrorsError> {
    let invalid = |detail: String| MirrorsError::Invalid {
        path: path.to_string(),
        index: 0,
        detail,
    };
    let table: toml::Table = toml::from_str(text).map_err(|e| MirrorsError::Syntax {
        path: path.to_string(),
        detail: e.to_string(),
    })?;
    check_location(name).map_err(|e| invalid(format!("directory name: {e}")))?;
    let mut insecure = Vec::new();
    let location = match table.get("server") {
        None => name.to_string(),
        Some(server) => {
            let server = server
                .as_str()
                .ok_or_else(|| invalid("server is not a string".into()))?;
            let (authority, plain) =
                host_url(server).map_err(|why| invalid(format!("server {server:?}: {why}")))?;
            if plain {
                insecure.push(authority.clone());
            }
            authority
        }
    };
    let hosts = match table.get("host") {
        None => toml::Table::new(),
        Some(hosts) => hosts
            .as_table()
            .cloned()
            .ok_or_else(|| invalid("host is not a table".into()))?,
    };
    if hosts.len() > MAX_MIRROR_ENTRIES {
        return Err(invalid(format!("more than {MAX_MIRROR_ENTRIES} hosts")));
    }
    let mut mirrors = Vec::new();
    for (url, settings) in &hosts {
        let settings = settings
            .as_table()
            .ok_or_else(|| invalid(format!("host {url:?} is not a table")))?;
        match mirror(url, settings) {
            Ok(Some((endpoint, plain))) => {
                if plain {
                    insecure.push(endpoint.location.clone());
                }
                mirrors.push(endpoint);
            }
            Ok(None) => {}
            Err(why) => {
                tracing::warn!(
                    path,
                    host = url,
                    why,
                    "containerd mirror not used by Signet"
                );
            }
        }
    }
    Ok(HostsFile {
        rewrite: Rewrite {
            prefix: name.to_string(),
            location,
            blocked: false,
            mirrors,
        },
        insecure,
    })
}

/// One `[host."<url>"]`: the endpoint and whether it is plain HTTP; `None` when it serves
/// neither tags nor content (push only); `Err` when Signet cannot read it as the node does.
fn mirror(url: &str, settings: &toml::Table) -> Result<Option<(Endpoint, bool)>, String> {
    let flag = |key: &str| settings.get(key).and_then(toml::Value::as_bool) == Some(true);
    if flag("skip_verify") {
        return Err("skip_verify: Signet never skips certificate checks".to_string());
    }
    if flag("override_path") {
        return Err("override_path: a URL path prefix is not a repository prefix".to_string());
    }
    let capabilities: Vec<&str> = match settings.get("capabilities") {
        None => vec!["pull", "resolve"],
        Some(list) => list
            .as_array()
            .ok_or("capabilities is not a list")?
            .iter()
            .filter_map(toml::Value::as_str)
            .collect(),
    };
    let pull_from = match (
        capabilities.contains(&"pull"),
        capabilities.contains(&"resolve"),
    ) {
        (true, true) => PullFrom::All,
        (true, false) => PullFrom::DigestOnly,
        (false, true) => PullFrom::TagOnly,
        (false, false) => return Ok(None),
    };
    let (location, plain) = host_url(url)?;
    check_location(&location)?;
    Ok(Some((
        Endpoint {
            location,
            pull_from,
        },
        plain,
    )))
}

/// `host[:port]` of an http(s) URL with no path but `/v2` (which containerd appends when
/// missing), and whether it is plain HTTP.
fn host_url(url: &str) -> Result<(String, bool), String> {
    let parsed = Url::parse(url).map_err(|_| "not a URL".to_string())?;
    let plain = match parsed.scheme() {
        "https" => false,
        "http" => true,
        other => return Err(format!("scheme {other:?} is not http(s)")),
    };
    if !matches!(parsed.path(), "" | "/" | "/v2" | "/v2/") {
        return Err("a path before /v2 is a URL prefix, not a repository prefix".to_string());
    }
    let host = parsed.host_str().ok_or("names no host")?;
    Ok(match parsed.port() {
        Some(port) => (format!("{host}:{port}"), plain),
        None => (host.to_string(), plain),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const HOSTS: &str = r#"
server = "https://registry-1.docker.io"

[host."https://zz-pull-through.example"]
  capabilities = ["pull", "resolve"]

[host."http://10.0.0.5:5000/v2"]
  capabilities = ["pull"]

[host."https://aa-unverified.example"]
  capabilities = ["pull", "resolve"]
  skip_verify = true

[host."https://harbor.example/v2/proxy-docker"]
  override_path = true

[host."https://push-only.example"]
  capabilities = ["push"]
"#;

    #[test]
    fn hosts_are_mirrors_in_the_order_written_with_their_capabilities() {
        let file = parse("docker.io", HOSTS, "hosts.toml").unwrap();
        let mirrors: Vec<(&str, PullFrom)> = file
            .rewrite
            .mirrors
            .iter()
            .map(|m| (m.location.as_str(), m.pull_from))
            .collect();
        assert_eq!(
            mirrors,
            [
                ("zz-pull-through.example", PullFrom::All),
                ("10.0.0.5:5000", PullFrom::DigestOnly),
            ]
        );
        assert_eq!(file.rewrite.prefix, "docker.io");
        assert_eq!(file.rewrite.location, "registry-1.docker.io");
        assert_eq!(file.insecure, ["10.0.0.5:5000"]);
    }

    #[test]
    fn odd_files_are_refused_with_their_cause() {
        for text in [
            "server = 5",
            "server = \"ftp://x\"",
            "host = 1",
            "[host.\"https://m\"]\ncapabilities = \"pull\"",
            "not toml",
        ] {
            let parsed = parse("r.example", text, "hosts.toml");
            let refused = parsed.is_err()
                || parsed
                    .is_ok_and(|f| f.rewrite.mirrors.is_empty() && text.contains("capabilities"));
            assert!(refused, "{text}");
        }
    }
}
