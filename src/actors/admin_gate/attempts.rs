//! The login limits of one instance: attempts per key fingerprint (at one address) and
//! per client address in fixed one-minute windows, with a bounded memory; and, with
//! Postgres, the cluster's count of the same in the database.

use std::collections::HashMap;
use std::net::IpAddr;

use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::store::login_attempts;
use crate::time::now_ms;

/// Counters kept per map at most; past it the least recently used half is forgotten (a
/// flood of made-up fingerprints or addresses cannot grow memory without bound, nor reset
/// the counters of those still knocking).
const MAX_TRACKED: usize = 50_000;

/// An address as the login limits count it: IPv6 by its /64 (one host commonly holds a
/// whole /64), IPv4 and IPv4-mapped IPv6 as the IPv4 address.
pub fn limit_subject(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

#[derive(Default, Clone, Copy)]
struct Counter {
    count: u32,
    /// When it was last counted (the window's sequence number).
    used: u64,
}

/// Forgets the least recently used half of `map` once it is full.
fn evict<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Counter>) {
    if map.len() < MAX_TRACKED {
        return;
    }
    let mut uses: Vec<u64> = map.values().map(|c| c.used).collect();
    let mid = uses.len() / 2;
    let cutoff = *uses.select_nth_unstable(mid).1;
    map.retain(|_, c| c.used > cutoff);
}

/// Fixed one-minute windows of attempt counts (this instance's; with Postgres the
/// cluster's are counted in the database too).
#[derive(Default)]
pub(super) struct Attempts {
    window: i64,
    seq: u64,
    by_key: HashMap<String, Counter>,
    by_addr: HashMap<IpAddr, Counter>,
}

impl Attempts {
    /// Counts an attempt; false when either limit is already used up this minute.
    pub(super) fn allow(
        &mut self,
        fingerprint: &str,
        addr: Option<IpAddr>,
        per_key: u32,
        per_addr: u32,
    ) -> bool {
        let window = now_ms() / 60_000;
        if window != self.window {
            *self = Attempts {
                window,
                ..Default::default()
            };
        }
        self.seq += 1;
        let seq = self.seq;
        let addr = addr.map(limit_subject);
        if !self.by_key.contains_key(&key_subject(fingerprint, addr)) {
            evict(&mut self.by_key);
        }
        if addr.is_some_and(|a| !self.by_addr.contains_key(&a)) {
            evict(&mut self.by_addr);
        }
        // A key's attempts count per address too: a stranger who knows the fingerprint
        // uses up the attempts of its own address, never the admin's.
        let key = self
            .by_key
            .entry(key_subject(fingerprint, addr))
            .or_default();
        let addr_count = addr.map(|a| self.by_addr.entry(a).or_default());
        let over = key.count >= per_key || addr_count.as_ref().is_some_and(|n| n.count >= per_addr);
        key.count = key.count.saturating_add(1);
        key.used = seq;
        if let Some(n) = addr_count {
            n.count = n.count.saturating_add(1);
            n.used = seq;
        }
        !over
    }
}

/// What a key's attempts are counted under: the key at one address.
fn key_subject(fingerprint: &str, addr: Option<IpAddr>) -> String {
    match addr {
        Some(a) => format!("{fingerprint}@{a}"),
        None => fingerprint.to_string(),
    }
}

/// The refusal of a login attempt over a limit.
pub(super) fn too_many() -> ApiError {
    metrics::counter!("gateway_login_rate_limited_total").increment(1);
    ApiError::rate_limited("too many login attempts; try again in a minute", 60)
}

/// The cluster's count (Postgres): every instance's attempts this minute, per key and per
/// address (IPv6 by /64).
pub(super) async fn shared_rate(
    db: &DatabaseConnection,
    fingerprint: &str,
    addr: Option<IpAddr>,
    (per_key, per_addr): (u32, u32),
) -> Result<(), ApiError> {
    let mut subjects = vec![format!(
        "key:{}",
        key_subject(fingerprint, addr.map(limit_subject))
    )];
    if let Some(a) = addr {
        subjects.push(format!("addr:{}", limit_subject(a)));
    }
    let counts = login_attempts::count(db, &subjects)
        .await
        .map_err(|e| ApiError::internal("cannot count login attempts", e))?;
    let over = counts.first().is_some_and(|n| *n > i64::from(per_key))
        || counts.get(1).is_some_and(|n| *n > i64::from(per_addr));
    if over {
        return Err(too_many());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_limited_per_key_and_per_address() {
        let mut a = Attempts::default();
        let addr: IpAddr = "10.0.0.1".parse().unwrap();
        let other: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(a.allow("k1", Some(addr), 2, 3));
        assert!(a.allow("k1", Some(addr), 2, 3));
        assert!(
            !a.allow("k1", Some(addr), 2, 3),
            "per key, from one address"
        );
        assert!(
            a.allow("k1", Some(other), 2, 3),
            "another address keeps its own attempts at the key"
        );
        assert!(!a.allow("k2", Some(addr), 2, 3), "per address");
        assert!(a.allow("k4", Some(other), 2, 3));
    }

    #[test]
    fn a_flood_evicts_the_idle_not_the_one_still_knocking() {
        let mut a = Attempts::default();
        let knocker: IpAddr = "203.0.113.9".parse().unwrap();
        assert!(a.allow("k", Some(knocker), 1000, 3));
        // A flood of made-up fingerprints from many addresses, past the map's size; the
        // knocker keeps trying (and is refused) in between.
        for i in 0..(3 * MAX_TRACKED as u32) {
            let addr = IpAddr::from((0x0A00_0000u32 + i).to_be_bytes());
            a.allow(&format!("{i:064x}"), Some(addr), 1000, 1000);
            if i % 1000 == 0 {
                a.allow("k", Some(knocker), 1000, 3);
            }
        }
        assert!(a.by_key.len() <= MAX_TRACKED && a.by_addr.len() <= MAX_TRACKED);
        assert!(
            !a.allow("k", Some(knocker), 1000, 3),
            "the flood did not reset the knocker's count"
        );
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let mut a = Attempts::default();
        for i in 0..3u16 {
            let addr = IpAddr::from(std::net::Ipv6Addr::new(0x2001, 0xdb8, 1, 2, i, 7, 8, 9));
            assert!(a.allow(&format!("k{i}"), Some(addr), 10, 3));
        }
        let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
        assert!(!a.allow("k9", Some(same_64), 10, 3), "one /64, one client");
        let next_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(a.allow("k9", Some(next_64), 10, 3));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            limit_subject(mapped),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}
