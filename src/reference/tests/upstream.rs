//! distribution/reference's own test tables (`reference_test.go`, `normalize_test.go`,
//! `regexp_test.go`), run against [`ImageReference::parse`].

use super::*;
use crate::reference::grammar::{is_valid_path, is_valid_registry};

// ---- distribution/reference reference_test.go: TestReferenceParse ------------------
// Upstream runs `Parse` (no normalisation); the expectations below are what
// `ParseNormalizedNamed` + `TagNameOnly` give for the same inputs.

#[test]
fn upstream_reference_parse_valid() {
    let d = sha256_f();
    let d512 = format!("sha512:{}", "f".repeat(128));
    let cases: Vec<Expected> = vec![
        (
            "test_com".into(),
            "docker.io",
            "library/test_com",
            Some("latest"),
            None,
        ),
        (
            "test.com:tag".into(),
            "docker.io",
            "library/test.com",
            Some("tag"),
            None,
        ),
        (
            "test.com:5000".into(),
            "docker.io",
            "library/test.com",
            Some("5000"),
            None,
        ),
        (
            "test.com/repo:tag".into(),
            "test.com",
            "repo",
            Some("tag"),
            None,
        ),
        (
            "test:5000/repo".into(),
            "test:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "test:5000/repo:tag".into(),
            "test:5000",
            "repo",
            Some("tag"),
            None,
        ),
        (
            format!("test:5000/repo@{d}"),
            "test:5000",
            "repo",
            None,
            Some(&d),
        ),
        (
            format!("test:5000/repo:tag@{d}"),
            "test:5000",
            "repo",
            Some("tag"),
            Some(&d),
        ),
        (
            "lowercase:Uppercase".into(),
            "docker.io",
            "library/lowercase",
            Some("Uppercase"),
            None,
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux".into(),
            "sub-dom1.foo.com",
            "bar/baz/quux",
            Some("latest"),
            None,
        ),
        (
            "sub-dom1.foo.com/bar/baz/quux:some-long-tag".into(),
            "sub-dom1.foo.com",
            "bar/baz/quux",
            Some("some-long-tag"),
            None,
        ),
        (
            "b.gcr.io/test.example.com/my-app:test.example.com".into(),
            "b.gcr.io",
            "test.example.com/my-app",
            Some("test.example.com"),
            None,
        ),
        (
            "xn--n3h.com/myimage:xn--n3h.com".into(),
            "xn--n3h.com",
            "myimage",
            Some("xn--n3h.com"),
            None,
        ),
        (
            format!("xn--7o8h.com/myimage:xn--7o8h.com@{d512}"),
            "xn--7o8h.com",
            "myimage",
            Some("xn--7o8h.com"),
            Some(&d512),
        ),
        (
            "foo_bar.com:8080".into(),
            "docker.io",
            "library/foo_bar.com",
            Some("8080"),
            None,
        ),
        (
            "foo/foo_bar.com:8080".into(),
            "docker.io",
            "foo/foo_bar.com",
            Some("8080"),
            None,
        ),
        (
            "192.168.1.1".into(),
            "docker.io",
            "library/192.168.1.1",
            Some("latest"),
            None,
        ),
        (
            "192.168.1.1:tag".into(),
            "docker.io",
            "library/192.168.1.1",
            Some("tag"),
            None,
        ),
        (
            "192.168.1.1:5000".into(),
            "docker.io",
            "library/192.168.1.1",
            Some("5000"),
            None,
        ),
        (
            "192.168.1.1/repo".into(),
            "192.168.1.1",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "192.168.1.1:5000/repo".into(),
            "192.168.1.1:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "192.168.1.1:5000/repo:5050".into(),
            "192.168.1.1:5000",
            "repo",
            Some("5050"),
            None,
        ),
        (
            "[2001:db8::1]/repo".into(),
            "[2001:db8::1]",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "[2001:db8:1:2:3:4:5:6]/repo:tag".into(),
            "[2001:db8:1:2:3:4:5:6]",
            "repo",
            Some("tag"),
            None,
        ),
        (
            "[2001:db8::1]:5000/repo".into(),
            "[2001:db8::1]:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "[2001:db8::1]:5000/repo:tag".into(),
            "[2001:db8::1]:5000",
            "repo",
            Some("tag"),
            None,
        ),
        (
            format!("[2001:db8::1]:5000/repo@{d}"),
            "[2001:db8::1]:5000",
            "repo",
            None,
            Some(&d),
        ),
        (
            format!("[2001:db8::1]:5000/repo:tag@{d}"),
            "[2001:db8::1]:5000",
            "repo",
            Some("tag"),
            Some(&d),
        ),
        (
            "[2001:db8::]:5000/repo".into(),
            "[2001:db8::]:5000",
            "repo",
            Some("latest"),
            None,
        ),
        (
            "[::1]:5000/repo".into(),
            "[::1]:5000",
            "repo",
            Some("latest"),
            None,
        ),
    ];
    for (input, registry, repository, tag, digest) in &cases {
        check(input, registry, repository, *tag, *digest);
    }
}

