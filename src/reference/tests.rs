//! Parsing and normalising whole references: Docker Hub spellings, registries, tags and digests
//! together, the `with_*` builders, errors, and inputs that must never panic.
//! distribution/reference's own test tables are in `upstream`.

use super::*;

mod upstream;

pub(super) const HEX_F: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
pub(super) const EMPTY_SHA256: &str =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn parse(input: &str) -> ImageReference {
    ImageReference::parse(input).unwrap_or_else(|e| panic!("{input:?} should parse: {e}"))
}

pub(super) fn parse_err(input: &str) -> ParseError {
    match ImageReference::parse(input) {
        Ok(r) => panic!("{input:?} should be rejected, parsed as {r}"),
        Err(e) => e,
    }
}

/// Asserts registry, repository, tag and digest of `input`.
fn check(input: &str, registry: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) {
    let r = parse(input);
    assert_eq!(r.registry(), registry, "registry of {input:?}");
    assert_eq!(r.repository(), repository, "repository of {input:?}");
    assert_eq!(r.tag(), tag, "tag of {input:?}");
    assert_eq!(
        r.digest().map(Digest::as_str),
        digest,
        "digest of {input:?}"
    );
}

/// Input, registry, repository, tag, digest.
type Expected<'a> = (String, &'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// Is this the error an input should give?
type ErrorCheck = fn(&ParseError) -> bool;

pub(super) fn sha256_f() -> String {
    format!("sha256:{HEX_F}")
}

#[test]
fn familiar_name_normalises_to_docker_hub_library_latest() {
    let r = parse("nginx");
    assert_eq!(r.to_string(), "docker.io/library/nginx:latest");
    assert_eq!(r.name(), "docker.io/library/nginx");
}

#[test]
fn docker_hub_spellings_normalise_to_one_name() {
    for input in [
        "nginx",
        "library/nginx",
        "docker.io/nginx",
        "docker.io/library/nginx",
        "index.docker.io/nginx",
        "index.docker.io/library/nginx",
    ] {
        assert_eq!(parse(input).name(), "docker.io/library/nginx", "{input:?}");
    }
}

#[test]
fn lookalike_registry_keeps_its_host() {
    check(
        "docker.io.evil.com/nginx",
        "docker.io.evil.com",
        "nginx",
        Some("latest"),
        None,
    );
    check(
        "evil.com/library/nginx",
        "evil.com",
        "library/nginx",
        Some("latest"),
        None,
    );
    check(
        "docker.io:443/nginx",
        "docker.io:443",
        "nginx",
        Some("latest"),
        None,
    );
}

#[test]
fn registry_host_names_are_lowercased() {
    check("GHCR.IO/org/app:v1", "ghcr.io", "org/app", Some("v1"), None);
    check(
        "Asdf.com/foo/bar",
        "asdf.com",
        "foo/bar",
        Some("latest"),
        None,
    );
    check(
        "DOCKER.IO/nginx",
        "docker.io",
        "library/nginx",
        Some("latest"),
        None,
    );
    check(
        "Index.Docker.IO/nginx",
        "docker.io",
        "library/nginx",
        Some("latest"),
        None,
    );
    check("LOCALHOST/a", "localhost", "a", Some("latest"), None);
    check(
        "Registry:5000/a",
        "registry:5000",
        "a",
        Some("latest"),
        None,
    );
    check(
        "[FE80::1]:5000/a",
        "[fe80::1]:5000",
        "a",
        Some("latest"),
        None,
    );
    // A single label keeps its case: "foo/bar" would be a Docker Hub repository.
    check("Foo/bar", "Foo", "bar", Some("latest"), None);
    assert_eq!(parse("Foo/bar").to_string(), "Foo/bar:latest");
    // The repository path stays case-sensitive, and uppercase there is an error.
    assert!(matches!(
        parse_err("ghcr.io/Org/app"),
        ParseError::Uppercase { .. }
    ));
    let mirror = parse("nginx").with_name("MIRROR.example", "nginx").unwrap();
    assert_eq!(mirror.registry(), "mirror.example");
}

