//! `AdminGate`: the Ed25519 login (contract section 6) and the admin keys
//! (`admin_keys`), behind the login limits (`attempts`).
//!
//! Owns the login rate limits (per key fingerprint and per client address, per instance)
//! and does every write of the login state: challenges, sessions, admin keys. The state
//! itself is in the database, so a challenge issued here verifies on any instance, exactly
//! once (a conditional UPDATE decides). Session checks on admin routes read the database
//! directly (`store::sessions::live_session`): admin calls are not the hot path, and a
//! revocation is then in force on every instance at once.

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
use crate::secrets::{generate_session_token, hash_token};
use crate::settings::AuthSettings;
use crate::store::login_attempts;
use crate::store::sessions;
use crate::time::now_ms;

mod admin_keys;
mod attempts;

pub use admin_keys::{parse_public_key, AddAdminKey, ListAdminKeys, RemoveAdminKey};
pub use attempts::limit_subject;
use attempts::{shared_rate, too_many, Attempts};

/// What the client signs (contract section 6).
pub fn login_message(challenge_id: &str, nonce: &str) -> String {
    format!("gateway-zero-login:v1:{challenge_id}:{nonce}")
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

/// A fingerprint is 64 hex digits; anything longer is refused before it is stored.
const FINGERPRINT_LEN: usize = 64;

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
