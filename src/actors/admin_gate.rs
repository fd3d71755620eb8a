//! `AdminGate`: the Ed25519 login (contract section 6) and the admin keys.
//!
//! Owns the login rate limits (per key fingerprint and per client address, per instance)
//! and does every write of the login state: challenges, sessions, admin keys. The state
//! itself is in the database, so a challenge issued here verifies on any instance, exactly
//! once (a conditional UPDATE decides). Session checks on admin routes read the database
//! directly (`store::sessions::live_session`): admin calls are not the hot path, and a
//! revocation is then in force on every instance at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use actix::prelude::*;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use entity::{admin_key, login_challenge};
use rand::RngCore;
use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::secrets::{generate_session_token, hash_token, sha256_hex};
use crate::settings::AuthSettings;
use crate::store::login_attempts;
use crate::store::sessions::{self, RemoveKey};
use crate::time::now_ms;

/// What the client signs (contract section 6).
pub fn login_message(challenge_id: &str, nonce: &str) -> String {
    format!("gateway-zero-login:v1:{challenge_id}:{nonce}")
}

/// Counters kept per map at most; past it the least recently used half is forgotten (a
/// flood of made-up fingerprints or addresses cannot grow memory without bound, nor reset
/// the counters of those still knocking).
const MAX_TRACKED: usize = 50_000;
/// A fingerprint is 64 hex digits; anything longer is refused before it is stored.
const FINGERPRINT_LEN: usize = 64;

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
struct Attempts {
    window: i64,
    seq: u64,
    by_key: HashMap<String, Counter>,
    by_addr: HashMap<IpAddr, Counter>,
}

impl Attempts {
    /// Counts an attempt; false when either limit is already used up this minute.
    fn allow(
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
fn too_many() -> ApiError {
    metrics::counter!("gateway_login_rate_limited_total").increment(1);
    ApiError::RateLimited("too many login attempts; try again in a minute".into())
}

/// The cluster's count (Postgres): every instance's attempts this minute, per key and per
/// address (IPv6 by /64).
async fn shared_rate(
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
        .map_err(db_error("cannot count login attempts"))?;
    let over = counts.first().is_some_and(|n| *n > i64::from(per_key))
        || counts.get(1).is_some_and(|n| *n > i64::from(per_addr));
    if over {
        return Err(too_many());
    }
    Ok(())
}

pub struct AdminGate {
    db: DatabaseConnection,
    settings: AuthSettings,
    attempts: Attempts,
}

impl AdminGate {
    pub fn new(db: DatabaseConnection, settings: AuthSettings) -> AdminGate {
        AdminGate {
            db,
            settings,
            attempts: Attempts::default(),
        }
    }

    fn limits(&self) -> (u32, u32) {
        (
            self.settings.login_attempts_per_minute_per_key,
            self.settings.login_attempts_per_minute_per_address,
        )
    }

    /// This instance's count; refuses at once what it alone has seen too often.
    fn check_rate(&mut self, fingerprint: &str, addr: Option<IpAddr>) -> Result<(), ApiError> {
        let (per_key, per_addr) = self.limits();
        if self.attempts.allow(fingerprint, addr, per_key, per_addr) {
            Ok(())
        } else {
            Err(too_many())
        }
    }

    /// Whether attempts are also counted in the database (several instances: Postgres).
    fn shared(&self) -> bool {
        sea_orm::ConnectionTrait::get_database_backend(&self.db) == sea_orm::DbBackend::Postgres
    }
}

impl Actor for AdminGate {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(Duration::from_secs(60), |act, ctx| {
            let db = act.db.clone();
            ctx.spawn(
                async move {
                    if let Err(e) = sessions::purge_expired(&db, now_ms()).await {
                        log::warn!("cannot purge expired login challenges and sessions: {e}");
                    }
                    if let Err(e) = login_attempts::prune(&db).await {
                        log::warn!("cannot prune old login attempt counts: {e}");
                    }
                }
                .into_actor(act),
            );
        });
    }
}

fn db_error(context: &'static str) -> impl Fn(sea_orm::DbErr) -> ApiError {
    move |e| ApiError::internal(context, e)
}

fn valid_fingerprint(fp: &str) -> bool {
    fp.len() == FINGERPRINT_LEN && fp.bytes().all(|b| b.is_ascii_hexdigit())
}

#[derive(Debug, Clone)]
pub struct Challenge {
    pub challenge_id: String,
    pub nonce: String,
    pub expires_at: i64,
}

/// Step 1: a challenge for a fingerprint. Unknown fingerprints get one too (no oracle);
/// it simply never verifies.
#[derive(Message)]
#[rtype(result = "Result<Challenge, ApiError>")]
pub struct IssueChallenge {
    pub fingerprint: String,
    pub addr: Option<IpAddr>,
}

impl Handler<IssueChallenge> for AdminGate {
    type Result = ResponseFuture<Result<Challenge, ApiError>>;

