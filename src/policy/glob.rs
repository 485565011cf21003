//! `spec.images[].glob`: which images a policy covers.
//!
//! Syntax is policy-controller's (`pkg/apis/glob`): `*` matches within one path segment, `**`
//! across segments; Signet adds `?` (one character within a segment) and `@digest`. Unlike
//! policy-controller, the glob is normalised like an image reference before matching, so
//! `nginx`, `library/nginx`, `docker.io/library/nginx` and `index.docker.io/library/nginx` all
//! cover the image `nginx`. Registry names the runtimes reach as one registry are one registry
//! here, in globs and images alike: Docker Hub's names (`registry-1.docker.io`,
//! `index.docker.io`, with or without `:443`) are `docker.io`, and `host:443` is `host` (see
//! [`ImageReference::canonical_name`]), so `registry-1.docker.io/library/nginx` or
//! `ghcr.io:443/org/app` cannot escape a glob written for `docker.io/...` or `ghcr.io/...`. A glob without `/` names a Docker Hub official image (`*` is
//! `docker.io/library/*`, as policy-controller rewrites it) unless it contains `**`, which
//! spans segments and is kept as written (`**`, `ghc**`). Matching is a whole match against
//! the normalised `registry/repository`, or against `registry/repository:tag` / `...@digest`
//! when the glob itself carries a tag or digest, by [`Pattern`]: the glob as a few tokens, run
//! as a set of positions (time linear in the name times the glob, no backtracking), a few
//! dozen bytes a glob where a compiled regex took kilobytes (issue 19: 100,000 policies).
//! The shapes most globs have (a literal, `prefix/**`, `prefix/*`) are matched by comparing the
//! prefix and scanning the rest once, and other globs of at most 63 tokens by a position set
//! held in one `u64`: matching ran on every review for every image and was the largest single
//! cost of a warm review before (13% of it in process).
//! Pure functions; no network.

use crate::reference::{ImageReference, same_registry};

/// Docker Hub as image references are normalised.
const DOCKER_HUB: &str = "docker.io";
/// Docker Hub as policy-controller (go-containerregistry) spells it.
const DOCKER_HUB_LEGACY: &str = "index.docker.io";

/// Digest parts of a glob that match every image digest.
const ANY_DIGEST: [&str; 4] = ["*", "**", "sha256:*", "sha256:**"];

/// Why a glob is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The glob is empty.
    #[error("glob is empty")]
    Empty,
    /// A character outside policy-controller's glob alphabet (plus `?` and `@`).
    #[error(
        "glob is invalid: character {0:?} is not allowed (use letters, digits, '-', '_', '.', ':', '/', '@', '*', '**' and '?')"
    )]
    Character(char),
    /// More than one `@`.
    #[error("glob is invalid: more than one '@'")]
    Digest,
    /// Kept for callers matching on it: globs no longer compile to regular expressions, so it
    /// is never returned.
    #[error("glob is invalid: {0}")]
    Regex(String),
}

/// A compiled image glob.
#[derive(Debug, Clone)]
pub struct ImageGlob {
    text: String,
    normalised: String,
    pattern: Pattern,
    has_tag: bool,
    has_digest: bool,
    /// For a glob whose digest part matches every digest and that has no tag (`repo@**`,
    /// `repo@sha256:*`): its name part, which covers a reference written without a digest.
    /// policy-controller pins every image before matching, so `repo@**` covers `repo:v1`
    /// there. A glob naming one digest (`repo@sha256:ab…`) still needs the reference to show
    /// it: whether policy-controller would cover `repo:v1` depends on the digest the tag
    /// resolves to, which policy selection does not know yet.
    unpinned: Option<Pattern>,
    /// Length of [`literal_prefix`] in `normalised`: see [`ImageGlob::literal_prefix`].
    literal: usize,
}

impl PartialEq for ImageGlob {
    fn eq(&self, other: &Self) -> bool {
        self.normalised == other.normalised
    }
}

