//! The cluster's side of a token's and a team's limits (Postgres with
//! `cluster.shared_limits`): budget leases, concurrency holds and shared rate windows, as
//! the database holds them for every instance. The request path reaches the database only
//! through this handle, and only for what one instance cannot know alone: a lease that no
//! longer covers a call, a budget this instance believes spent, a shared minute.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::accounting::rate_lease::RateLeases;
use crate::accounting::AccountKey;
use crate::error::ApiError;
use crate::store::account_tables::{Tables, TEAMS, TOKENS};
use crate::store::budget_holds::{self, Global, Grant};
use crate::store::parallel_holds;

#[derive(Clone)]
pub struct SharedLimits {
    db: DatabaseConnection,
    lease_ttl_ms: i64,
    /// This instance's chunks of the accounts' shared minutes.
    rates: Arc<RateLeases>,
}

/// A call's share of a shared per-minute window: `reserved` tokens were counted in the
/// minute starting `start`; at settle what it did not use goes back to this instance's
/// chunk of the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowShare {
    pub key: AccountKey,
    pub start: i64,
    pub reserved: i64,
}

/// The tables an account's shared limits live in.
pub fn tables(key: AccountKey) -> &'static Tables {
    match key {
        AccountKey::Token(_) => &TOKENS,
        AccountKey::Team(_) => &TEAMS,
    }
}

impl SharedLimits {
    pub fn new(db: DatabaseConnection, lease_ttl_ms: i64) -> SharedLimits {
        SharedLimits {
            db,
            lease_ttl_ms,
            rates: Arc::default(),
        }
    }

    /// How long a lease lives without renewal, in ms.
    pub fn lease_ttl_ms(&self) -> i64 {
        self.lease_ttl_ms
    }

    /// The account's cluster-wide `spent + held` in the period starting `period`.
    pub async fn global(&self, key: AccountKey, period: i64) -> Result<Global, ApiError> {
        budget_holds::global(&self.db, tables(key), key.id(), period)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared budget", e))
    }

    /// Takes `tokens`/`nano` more of the account's budget in the period starting `period`
    /// into lease `lease` (or a new one).
    pub async fn grant(
        &self,
        key: AccountKey,
        period: i64,
        lease: Option<i64>,
        tokens: i64,
        nano: i64,
    ) -> Result<Grant, ApiError> {
        budget_holds::grant(
            &self.db,
            tables(key),
            key.id(),
            period,
            lease,
            tokens,
            nano,
            self.lease_ttl_ms,
        )
        .await
        .map_err(|e| ApiError::internal("cannot lease the budget", e))
    }

    /// Grows this instance's hold on an account's slots to `slots` (`hold`: its row, if
    /// any) when the cluster holds fewer than `max` without it: the hold's id, or `None`.
    pub async fn grow_slots(
        &self,
        key: AccountKey,
        hold: Option<i64>,
        slots: i32,
        max: i32,
    ) -> Result<Option<i64>, ApiError> {
        parallel_holds::grow(
            &self.db,
            tables(key),
            key.id(),
            hold,
            slots,
            max,
            self.lease_ttl_ms,
        )
        .await
        .map_err(|e| ApiError::internal("cannot take a concurrency slot", e))
    }

    /// Counts a call of `tokens` into the account's shared minute, from this instance's
    /// chunk of it (the database is asked once per chunk); its share, or a 429 when the
    /// minute is full on the cluster.
    pub async fn count_in_window(
        &self,
        key: AccountKey,
        rpm: Option<i32>,
        tpm: Option<i32>,
        tokens: i64,
    ) -> Result<WindowShare, ApiError> {
        let start = self
            .rates
            .take(&self.db, tables(key), key, (rpm, tpm), tokens)
            .await
            .map_err(|e| ApiError::internal("cannot read the shared rate window", e))?
            .map_err(|full| {
                let secs = full.retry_after.as_millis().div_ceil(1000).clamp(1, 60) as u64;
                ApiError::rate_limited(
                    format!(
                        "{} rate limit reached across the cluster for this minute",
                        key.kind()
                    ),
                    secs,
                )
            })?;
        Ok(WindowShare {
            key,
            start,
            reserved: tokens,
        })
    }

    /// A settled call used `used` of its share's tokens: the rest goes back to this
    /// instance's chunk of the minute.
    pub fn true_up(&self, share: WindowShare, used: i64) {
        self.rates
            .give_back(share.key, share.start, share.reserved, used);
    }
}
