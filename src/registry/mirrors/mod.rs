//! Mirrors and relocation as containers-registries.conf(5) (v2, the file CRI-O and podman read)
//! and containerd's `hosts.toml` (`containerd.rs`) describe them: `[[registry]]` with `prefix` and `location` rewrites an image name, and
//! `[[registry.mirror]]` entries are asked first. Only where Signet reads from changes: the image
//! keeps its name for policy matching and signature identity, so an image pulled through a mirror
//! is verified against the signature it was published with.
//!
//! Refused at load rather than ignored: wildcard prefixes (`*.example.com`), unknown keys.
//! `unqualified-search-registries` and `short-name-mode` are accepted and have no effect: Signet
//! (like the kubelet) reads short names as Docker Hub names.

mod containerd;

use std::path::Path;

use serde::Deserialize;

use crate::reference::ImageReference;

/// Most `[[registry]]` entries (and mirrors per entry) read.
pub const MAX_MIRROR_ENTRIES: usize = 256;

/// Why a registries.conf cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum MirrorsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, or keys Signet does not know.
    #[error("{path}: {detail}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's words.
        detail: String,
    },
    /// A value Signet cannot honour.
    #[error("{path}: registry[{index}]: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// Which `[[registry]]`.
        index: usize,
        /// What is wrong.
        detail: String,
    },
}

/// The parsed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted for compatibility; short names are Docker Hub names"
    )]
    unqualified_search_registries: Vec<String>,
    #[serde(default)]
    #[allow(
        dead_code,
        reason = "accepted for compatibility; short names are Docker Hub names"
    )]
    short_name_mode: Option<String>,
    #[serde(default)]
    registry: Vec<RegistryEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RegistryEntry {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<MirrorEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MirrorEntry {
    location: String,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    pull_from_mirror: Option<String>,
}

/// When a mirror may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PullFrom {
    All,
    DigestOnly,
    TagOnly,
}

#[derive(Debug, Clone)]
struct Endpoint {
    location: String,
    pull_from: PullFrom,
}

#[derive(Debug, Clone)]
struct Rewrite {
    prefix: String,
    location: String,
    blocked: bool,
    mirrors: Vec<Endpoint>,
}

/// Where to read each image from.
#[derive(Debug, Clone, Default)]
pub struct Mirrors {
    rewrites: Vec<Rewrite>,
    insecure: Vec<String>,
}

impl Mirrors {
    /// Read a registries.conf.
    pub fn load(path: &Path) -> Result<Mirrors, MirrorsError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| MirrorsError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Parse registries.conf text; `path` names it in errors.
    pub fn parse(text: &str, path: &str) -> Result<Mirrors, MirrorsError> {
        let file: File = toml::from_str(text).map_err(|e| MirrorsError::Syntax {
            path: path.to_string(),
            detail: e.to_string(),
        })?;
        let invalid = |index: usize, detail: String| MirrorsError::Invalid {
            path: path.to_string(),
            index,
            detail,
        };
        if file.registry.len() > MAX_MIRROR_ENTRIES {
            let detail = format!("more than {MAX_MIRROR_ENTRIES} entries");
            return Err(invalid(file.registry.len(), detail));
        }
        let mut mirrors = Mirrors::default();
        for (index, entry) in file.registry.into_iter().enumerate() {
            let rewrite = mirrors.rewrite(entry).map_err(|d| invalid(index, d))?;
            mirrors.rewrites.push(rewrite);
        }
        // Longest prefix first: the most specific entry wins, as in containers/image.
        mirrors
            .rewrites
            .sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(mirrors)
    }

