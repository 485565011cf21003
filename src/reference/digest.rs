//! Content digests: `sha256:` or `sha512:` and lowercase hex of the exact length, nothing else.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

use super::error::{ParseError, clip};

/// A content digest, validated: `sha256:` + exactly 64 lowercase hex, or `sha512:` + exactly
/// 128 lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`.
    pub fn parse(s: &str) -> Result<Digest, ParseError> {
        parse_digest(s, s)
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }

    /// The digest as written: `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The algorithm: `sha256` or `sha512`.
    pub fn algorithm(&self) -> &str {
        self.split().0
    }

    /// The lowercase hex encoding of the hash.
    pub fn hex(&self) -> &str {
        self.split().1
    }

    /// `sha256-<hex>`: the tag prefix cosign uses for `.sig`/`.att` and the referrers tag schema.
    pub fn tag_prefix(&self) -> String {
        format!("{}-{}", self.algorithm(), self.hex())
    }

    /// Does `bytes` hash to this digest (supports sha256 and sha512)?
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let actual = match self.algorithm() {
            "sha256" => hex::encode(Sha256::digest(bytes)),
            "sha512" => hex::encode(Sha512::digest(bytes)),
            _ => return false,
        };
        actual == self.hex()
    }

    /// The 32 hash bytes of a sha256 digest (`None` for other algorithms): how the verdict
    /// cache holds digests, at a third of the text's size.
    pub fn sha256_bytes(&self) -> Option<[u8; 32]> {
        let mut bytes = [0u8; 32];
        match self.algorithm() {
            "sha256" => hex::decode_to_slice(self.hex(), &mut bytes)
                .ok()
                .map(|()| bytes),
            _ => None,
        }
    }

    /// The sha256 digest whose hash bytes are `bytes`.
    pub fn from_sha256_bytes(bytes: &[u8; 32]) -> Digest {
        Digest(format!("sha256:{}", hex::encode(bytes)))
    }

    fn split(&self) -> (&str, &str) {
        self.0.split_once(':').unwrap_or((self.0.as_str(), ""))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Digest {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// The hex length an algorithm's digest has, for the algorithms we accept.
pub(super) fn hex_len(algorithm: &str) -> Option<usize> {
    match algorithm {
        "sha256" => Some(64),
        "sha512" => Some(128),
        _ => None,
    }
}

pub(super) fn is_lower_hex(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Parses `digest`, naming `input` (the whole reference) in errors.
pub(super) fn parse_digest(input: &str, digest: &str) -> Result<Digest, ParseError> {
    let invalid = |reason: String| ParseError::InvalidDigest {
        input: clip(input),
        digest: clip(digest),
        reason,
    };
    let Some((algorithm, hex)) = digest.split_once(':').filter(|(a, _)| !a.is_empty()) else {
        return Err(invalid(
            "expected <algorithm>:<hex>, as in sha256:<64 hex>".into(),
        ));
    };
    let Some(expected) = hex_len(algorithm) else {
        return Err(ParseError::UnsupportedDigestAlgorithm {
            input: clip(input),
            digest: clip(digest),
            algorithm: clip(algorithm),
        });
    };
    if hex.len() != expected {
        let found = hex.chars().count();
        return Err(invalid(format!(
            "{algorithm} needs exactly {expected} hex characters, found {found}"
        )));
    }
    if !is_lower_hex(hex) {
        return Err(invalid(
            "the hex part may only hold 0-9 and a-f (lowercase)".into(),
        ));
    }
    Ok(Digest(digest.to_owned()))
}

#[cfg(test)]
mod tests;