#[test]
fn upstream_reference_parse_invalid() {
    let d = sha256_f();
    let cases: Vec<(String, ErrorCheck)> = vec![
        ("".into(), |e| *e == ParseError::Empty),
        (":justtag".into(), |e| {
            matches!(e, ParseError::MissingName { .. })
        }),
        (format!("@{d}"), |e| {
            matches!(e, ParseError::MissingName { .. })
        }),
        (
            "repo@sha256:ffffffffffffffffffffffffffffffffff".into(),
            |e| matches!(e, ParseError::InvalidDigest { .. }),
        ),
        (format!("validname@invaliddigest:{HEX_F}"), |e| {
            matches!(e, ParseError::UnsupportedDigestAlgorithm { .. })
        }),
        ("Uppercase:tag".into(), |e| {
            matches!(e, ParseError::Uppercase { .. })
        }),
        ("test:5000/Uppercase/lowercase:tag".into(), |e| {
            matches!(e, ParseError::Uppercase { .. })
        }),
        (format!("{}a:tag", "a/".repeat(128)), |e| {
            matches!(e, ParseError::NameTooLong { .. })
        }),
        ("aa/asdf$$^/aa".into(), |e| {
            matches!(e, ParseError::InvalidRepository { .. })
        }),
        ("[2001:db8::1]".into(), |e| {
            matches!(e, ParseError::InvalidTag { .. })
        }),
        ("[2001:db8::1]:5000".into(), |e| {
            matches!(e, ParseError::InvalidRepository { .. })
        }),
        ("[2001:db8::1]:tag".into(), |e| {
            matches!(e, ParseError::InvalidRepository { .. })
        }),
        ("[fe80::1%eth0]:5000/repo".into(), |e| {
            matches!(e, ParseError::InvalidRegistry { .. })
        }),
        ("[fe80::1%@invalidzone]:5000/repo".into(), |e| {
            matches!(e, ParseError::UnsupportedDigestAlgorithm { .. })
        }),
    ];
    for (input, expected) in &cases {
        let err = parse_err(input);
        assert!(expected(&err), "{input:?} -> {err:?}");
    }
}

/// Upstream's "RepoAlmostTooLong" case is 255 characters without a registry; normalised
/// it becomes `docker.io/a/…` (265), over the limit on the whole name. distribution/reference
/// v0.6 counts only the path and would accept it; we follow the stricter whole-name rule.
#[test]
fn name_length_counts_the_normalised_registry() {
    let almost = format!("{}a:tag-puts-this-over-max", "a/".repeat(127));
    assert!(matches!(
        parse_err(&almost),
        ParseError::NameTooLong { length: 265, .. }
    ));
    let path = format!("{}a", "a/".repeat(122)); // 245 characters
    check(
        &format!("docker.io/{path}:t"),
        "docker.io",
        &path,
        Some("t"),
        None,
    );
    let over = format!("{path}b"); // 246 + "docker.io/" = 256
    assert!(matches!(
        parse_err(&format!("docker.io/{over}")),
        ParseError::NameTooLong { length: 256, .. }
    ));
}

#[test]
fn upstream_tag_length_limit() {
    let tag128 = "t".repeat(128);
    check(
        &format!("ghcr.io/o/r:{tag128}"),
        "ghcr.io",
        "o/r",
        Some(&tag128),
        None,
    );
    let tag129 = "t".repeat(129);
    assert!(matches!(
        parse_err(&format!("ghcr.io/o/r:{tag129}")),
        ParseError::InvalidTag { .. }
    ));
    for bad in [".t", "-t", "t~", "t!", "t/"] {
        assert!(
            ImageReference::parse(&format!("ghcr.io/o/r:{bad}")).is_err(),
            "{bad:?}"
        );
    }
    check("ghcr.io/o/r:_T.9-x", "ghcr.io", "o/r", Some("_T.9-x"), None);
}

// ---- normalize_test.go --------------------------------------------------------------

#[test]
fn upstream_validate_reference_name() {
    let valid = [
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
    ];
    for input in valid {
        parse(input);
    }
    let invalid = [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    ];
    for input in invalid {
        parse_err(input);
    }
}