    fn rewrite(&mut self, entry: RegistryEntry) -> Result<Rewrite, String> {
        let location = entry.location.unwrap_or_default();
        let prefix = entry.prefix.unwrap_or_else(|| location.clone());
        if prefix.is_empty() {
            return Err("needs a prefix or a location".to_string());
        }
        if prefix.starts_with("*.") {
            return Err(format!("wildcard prefix {prefix:?} is not supported"));
        }
        if entry.mirror.len() > MAX_MIRROR_ENTRIES {
            return Err(format!("more than {MAX_MIRROR_ENTRIES} mirrors"));
        }
        let location = if location.is_empty() {
            prefix.clone()
        } else {
            location
        };
        check_location(&location)?;
        if entry.insecure {
            self.insecure.push(host_of(&location));
        }
        let mut mirrors = Vec::with_capacity(entry.mirror.len());
        for mirror in entry.mirror {
            let pull_from = match mirror.pull_from_mirror.as_deref() {
                None | Some("all") if entry.mirror_by_digest_only => PullFrom::DigestOnly,
                None | Some("all") => PullFrom::All,
                Some("digest-only") => PullFrom::DigestOnly,
                Some("tag-only") => PullFrom::TagOnly,
                Some(other) => {
                    return Err(format!(
                        "pull-from-mirror {other:?} is not all, digest-only or tag-only"
                    ));
                }
            };
            check_location(&mirror.location)?;
            if mirror.insecure {
                self.insecure.push(host_of(&mirror.location));
            }
            mirrors.push(Endpoint {
                location: mirror.location,
                pull_from,
            });
        }
        Ok(Rewrite {
            prefix,
            location,
            blocked: entry.blocked,
            mirrors,
        })
    }

    /// These rewrites, then the mirrors of a containerd hosts directory (`--containerd-hosts-dir`,
    /// `containerd.rs`); where both name the same prefix, these win.
    pub fn with_containerd_hosts(mut self, dir: &Path) -> Result<Mirrors, MirrorsError> {
        for file in containerd::load(dir)? {
            self.rewrites.push(file.rewrite);
            self.insecure.extend(file.insecure);
        }
        self.rewrites
            .sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        Ok(self)
    }

    /// Registries (`host[:port]`) the file marks `insecure`: reached over plain HTTP.
    pub fn insecure_hosts(&self) -> &[String] {
        &self.insecure
    }

    /// Whether no prefix is rewritten: every image is read from its own registry only.
    pub fn is_empty(&self) -> bool {
        self.rewrites.is_empty()
    }

    /// Where to read `image` from, in order: the mirrors that serve this kind of reference
    /// (`by_digest`: the reference names a digest, as every signature and manifest read after
    /// resolution does), then the rewritten location. Just `image` when no entry covers it;
    /// empty when its entry is `blocked`.
    pub fn endpoints(&self, image: &ImageReference, by_digest: bool) -> Vec<ImageReference> {
        let name = image.name();
        let Some(rewrite) = self.rewrites.iter().find(|r| covers(&r.prefix, &name)) else {
            return vec![image.clone()];
        };
        if rewrite.blocked {
            return Vec::new();
        }
        let rest = &name[rewrite.prefix.len()..];
        rewrite
            .mirrors
            .iter()
            .filter(|m| match m.pull_from {
                PullFrom::All => true,
                PullFrom::DigestOnly => by_digest,
                PullFrom::TagOnly => !by_digest,
            })
            .map(|m| m.location.as_str())
            .chain(std::iter::once(rewrite.location.as_str()))
            .filter_map(|location| relocate(image, location, rest))
            .collect()
    }
}

