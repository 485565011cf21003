//! Which addresses and names only the cluster (or the node) can reach. A registry decides where
//! Signet goes next (a blob redirect, a token realm), so those places are judged before Signet
//! goes there: by the URL (literal addresses in every spelling the URL parser accepts, and names
//! that only resolve inside a cluster) and again after DNS resolution (`resolver.rs`), because a
//! public-looking name can resolve to any address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Names that only resolve inside a cluster or a host.
const INTERNAL_SUFFIXES: &[&str] = &[
    ".svc",
    ".cluster.local",
    ".internal",
    ".local",
    ".localhost",
];

/// Whether `ip` is not a public internet address: loopback, private, link-local (cloud metadata),
/// carrier-grade NAT, unspecified (which Linux connects to the host itself), broadcast,
/// multicast, reserved, and IPv6 forms that carry such an IPv4 address (mapped, compatible,
/// NAT64, 6to4).
pub(super) fn internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => internal_v4(ip),
        IpAddr::V6(ip) => internal_v6(ip),
    }
}

pub(super) fn internal_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || a >= 240
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
}

pub(super) fn internal_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        internal_v4(Ipv4Addr::new(a, b, c, d))
    };
    if let Some(v4) = ip.to_ipv4_mapped() {
        return internal_v4(v4);
    }
    let first = segments[0];
    let v4_compatible = segments[..6].iter().all(|s| *s == 0);
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first == 0x64 && segments[1] == 0xff9b && segments[2] == 1)
        || ((v4_compatible || nat64) && embedded_v4(segments[6], segments[7]))
        || (first == 0x2002 && embedded_v4(segments[1], segments[2]))
}

/// Whether `name` (not an address) only resolves inside a cluster or a host: `localhost`, a
/// single label (`kubernetes`, search domains complete it), or an internal suffix.
pub(super) fn internal_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || !name.contains('.')
        || INTERNAL_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Whether `host` (as a URL shows it: IPv6 in brackets) is internal, as an address or a name.
pub(super) fn internal_host(host: &str) -> bool {
    match host.trim_matches(['[', ']']).parse::<IpAddr>() {
        Ok(ip) => internal_ip(ip),
        Err(_) => internal_name(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_in_every_family_and_embedding() {
        for address in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "172.16.3.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "192.0.0.170",
            "198.18.0.1",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fc00::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(internal_ip(ip), "{address} counted as public");
        }
    }

    #[test]
    fn public_addresses_stay_public() {
        for address in [
            "93.184.216.34",
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = address.parse().unwrap();
            assert!(!internal_ip(ip), "{address} counted as internal");
        }
    }

    #[test]
    fn internal_names_and_hosts() {
        for host in [
            "localhost",
            "LOCALHOST.",
            "a.localhost",
            "kubernetes",
            "api.default.svc",
            "minio.storage.svc.cluster.local",
            "metadata.google.internal",
            "printer.local",
            "[::1]",
            "[::ffff:7f00:1]",
            "127.0.0.1",
        ] {
            assert!(internal_host(host), "{host} counted as public");
        }
        for host in ["registry.example.com", "ghcr.io", "[2606:4700::1111]"] {
            assert!(!internal_host(host), "{host} counted as internal");
        }
    }
}
