//! [`Digest`] parsing, hashing and formatting.

use super::*;
use crate::reference::tests::{EMPTY_SHA256, HEX_F, parse_err, sha256_f};

// ---- Digest ------------------------------------------------------------------------

#[test]
fn digest_accepts_sha256_and_sha512() {
    let d = Digest::parse(&sha256_f()).unwrap();
    assert_eq!(d.algorithm(), "sha256");
    assert_eq!(d.hex(), HEX_F);
    assert_eq!(d.as_str(), sha256_f());
    let long = format!("sha512:{}", "f".repeat(128));
    let d = Digest::parse(&long).unwrap();
    assert_eq!(d.algorithm(), "sha512");
    assert_eq!(d.hex().len(), 128);
}

#[test]
fn digest_rejects_malformed_values() {
    let upper = format!("sha256:{}", HEX_F.to_uppercase());
    let short = format!("sha256:{}", &HEX_F[..63]);
    let long = format!("sha256:{HEX_F}f");
    let sha512_short = format!("sha512:{HEX_F}");
    let non_hex = format!("sha256:{}g", &HEX_F[..63]);
    let multibyte = format!("sha256:{}é", &HEX_F[..62]);
    for bad in [
        "",
        "sha256",
        "sha256:",
        ":",
        ":abc",
        "sha256:../x",
        "sha256:../../etc/passwd",
        &upper,
        &short,
        &long,
        &sha512_short,
        &non_hex,
        &multibyte,
    ] {
        assert!(
            matches!(Digest::parse(bad), Err(ParseError::InvalidDigest { .. })),
            "{bad:?} -> {:?}",
            Digest::parse(bad)
        );
    }
}

#[test]
fn digest_rejects_unknown_algorithms() {
    for algorithm in [
        "md5",
        "sha1",
        "sha384",
        "SHA256",
        "sha256+b64",
        "invaliddigest",
    ] {
        let input = format!("{algorithm}:{HEX_F}");
        let err = Digest::parse(&input).unwrap_err();
        assert!(
            matches!(err, ParseError::UnsupportedDigestAlgorithm { .. }),
            "{input:?} -> {err:?}"
        );
    }
}

#[test]
fn digest_of_bytes_and_matching() {
    let d = Digest::sha256_of(b"");
    assert_eq!(d.as_str(), EMPTY_SHA256);
    assert!(d.matches(b""));
    assert!(!d.matches(b"x"));
    let hello =
        Digest::parse("sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
            .unwrap();
    assert!(hello.matches(b"hello"));
    assert_eq!(Digest::sha256_of(b"hello"), hello);
    let hello512 = Digest::parse(
        "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca7\
         2323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043",
    )
    .unwrap();
    assert!(hello512.matches(b"hello"));
    assert!(!hello512.matches(b"hello!"));
}

#[test]
fn digest_tag_prefix_display_fromstr_and_serialize() {
    let d: Digest = EMPTY_SHA256.parse().unwrap();
    assert_eq!(
        d.tag_prefix(),
        "sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(d.to_string(), EMPTY_SHA256);
    assert_eq!(
        serde_json::to_string(&d).unwrap(),
        format!("\"{EMPTY_SHA256}\"")
    );
}

#[test]
fn digest_error_names_the_digest_and_the_reference() {
    let err = Digest::parse("sha256:abc").unwrap_err().to_string();
    assert!(err.contains("\"sha256:abc\""), "{err}");
    assert!(err.contains("64"), "{err}");
    assert!(!err.contains("image reference"), "{err}");
    let err = parse_err("nginx@sha256:abc").to_string();
    assert!(err.contains("\"nginx@sha256:abc\""), "{err}");
}
