//! `WWW-Authenticate` as RFC 9110 §11.6.1 writes it: a list of challenges, each a scheme with a
//! token68 or a list of `name=value` parameters (values are tokens or quoted strings), all
//! comma-separated, over one or several header lines. Signet needs only the Bearer challenge's
//! `realm`, `service` and `scope` (the Docker token protocol), so this is a small parser of its
//! own rather than a dependency: it is bounded (header size, challenge and parameter counts),
//! refuses what is ambiguous (a parameter given twice, a Bearer challenge given twice with
//! different realms) instead of choosing, and never reports the header's text back.

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};

/// Longest `WWW-Authenticate` (all lines together) read.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Most challenges, and parameters of one challenge, read.
const MAX_ITEMS: usize = 32;

/// What a registry's Bearer challenge asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::registry) struct BearerChallenge {
    /// Where tokens are issued (a URL, judged before use).
    pub realm: String,
    /// The `service` to name in the token request.
    pub service: Option<String>,
    /// The `scope` the registry says the request needs.
    pub scope: Option<String>,
    /// Why a token presented was refused (RFC 6750 `error`: `invalid_token`,
    /// `insufficient_scope`), when one was.
    pub error: Option<String>,
}

/// One challenge: its scheme (lower case) and parameters (names lower case).
#[derive(Debug, Default)]
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

/// The Bearer challenge of `headers`: `None` when the registry offers no Bearer challenge (only
/// Basic, say), an error (a fixed text) when the header is malformed or ambiguous.
pub(in crate::registry) fn bearer(
    headers: &HeaderMap,
) -> Result<Option<BearerChallenge>, &'static str> {
    let mut joined = String::new();
    for value in headers.get_all(WWW_AUTHENTICATE) {
        let value = value
            .to_str()
            .map_err(|_| "WWW-Authenticate is not visible ASCII")?;
        if joined.len() + value.len() + 2 > MAX_HEADER_BYTES {
            return Err("WWW-Authenticate is longer than 8 KiB");
        }
        if !joined.is_empty() {
            joined.push_str(", ");
        }
        joined.push_str(value);
    }
    let challenges = parse(&joined)?;
    let mut bearers = challenges.iter().filter(|c| c.scheme == "bearer");
    let Some(first) = bearers.next() else {
        return Ok(None);
    };
    let chosen = as_bearer(first)?;
    for other in bearers {
        if as_bearer(other)? != chosen {
            return Err("WWW-Authenticate has two different Bearer challenges");
        }
    }
    Ok(Some(chosen))
}

fn as_bearer(challenge: &Challenge) -> Result<BearerChallenge, &'static str> {
    let param = |name: &str| {
        let mut found = challenge.params.iter().filter(|(n, _)| n == name);
        match (found.next(), found.next()) {
            (Some(_), Some(_)) => Err("a Bearer challenge parameter is given twice"),
            (one, _) => Ok(one.map(|(_, v)| v.clone())),
        }
    };
    let realm = param("realm")?
        .filter(|r| !r.is_empty())
        .ok_or("the Bearer challenge names no realm")?;
    Ok(BearerChallenge {
        realm,
        service: param("service")?,
        scope: param("scope")?,
        error: param("error")?,
    })
}

/// Every challenge of a `WWW-Authenticate` value.
fn parse(text: &str) -> Result<Vec<Challenge>, &'static str> {
    let mut cursor = Cursor { text, at: 0 };
    let mut challenges = Vec::new();
    loop {
        cursor.skip_separators();
        if cursor.done() {
            return Ok(challenges);
        }
        if challenges.len() == MAX_ITEMS {
            return Err("WWW-Authenticate has too many challenges");
        }
        let scheme = cursor.token().ok_or("WWW-Authenticate is malformed")?;
        let mut challenge = Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: Vec::new(),
        };
        while let Some(param) = cursor.param()? {
            if challenge.params.len() == MAX_ITEMS {
                return Err("a WWW-Authenticate challenge has too many parameters");
            }
            challenge.params.push(param);
        }
        if challenge.params.is_empty() {
            cursor.token68();
        }
        challenges.push(challenge);
    }
}

struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl Cursor<'_> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn skip_separators(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.at += 1;
        }
    }

    /// A `token` (RFC 9110 `tchar`s), if one starts here.
    fn token(&mut self) -> Option<&str> {
        let start = self.at;
        while self.peek().is_some_and(is_tchar) {
            self.at += 1;
        }
        (self.at > start).then(|| &self.text[start..self.at])
    }

    /// The next `name=value` of the current challenge: `None` (cursor unmoved) when what follows
    /// is not one (the next challenge's scheme, a token68, the end).
    fn param(&mut self) -> Result<Option<(String, String)>, &'static str> {
        let start = self.at;
        self.skip_separators();
        let Some(name) = self.token().map(str::to_ascii_lowercase) else {
            self.at = start;
            return Ok(None);
        };
        self.skip_spaces();
        let is_param = self.peek() == Some(b'=')
            && self.text.as_bytes().get(self.at + 1).copied() != Some(b'=');
        if !is_param {
            self.at = start;
            return Ok(None);
        }
        self.at += 1;
        self.skip_spaces();
        let value = match self.peek() {
            Some(b'"') => self.quoted()?,
            _ => self
                .token()
                .map(str::to_string)
                .ok_or("a WWW-Authenticate parameter has no value")?,
        };
        self.skip_spaces();
        match self.peek() {
            None | Some(b',') => Ok(Some((name, value))),
            Some(_) => Err("WWW-Authenticate is malformed after a parameter"),
        }
    }

    /// A quoted string starting at `"`, unescaped.
    fn quoted(&mut self) -> Result<String, &'static str> {
        let mut value = String::new();
        self.at += 1;
        loop {
            match self.peek() {
                None => return Err("WWW-Authenticate has an unterminated quoted string"),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    let escaped = self.text.as_bytes().get(self.at + 1).copied();
                    let escaped = escaped.ok_or("WWW-Authenticate ends inside an escape")?;
                    value.push(char::from(escaped));
                    self.at += 2;
                }
                Some(byte) => {
                    value.push(char::from(byte));
                    self.at += 1;
                }
            }
        }
    }

    /// Skip a token68 (`abc/+==`) when one follows, up to the next comma or the end.
    fn token68(&mut self) {
        let start = self.at;
        self.skip_spaces();
        let begun = self.at;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
        {
            self.at += 1;
        }
        while self.peek() == Some(b'=') {
            self.at += 1;
        }
        self.skip_spaces();
        if self.at == begun || !matches!(self.peek(), None | Some(b',')) {
            self.at = start;
        }
    }
}

