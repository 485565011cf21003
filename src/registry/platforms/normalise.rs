//! Platform names as the container runtimes read them.
//!
//! containerd compares platforms only after normalising them (its `platforms.Normalize`): OS and
//! architecture are lower-cased, `x86_64`/`x86-64` mean `amd64`, `aarch64` means `arm64`,
//! `armhf` is `arm/v7`, `armel` is `arm/v6`, `i386` is `386`, a bare `arm` is `arm/v7`, `arm64/v8`
//! is plain `arm64`, `amd64/v1` is plain `amd64`. Signet must read a child's platform the same way,
//! or an unsigned `linux/x86_64` child is pulled on an `amd64` node while Signet thinks it never
//! runs there. A platform that does not normalise to a known OS and architecture (empty, non-ASCII,
//! a name no runtime knows) cannot be placed at all; the caller must then assume it may run
//! anywhere (fail closed).
//!
//! Which children a node may pull is wider than "same architecture": containerd lets an `amd64`
//! node fall back to `386`, an `arm64` node to 32-bit `arm`, an `arm/v7` node to `arm/v6` and
//! `arm/v5`; CRI-O (containers/image) accepts a child with any variant when none is preferred.
//! [`Platform::may_run_on`] is the union of those, variants ignored.

use super::Platform;

/// Operating systems Go (and so containerd) knows, after lower-casing: `go/build/syslist.go`.
const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "hurd",
    "illumos",
    "ios",
    "js",
    "linux",
    "nacl",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "windows",
    "zos",
];

/// Architectures Go (and so containerd) knows, after normalising.
const KNOWN_ARCH: &[&str] = &[
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// The OS BuildKit writes on attestation entries (`unknown/unknown`): no runtime pulls it.
const ATTESTATION_OS: &str = "unknown";

impl Platform {
    /// This platform as containerd normalises it, or `None` when it does not normalise to an OS
    /// and architecture a runtime knows (the caller must then treat it as runnable anywhere).
    pub fn normalised(&self) -> Option<Platform> {
        let ascii = |s: &str| s.is_ascii().then(|| s.to_ascii_lowercase());
        let os = ascii(&self.os)?;
        let os = if os == "macos" { "darwin".into() } else { os };
        let variant = ascii(self.variant.as_deref().unwrap_or(""))?;
        let (architecture, variant) = normalise_architecture(ascii(&self.architecture)?, variant);
        let known = KNOWN_OS.contains(&os.as_str()) && KNOWN_ARCH.contains(&architecture.as_str());
        known.then(|| Platform {
            os,
            architecture,
            variant: (!variant.is_empty()).then_some(variant),
        })
    }

    /// Whether no runtime ever pulls a child of this platform: BuildKit's attestation entries
    /// (`unknown/unknown`), whose OS matches no node in any spelling.
    pub fn is_attestation(&self) -> bool {
        self.os.eq_ignore_ascii_case(ATTESTATION_OS)
    }

    /// Whether some runtime on a node of `node` may pull a child of this platform, both already
    /// [`normalised`](Self::normalised): the same OS and an architecture the node runs, whatever
    /// the variants (containerd falls back to lower variants, CRI-O takes any variant when the
    /// node names none, and a node's own variant is not known from `--platforms`).
    pub fn may_run_on(&self, node: &Platform) -> bool {
        self.os == node.os && runs_architecture(&node.architecture, &self.architecture)
    }
}

/// containerd's architecture and variant table (`normalizeArch`), on lower-cased input.
fn normalise_architecture(architecture: String, variant: String) -> (String, String) {
    let fixed = |a: &str, v: &str| (a.to_string(), v.to_string());
    match architecture.as_str() {
        "i386" => fixed("386", ""),
        "x86_64" | "x86-64" | "amd64" if variant == "v1" => fixed("amd64", ""),
        "x86_64" | "x86-64" | "amd64" => ("amd64".into(), variant),
        "aarch64" | "arm64" => match variant.as_str() {
            "8" | "v8" | "v8.0" => fixed("arm64", ""),
            "9" | "9.0" | "v9.0" => fixed("arm64", "v9"),
            _ => ("arm64".into(), variant),
        },
        "armhf" => fixed("arm", "v7"),
        "armel" => fixed("arm", "v6"),
        "arm" => match variant.as_str() {
            "" | "7" => fixed("arm", "v7"),
            "5" | "6" | "8" => ("arm".into(), format!("v{variant}")),
            _ => ("arm".into(), variant),
        },
        _ => (architecture, variant),
    }
}

/// Whether a node of architecture `node` may pull a child of architecture `child`: its own, and
/// the ones containerd falls back to (`amd64` to `386`, `arm64` to 32-bit `arm`).
fn runs_architecture(node: &str, child: &str) -> bool {
    match node {
        "amd64" => matches!(child, "amd64" | "386"),
        "arm64" => matches!(child, "arm64" | "arm"),
        _ => node == child,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn platform(os: &str, architecture: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    #[test]
    fn unplaceable_platforms_do_not_normalise() {
        for (os, arch) in [
            ("", "amd64"),
            ("linux", ""),
            ("linux", "x86_32"),
            ("linux", "amd64 "),
            ("lİnux", "amd64"),
            ("linux", "\u{212A}"),
            ("plan10", "amd64"),
            ("unknown", "unknown"),
        ] {
            assert_eq!(platform(os, arch, None).normalised(), None, "{os}/{arch}");
        }
        let garbage_variant = platform("linux", "arm64", Some("v\u{0130}"));
        assert_eq!(garbage_variant.normalised(), None);
    }

    #[test]
    fn attestations_are_recognised_in_any_case() {
        assert!(platform("unknown", "unknown", None).is_attestation());
        assert!(platform("UNKNOWN", "amd64", None).is_attestation());
        assert!(!platform("linux", "unknown", None).is_attestation());
    }

    #[test]
    fn fallback_architectures_run_on_their_nodes() {
        let amd64 = platform("linux", "amd64", None);
        let arm64 = platform("linux", "arm64", None);
        assert!(platform("linux", "386", None).may_run_on(&amd64));
        assert!(platform("linux", "arm", Some("v5")).may_run_on(&arm64));
        assert!(!platform("linux", "arm", Some("v7")).may_run_on(&amd64));
        assert!(!platform("linux", "amd64", None).may_run_on(&arm64));
        assert!(!platform("windows", "amd64", None).may_run_on(&amd64));
        let s390x = platform("linux", "s390x", None);
        assert!(s390x.may_run_on(&s390x));
    }
}
