//! The pages of a referrers API answer: a registry may list the referrers over several pages,
//! each naming the next in `Link: <...>; rel="next"` (OCI distribution spec, "Listing
//! Referrers"). The next page is asked of the same registry only (a relative link, or an absolute
//! one to the very `host:port`), under `/v2/`, and the pages together stay within the entry
//! limit and [`MAX_REFERRER_PAGES`].

use reqwest::Url;

/// Most pages of one referrers answer read; more is refused, not truncated.
pub const MAX_REFERRER_PAGES: usize = 16;

/// The path and query of the next page `link` names, relative to `registry` (`host[:port]`):
/// `Ok(None)` when there is no next page, `Err` (a fixed text) when it points elsewhere.
pub(super) fn next_page(
    link: Option<&str>,
    registry: &str,
) -> Result<Option<String>, &'static str> {
    let Some(target) = link.and_then(next_target) else {
        return Ok(None);
    };
    let base = Url::parse(&format!("http://{registry}/")).map_err(|_| "not a registry address")?;
    let url = base
        .join(target)
        .map_err(|_| "its referrers Link is not a URL")?;
    let same_host = url.host_str() == base.host_str() && url.port() == base.port();
    let same_origin = match url.scheme() {
        // A relative link keeps the base's (placeholder) scheme; an absolute one must name the
        // registry itself.
        "http" | "https" => same_host,
        _ => false,
    };
    if !same_origin || !url.username().is_empty() || url.password().is_some() {
        return Err("its referrers Link points away from the registry");
    }
    if !url.path().starts_with("/v2/") {
        return Err("its referrers Link points outside the registry API");
    }
    Ok(Some(match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_string(),
    }))
}

/// The target of the `rel="next"` link of a `Link` header value.
fn next_target(value: &str) -> Option<&str> {
    value.split(',').find_map(|part| {
        let part = part.trim();
        let rest = part.strip_prefix('<')?;
        let (target, params) = rest.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
        });
        is_next.then_some(target)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_and_same_host_links_give_the_next_path() {
        let r = "reg.example:5000";
        let next = |l: &str| next_page(Some(l), r);
        assert_eq!(
            next(r#"</v2/a/referrers/sha256:1?n=2&last=x>; rel="next""#).unwrap(),
            Some("/v2/a/referrers/sha256:1?n=2&last=x".to_string())
        );
        assert_eq!(
            next(r#"<https://reg.example:5000/v2/a/referrers/x?p=2>;rel=next"#).unwrap(),
            Some("/v2/a/referrers/x?p=2".to_string())
        );
        assert_eq!(next(r#"</v2/a/b>; rel="prev""#).unwrap(), None);
        assert_eq!(next_page(None, r).unwrap(), None);
    }

    #[test]
    fn links_away_from_the_registry_or_its_api_are_refused() {
        for link in [
            r#"<https://elsewhere.example/v2/a/referrers/x>; rel="next""#,
            r#"<https://reg.example:5001/v2/a/referrers/x>; rel="next""#,
            r#"<https://u:p@reg.example:5000/v2/a>; rel="next""#,
            r#"<//elsewhere.example/v2/a>; rel="next""#,
            r#"</token?x=1>; rel="next""#,
            r#"</v2/../token>; rel="next""#,
            r#"<file:///v2/a>; rel="next""#,
        ] {
            assert!(next_page(Some(link), "reg.example:5000").is_err(), "{link}");
        }
    }
}
