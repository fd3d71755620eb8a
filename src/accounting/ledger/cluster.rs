//! The ledger's side of a cluster: what the database says of a token's or team's
//! cluster-wide spend, holds and counters, and this instance's leases on budgets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::token;

use super::{period_of, totals_of, LedgerState};
use crate::accounting::lease::Draw;
use crate::accounting::{AccountKey, Reservation};
use crate::time::now_ms;

/// More of a token's budget, granted by the database.
pub struct LeaseGrant {
    pub id: i64,
    /// The same lease grew (else a new one replaced a lost one).
    pub renewed: bool,
    pub tokens: i64,
    pub nano: i64,
    /// How long it may be drawn on without renewal.
    pub valid_ms: i64,
    /// The token's cluster-wide `spent + held` after the grant.
    pub global_tokens: i64,
    pub global_nano: i64,
}

/// Unused lease given back: the account and (lease, tokens, nano).
pub type Returned = (AccountKey, (i64, i64, i64));
/// A lease to renew: the account and the lease.
pub type Renewed = (AccountKey, i64);

impl LedgerState {
    /// Every account in memory with its key.
    pub(super) fn keyed_cells(&self) -> Vec<(AccountKey, Arc<super::Cell>)> {
        let mut out: Vec<_> = self
            .by_id
            .iter()
            .map(|s| (AccountKey::Token(*s.key()), s.cell.clone()))
            .collect();
        out.extend(
            self.teams
                .iter()
                .map(|s| (AccountKey::Team(*s.key()), s.cell.clone())),
        );
        out
    }

    /// Records the database's view of a token's cluster-wide spend and holds.
    pub fn learn_cluster(&self, key: AccountKey, global_tokens: i64, global_nano: i64) {
        if let Some(cell) = self.cell(key) {
            cell.account
                .lock()
                .learn_cluster(global_tokens, global_nano);
        }
    }

    /// The `Retry-After` of a refusal by `key`'s budget (see `Account::retry_after_secs`).
    pub fn resets_in_secs(&self, key: AccountKey) -> u64 {
        self.cell(key)
            .map_or(3600, |cell| cell.account.lock().retry_after_secs())
    }

    /// The start of the period an account's budget counts now (0: its whole life).
    pub fn period_start(&self, key: AccountKey) -> i64 {
        self.cell(key).map_or(0, |cell| {
            let limits = cell.limits.load();
            let mut account = cell.account.lock();
            account.roll(&limits, now_ms(), &self.config.time_zone);
            account.period.start
        })
    }

    /// Whether this instance's lease covers a reservation just admitted, and if not, what
    /// to ask the database for.
    pub fn draw_lease(&self, r: &Reservation) -> Option<Draw> {
        let cell = self.cell(r.key)?;
        let limits = cell.limits.load();
        let mut account = cell.account.lock();
        let left = account.left(&limits);
        let reserved = (account.reserved_tokens, account.reserved_nano);
        Some(account.lease.draw(&limits, reserved, r, left, now_ms()))
    }

    /// The lock to hold while asking the database for more of a token's budget.
    pub fn lease_lock(&self, key: AccountKey) -> Option<Arc<tokio::sync::Mutex<()>>> {
        Some(self.cell(key)?.lease_lock.clone())
    }

    /// The database granted more of a token's budget (and showed its cluster-wide figures).
    pub fn lease_granted(&self, key: AccountKey, grant: LeaseGrant) {
        if let Some(cell) = self.cell(key) {
            let mut account = cell.account.lock();
            let valid_until = now_ms().saturating_add(grant.valid_ms);
            account.lease.granted(
                grant.id,
                grant.renewed,
                grant.tokens,
                grant.nano,
                valid_until,
            );
            account.learn_cluster(grant.global_tokens, grant.global_nano);
        }
    }

    /// On a sync tick: the unused part of leases no call drew on since the last tick (to
    /// give back), and the leases still holding something (to renew).
    pub fn lease_tick(&self) -> (Vec<Returned>, Vec<Renewed>) {
        let (mut idle, mut live) = (Vec::new(), Vec::new());
        for (key, cell) in self.keyed_cells() {
            let mut account = cell.account.lock();
            let reserved = (account.reserved_tokens, account.reserved_nano);
            if let Some(excess) = account.lease.idle_excess(reserved) {
                idle.push((key, excess));
            }
            if let (Some(id), true) = (
                account.lease.id,
                account.lease.tokens > 0 || account.lease.nano > 0,
            ) {
                live.push((key, id));
            }
        }
        (idle, live)
    }

    /// Giving `returned` (lease, tokens, nano) back failed: the database still holds it, so
    /// this instance may draw on it again.
    pub fn restore_leases(&self, returned: &[Returned]) {
        if returned.is_empty() {
            return;
        }
        let by_id: std::collections::HashMap<(AccountKey, i64), (i64, i64)> = returned
            .iter()
            .map(|&(key, (id, t, n))| ((key, id), (t, n)))
            .collect();
        for (key, cell) in self.keyed_cells() {
            let mut account = cell.account.lock();
            if let Some(&(t, n)) = account.lease.id.and_then(|id| by_id.get(&(key, id))) {
                account.lease.tokens = account.lease.tokens.saturating_add(t);
                account.lease.nano = account.lease.nano.saturating_add(n);
            }
        }
    }

    /// The leases in `ids` were renewed for `valid_ms` from now.
    pub fn leases_renewed(&self, ids: &[Renewed], valid_ms: i64) {
        let until = now_ms().saturating_add(valid_ms);
        for (key, cell) in self.keyed_cells() {
            let mut account = cell.account.lock();
            if account.lease.id.is_some_and(|id| ids.contains(&(key, id))) {
                account.lease.valid_until = until;
            }
        }
    }

    /// At shutdown: every lease's unused part (calls have drained), to give back.
    pub fn return_leases(&self) -> Vec<Returned> {
        let mut out = Vec::new();
        for (key, cell) in self.keyed_cells() {
            let mut account = cell.account.lock();
            let reserved = (account.reserved_tokens, account.reserved_nano);
            account.lease.used = false;
            if let Some(excess) = account.lease.idle_excess(reserved) {
                out.push((key, excess));
            }
        }
        out
    }

    /// Whether the cluster's view of a token's counters is older than `max_age` (or was
    /// never read).
    pub fn cluster_totals_stale(&self, id: i32, max_age: Duration) -> bool {
        self.by_id.get(&id).is_some_and(|slot| {
            slot.cell
                .account
                .lock()
                .cluster_read
                .is_none_or(|at| at.elapsed() >= max_age)
        })
    }

    /// Records a token's counters as the database shows them (every instance's usage).
    pub fn learn_totals(&self, row: &token::Model) {
        if let Some(slot) = self.by_id.get(&row.id) {
            let mut account = slot.cell.account.lock();
            account.cluster_totals = totals_of(row);
            account.cluster_period = period_of(row);
            account.cluster_read = Some(Instant::now());
        }
    }
}