#[test]
fn upstream_validate_remote_name() {
    let valid = [
        "docker/docker",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ];
    for input in valid {
        parse(input);
    }
    let long_namespace = format!(
        "{}/docker",
        ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4].join("_")
    );
    let invalid = [
        "docker/Docker",
        "docker///docker",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "-docker/docker",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        &long_namespace,
    ];
    for input in invalid {
        parse_err(input);
    }
    assert!(matches!(
        parse_err(&long_namespace),
        ParseError::NameTooLong { .. }
    ));
}

#[test]
fn upstream_parse_repository_info() {
    // (full name, registry, repository, other spellings of the same name)
    let cases: [(&str, &str, &str, &[&str]); 16] = [
        (
            "docker.io/fooo/bar",
            "docker.io",
            "fooo/bar",
            &["fooo/bar", "index.docker.io/fooo/bar"],
        ),
        (
            "docker.io/library/ubuntu",
            "docker.io",
            "library/ubuntu",
            &["ubuntu", "library/ubuntu"],
        ),
        (
            "docker.io/nonlibrary/ubuntu",
            "docker.io",
            "nonlibrary/ubuntu",
            &["nonlibrary/ubuntu"],
        ),
        (
            "docker.io/other/library",
            "docker.io",
            "other/library",
            &["other/library"],
        ),
        (
            "127.0.0.1:8000/private/moonbase",
            "127.0.0.1:8000",
            "private/moonbase",
            &[],
        ),
        (
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000",
            "privatebase",
            &[],
        ),
        (
            "example.com/private/moonbase",
            "example.com",
            "private/moonbase",
            &[],
        ),
        ("example.com/privatebase", "example.com", "privatebase", &[]),
        (
            "example.com:8000/private/moonbase",
            "example.com:8000",
            "private/moonbase",
            &[],
        ),
        (
            "example.com:8000/privatebasee",
            "example.com:8000",
            "privatebasee",
            &[],
        ),
        (
            "docker.io/library/ubuntu-12.04-base",
            "docker.io",
            "library/ubuntu-12.04-base",
            &[
                "ubuntu-12.04-base",
                "index.docker.io/library/ubuntu-12.04-base",
            ],
        ),
        (
            "docker.io/library/foo",
            "docker.io",
            "library/foo",
            &["foo", "docker.io/foo"],
        ),
        (
            "docker.io/library/foo/bar",
            "docker.io",
            "library/foo/bar",
            &["library/foo/bar"],
        ),
        (
            "docker.io/store/foo/bar",
            "docker.io",
            "store/foo/bar",
            &["store/foo/bar"],
        ),
        ("Foo/bar", "Foo", "bar", &[]),
        ("FOO/bar", "FOO", "bar", &[]),
    ];
    for (full, registry, repository, others) in cases {
        for input in std::iter::once(&full).chain(others) {
            let r = parse(input);
            assert_eq!(r.name(), full, "{input:?}");
            assert_eq!(r.registry(), registry, "{input:?}");
            assert_eq!(r.repository(), repository, "{input:?}");
        }
    }
}

#[test]
fn upstream_parse_reference_with_tag_and_digest() {
    let short =
        "busybox:latest@sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r = parse(short);
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"));
    assert!(r.digest().is_some());
}

#[test]
fn upstream_parse_any_reference() {
    let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let cases = [
        ("redis".to_owned(), "docker.io/library/redis:latest".to_owned()),
        ("redis:latest".into(), "docker.io/library/redis:latest".into()),
        ("docker.io/library/redis:latest".into(), "docker.io/library/redis:latest".into()),
        (format!("redis@{d}"), format!("docker.io/library/redis@{d}")),
        (format!("docker.io/library/redis@{d}"), format!("docker.io/library/redis@{d}")),
        ("dmcgowan/myapp".into(), "docker.io/dmcgowan/myapp:latest".into()),
        ("dmcgowan/myapp:latest".into(), "docker.io/dmcgowan/myapp:latest".into()),
        ("docker.io/mcgowan/myapp:latest".into(), "docker.io/mcgowan/myapp:latest".into()),
        (format!("dmcgowan/myapp@{d}"), format!("docker.io/dmcgowan/myapp@{d}")),
        (format!("docker.io/dmcgowan/myapp@{d}"), format!("docker.io/dmcgowan/myapp@{d}")),
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".into(),
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9:latest"
                .into(),
        ),
        ("dbcc1".into(), "docker.io/library/dbcc1:latest".into()),
    ];
    for (input, expected) in &cases {
        assert_eq!(parse(input).to_string(), *expected, "{input:?}");
    }
    // ParseAnyReference reads these as digest-only references; a pod image must name a
    // repository, so they are rejected as image IDs.
    for input in [&d[7..], d] {
        assert!(
            matches!(parse_err(input), ParseError::ImageId { .. }),
            "{input:?}"
        );
    }
}