impl Eq for ImageGlob {}

impl ImageGlob {
    /// Parse, normalise and compile `text`.
    pub fn parse(text: &str) -> Result<ImageGlob, GlobError> {
        check_alphabet(text)?;
        let parts = split_parts(expand_shorthand(text))?;
        let normalised = parts.join();
        let unpinned = match (&parts.tag, parts.digest.as_deref()) {
            (None, Some(digest)) if ANY_DIGEST.contains(&digest) => {
                Some(Pattern::compile(&parts.name))
            }
            _ => None,
        };
        Ok(ImageGlob {
            literal: literal_prefix(&parts.name).len(),
            text: text.to_string(),
            pattern: Pattern::compile(&normalised),
            normalised,
            has_tag: parts.tag.is_some(),
            has_digest: parts.digest.is_some(),
            unpinned,
        })
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The glob after normalisation, e.g. `docker.io/library/nginx` for `nginx`.
    pub fn normalised(&self) -> &str {
        &self.normalised
    }

    /// The literal start of the glob's name, up to its first wildcard, and up to the first `:`
    /// or `@` after its first `/`: every spelling of an image the glob covers (see
    /// [`spellings`]) starts with it, tag or digest aside, so policies can be indexed by it
    /// (`policy::index`). Empty when the glob starts with a wildcard (`**`, `*.io/**`).
    pub fn literal_prefix(&self) -> &str {
        &self.normalised[..self.literal]
    }

    /// Whether the glob covers `image`.
    pub fn matches(&self, image: &ImageReference) -> bool {
        if let (Some(unpinned), None) = (&self.unpinned, image.digest()) {
            return spellings(image).iter().any(|name| unpinned.matches(name));
        }
        let Some(suffix) = self.suffix_for(image) else {
            return false;
        };
        // Each spelling as it is, or with the tag or digest the glob names in one reused buffer.
        let mut candidate = String::new();
        spellings(image).iter().any(|name| {
            let text = match suffix.is_empty() {
                true => name.as_str(),
                false => {
                    candidate.clear();
                    candidate.push_str(name);
                    candidate.push_str(&suffix);
                    candidate.as_str()
                }
            };
            self.pattern.matches(text)
        })
    }

    /// The `:tag` / `@digest` part the image must show, or `None` when it lacks one the glob needs.
    fn suffix_for(&self, image: &ImageReference) -> Option<String> {
        let mut suffix = String::new();
        if self.has_tag {
            let tag = match (image.tag(), image.digest()) {
                (Some(tag), _) => tag,
                (None, None) => "latest",
                (None, Some(_)) => return None,
            };
            suffix.push(':');
            suffix.push_str(tag);
        }
        if self.has_digest {
            suffix.push('@');
            suffix.push_str(image.digest()?.as_str());
        }
        Some(suffix)
    }
}

/// The names an image is known by: its normalised name, the name of the same repository as the
/// runtimes reach it (Docker Hub aliases, no `:443`) and, for Docker Hub, policy-controller's
/// `index.docker.io/...` spelling, so globs such as `index.docker.**` keep matching.
pub(super) fn spellings(image: &ImageReference) -> Vec<String> {
    let mut names = vec![image.name()];
    let canonical = image.canonical_name();
    if let Some(repository) = canonical
        .strip_prefix(DOCKER_HUB)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        names.push(format!("{DOCKER_HUB_LEGACY}/{repository}"));
    }
    if canonical != names[0] {
        names.push(canonical);
    }
    names
}

/// The start of a normalised glob name before its first wildcard (`*`, `?`), cut also at the
/// first `:` or `@` after the first `/`. Why it is a prefix of every spelling the glob matches:
/// the match is anchored (whole) and starts with these literal characters, so `spelling + suffix`
/// starts with them; the suffix (`:tag`, `@digest`) starts with `:` or `@`, and every spelling
/// has a `/` before it, so a prefix holding no `:` or `@` after its first `/` ends inside the
/// spelling itself.
fn literal_prefix(name: &str) -> &str {
    let first_slash = name.find('/');
    let end = name
        .char_indices()
        .find(|&(i, c)| {
            matches!(c, '*' | '?') || (matches!(c, ':' | '@') && first_slash.is_some_and(|s| i > s))
        })
        .map_or(name.len(), |(i, _)| i);
    &name[..end]
}