/// Whether `prefix` covers the repository `name`: equal, or a parent path of it.
fn covers(prefix: &str, name: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// `image` read from `location` + `rest` (tag and digest kept).
fn relocate(image: &ImageReference, location: &str, rest: &str) -> Option<ImageReference> {
    let full = format!("{location}{rest}");
    let (registry, repository) = full.split_once('/')?;
    image.with_name(registry, repository).ok()
}

/// A location must read as `registry[/path]` once an image name is appended, else no image
/// could ever be read there: refused at load rather than skipped at review.
fn check_location(location: &str) -> Result<(), String> {
    let probe = ImageReference::parse("localhost/probe:v1").map_err(|e| e.to_string())?;
    let (registry, path) = location.split_once('/').unwrap_or((location, ""));
    let repository = match path {
        "" => "probe".to_string(),
        path => format!("{path}/probe"),
    };
    probe
        .with_name(registry, &repository)
        .map(|_| ())
        .map_err(|e| format!("location {location:?} is not a registry[/path]: {e}"))
}

fn host_of(location: &str) -> String {
    location.split('/').next().unwrap_or(location).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const CONF: &str = r#"
unqualified-search-registries = ["docker.io"]

[[registry]]
prefix = "ghcr.io/team"
location = "mirror.internal:5000/ghcr/team"
insecure = true

[[registry.mirror]]
location = "cache.internal/ghcr/team"
pull-from-mirror = "digest-only"

[[registry]]
prefix = "ghcr.io"
location = "ghcr.io"
blocked = true
"#;

    fn endpoints(image: &str, by_digest: bool) -> Vec<String> {
        let mirrors = Mirrors::parse(CONF, "registries.conf").unwrap();
        let image = ImageReference::parse(image).unwrap();
        mirrors
            .endpoints(&image, by_digest)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_longest_prefix_rewrites_and_mirrors_come_first_where_allowed() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let image = format!("ghcr.io/team/app@{digest}");
        assert_eq!(
            endpoints(&image, true),
            [
                format!("cache.internal/ghcr/team/app@{digest}"),
                format!("mirror.internal:5000/ghcr/team/app@{digest}"),
            ]
        );
        assert_eq!(
            endpoints("ghcr.io/team/app:v1", false),
            ["mirror.internal:5000/ghcr/team/app:v1"]
        );
        assert!(
            endpoints("ghcr.io/other/app:v1", false).is_empty(),
            "blocked"
        );
        assert_eq!(
            endpoints("ghcr.io/teamx/app:v1", false),
            Vec::<String>::new()
        );
        assert_eq!(endpoints("quay.io/x/y:1", false), ["quay.io/x/y:1"]);
        let mirrors = Mirrors::parse(CONF, "r").unwrap();
        assert_eq!(mirrors.insecure_hosts(), ["mirror.internal:5000"]);
    }

    #[test]
    fn a_mirrors_credential_keys_the_tags_read_through_it() {
        use crate::registry::{Credentials, Registry, RegistryConfig};
        let secret = br#"{"auths":{"cache.internal":{"username":"u","password":"p"}}}"#;
        let tenant = Credentials::from_docker_config_json(secret).unwrap();
        let registry = |mirrors: Mirrors, credentials: Credentials| {
            let config = RegistryConfig {
                mirrors,
                ..RegistryConfig::default()
            };
            Registry::new(config, credentials)
        };
        let image = ImageReference::parse("ghcr.io/team/app:v1").unwrap();
        let conf = "[[registry]]\nprefix = \"ghcr.io/team\"\nlocation = \"ghcr.io/team\"\n\
                    [[registry.mirror]]\nlocation = \"cache.internal/team\"\n";
        let mirrored = Mirrors::parse(conf, "r").unwrap();
        let with = registry(mirrored.clone(), tenant.clone()).image_auth_key(&image);
        let without = registry(mirrored, Credentials::default()).image_auth_key(&image);
        assert_ne!(
            with, without,
            "the mirror is read with the tenant's credential"
        );
        let direct = registry(Mirrors::default(), tenant).image_auth_key(&image);
        let anonymous = registry(Mirrors::default(), Credentials::default());
        assert_eq!(
            direct,
            anonymous.image_auth_key(&image),
            "no mirror, no part"
        );
    }

    #[test]
    fn unknown_keys_and_wildcards_are_refused() {
        let error = Mirrors::parse("[[registry]]\nlocation = \"a.io\"\nsurprise = 1\n", "r");
        assert!(error.unwrap_err().to_string().contains("surprise"));
        let error = Mirrors::parse(
            "[[registry]]\nprefix = \"*.a.io\"\nlocation = \"b.io\"\n",
            "r",
        );
        assert!(error.unwrap_err().to_string().contains("wildcard"));
        let error = Mirrors::parse("[[registry]]\nlocation = \"nodots\"\n", "r");
        assert!(error.unwrap_err().to_string().contains("not a registry"));
        let mirror =
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"Bad/X\"\n";
        let error = Mirrors::parse(mirror, "r");
        assert!(error.unwrap_err().to_string().contains("not a registry"));
    }
}