    fn handle(&mut self, msg: IssueChallenge, _: &mut Context<Self>) -> Self::Result {
        let fingerprint = msg.fingerprint.to_ascii_lowercase();
        if !valid_fingerprint(&fingerprint) {
            return Box::pin(async {
                Err(ApiError::invalid_param(
                    "fingerprint",
                    "fingerprint must be the hex SHA-256 of the public key (64 hex digits)",
                ))
            });
        }
        if let Err(e) = self.check_rate(&fingerprint, msg.addr) {
            return Box::pin(async { Err(e) });
        }
        let mut id = [0u8; 16];
        let mut nonce = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut id);
        rand::thread_rng().fill_bytes(&mut nonce);
        let now = now_ms();
        let row = login_challenge::Model {
            id: format!("ch_{}", hex::encode(id)),
            fingerprint,
            nonce: STANDARD.encode(nonce),
            expires_at: now + self.settings.challenge_ttl_secs as i64 * 1000,
            used: false,
            created_at: now,
        };
        let db = self.db.clone();
        let shared = self.shared().then(|| self.limits());
        Box::pin(async move {
            if let Some(limits) = shared {
                shared_rate(&db, &row.fingerprint, msg.addr, limits).await?;
            }
            let challenge = Challenge {
                challenge_id: row.id.clone(),
                nonce: row.nonce.clone(),
                expires_at: row.expires_at,
            };
            sessions::insert_challenge(&db, row)
                .await
                .map_err(db_error("cannot store the login challenge"))?;
            Ok(challenge)
        })
    }
}

#[derive(Debug, Clone)]
pub struct Session {
    pub session_token: String,
    pub expires_at: i64,
    pub fingerprint: String,
}

/// Step 3: the signed answer. The challenge is used up whatever the outcome.
#[derive(Message)]
#[rtype(result = "Result<Session, ApiError>")]
pub struct Verify {
    pub challenge_id: String,
    pub fingerprint: String,
    pub signature: String,
    pub addr: Option<IpAddr>,
}

impl Handler<Verify> for AdminGate {
    type Result = ResponseFuture<Result<Session, ApiError>>;

    fn handle(&mut self, msg: Verify, _: &mut Context<Self>) -> Self::Result {
        let fingerprint = msg.fingerprint.to_ascii_lowercase();
        if !valid_fingerprint(&fingerprint) || msg.challenge_id.len() > 64 {
            return Box::pin(async { Err(ApiError::LoginFailed) });
        }
        if let Err(e) = self.check_rate(&fingerprint, msg.addr) {
            return Box::pin(async { Err(e) });
        }
        let db = self.db.clone();
        let ttl_ms = self.settings.session_ttl_secs as i64 * 1000;
        let shared = self.shared().then(|| self.limits());
        Box::pin(async move {
            if let Some(limits) = shared {
                shared_rate(&db, &fingerprint, msg.addr, limits).await?;
            }
            let now = now_ms();
            let challenge = sessions::consume_challenge(&db, &msg.challenge_id, now)
                .await
                .map_err(db_error("cannot read the login challenge"))?
                .ok_or(ApiError::LoginFailed)?;
            if challenge.fingerprint != fingerprint {
                return Err(ApiError::LoginFailed);
            }
            let key = sessions::enabled_key(&db, &fingerprint)
                .await
                .map_err(db_error("cannot read admin keys"))?;
            // An unknown key costs the same signature check as a known one (against a key
            // nobody holds), so timing does not tell the two apart either.
            let verifying = key
                .as_ref()
                .and_then(verifying_key)
                .unwrap_or_else(|| SigningKey::from_bytes(&[1u8; 32]).verifying_key());
            let signature = STANDARD
                .decode(msg.signature.trim())
                .ok()
                .and_then(|b| Signature::from_slice(&b).ok())
                .ok_or(ApiError::LoginFailed)?;
            let message = login_message(&challenge.id, &challenge.nonce);
            let verified = verifying
                .verify_strict(message.as_bytes(), &signature)
                .is_ok();
            let key = key.filter(|_| verified).ok_or(ApiError::LoginFailed)?;
            let token = generate_session_token();
            let expires_at = now + ttl_ms;
            sessions::insert_session(&db, hash_token(&token), key.id, now, expires_at)
                .await
                .map_err(db_error("cannot store the session"))?;
            log::info!("admin login: key {}…", &fingerprint[..12]);
            Ok(Session {
                session_token: token,
                expires_at,
                fingerprint,
            })
        })
    }
}

