//! The grammar of the parts of a reference (distribution/reference's regular expressions, written
//! out): tags, registries (`host[:port]`) and repository paths, and the length limits.

use super::error::{ParseError, clip};

/// Longest allowed `registry/repository`.
const NAME_MAX_LEN: usize = 255;
/// Longest allowed tag.
const TAG_MAX_LEN: usize = 128;

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub(super) fn is_valid_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    match bytes.split_first() {
        Some((first, rest)) => {
            bytes.len() <= TAG_MAX_LEN
                && word(*first)
                && rest.iter().all(|&b| word(b) || b == b'.' || b == b'-')
        }
        None => false,
    }
}

pub(super) fn validate_name(
    input: &str,
    registry: &str,
    repository: &str,
) -> Result<(), ParseError> {
    if !is_valid_registry(registry) {
        return Err(ParseError::InvalidRegistry {
            input: clip(input),
            registry: clip(registry),
        });
    }
    validate_repository(input, repository)?;
    let length = registry.len() + 1 + repository.len();
    if length > NAME_MAX_LEN {
        return Err(ParseError::NameTooLong {
            input: clip(input),
            length,
        });
    }
    Ok(())
}

fn validate_repository(input: &str, repository: &str) -> Result<(), ParseError> {
    if is_valid_path(repository) {
        return Ok(());
    }
    let error = if is_valid_path(&repository.to_ascii_lowercase()) {
        ParseError::Uppercase {
            input: clip(input),
            repository: clip(repository),
        }
    } else {
        ParseError::InvalidRepository {
            input: clip(input),
            repository: clip(repository),
        }
    };
    Err(error)
}

/// `host[:port]`: a domain name, an IPv4 address or `[ipv6]`, then optional `:digits`.
pub(super) fn is_valid_registry(registry: &str) -> bool {
    let (host, port) = match registry.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some((ipv6, rest)) => (Host::Ipv6(ipv6), rest),
            None => return false,
        },
        None => match registry.find(':') {
            Some(i) => (Host::Name(&registry[..i]), &registry[i..]),
            None => (Host::Name(registry), ""),
        },
    };
    host.is_valid() && is_valid_port_suffix(port)
}

/// The host part of a registry.
enum Host<'a> {
    Name(&'a str),
    Ipv6(&'a str),
}

impl Host<'_> {
    fn is_valid(&self) -> bool {
        match self {
            Host::Name(name) => name.split('.').all(is_valid_domain_component),
            Host::Ipv6(address) => {
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':')
            }
        }
    }
}

/// Empty, or `:` and one or more digits.
fn is_valid_port_suffix(suffix: &str) -> bool {
    match suffix.strip_prefix(':') {
        Some(port) => !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => suffix.is_empty(),
    }
}

/// `[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]`.
fn is_valid_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && bytes
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
        }
        _ => false,
    }
}

/// One or more path components joined by `/`.
pub(super) fn is_valid_path(path: &str) -> bool {
    path.split('/').all(is_valid_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let lower_alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    bytes.first().is_some_and(lower_alnum)
        && bytes.last().is_some_and(lower_alnum)
        && component
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .filter(|run| !run.is_empty())
            .all(is_separator)
}

/// `[._]|__|[-]+`.
fn is_separator(run: &str) -> bool {
    matches!(run, "." | "_" | "__") || run.bytes().all(|b| b == b'-')
}
