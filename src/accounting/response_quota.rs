//! The per-token quota on stored Responses-API responses: bytes as stored (encrypted),
//! known per token from the database (read once, then again at most every `REFRESH`, so
//! other instances' writes count too) plus what this instance stored or deleted since.

use std::time::{Duration, Instant};

use dashmap::DashMap;
use sea_orm::DatabaseConnection;

use crate::error::ApiError;

/// How long a token's figure from the database stands before it is read again.
const REFRESH: Duration = Duration::from_secs(60);
/// Tokens remembered at most; past it the map starts again (figures are re-read).
const MAX_TOKENS: usize = 100_000;

pub struct ResponseQuota {
    db: DatabaseConnection,
    /// Bytes per token; 0: no quota.
    limit: i64,
    by_token: DashMap<i32, (i64, Instant)>,
}

impl ResponseQuota {
    pub fn new(db: DatabaseConnection, limit: u64) -> ResponseQuota {
        ResponseQuota {
            db,
            limit: limit.min(i64::MAX as u64) as i64,
            by_token: DashMap::new(),
        }
    }

    /// Refuses a call that would store a response for a token whose quota is full.
    pub async fn admit(&self, token_id: i32) -> Result<(), ApiError> {
        if self.limit == 0 {
            return Ok(());
        }
        let known = self
            .by_token
            .get(&token_id)
            .filter(|e| e.1.elapsed() < REFRESH)
            .map(|e| e.0);
        let bytes = match known {
            Some(bytes) => bytes,
            None => {
                let bytes = crate::store::responses::bytes_of_token(&self.db, token_id)
                    .await
                    .map_err(|e| ApiError::internal("cannot read stored responses", e))?;
                if self.by_token.len() >= MAX_TOKENS {
                    self.by_token.clear();
                }
                self.by_token.insert(token_id, (bytes, Instant::now()));
                bytes
            }
        };
        if bytes >= self.limit {
            return Err(ApiError::StorageFull(format!(
                "this token's stored responses take {bytes} bytes, its quota is {} \
                 (responses.max_stored_bytes_per_token): delete some (DELETE \
                 /v1/responses/{{id}}) or send store: false",
                self.limit
            )));
        }
        Ok(())
    }

    /// Bytes stored (positive) or deleted (negative) by this instance.
    pub fn add(&self, token_id: i32, bytes: i64) {
        if let Some(mut entry) = self.by_token.get_mut(&token_id) {
            entry.0 = entry.0.saturating_add(bytes).max(0);
        }
    }

    /// Forgets a token's figure (read again from the database when next needed).
    pub fn forget(&self, token_id: i32) {
        self.by_token.remove(&token_id);
    }
}
