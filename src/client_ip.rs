//! Which address a request came from. Behind a load balancer every TCP peer is the
//! balancer; when the peer is one of `server.trusted_proxies`, the client is the nearest
//! address in `X-Forwarded-For` that is not itself a trusted proxy (read from the right, as
//! each proxy appends the address it saw). Headers from untrusted peers are ignored, so a
//! client cannot pick its own address.

use std::net::IpAddr;

/// Networks whose `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    nets: Vec<(IpAddr, u8)>,
}

impl TrustedProxies {
    /// Parses addresses and CIDR networks (`10.0.0.0/8`, `::1`).
    pub fn parse(entries: &[String]) -> Result<TrustedProxies, String> {
        let nets = entries
            .iter()
            .map(|e| {
                let bad =
                    || format!("server.trusted_proxies: '{e}' is not an address or a network");
                let (addr, bits) = match e.trim().split_once('/') {
                    Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                    None => (e.trim(), None),
                };
                let addr: IpAddr = addr.parse().map_err(|_| bad())?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                let bits = bits.unwrap_or(max);
                if bits > max {
                    return Err(bad());
                }
                Ok((addr, bits))
            })
            .collect::<Result<_, _>>()?;
        Ok(TrustedProxies { nets })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.nets
            .iter()
            .any(|&(net, bits)| match (canonical(net), ip) {
                (IpAddr::V4(n), IpAddr::V4(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                (IpAddr::V6(n), IpAddr::V6(a)) => prefix_eq(&n.octets(), &a.octets(), bits),
                _ => false,
            })
    }

    /// The client's address, given the TCP peer and the `X-Forwarded-For` header values.
    pub fn client<'a>(&self, peer: IpAddr, forwarded: impl Iterator<Item = &'a str>) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded.flat_map(|v| v.split(',')).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip;
                    if !self.trusts(ip) {
                        break;
                    }
                }
                // A hop that is not an address (a forged or garbled header): stop at the
                // last trusted address rather than believe anything before it.
                Err(_) => break,
            }
        }
        client
    }
}

/// IPv4-mapped IPv6 (`::ffff:10.0.0.1`) compares as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

fn prefix_eq(a: &[u8], b: &[u8], bits: u8) -> bool {
    let (whole, rest) = ((bits / 8) as usize, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    rest == 0 || {
        let mask = 0xffu8 << (8 - rest);
        a[whole] & mask == b[whole] & mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_peers() {
        let t = proxies(&["127.0.0.1", "10.0.0.0/8"]);
        // A trusted balancer: the client is the address it appended.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["203.0.113.7"].into_iter()),
            ip("203.0.113.7")
        );
        // A client forging the header itself, through the balancer: the balancer's entry
        // (rightmost) wins, the forged one is ignored.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["1.2.3.4, 203.0.113.7"].into_iter()),
            ip("203.0.113.7")
        );
        // Two trusted hops: skipped from the right.
        assert_eq!(
            t.client(
                ip("10.1.2.3"),
                ["198.51.100.9, 10.9.9.9", "127.0.0.1"].into_iter()
            ),
            ip("198.51.100.9")
        );
        // An untrusted peer's header is ignored.
        assert_eq!(
            t.client(ip("192.0.2.1"), ["127.0.0.1"].into_iter()),
            ip("192.0.2.1")
        );
        // Garbage stops the walk at the last trusted address.
        assert_eq!(
            t.client(ip("127.0.0.1"), ["junk"].into_iter()),
            ip("127.0.0.1")
        );
        // No header: the peer.
        assert_eq!(
            t.client(ip("127.0.0.1"), std::iter::empty()),
            ip("127.0.0.1")
        );
        // IPv4-mapped peers match IPv4 networks.
        assert_eq!(
            t.client(ip("::ffff:10.0.0.5"), ["203.0.113.7"].into_iter()),
            ip("203.0.113.7")
        );
        // Nothing trusted by default.
        assert_eq!(
            TrustedProxies::default().client(ip("127.0.0.1"), ["203.0.113.7"].into_iter()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn networks_parse_and_match_by_prefix() {
        let t = proxies(&["172.16.0.0/12", "fd00::/8"]);
        assert!(t.trusts(ip("172.31.255.255")));
        assert!(!t.trusts(ip("172.32.0.0")));
        assert!(t.trusts(ip("fd12::1")));
        assert!(!t.trusts(ip("fe80::1")));
        for bad in ["10.0.0.0/33", "nope", "10.0.0.0/x", "::/129"] {
            assert!(TrustedProxies::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
