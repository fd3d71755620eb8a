//! This instance's shares of accounts' shared rate windows (Postgres with
//! `cluster.shared_limits`). Requests and tokens are taken from the cluster's minute in
//! chunks — a sixteenth of the limit — and spent here, so a rate-limited call reaches the
//! database once per chunk instead of once per call, as budgets do with their leases.
//!
//! Bound: the cluster never admits more than `rpm` calls in a database-clock minute, and
//! starts no call once `tpm` tokens are counted in it (a call may end over by its own
//! tokens, as on one instance). It may refuse early: each other instance can hold up to
//! one unspent chunk (⌈limit / 16⌉) until the minute ends, and a call's unused tokens go
//! back to this instance's chunk, not to the cluster's minute. A minute refused here is
//! remembered until it ends: a client flooding past its limit costs no statement per call.
//! One small entry per account with a shared rate limit that made a call is kept.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use sea_orm::{DatabaseConnection, DbErr};

use super::AccountKey;
use crate::store::account_tables::Tables;
use crate::store::rate_windows::{self, Fit};

/// Chunks per minute's limit.
pub const CHUNKS: i64 = 16;

/// What this instance holds of one account's current minute.
#[derive(Debug, Default)]
struct Share {
    /// The minute's start (database clock) and when it ends (this instance's clock).
    start: i64,
    ends: Option<Instant>,
    /// Left to spend here; `None`: no such limit.
    requests: Option<i64>,
    tokens: Option<i64>,
    /// The cluster's minute is full until `ends`.
    full: bool,
}

impl Share {
    fn current(&self, now: Instant) -> bool {
        self.ends.is_some_and(|ends| now < ends)
    }

    /// Spends one call of `tokens` from the share, if it covers it.
    fn spend(&mut self, tokens: i64) -> bool {
        let requests = self.requests.is_none_or(|r| r >= 1);
        let enough = self.tokens.is_none_or(|t| t >= tokens);
        if !(requests && enough) {
            return false;
        }
        if let Some(r) = self.requests.as_mut() {
            *r -= 1;
        }
        if let Some(t) = self.tokens.as_mut() {
            *t -= tokens;
        }
        true
    }
}

/// Why a call was not counted: the minute is full until this long from now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Full {
    pub retry_after: Duration,
}

/// One account's share, and the gate its calls pass one at a time to fetch a chunk.
#[derive(Default)]
struct Cell {
    share: std::sync::Mutex<Share>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
pub struct RateLeases {
    shares: DashMap<AccountKey, Arc<Cell>>,
}

/// One chunk of a limit, and at least `need`.
fn chunk(limit: Option<i32>, need: i64) -> Option<i64> {
    limit.map(|l| ((i64::from(l) + CHUNKS - 1) / CHUNKS).max(need).max(1))
}

impl RateLeases {
    /// Counts a call of `tokens` into `key`'s shared minute (`rpm` / `tpm`): the minute's
    /// start, or `Full` when the cluster's minute has no room for it.
    pub async fn take(
        &self,
        db: &DatabaseConnection,
        tables: &Tables,
        key: AccountKey,
        (rpm, tpm): (Option<i32>, Option<i32>),
        tokens: i64,
    ) -> Result<Result<i64, Full>, DbErr> {
        let cell = match self.shares.get(&key) {
            Some(cell) => cell.clone(),
            None => self.shares.entry(key).or_default().clone(),
        };
        // Most calls spend from the share under a short lock and never wait.
        if let Some(counted) = Self::from_share(&cell, tokens) {
            return Ok(counted);
        }
        // Calls of one account that need a chunk wait here while one fetches it.
        let _gate = cell.fetching.lock().await;
        if let Some(counted) = Self::from_share(&cell, tokens) {
            return Ok(counted);
        }
        let now = Instant::now();
        let (want_r, want_t) = (chunk(rpm, 1), chunk(tpm, tokens));
        let fits = want_t.is_none_or(|t| tpm.is_some_and(|l| t <= i64::from(l)));
        if fits {
            let granted = rate_windows::take(
                db,
                tables,
                key.id(),
                (want_r.unwrap_or(1), want_t.unwrap_or(0)),
                (rpm, tpm),
                Fit::Whole,
            )
            .await?;
            if let Some((start, db_now)) = granted {
                let mut share = Share {
                    start,
                    ends: Some(now + minute_left(start, db_now)),
                    requests: want_r,
                    tokens: want_t,
                    full: false,
                };
                share.spend(tokens);
                *lock(&cell.share) = share;
                return Ok(Ok(start));
            }
        }
        // No whole chunk left: this one call, if the minute still has room for it.
        let one = (1, tokens);
        match rate_windows::take(db, tables, key.id(), one, (rpm, tpm), Fit::Started).await? {
            Some((start, db_now)) => {
                *lock(&cell.share) = Share {
                    start,
                    ends: Some(now + minute_left(start, db_now)),
                    requests: rpm.map(|_| 0),
                    tokens: tpm.map(|_| 0),
                    full: false,
                };
                Ok(Ok(start))
            }
            None => {
                let mut share = lock(&cell.share);
                let ends = match share.ends {
                    Some(ends) if ends > now => ends,
                    // The minute's end by this instance's clock, when no grant told the
                    // database's.
                    _ => {
                        now + Duration::from_millis(
                            60_000 - crate::time::now_ms().rem_euclid(60_000) as u64,
                        )
                    }
                };
                share.full = true;
                share.ends = Some(ends);
                Ok(Err(Full {
                    retry_after: ends - now,
                }))
            }
        }
    }