#[test]
fn local_registries_with_ports() {
    check(
        "localhost:5000/a/b:t",
        "localhost:5000",
        "a/b",
        Some("t"),
        None,
    );
    check("localhost/a", "localhost", "a", Some("latest"), None);
    check(
        "127.0.0.1:5000/demo/hello:v1",
        "127.0.0.1:5000",
        "demo/hello",
        Some("v1"),
        None,
    );
    check(
        "[::1]:5000/repo",
        "[::1]:5000",
        "repo",
        Some("latest"),
        None,
    );
}

#[test]
fn tag_and_digest_are_both_kept() {
    let input = format!("repo:tag@{}", sha256_f());
    check(
        &input,
        "docker.io",
        "library/repo",
        Some("tag"),
        Some(&sha256_f()),
    );
    assert_eq!(
        parse(&input).to_string(),
        format!("docker.io/library/{input}")
    );
}

#[test]
fn digest_without_tag_has_no_tag() {
    let input = format!("ghcr.io/o/r@{}", sha256_f());
    check(&input, "ghcr.io", "o/r", None, Some(&sha256_f()));
    assert_eq!(parse(&input).to_string(), input);
}

#[test]
fn rejects_whitespace_empty_schemes_and_dangling_at() {
    assert_eq!(parse_err(""), ParseError::Empty);
    for input in [" nginx", "nginx ", "\tnginx", "nginx\n", " ", "\u{a0}nginx"] {
        assert!(
            matches!(parse_err(input), ParseError::Whitespace { .. }),
            "{input:?}"
        );
    }
    for input in [
        "https://ghcr.io/o/r",
        "http://localhost:5000/a",
        "oci://x/y",
        "docker://nginx",
    ] {
        assert!(
            matches!(parse_err(input), ParseError::Scheme { .. }),
            "{input:?}"
        );
    }
    for input in ["nginx@", "ghcr.io/o/r:tag@"] {
        assert!(
            matches!(parse_err(input), ParseError::MissingDigest { .. }),
            "{input:?}"
        );
    }
    for input in ["nginx in between", "ng inx", "nginx:la test"] {
        assert!(ImageReference::parse(input).is_err(), "{input:?}");
    }
}

#[test]
fn rejects_image_ids() {
    let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    assert!(matches!(parse_err(id), ParseError::ImageId { .. }));
    assert!(matches!(
        parse_err(&format!("sha256:{id}")),
        ParseError::ImageId { .. }
    ));
    let sha512 = format!("sha512:{id}{id}");
    assert!(matches!(parse_err(&sha512), ParseError::ImageId { .. }));
    let upper = format!("sha256:{}", id.to_uppercase());
    assert!(matches!(parse_err(&upper), ParseError::ImageId { .. }));
    let message = parse_err(id).to_string();
    assert!(
        message.contains(id) && message.contains("image ID"),
        "{message}"
    );
}

#[test]
fn rejects_bad_digests_in_references() {
    let cases = [
        format!("nginx@sha256:{}", HEX_F.to_uppercase()),
        format!("nginx@sha256:{}", &HEX_F[..63]),
        "nginx@sha256:../x".to_owned(),
        format!("nginx@md5:{HEX_F}"),
        format!("nginx@{HEX_F}"),
        format!("nginx@sha256:{HEX_F}@sha256:{HEX_F}"),
    ];
    for input in &cases {
        let err = parse_err(input);
        assert!(
            matches!(
                err,
                ParseError::InvalidDigest { .. } | ParseError::UnsupportedDigestAlgorithm { .. }
            ),
            "{input:?} -> {err:?}"
        );
    }
}

#[test]
fn error_messages_quote_the_input_and_stay_short() {
    let err = parse_err("docker/Docker").to_string();
    assert!(
        err.contains("\"docker/Docker\"") && err.contains("lowercase"),
        "{err}"
    );
    let huge = format!("{}\u{1F433}", "A".repeat(100_000));
    let err = parse_err(&huge).to_string();
    assert!(err.len() < 1_000, "message is {} bytes", err.len());
    let control = parse_err("ng\u{0}inx\n:x").to_string();
    assert!(
        !control.contains('\u{0}') && !control.contains('\n'),
        "{control:?}"
    );
}

// ---- with_* ------------------------------------------------------------------------