#[test]
fn upstream_normalized_split_hostname() {
    let cases = [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
    ];
    for (input, registry, repository) in cases {
        check(input, registry, repository, Some("latest"), None);
    }
}

// ---- reference_test.go: TestDomainAndPath, TestSerialization, TestWithDigest ----------

#[test]
fn upstream_domain_and_path() {
    check("test.com/foo", "test.com", "foo", Some("latest"), None);
    check("test:8080/foo", "test:8080", "foo", Some("latest"), None);
    check(
        "test.com:8080/foo",
        "test.com:8080",
        "foo",
        Some("latest"),
        None,
    );
    check(
        "test-com:8080/foo",
        "test-com:8080",
        "foo",
        Some("latest"),
        None,
    );
    check(
        "xn--n3h.com:18080/foo",
        "xn--n3h.com:18080",
        "foo",
        Some("latest"),
        None,
    );
    // Upstream (no normalisation) reads "test_com" as a path component; so do we.
    check(
        "test_com/foo",
        "docker.io",
        "test_com/foo",
        Some("latest"),
        None,
    );
}

#[test]
fn upstream_serialization_round_trips() {
    let d = "sha256:1234567890098765432112345667890098765432112345667890098765432112";
    for input in [
        "example.com:8000/named:latest".to_owned(),
        "example.com:8000/named:tagged".to_owned(),
        format!("other.com/named@{d}"),
    ] {
        assert_eq!(parse(&input).to_string(), input);
    }
}