    /// A call counted in `key`'s minute `start` with `reserved` tokens used only `used`:
    /// the rest goes back to this instance's share while the minute lasts (never waits:
    /// the lock is held only to spend or replace a share).
    pub fn give_back(&self, key: AccountKey, start: i64, reserved: i64, used: i64) {
        let back = reserved.saturating_sub(used);
        if back <= 0 {
            return;
        }
        let Some(cell) = self.shares.get(&key).map(|c| c.clone()) else {
            return;
        };
        let mut share = lock(&cell.share);
        if share.start == start && share.current(Instant::now()) && !share.full {
            if let Some(t) = share.tokens.as_mut() {
                *t += back;
            }
        }
    }
}

impl RateLeases {
    /// Spends one call from the account's current share: counted (the minute's start),
    /// refused (the minute is full), or `None` when a chunk must be fetched.
    fn from_share(cell: &Cell, tokens: i64) -> Option<Result<i64, Full>> {
        let mut share = lock(&cell.share);
        let now = Instant::now();
        if !share.current(now) {
            return None;
        }
        if share.full {
            let ends = share.ends.unwrap_or(now);
            return Some(Err(Full {
                retry_after: ends - now,
            }));
        }
        share.spend(tokens).then_some(Ok(share.start))
    }
}

fn lock(share: &std::sync::Mutex<Share>) -> std::sync::MutexGuard<'_, Share> {
    share
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What is left of the minute starting `start` when the database's clock reads `db_now`.
fn minute_left(start: i64, db_now: i64) -> Duration {
    Duration::from_millis((start + 60_000 - db_now).clamp(0, 60_000) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_is_a_sixteenth_of_the_limit_and_covers_the_call() {
        assert_eq!(chunk(Some(5), 1), Some(1));
        assert_eq!(chunk(Some(64), 1), Some(4));
        assert_eq!(chunk(Some(65), 1), Some(5));
        assert_eq!(chunk(Some(1_000), 300), Some(300), "at least the call");
        assert_eq!(chunk(None, 1), None);
    }

    #[test]
    fn a_share_spends_only_what_it_holds() {
        let mut share = Share {
            requests: Some(2),
            tokens: Some(100),
            ..Share::default()
        };
        assert!(share.spend(60));
        assert!(!share.spend(60), "40 tokens left");
        assert!(share.spend(40));
        assert!(!share.spend(0), "no request left");
        let mut unlimited = Share::default();
        assert!((0..1000).all(|_| unlimited.spend(1_000_000)));
    }

    #[test]
    fn the_minute_left_follows_the_databases_clock() {
        assert_eq!(minute_left(60_000, 60_000), Duration::from_secs(60));
        assert_eq!(minute_left(60_000, 110_000), Duration::from_secs(10));
        assert_eq!(
            minute_left(60_000, 200_000),
            Duration::ZERO,
            "a clock past it"
        );
    }
}