#[test]
fn with_digest_keeps_tag_and_replaces_digest() {
    let d = Digest::sha256_of(b"");
    let r = parse("ghcr.io/o/r:v1").with_digest(d.clone());
    assert_eq!(r.to_string(), format!("ghcr.io/o/r:v1@{EMPTY_SHA256}"));
    let other = Digest::parse(&sha256_f()).unwrap();
    let r = r.with_digest(other.clone());
    assert_eq!(r.digest(), Some(&other));
    assert_eq!(r.tag(), Some("v1"));
    let untagged = parse(&format!("ghcr.io/o/r@{}", sha256_f())).with_digest(d);
    assert_eq!(untagged.to_string(), format!("ghcr.io/o/r@{EMPTY_SHA256}"));
}

#[test]
fn with_tag_builds_cosign_signature_tags() {
    let d = Digest::sha256_of(b"");
    let base = parse(&format!("ghcr.io/o/r:v1@{}", sha256_f()));
    let sig = base.with_tag(&format!("{}.sig", d.tag_prefix())).unwrap();
    assert_eq!(
        sig.to_string(),
        "ghcr.io/o/r:sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855.sig"
    );
    assert_eq!(sig.digest(), None);
    assert_eq!(parse(&sig.to_string()), sig);
    // Upstream TestWithTag.
    assert_eq!(
        parse("test.com/foo").with_tag("tag").unwrap().to_string(),
        "test.com/foo:tag"
    );
    assert_eq!(
        parse("foo").with_tag("tag2").unwrap().to_string(),
        "docker.io/library/foo:tag2"
    );
    assert_eq!(
        parse("test.com:8000/foo")
            .with_tag("TAG5")
            .unwrap()
            .to_string(),
        "test.com:8000/foo:TAG5"
    );
    // Upstream TestInvalidReferenceComponents.
    for bad in ["-foo", "", ".x", "a/b", "a:b", "a@b", &"a".repeat(129)] {
        assert!(
            matches!(base.with_tag(bad), Err(ParseError::InvalidTag { .. })),
            "{bad:?}"
        );
    }
    assert!(base.with_tag(&"a".repeat(128)).is_ok());
}

#[test]
fn with_name_moves_tag_and_digest_to_a_mirror() {
    let input = format!("nginx:1.27@{}", sha256_f());
    let r = parse(&input);
    let m = r
        .with_name("mirror.example:5000", "dockerhub/library/nginx")
        .unwrap();
    assert_eq!(
        m.to_string(),
        format!(
            "mirror.example:5000/dockerhub/library/nginx:1.27@{}",
            sha256_f()
        )
    );
    let hub = parse("ghcr.io/o/r:v1")
        .with_name("index.docker.io", "nginx")
        .unwrap();
    assert_eq!(hub.to_string(), "docker.io/library/nginx:v1");
    assert_eq!(parse(&m.to_string()), m);
}

#[test]
fn with_name_rejects_what_would_not_round_trip() {
    let r = parse("nginx");
    for (registry, repository) in [
        ("mirror", "nginx"),
        ("", "nginx"),
        ("mirror.example", ""),
        ("mirror.example", "Nginx"),
        ("mirror.example", "a:b"),
        ("mirror.example", "a@b"),
        ("mirror.example/x", "a"),
        ("bad_host.example", "a"),
        ("https://mirror.example", "a"),
        (" mirror.example", "a"),
    ] {
        assert!(
            r.with_name(registry, repository).is_err(),
            "{registry:?} {repository:?}"
        );
    }
}

#[test]
fn first_component_registry_must_be_a_valid_host() {
    // Upstream falls back to a registry-less name here; a runtime would dial the host.
    for input in ["foo_bar.com/app", "a.b_c/foo", "Foo_Bar/app"] {
        assert!(
            matches!(
                parse_err(input),
                ParseError::InvalidRegistry { .. } | ParseError::Uppercase { .. }
            ),
            "{input:?}"
        );
    }
}

// ---- never panic ------------------------------------------------------------------------

/// Every successful parse prints to a string that parses back to the same reference.
fn assert_round_trip(input: &str) {
    if let Ok(r) = ImageReference::parse(input) {
        let printed = r.to_string();
        assert_eq!(
            ImageReference::parse(&printed).as_ref(),
            Ok(&r),
            "{input:?} -> {printed:?}"
        );
    }
}