fn verifying_key(key: &admin_key::Model) -> Option<VerifyingKey> {
    let bytes: [u8; 32] = STANDARD.decode(&key.public_key).ok()?.try_into().ok()?;
    VerifyingKey::from_bytes(&bytes).ok()
}

/// Parses a base64 Ed25519 public key; `(base64 as given, fingerprint)`.
pub fn parse_public_key(text: &str) -> Result<(String, String), ApiError> {
    let bad = || {
        ApiError::invalid_param(
            "public_key",
            "public_key must be a base64 32-byte Ed25519 public key",
        )
    };
    let bytes: [u8; 32] = STANDARD
        .decode(text.trim())
        .map_err(|_| bad())?
        .try_into()
        .map_err(|_| bad())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad())?;
    Ok((STANDARD.encode(bytes), sha256_hex(&bytes)))
}

/// Revokes the session presented with the request.
#[derive(Message)]
#[rtype(result = "Result<bool, ApiError>")]
pub struct Logout {
    pub token_hash: String,
}

impl Handler<Logout> for AdminGate {
    type Result = ResponseFuture<Result<bool, ApiError>>;

    fn handle(&mut self, msg: Logout, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            sessions::revoke_session(&db, &msg.token_hash)
                .await
                .map_err(db_error("cannot revoke the session"))
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<admin_key::Model, ApiError>")]
pub struct AddAdminKey {
    pub name: String,
    pub public_key: String,
}

impl Handler<AddAdminKey> for AdminGate {
    type Result = ResponseFuture<Result<admin_key::Model, ApiError>>;

    fn handle(&mut self, msg: AddAdminKey, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let (public_key, fingerprint) = parse_public_key(&msg.public_key)?;
            sessions::insert_key(&db, msg.name, public_key, fingerprint, now_ms())
                .await
                .map_err(db_error("cannot store the admin key"))?
                .ok_or_else(|| ApiError::Conflict("this admin key is already registered".into()))
        })
    }
}

#[derive(Message)]
#[rtype(result = "Result<admin_key::Model, ApiError>")]
pub struct RemoveAdminKey {
    pub fingerprint: String,
}

impl Handler<RemoveAdminKey> for AdminGate {
    type Result = ResponseFuture<Result<admin_key::Model, ApiError>>;

    fn handle(&mut self, msg: RemoveAdminKey, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            let fp = msg.fingerprint.to_ascii_lowercase();
            match sessions::remove_key(&db, &fp)
                .await
                .map_err(db_error("cannot remove the admin key"))?
            {
                RemoveKey::Removed(key) => Ok(key),
                RemoveKey::NotFound => {
                    Err(ApiError::NotFound(format!("admin key '{fp}' not found")))
                }
                RemoveKey::LastKey => Err(ApiError::Conflict(
                    "the last admin key cannot be removed; add another first".into(),
                )),
            }
        })
    }
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

    #[test]
    fn public_keys_are_checked() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let public = STANDARD.encode(key.verifying_key().to_bytes());
        let (b64, fp) = parse_public_key(&public).unwrap();
        assert_eq!(b64, public);
        assert_eq!(fp.len(), 64);
        assert!(parse_public_key("AAAA").is_err());
        assert!(parse_public_key("not base64!").is_err());
    }
}

/// The key fingerprint behind a live session, or `None`.
#[derive(Message)]
#[rtype(result = "Result<Option<String>, ApiError>")]
pub struct CheckSession {
    pub token_hash: String,
}

impl Handler<CheckSession> for AdminGate {
    type Result = ResponseFuture<Result<Option<String>, ApiError>>;

    fn handle(&mut self, msg: CheckSession, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            Ok(sessions::live_session(&db, &msg.token_hash, now_ms())
                .await
                .map_err(db_error("cannot read admin sessions"))?
                .map(|(_, key)| key.fingerprint))
        })
    }
}

/// The registered admin keys.
#[derive(Message)]
#[rtype(result = "Result<Vec<admin_key::Model>, ApiError>")]
pub struct ListAdminKeys;

impl Handler<ListAdminKeys> for AdminGate {
    type Result = ResponseFuture<Result<Vec<admin_key::Model>, ApiError>>;

    fn handle(&mut self, _: ListAdminKeys, _: &mut Context<Self>) -> Self::Result {
        let db = self.db.clone();
        Box::pin(async move {
            sessions::list_keys(&db)
                .await
                .map_err(db_error("cannot read admin keys"))
        })
    }
}
