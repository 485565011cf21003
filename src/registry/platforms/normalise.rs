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
//! `arm/v5`. [`Platform::pull_on`] says how a node may come to pull a child, variants ignored
//! (a node's CPU variant is not known from `--platforms`): as its own architecture, or as a
//! fallback, which containerd takes only when no child of the node's own architecture runs there
//! (none is the architecture's base, [`Platform::is_base_for`]) and CRI-O never takes.

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

    /// How a runtime on a node of `node` may come to pull a child of this platform, both already
    /// [`normalised`](Self::normalised): never (another OS or an architecture the node does not
    /// run), as one of the node's own architecture (whatever the variants: which one is best
    /// depends on the node's CPU), or as a fallback architecture.
    pub fn pull_on(&self, node: &Platform) -> Pull {
        if self.os != node.os {
            Pull::Never
        } else if self.architecture == node.architecture {
            Pull::Own
        } else if falls_back_to(&node.architecture, &self.architecture) {
            Pull::Fallback
        } else {
            Pull::Never
        }
    }

    /// Whether every node of `node`'s OS and architecture runs this platform, whatever its CPU
    /// variant (both [`normalised`](Self::normalised)): the architecture without a variant
    /// (`amd64` is v1, `arm64` is v8). containerd ranks such a child above every fallback
    /// architecture and CRI-O never takes a fallback, so next to it a fallback child is never
    /// pulled on that node.
    pub fn is_base_for(&self, node: &Platform) -> bool {
        self.os == node.os && self.architecture == node.architecture && self.variant.is_none()
    }
}

/// How a node may come to pull a child (see [`Platform::pull_on`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pull {
    /// No runtime on the node pulls it.
    Never,
    /// The node's own architecture: some node CPU may prefer it.
    Own,
    /// A fallback architecture (`386` on `amd64`, `arm` on `arm64`): pulled only when the index
    /// has no child of the node's own architecture that runs there.
    Fallback,
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

/// Whether containerd lets a node of architecture `node` fall back to children of `child`.
fn falls_back_to(node: &str, child: &str) -> bool {
    matches!((node, child), ("amd64", "386") | ("arm64", "arm"))
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
    fn nodes_pull_their_own_architecture_and_fall_back_to_older_ones() {
        let amd64 = platform("linux", "amd64", None);
        let arm64 = platform("linux", "arm64", None);
        assert_eq!(
            platform("linux", "amd64", Some("v3")).pull_on(&amd64),
            Pull::Own
        );
        assert_eq!(
            platform("linux", "386", None).pull_on(&amd64),
            Pull::Fallback
        );
        assert_eq!(
            platform("linux", "arm", Some("v5")).pull_on(&arm64),
            Pull::Fallback
        );
        assert_eq!(
            platform("linux", "arm", Some("v7")).pull_on(&amd64),
            Pull::Never
        );
        assert_eq!(
            platform("linux", "amd64", None).pull_on(&arm64),
            Pull::Never
        );
        assert_eq!(
            platform("windows", "amd64", None).pull_on(&amd64),
            Pull::Never
        );
        let s390x = platform("linux", "s390x", None);
        assert_eq!(s390x.pull_on(&s390x), Pull::Own);
        assert!(amd64.is_base_for(&amd64));
        assert!(!platform("linux", "amd64", Some("v2")).is_base_for(&amd64));
    }
}