#[test]
fn upstream_with_digest() {
    let d = Digest::parse(&sha256_f()).unwrap();
    let f = sha256_f();
    let cases = [
        ("test.com/foo", format!("test.com/foo:latest@{f}")),
        ("foo", format!("docker.io/library/foo:latest@{f}")),
        (
            "test.com:8000/foo:latest",
            format!("test.com:8000/foo:latest@{f}"),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(parse(input).with_digest(d.clone()).to_string(), expected);
    }
}

// ---- regexp_test.go -------------------------------------------------------------------

#[test]
fn upstream_domain_regexp() {
    let cases = [
        ("test.com", true),
        ("test.com:10304", true),
        ("test.com:http", false),
        ("localhost", true),
        ("localhost:8080", true),
        ("a", true),
        ("a.b", true),
        ("ab.cd.com", true),
        ("a-b.com", true),
        ("-ab.com", false),
        ("ab-.com", false),
        ("ab.c-om", true),
        ("ab.-com", false),
        ("ab.com-", false),
        ("0101.com", true),
        ("001a.com", true),
        ("b.gbc.io:443", true),
        ("b.gbc.io", true),
        ("xn--n3h.com", true),
        ("Asdf.com", true),
        ("192.168.1.1:75050", true),
        ("192.168.1.1:750050", true),
        ("[fd00:1:2::3]:75050", true),
        ("[fd00:1:2::3]75050", false),
        ("[fd00:1:2::3]::75050", false),
        ("[fd00:1:2::3%eth0]:75050", false),
        ("[fd00123123123]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
        ("fd00:1:2::3:75050", false),
        // Not upstream: edges of the same grammar.
        ("", false),
        ("test.com:", false),
        ("test.com.", false),
        (".test.com", false),
        ("[]", false),
        ("[::1", false),
        ("te_st.com", false),
    ];
    for (input, valid) in cases {
        assert_eq!(is_valid_registry(input), valid, "{input:?}");
    }
}

/// `anchoredNameRegexp`: an optional `domain/` then a path.
fn name_regexp_matches(s: &str) -> bool {
    is_valid_path(s)
        || s.split_once('/')
            .is_some_and(|(domain, path)| is_valid_registry(domain) && is_valid_path(path))
}

#[test]
fn upstream_full_name_regexp() {
    let cases = [
        ("", false),
        ("short", true),
        ("simple/name", true),
        ("library/ubuntu", true),
        ("docker/stevvooe/app", true),
        ("aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb", true),
        ("aa/aa/bb/bb/bb", true),
        ("a/a/a/a", true),
        ("a/a/a/a/", false),
        ("a//a/a", false),
        ("a", true),
        ("a/aa", true),
        ("a/aa/a", true),
        ("foo.com", true),
        ("foo.com/", false),
        ("foo.com:8080/bar", true),
        ("foo.com:http/bar", false),
        ("foo.com/bar", true),
        ("foo.com/bar/baz", true),
        ("localhost:8080/bar", true),
        ("sub-dom1.foo.com/bar/baz/quux", true),
        ("blog.foo.com/bar/baz", true),
        ("a^a", false),
        ("aa/asdf$$^/aa", false),
        ("asdf$$^/aa", false),
        ("aa-a/a", true),
        ("a-/a/a/a", false),
        ("foo.com/a-/a/a", false),
        ("-foo/bar", false),
        ("foo/bar-", false),
        ("foo-/bar", false),
        ("foo/-bar", false),
        ("_foo/bar", false),
        ("foo_bar", true),
        ("foo_bar.com", true),
        ("foo_bar.com:8080", false),
        ("foo_bar.com:8080/app", false),
        ("foo.com/foo_bar", true),
        ("____/____", false),
        ("_docker/_docker", false),
        ("docker_/docker_", false),
        ("b.gcr.io/test.example.com/my-app", true),
        ("xn--n3h.com/myimage", true),
        ("xn--7o8h.com/myimage", true),
        ("example.com/xn--7o8h.com/myimage", true),
        ("example.com/some_separator__underscore/myimage", true),
        ("example.com/__underscore/myimage", false),
        ("example.com/..dots/myimage", false),
        ("example.com/.dots/myimage", false),
        ("example.com/nodouble..dots/myimage", false),
        ("docker./docker", false),
        (".docker/docker", false),
        ("docker-/docker", false),
        ("-docker/docker", false),
        ("do..cker/docker", false),
        ("do__cker:8080/docker", false),
        ("do__cker/docker", true),
        (
            "registry.io/foo/project--id.module--name.ver---sion--name",
            true,
        ),
        ("Asdf.com/foo/bar", true),
        ("Foo/FarB", false),
    ];
    for (input, matches) in cases {
        assert_eq!(name_regexp_matches(input), matches, "{input:?}");
    }
    assert!(name_regexp_matches(&format!("{}a", "a/".repeat(128))));
}

#[test]
fn upstream_reference_regexp() {
    let d = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912";
    let valid = [
        (
            "registry.com:8080/myapp:tag".to_owned(),
            "registry.com:8080",
            "myapp",
            Some("tag"),
            None,
        ),
        (
            format!("registry.com:8080/myapp@{d}"),
            "registry.com:8080",
            "myapp",
            None,
            Some(d),
        ),
        (
            format!("registry.com:8080/myapp:tag2@{d}"),
            "registry.com:8080",
            "myapp",
            Some("tag2"),
            Some(d),
        ),
        // "localhost" without a slash is a Docker Hub name; 8080 is its tag.
        (
            format!("localhost:8080@{d}"),
            "docker.io",
            "library/localhost",
            Some("8080"),
            Some(d),
        ),
        (
            format!("localhost:8080/name@{d}"),
            "localhost:8080",
            "name",
            None,
            Some(d),
        ),
        (
            format!("localhost@{d}"),
            "docker.io",
            "library/localhost",
            None,
            Some(d),
        ),
    ];
    for (input, registry, repository, tag, digest) in &valid {
        check(input, registry, repository, *tag, *digest);
    }
    let invalid = [
        "registry.com:8080/myapp@sha256:badbadbadbad".to_owned(),
        "registry.com:8080/myapp:invalid~tag".into(),
        "bad_hostname.com:8080/myapp:tag".into(),
        format!("localhost:http/name@{d}"),
        "registry.com:8080/myapp@bad".into(),
        "registry.com:8080/myapp@2bad".into(),
    ];
    for input in &invalid {
        parse_err(input);
    }
}

#[test]
fn upstream_identifier_regexp() {
    let id = "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821";
    assert!(matches!(parse_err(id), ParseError::ImageId { .. }));
    // Uppercase is not an identifier; as a name it is not lowercase.
    let upper = "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C";
    assert!(matches!(parse_err(upper), ParseError::Uppercase { .. }));
    // 60 and 68 hex characters are ordinary repository names.
    for name in [&id[..60], &format!("{id}8482")] {
        check(
            name,
            "docker.io",
            &format!("library/{name}"),
            Some("latest"),
            None,
        );
    }
    // Upstream reads this as library/sha256 with a hex tag; we call it an image ID.
    assert!(matches!(
        parse_err(&format!("sha256:{id}")),
        ParseError::ImageId { .. }
    ));
}
