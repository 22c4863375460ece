//! Outbound safety: webhook targets on private, loopback, link-local or otherwise internal
//! addresses are refused, checked after DNS (a resolver that drops such addresses, so what is
//! checked is what is connected to), unless local mode allows them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    // Ranges that carry or reach other networks' addresses: 6to4 (2002::/16), Teredo
    // (2001::/32), NAT64 for local use (64:ff9b:1::/48), and the old site-local fec0::/10.
    let tunnelled = s[0] == 0x2002
        || (s[0] == 0x2001 && s[1] == 0)
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1)
        || (s[0] & 0xffc0) == 0xfec0;
    if tunnelled {
        return false;
    }
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0];
    if nat64 {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return is_public_v4(Ipv4Addr::new(a, b, c, d));
    }
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4)))
}

/// Why a delivery's target was refused: it resolves to no address deliveries may connect to.
#[derive(Debug)]
pub struct NoPublicAddress(pub String);

impl std::fmt::Display for NoPublicAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} resolves to no public address", self.0)
    }
}

impl std::error::Error for NoPublicAddress {}

/// Whether an error, or any error under it, is a refused target.
pub fn is_refusal(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(err);
    while let Some(e) = current {
        if e.downcast_ref::<NoPublicAddress>().is_some() {
            return true;
        }
        current = e.source();
    }
    false
}

/// A DNS resolver for the delivery client that keeps only allowed addresses.
#[derive(Clone)]
pub struct SafeResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for SafeResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| allow_private || is_public(a.ip()))
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(NoPublicAddress(name.as_str().to_owned())) as _);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A literal IP host is never resolved, so it is checked here.
pub fn literal_host_allowed(url: &reqwest::Url, allow_private: bool) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => allow_private || is_public(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => allow_private || is_public(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => true,
        None => false,
    }
}

/// Whether a target URL may be set, by the rules deliveries are made by, so that a refused
/// URL is refused when it is set and not at its first delivery: a literal IP must be public,
/// and a name must not resolve to non-public addresses only. A name that does not resolve (yet)
/// is let through; every delivery resolves it again through [`SafeResolver`], so DNS that
/// changes later is caught there. The reason, when refused.
pub async fn check_target(url: &url::Url, allow_private: bool) -> Result<(), &'static str> {
    const REFUSED: &str = "must not point at a private, loopback or link-local address";
    if allow_private {
        return Ok(());
    }
    let host = match url.host() {
        Some(url::Host::Ipv4(ip)) => return is_public(IpAddr::V4(ip)).then_some(()).ok_or(REFUSED),
        Some(url::Host::Ipv6(ip)) => return is_public(IpAddr::V6(ip)).then_some(()).ok_or(REFUSED),
        Some(url::Host::Domain(host)) => host.to_owned(),
        None => return Err("must be an absolute URL with a host"),
    };
    // Bounded, so a slow resolver cannot hold the request; then the delivery decides.
    let lookup = tokio::net::lookup_host((host, 0));
    match tokio::time::timeout(std::time::Duration::from_secs(2), lookup).await {
        Ok(Ok(found)) => {
            let found: Vec<SocketAddr> = found.collect();
            match found.is_empty() || found.iter().any(|a| is_public(a.ip())) {
                true => Ok(()),
                false => Err(REFUSED),
            }
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "224.0.0.1",
            "198.18.0.1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "64:ff9b:1::a9fe:a9fe",
            "fec0::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn targets_are_checked_when_set() {
        let check = |s: &str, local| {
            let url = url::Url::parse(s).unwrap();
            async move { check_target(&url, local).await }
        };
        assert!(check("http://127.0.0.1:8080/x", false).await.is_err());
        assert!(check("http://[::1]/x", false).await.is_err());
        assert!(check("https://169.254.169.254/latest", false)
            .await
            .is_err());
        assert!(check("http://localhost:8080/x", false).await.is_err());
        assert!(check("https://93.184.216.34/hook", false).await.is_ok());
        assert!(check("http://127.0.0.1:8080/x", true).await.is_ok());
        // Not resolvable here: left to the delivery, which resolves it every time.
        assert!(check("https://hooks.invalid/x", false).await.is_ok());
    }

    #[test]
    fn literal_hosts_are_checked() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(!literal_host_allowed(
            &url("http://127.0.0.1:8080/x"),
            false
        ));
        assert!(!literal_host_allowed(&url("http://[::1]/x"), false));
        assert!(literal_host_allowed(&url("http://127.0.0.1:8080/x"), true));
        assert!(literal_host_allowed(&url("https://example.com/x"), false));
    }
}