#[test]
fn weird_inputs_never_panic_and_round_trip() {
    let hex = HEX_F;
    let weird = [
        "",
        " ",
        "\0",
        "\u{1F433}",
        "é",
        "\u{202e}nginx",
        ":",
        "::",
        "@",
        "@@",
        "/",
        "//",
        "///",
        ":/",
        "/:",
        "@:",
        ":@",
        "[",
        "]",
        "[]",
        "[:]",
        "[::]",
        "[::]/a",
        "[::1]:/a",
        "[::1]:a/b",
        "a:",
        "a@",
        "a/",
        "/a",
        "a//b",
        "a/b/",
        "a:b:c",
        "a:b/c:d",
        "a@b:c",
        "a@sha256:",
        "@sha256:",
        "localhost",
        "localhost:",
        "localhost:/a",
        "LOCALHOST/a",
        "docker.io",
        "docker.io/",
        "index.docker.io",
        "index.docker.io/",
        "index.docker.io/a/b:c",
        "http:",
        "http:/x",
        "https://",
        "file:///etc/passwd",
        "../../etc/passwd",
        "./a",
        "~a",
        "a b",
        "a\tb",
        "a\nb",
        "a%2fb",
        "a%00",
        "é.com/a",
        "a.é/b",
        "ex\u{0301}ample.com/a",
        "\u{ff0e}com/a",
        "xn--/a",
        "-/a",
        "a-/a",
        ".a/b",
        "a./b",
        "a..b/c",
        "1.2.3.4.5/a",
        "999999999999999999999:1/a",
        "a:99999999999999999999999999/b",
        "a:-1/b",
        "a:+1/b",
        "a:0x10/b",
        "[fe80::1%25eth0]/a",
        "sha256:",
        "sha256:x",
        "sha512:",
        "SHA256:abc",
        "a@SHA256:abc",
        "a@sha256:\u{1F433}",
    ];
    let long_inputs = [
        "a".repeat(10_000),
        "/".repeat(10_000),
        ":".repeat(10_000),
        "@".repeat(10_000),
        format!("{}b", "a/".repeat(5_000)),
        format!("x.com/{}", "a-".repeat(5_000)),
        format!("a:{}", "t".repeat(10_000)),
        format!("a@sha256:{}", hex.repeat(100)),
        "\u{1F433}".repeat(3_000),
    ];
    for input in weird
        .iter()
        .copied()
        .chain(long_inputs.iter().map(String::as_str))
    {
        assert_round_trip(input);
        let _ = Digest::parse(input);
        let _ = parse("nginx").with_tag(input);
        let _ = parse("nginx").with_name(input, input);
        let _ = parse("nginx").with_name("ghcr.io", input);
    }
}

#[test]
fn combinations_of_fragments_never_panic_and_round_trip() {
    let fragments = [
        "",
        "a",
        "A",
        "0",
        "/",
        ":",
        "@",
        ".",
        "-",
        "_",
        "__",
        "[",
        "]",
        "::1",
        "5000",
        "sha256:",
        HEX_F,
        "localhost",
        "docker.io",
        "index.docker.io",
        "é",
        " ",
        "%",
        "\u{0}",
        "latest",
    ];
    for a in fragments {
        for b in fragments {
            for c in fragments {
                assert_round_trip(&format!("{a}{b}{c}"));
                assert_round_trip(&format!("{a}/{b}:{c}"));
                assert_round_trip(&format!("{a}.{b}/{c}@sha256:{HEX_F}"));
            }
        }
    }
}

#[test]
fn random_strings_never_panic_and_round_trip() {
    let alphabet: Vec<char> = "abcAZ09._-/:@[]% \u{0}é\u{1F433}".chars().collect();
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let len = (next() % 40) as usize;
        let s: String = (0..len)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        assert_round_trip(&s);
        let _ = Digest::parse(&s);
    }
}

/// `text` is `Display` in one allocation, for every shape: tag, digest, both, a port.
#[test]
fn text_is_the_display_form() {
    let digest = sha256_f();
    for input in [
        "nginx".to_string(),
        format!("ghcr.io/org/app@{digest}"),
        format!("localhost:5000/a/b/c:v1@{digest}"),
        "registry.example:443/team/app:1.2".to_string(),
    ] {
        let reference = parse(&input);
        assert_eq!(reference.text(), reference.to_string(), "{input}");
        assert_eq!(
            reference.text().len(),
            reference.text().capacity(),
            "{input}"
        );
    }
}