fn is_tchar(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(WWW_AUTHENTICATE, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn challenge(values: &[&str]) -> Result<Option<BearerChallenge>, &'static str> {
        bearer(&headers(values))
    }

    fn realm(values: &[&str]) -> String {
        challenge(values).unwrap().unwrap().realm
    }

    #[test]
    fn the_docker_hub_challenge() {
        let found = challenge(&[
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        ])
        .unwrap()
        .unwrap();
        assert_eq!(
            found,
            BearerChallenge {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/busybox:pull".into()),
                error: None,
            }
        );
    }

    #[test]
    fn a_refused_token_s_error_is_read() {
        for (value, error) in [
            (
                r#"Bearer realm="https://r.example/t",error="insufficient_scope",scope="repository:a/b:pull""#,
                "insufficient_scope",
            ),
            (
                r#"Basic realm="nexus", Bearer realm="https://r.example/t", error=invalid_token"#,
                "invalid_token",
            ),
        ] {
            let found = challenge(&[value]).unwrap().unwrap();
            assert_eq!(found.error.as_deref(), Some(error), "{value}");
        }
    }

    #[test]
    fn bearer_is_found_among_other_challenges_in_any_order_case_and_line() {
        let expected = "https://r.example/token";
        for values in [
            vec![r#"Basic realm="x", Bearer realm="https://r.example/token""#],
            vec![r#"Bearer realm="https://r.example/token", Basic realm="x""#],
            vec![
                r#"Basic realm="x""#,
                r#"BEARER Realm="https://r.example/token""#,
            ],
            vec![r#"Negotiate abc+/==, bearer realm="https://r.example/token" , service=s"#],
            vec![r#"Basic, Bearer realm = "https://r.example/token""#],
            vec![r#"Bearer service="a, b", realm="https://r.example/token""#],
        ] {
            assert_eq!(realm(&values), expected, "{values:?}");
        }
    }

    #[test]
    fn quoted_strings_unescape_and_may_hold_commas_and_equals() {
        let found = challenge(&[r#"Bearer realm="https://r.example/t?a=1,b=\"2\"",scope="s""#])
            .unwrap()
            .unwrap();
        assert_eq!(found.realm, r#"https://r.example/t?a=1,b="2""#);
        assert_eq!(found.scope.as_deref(), Some("s"));
    }

    #[test]
    fn no_bearer_challenge_is_none() {
        for values in [vec![], vec![r#"Basic realm="registry""#], vec!["Negotiate"]] {
            assert_eq!(challenge(&values), Ok(None), "{values:?}");
        }
    }

    #[test]
    fn malformed_or_ambiguous_challenges_are_errors() {
        for values in [
            vec![r#"Bearer service="s""#],
            vec![r#"Bearer realm="""#],
            vec![r#"Bearer realm="https://a/t", realm="https://b/t""#],
            vec![
                r#"Bearer realm="https://a/t""#,
                r#"Bearer realm="https://b/t""#,
            ],
            vec![r#"Bearer realm="https://a/t"#],
            vec![r#"Bearer realm="https://a/t" junk"#],
            vec![r#"Bearer realm="#],
            vec!["=x"],
            vec![r#"Bearer realm=https://a/t"#],
        ] {
            assert!(challenge(&values).is_err(), "{values:?} was accepted");
        }
    }

    #[test]
    fn the_same_bearer_challenge_twice_is_one() {
        let line = r#"Bearer realm="https://a/t""#;
        assert_eq!(realm(&[line, line]), "https://a/t");
    }

    #[test]
    fn oversized_headers_and_too_many_items_are_refused() {
        let long = format!(
            r#"Bearer realm="https://a/{}""#,
            "x".repeat(MAX_HEADER_BYTES)
        );
        assert!(challenge(&[&long]).is_err());
        let many = vec!["Basic"; MAX_ITEMS + 1].join(", ");
        assert!(challenge(&[&many]).is_err());
        let params: Vec<String> = (0..=MAX_ITEMS).map(|i| format!("p{i}=v")).collect();
        let wide = format!(r#"Bearer realm="https://a/t", {}"#, params.join(", "));
        assert!(challenge(&[&wide]).is_err());
    }
}
