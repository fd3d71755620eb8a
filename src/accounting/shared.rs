//! The cluster's side of a token's limits (Postgres with `cluster.shared_limits`): budget
//! leases and shared rate windows, as the database holds them for every instance. The
//! request path reaches the database only through this handle, and only for what one
//! instance cannot know alone: a lease that no longer covers a call, a budget this
//! instance believes spent, a shared minute.

use sea_orm::DatabaseConnection;

use crate::error::ApiError;
use crate::store::budget_holds::{self, Global, Grant};
use crate::store::{parallel_holds, rate_windows};

#[derive(Clone)]
pub struct SharedLimits {
    db: DatabaseConnection,
    lease_ttl_ms: i64,
}

/// A call's share of a shared per-minute window: `reserved` tokens were counted in the
/// minute starting `start`; at settle they shrink to the call's usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowShare {
    pub token_id: i32,
    pub start: i64,
    pub reserved: i64,
}

impl SharedLimits {
    pub fn new(db: DatabaseConnection, lease_ttl_ms: i64) -> SharedLimits {
        SharedLimits { db, lease_ttl_ms }
    }

    /// How long a lease lives without renewal, in ms.
    pub fn lease_ttl_ms(&self) -> i64 {
        self.lease_ttl_ms
    }

    /// The token's cluster-wide `spent + held`.
    pub async fn global(&self, token_id: i32) -> Result<Global, ApiError> {
        budget_holds::global(&self.db, token_id)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared budget", e))
    }

    /// Takes `tokens`/`nano` more of the token's budget into lease `lease` (or a new one).
    pub async fn grant(
        &self,
        token_id: i32,
        lease: Option<i64>,
        tokens: i64,
        nano: i64,
    ) -> Result<Grant, ApiError> {
        budget_holds::grant(&self.db, token_id, lease, tokens, nano, self.lease_ttl_ms)
            .await
            .map_err(|e| ApiError::internal("cannot lease the budget", e))
    }

    /// Grows this instance's hold on a token's slots to `slots` (`hold`: its row, if any)
    /// when the cluster holds fewer than `max` without it: the hold's id, or `None`.
    pub async fn grow_slots(
        &self,
        token_id: i32,
        hold: Option<i64>,
        slots: i32,
        max: i32,
    ) -> Result<Option<i64>, ApiError> {
        parallel_holds::grow(&self.db, token_id, hold, slots, max, self.lease_ttl_ms)
            .await
            .map_err(|e| ApiError::internal("cannot take a concurrency slot", e))
    }

    /// Counts a call of `tokens` into the token's shared minute; its share, or a 429 when
    /// the minute is full on the cluster.
    pub async fn count_in_window(
        &self,
        token_id: i32,
        rpm: Option<i32>,
        tpm: Option<i32>,
        tokens: i64,
    ) -> Result<WindowShare, ApiError> {
        let start = rate_windows::admit(&self.db, token_id, rpm, tpm, tokens)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared rate window", e))?
            .ok_or_else(|| {
                ApiError::RateLimited(
                    "rate limit reached across the cluster for this minute".into(),
                )
            })?;
        Ok(WindowShare {
            token_id,
            start,
            reserved: tokens,
        })
    }

    /// Shrinks a window share to the `used` tokens, off the caller's path: until it runs
    /// the window counts the whole reservation, which only errs on the safe side.
    pub fn true_up(&self, share: WindowShare, used: i64) {
        if used >= share.reserved {
            return;
        }
        let db = self.db.clone();
        actix_web::rt::spawn(async move {
            let settled =
                rate_windows::settle(&db, share.token_id, share.start, share.reserved, used);
            if let Err(e) = settled.await {
                log::warn!(
                    "cannot settle the rate window of token {}: {e}",
                    share.token_id
                );
            }
        });
    }
}