fn check_alphabet(text: &str) -> Result<(), GlobError> {
    if text.is_empty() {
        return Err(GlobError::Empty);
    }
    match text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-_:/*.?@".contains(*c)))
    {
        Some(c) => Err(GlobError::Character(c)),
        None => Ok(()),
    }
}

/// policy-controller's two rewrites: `*` means official images, `*/*` any Docker Hub repository.
fn expand_shorthand(text: &str) -> &str {
    match text {
        "*" => "docker.io/library/*",
        "*/*" => "docker.io/*/*",
        other => other,
    }
}

/// A glob split into name, tag and digest parts, the name normalised.
struct Parts {
    name: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Parts {
    fn join(&self) -> String {
        let mut text = self.name.clone();
        if let Some(tag) = &self.tag {
            text.push(':');
            text.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            text.push('@');
            text.push_str(digest);
        }
        text
    }
}

fn split_parts(text: &str) -> Result<Parts, GlobError> {
    let (rest, digest) = match text.split_once('@') {
        Some((_, d)) if d.contains('@') => return Err(GlobError::Digest),
        Some((r, d)) => (r, Some(d.to_string())),
        None => (text, None),
    };
    let segment_start = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[segment_start..].find(':') {
        Some(i) => (
            &rest[..segment_start + i],
            Some(rest[segment_start + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    Ok(Parts {
        name: normalise_name(name),
        tag,
        digest,
    })
}

/// Normalise the name part as image references are normalised.
fn normalise_name(name: &str) -> String {
    let Some((first, rest)) = name.split_once('/') else {
        return if name.contains("**") {
            name.to_string()
        } else {
            format!("{DOCKER_HUB}/library/{name}")
        };
    };
    if !first.contains(['*', '?']) && same_registry(first) == DOCKER_HUB {
        return docker_hub(rest);
    }
    if !first.contains(['*', '?']) && looks_like_registry(first) {
        return format!("{}/{rest}", registry_case(&same_registry(first)));
    }
    if looks_like_registry(first) {
        return format!("{}/{rest}", registry_case(first));
    }
    docker_hub(name)
}

/// A path under Docker Hub; a single segment is an official image under `library/`.
fn docker_hub(path: &str) -> String {
    if path.contains('/') || path.contains("**") {
        format!("{DOCKER_HUB}/{path}")
    } else {
        format!("{DOCKER_HUB}/library/{path}")
    }
}

/// A first segment names a registry if it has a dot, a port, an upper-case letter or is
/// localhost, as for image references; a wildcard in it may match a registry, so it counts too.
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':', '*', '?'])
        || first == "localhost"
        || first.chars().any(|c| c.is_ascii_uppercase())
}

/// Host names are case-insensitive and image references lowercase them; a single-label host
/// such as `Foo` keeps its case, as it does in references.
fn registry_case(first: &str) -> String {
    match first.contains('.') {
        true => first.to_ascii_lowercase(),
        false => first.to_string(),
    }
}

/// One step of a glob: `**` (any characters but a newline, as the regex `.*` it replaces),
/// `*` (any characters within a segment), `?` (one character within a segment), or a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    One,
    Segment,
    Any,
}

/// A compiled glob: its tokens, matched against a whole name.
#[derive(Debug, Clone)]
struct Pattern {
    tokens: Box<[Token]>,
    /// The literal characters the glob starts with: a text without them never matches.
    prefix: Box<str>,
    literal: usize,
    /// What follows the prefix, when it is one of the shapes most globs have.
    tail: Tail,
    /// The positions of `*` and `**` tokens, when the glob has at most [`MAX_BIT_STATES`]
    /// tokens: the position set then fits one `u64` (bit `i`: position `i`).
    stars: Option<u64>,
}

/// The part of a glob after its literal prefix, in the shapes matched without simulation
/// (issue 19: `registry/team/**` and `**` are most policies' globs, and are matched on every
/// review of every image they might cover).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// Nothing: the text is the prefix.
    Empty,
    /// `**`: any rest without a newline.
    Any,
    /// `*`: any rest within one segment (no `/`).
    Segment,
    /// Anything else: simulated.
    Tokens,
}

/// Positions a `u64` holds: tokens `0..63` and the end.
const MAX_BIT_STATES: usize = 63;

impl Pattern {
    /// `**` -> [`Token::Any`], `*` -> [`Token::Segment`], `?` -> [`Token::One`], every other
    /// character literal.
    fn compile(glob: &str) -> Pattern {
        let mut tokens = Vec::with_capacity(glob.len());
        let mut chars = glob.chars().peekable();
        while let Some(c) = chars.next() {
            tokens.push(match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    Token::Any
                }
                '*' => Token::Segment,
                '?' => Token::One,
                other => Token::Literal(other),
            });
        }
        let prefix: String = tokens
            .iter()
            .map_while(|t| match t {
                Token::Literal(c) => Some(*c),
                _ => None,
            })
            .collect();
        let literal = prefix.chars().count();
        let tail = match &tokens[literal..] {
            [] => Tail::Empty,
            [Token::Any] => Tail::Any,
            [Token::Segment] => Tail::Segment,
            _ => Tail::Tokens,
        };
        let stars = (tokens.len() <= MAX_BIT_STATES).then(|| {
            tokens
                .iter()
                .enumerate()
                .filter(|(_, t)| matches!(t, Token::Segment | Token::Any))
                .fold(0u64, |mask, (at, _)| mask | 1 << at)
        });
        Pattern {
            literal,
            prefix: prefix.into_boxed_str(),
            tokens: tokens.into_boxed_slice(),
            tail,
            stars,
        }
    }

    /// Whether the whole of `text` matches: the set of glob positions reachable after each
    /// character, as a regex engine's NFA simulation, so no input makes it backtrack.
    fn matches(&self, text: &str) -> bool {
        let Some(rest) = text.strip_prefix(&*self.prefix) else {
            return false;
        };
        match (self.tail, self.stars) {
            (Tail::Empty, _) => rest.is_empty(),
            (Tail::Any, _) => !rest.contains('\n'),
            (Tail::Segment, _) => !rest.contains('/'),
            (Tail::Tokens, Some(stars)) => self.matches_in_bits(rest, stars),
            (Tail::Tokens, None) => self.matches_in_vectors(rest),
        }
    }

    /// [`Pattern::matches`] after the prefix, the position set as the bits of a `u64`: no
    /// allocation, and each character visits only the positions that are live.
    fn matches_in_bits(&self, rest: &str, stars: u64) -> bool {
        let mut current = skip_empty_bits(1 << self.literal, stars);
        for c in rest.chars() {
            let mut next = 0u64;
            let mut live = current;
            while live != 0 {
                let at = live.trailing_zeros() as usize;
                live &= live - 1;
                next |= match self.tokens.get(at) {
                    Some(Token::Literal(l)) if *l == c => 1 << (at + 1),
                    Some(Token::One) if c != '/' => 1 << (at + 1),
                    Some(Token::Segment) if c != '/' => 1 << at,
                    Some(Token::Any) if c != '\n' => 1 << at,
                    _ => 0,
                };
            }
            current = skip_empty_bits(next, stars);
            if current == 0 {
                return false;
            }
        }
        current & (1 << self.tokens.len()) != 0
    }

    /// [`Pattern::matches`] after the prefix for globs too long for [`Pattern::matches_in_bits`].
    fn matches_in_vectors(&self, rest: &str) -> bool {
        let end = self.tokens.len();
        let mut current = vec![false; end + 1];
        let mut next = vec![false; end + 1];
        current[self.literal] = true;
        self.skip_empty(&mut current);
        for c in rest.chars() {
            next.fill(false);
            for (at, token) in self.tokens.iter().enumerate() {
                if !current[at] {
                    continue;
                }
                match token {
                    Token::Literal(l) if *l == c => next[at + 1] = true,
                    Token::One if c != '/' => next[at + 1] = true,
                    Token::Segment if c != '/' => next[at] = true,
                    Token::Any if c != '\n' => next[at] = true,
                    _ => {}
                }
            }
            self.skip_empty(&mut next);
            if !next.contains(&true) {
                return false;
            }
            std::mem::swap(&mut current, &mut next);
        }
        current[end]
    }

    /// Adds the positions reachable by matching `*` or `**` with nothing (left to right, so
    /// runs of them are followed to their end).
    fn skip_empty(&self, states: &mut [bool]) {
        for (at, token) in self.tokens.iter().enumerate() {
            if states[at] && matches!(token, Token::Segment | Token::Any) {
                states[at + 1] = true;
            }
        }
    }
}

/// [`Pattern::skip_empty`] on a position set in bits: every live `*` or `**` (bits of `stars`)
/// also makes the position after it live, runs followed to their end.
fn skip_empty_bits(mut states: u64, stars: u64) -> u64 {
    let mut pending = states & stars;
    while pending != 0 {
        let at = pending.trailing_zeros();
        pending &= pending - 1;
        let after = 1u64 << (at + 1);
        if states & after == 0 {
            states |= after;
            pending |= after & stars;
        }
    }
    states
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The regex each glob compiled to before [`Pattern`]: `**` -> `.*`, `*` -> `[^/]*`,
    /// `?` -> `[^/]`, everything else literal, anchored.
    fn old_regex(glob: &str) -> regex::Regex {
        let mut out = String::from("^");
        let mut chars = glob.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' if chars.peek() == Some(&'*') => {
                    chars.next();
                    out.push_str(".*");
                }
                '*' => out.push_str("[^/]*"),
                '?' => out.push_str("[^/]"),
                other => out.push_str(&regex::escape(other.encode_utf8(&mut [0; 4]))),
            }
        }
        out.push('$');
        regex::Regex::new(&out).unwrap()
    }

    /// A fixed-seed stream of small numbers (xorshift), so failures repeat.
    struct Seeded(u64);

    impl Seeded {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn text(&mut self, alphabet: &[&str], longest: usize) -> String {
            (0..self.below(longest + 1))
                .map(|_| alphabet[self.below(alphabet.len())])
                .collect()
        }
    }

    /// The glob matcher decides as the regex it replaced, on 40,000 random globs and names
    /// over the characters that matter (`/`, `*`, `**`, `?`, `.`, `:`, `@`, a newline).
    #[test]
    fn pattern_matches_as_the_regex_it_replaced() {
        let mut random = Seeded(0x5eed_1915);
        let glob_alphabet = ["a", "b", "/", ".", ":", "@", "*", "**", "?", "-"];
        let name_alphabet = ["a", "b", "/", ".", ":", "@", "-", "\n", "é", "*"];
        let mut matched = 0;
        for _ in 0..200 {
            let glob = random.text(&glob_alphabet, 8);
            let (pattern, regex) = (Pattern::compile(&glob), old_regex(&glob));
            for _ in 0..200 {
                let name = random.text(&name_alphabet, 10);
                let want = regex.is_match(&name);
                assert_eq!(pattern.matches(&name), want, "glob {glob:?} name {name:?}");
                matched += usize::from(want);
            }
        }
        assert!(
            matched > 1_000,
            "only {matched} matches: the sample says little"
        );
    }

    /// Globs longer than a `u64` of positions take the vector simulation: it, the bit
    /// simulation (where the glob fits) and the regex agree, on random names and on a name
    /// made from the glob so that it matches.
    #[test]
    fn long_globs_and_both_simulations_agree_with_the_regex() {
        let mut random = Seeded(0x1019_1915);
        let glob_alphabet = ["a", "b", "/", ".", "*", "**", "?", "-"];
        let name_alphabet = ["a", "b", "/", ".", "-", "\n", "é"];
        let (mut long, mut matched) = (0, 0);
        for _ in 0..300 {
            let glob = random.text(&glob_alphabet, 120);
            let (pattern, regex) = (Pattern::compile(&glob), old_regex(&glob));
            long += usize::from(pattern.stars.is_none());
            let made = glob
                .replace("**", "a/b")
                .replace('*', "a")
                .replace('?', "b");
            let names = (0..50).map(|_| random.text(&name_alphabet, 120));
            for name in names.chain([made]) {
                let want = regex.is_match(&name);
                assert_eq!(pattern.matches(&name), want, "glob {glob:?} name {name:?}");
                matched += usize::from(want);
                if let (Some(rest), Some(stars)) =
                    (name.strip_prefix(&*pattern.prefix), pattern.stars)
                {
                    let bits = pattern.matches_in_bits(rest, stars);
                    assert_eq!(
                        bits,
                        pattern.matches_in_vectors(rest),
                        "glob {glob:?} name {name:?}"
                    );
                }
            }
        }
        assert!(long > 50, "only {long} globs past {MAX_BIT_STATES} tokens");
        assert!(
            matched > 250,
            "only {matched} matches: the sample says little"
        );
    }

    fn matches(glob: &str, image: &str) -> bool {
        let glob = ImageGlob::parse(glob).unwrap();
        glob.matches(&ImageReference::parse(image).unwrap())
    }

    /// policy-controller pins before matching, so `repo@**` covers every form of `repo` a pod
    /// may write: tag, none, digest, tag and digest, Docker Hub in any spelling.
    #[test]
    fn digest_globs_cover_references_written_without_a_digest() {
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for image in [
            "127.0.0.1:1/org/app:v1".to_string(),
            "127.0.0.1:1/org/app".to_string(),
            format!("127.0.0.1:1/org/app@{digest}"),
            format!("127.0.0.1:1/org/app:v1@{digest}"),
        ] {
            assert!(matches("127.0.0.1:1/org/app@**", &image), "{image}");
            assert!(matches("127.0.0.1:1/org/*@sha256:*", &image), "{image}");
            assert!(!matches("127.0.0.1:1/org/other@**", &image), "{image}");
        }
        for image in [
            "nginx:1.27",
            "library/nginx",
            "docker.io/library/nginx:1",
            "index.docker.io/library/nginx",
        ] {
            for glob in [
                "index.docker.io/library/nginx@**",
                "docker.io/library/nginx@**",
                "nginx@**",
            ] {
                assert!(matches(glob, image), "{glob} {image}");
            }
        }
        // A glob with a tag and a digest still needs both; one naming a digest needs it shown.
        assert!(!matches(
            "127.0.0.1:1/org/app:v1@**",
            "127.0.0.1:1/org/app:v1"
        ));
        assert!(!matches(
            &format!("127.0.0.1:1/org/app@{digest}"),
            "127.0.0.1:1/org/app:v1"
        ));
    }

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// policy-controller's `glob_test.go` table, adapted to normalisation. Where a case only
    /// matched through policy-controller's deprecated raw-string fallback, the adapted
    /// expectation follows normalisation and says so.
    #[test]
    fn policy_controller_glob_table_adapted() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "index.docker.io/library/foo:latest", true),
            ("foo", "index.docker.io/library/foo:*", true),
            ("foo", "index.docker.io/library/*", true),
            ("foo", "index.docker.io/library/*:latest", true),
            ("foo", "index.docker.io/*/*", true),
            ("foo", "index.docker.io/**", true),
            ("foo", "index.docker.**", true),
            ("foo", "inde**", true),
            ("foo", "**", true),
            ("foo", "foo", true),
            ("foo", "foo*", true),
            // policy-controller: true, only through its raw-string fallback. `**` without `/`
            // is kept as written and must match the whole normalised name.
            ("foo", "foo**", false),
            ("foo", "docker.io/library/foo**", true),
            ("myuser/myapp", "index.docker.io/myuser/myapp:latest", true),
            ("myuser/myapp", "index.docker.io/myuser/myapp:*", true),
            ("myuser/myapp", "index.docker.io/myuser/*", true),
            ("myuser/myapp", "index.docker.io/myuser/*:latest", true),
            ("myuser/myapp", "index.docker.io/*/*", true),
            ("myuser/myapp", "index.docker.io/**", true),
            ("myuser/myapp", "index.docker.**", true),
            ("myuser/myapp", "inde**", true),
            ("myuser/myapp", "**", true),
            ("myuser/myapp", "myuser/myapp", true),
            ("myuser/myapp", "myuser/myapp*", true),
            ("myuser/myapp", "myuser/myapp**", true),
            ("ghcr.io/foo/bar", "ghcr.io/*/*", true),
            ("ghcr.io/foo/bar", "ghcr.io/**", true),
            ("ghcr.io/foo", "ghcr.io/*/*", false),
            ("ghcr.io/foo", "ghcr.io/**", true),
            ("ghcr.io/foo", "ghc**", true),
            ("ghcr.io/foo", "**", true),
            ("ghcr.io/foo", "*/**", true),
            ("ghcr.io/foo", "ghcr.io/foo*", true),
            ("ghcr.io/foo", "ghcr.io/foo**", true),
            ("prefix-ghcr.io/foo", "ghcr.io/foo", false),
            ("ghcr.io/foo-suffix", "ghcr.io/foo", false),
            ("ghcrxio/foo", "ghcr.io/**", false),
            ("foo", "*", true),
            ("myuser/myapp", "*/*", true),
        ];
        for (image, glob, want) in cases {
            assert_eq!(matches(glob, image), *want, "glob {glob:?} image {image:?}");
        }
    }

    #[test]
    fn invalid_globs_are_rejected() {
        for glob in ["", ".+", "[a-z]*", "[", "ghcr.io/a b", "a@b@c"] {
            assert!(
                ImageGlob::parse(glob).is_err(),
                "{glob:?} should be rejected"
            );
        }
    }

    #[test]
    fn every_docker_hub_spelling_covers_the_short_name() {
        for glob in [
            "nginx",
            "library/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
            "docker.io/nginx",
        ] {
            assert!(matches(glob, "nginx"), "{glob}");
            assert!(matches(glob, "docker.io/library/nginx:1.27"), "{glob}");
            assert!(matches(glob, &format!("nginx@{DIGEST}")), "{glob}");
        }
    }

    /// Registry names the runtimes reach as one registry, against globs written for any of them
    /// (issue 15, item 7): every pair matches, and look-alikes and other ports do not.
    #[test]
    fn registry_aliases_match_globs_for_the_canonical_registry() {
        let hub_images = [
            "registry-1.docker.io/library/nginx:1",
            "registry-1.docker.io/nginx",
            "Registry-1.Docker.IO/nginx",
            "registry-1.docker.io:443/library/nginx",
            "index.docker.io/library/nginx",
            "index.docker.io:443/nginx",
            "docker.io:443/library/nginx",
            "DOCKER.IO:443/nginx",
            "docker.io/library/nginx",
            "nginx",
        ];
        let hub_globs = [
            "nginx",
            "docker.io/library/*",
            "docker.io/**",
            "index.docker.io/library/nginx",
            "registry-1.docker.io/library/nginx",
            "registry-1.docker.io:443/nginx",
            "docker.io:443/library/**",
            "index.docker.**",
        ];
        for glob in hub_globs {
            for image in hub_images {
                assert!(matches(glob, image), "{glob} must cover {image}");
            }
        }
        let ghcr_images = [
            "ghcr.io/org/app:1",
            "ghcr.io:443/org/app",
            "GHCR.IO:443/org/app",
        ];
        for glob in ["ghcr.io/org/**", "ghcr.io:443/org/*", "GHCR.io:443/org/app"] {
            for image in ghcr_images {
                assert!(matches(glob, image), "{glob} must cover {image}");
            }
        }
        for (glob, image) in [
            ("ghcr.io/org/**", "ghcr.io:4443/org/app"),
            ("ghcr.io/org/**", "ghcr.io:80/org/app"),
            ("ghcr.io/org/**", "ghcr.io.evil.com:443/org/app"),
            ("docker.io/**", "registry-1.docker.io.evil.com/nginx"),
            ("docker.io/**", "registry-2.docker.io/nginx"),
            ("docker.io/**", "docker.io:5000/nginx"),
            ("quay.io/**", "ghcr.io:443/org/app"),
        ] {
            assert!(!matches(glob, image), "{glob} must not cover {image}");
        }
    }

    #[test]
    fn matching_is_whole_and_segment_aware() {
        assert!(!matches("docker.io/**", "docker.io.evil.com/nginx"));
        assert!(!matches("ghcr.io/org/*", "ghcr.io/org/a/b"));
        assert!(matches("ghcr.io/org/*", "ghcr.io/org/a:v1"));
        assert!(matches("ghcr.io/org/**", "ghcr.io/org/a/b"));
        assert!(!matches("ghcr.io/org/**", "ghcr.io/organisation/a"));
        assert!(!matches("ghcr.io/org", "ghcr.io/org/a"));
        assert!(matches("**", "localhost:5000/x"));
        assert!(matches("localhost:5000/**", "localhost:5000/team/app:1"));
        assert!(matches("GHCR.IO/org/*", "ghcr.io/org/app"));
    }

    #[test]
    fn question_mark_matches_one_character_in_a_segment() {
        assert!(matches("ghcr.io/org/app?", "ghcr.io/org/app1"));
        assert!(!matches("ghcr.io/org/app?", "ghcr.io/org/app12"));
        assert!(!matches("ghcr.io/org?app", "ghcr.io/org/app"));
    }

    #[test]
    fn tag_globs_match_the_tag_and_need_one() {
        assert!(matches(
            "registry.k8s.io/pause:3.*",
            "registry.k8s.io/pause:3.9"
        ));
        assert!(!matches(
            "registry.k8s.io/pause:3.*",
            "registry.k8s.io/pause:4.0"
        ));
        assert!(matches("nginx:latest", "nginx"));
        assert!(!matches("nginx:latest", &format!("nginx@{DIGEST}")));
        assert!(matches("nginx:1.27", &format!("nginx:1.27@{DIGEST}")));
        assert!(matches("localhost:5000/app:v*", "localhost:5000/app:v2"));
    }

    #[test]
    fn digest_globs_match_the_digest() {
        let glob = format!("ghcr.io/org/app@{DIGEST}");
        assert!(matches(&glob, &format!("ghcr.io/org/app@{DIGEST}")));
        assert!(matches(&glob, &format!("ghcr.io/org/app:v1@{DIGEST}")));
        assert!(!matches(&glob, "ghcr.io/org/app:v1"));
        assert!(matches(
            "ghcr.io/org/app@sha256:*",
            &format!("ghcr.io/org/app@{DIGEST}")
        ));
    }

    #[test]
    fn as_str_keeps_the_text_and_normalised_shows_the_meaning() {
        let glob = ImageGlob::parse("index.docker.io/library/nginx").unwrap();
        assert_eq!(glob.as_str(), "index.docker.io/library/nginx");
        assert_eq!(glob.normalised(), "docker.io/library/nginx");
        assert_eq!(
            ImageGlob::parse("*").unwrap().normalised(),
            "docker.io/library/*"
        );
        assert_eq!(ImageGlob::parse("**").unwrap().normalised(), "**");
    }
}
