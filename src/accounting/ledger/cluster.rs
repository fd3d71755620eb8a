//! The ledger's side of a cluster: what the database says of a token's cluster-wide spend,
//! holds and counters, and this instance's leases on budgets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use entity::token;

use super::{totals_of, LedgerState};
use crate::accounting::lease::Draw;
use crate::accounting::Reservation;
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

impl LedgerState {
    /// Records the database's view of a token's cluster-wide spend and holds.
    pub fn learn_cluster(&self, token_id: i32, global_tokens: i64, global_nano: i64) {
        if let Some(slot) = self.by_id.get(&token_id) {
            slot.account
                .lock()
                .learn_cluster(global_tokens, global_nano);
        }
    }

    /// Whether this instance's lease covers a reservation just admitted, and if not, what
    /// to ask the database for.
    pub fn draw_lease(&self, r: &Reservation) -> Option<Draw> {
        let slot = self.by_id.get(&r.token_id)?.clone();
        let limits = slot.info.load().limits;
        let mut account = slot.account.lock();
        let left = account.left(&limits);
        let reserved = (account.reserved_tokens, account.reserved_nano);
        Some(account.lease.draw(&limits, reserved, r, left, now_ms()))
    }

    /// The lock to hold while asking the database for more of a token's budget.
    pub fn lease_lock(&self, token_id: i32) -> Option<Arc<tokio::sync::Mutex<()>>> {
        Some(self.by_id.get(&token_id)?.lease_lock.clone())
    }

    /// The database granted more of a token's budget (and showed its cluster-wide figures).
    pub fn lease_granted(&self, token_id: i32, grant: LeaseGrant) {
        if let Some(slot) = self.by_id.get(&token_id) {
            let mut account = slot.account.lock();
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
    pub fn lease_tick(&self) -> (Vec<(i64, i64, i64)>, Vec<i64>) {
        let (mut idle, mut live) = (Vec::new(), Vec::new());
        for slot in self.by_id.iter() {
            let mut account = slot.account.lock();
            let reserved = (account.reserved_tokens, account.reserved_nano);
            if let Some(excess) = account.lease.idle_excess(reserved) {
                idle.push(excess);
            }
            if let (Some(id), true) = (
                account.lease.id,
                account.lease.tokens > 0 || account.lease.nano > 0,
            ) {
                live.push(id);
            }
        }
        (idle, live)
    }

    /// Giving `returned` (lease, tokens, nano) back failed: the database still holds it, so
    /// this instance may draw on it again.
    pub fn restore_leases(&self, returned: &[(i64, i64, i64)]) {
        if returned.is_empty() {
            return;
        }
        let by_id: std::collections::HashMap<i64, (i64, i64)> =
            returned.iter().map(|&(id, t, n)| (id, (t, n))).collect();
        for slot in self.by_id.iter() {
            let mut account = slot.account.lock();
            if let Some(&(t, n)) = account.lease.id.and_then(|id| by_id.get(&id)) {
                account.lease.tokens = account.lease.tokens.saturating_add(t);
                account.lease.nano = account.lease.nano.saturating_add(n);
            }
        }
    }

    /// The leases in `ids` were renewed for `valid_ms` from now.
    pub fn leases_renewed(&self, ids: &[i64], valid_ms: i64) {
        let until = now_ms().saturating_add(valid_ms);
        for slot in self.by_id.iter() {
            let mut account = slot.account.lock();
            if account.lease.id.is_some_and(|id| ids.contains(&id)) {
                account.lease.valid_until = until;
            }
        }
    }

    /// At shutdown: every lease's unused part (calls have drained), to give back.
    pub fn return_leases(&self) -> Vec<(i64, i64, i64)> {
        let mut out = Vec::new();
        for slot in self.by_id.iter() {
            let mut account = slot.account.lock();
            let reserved = (account.reserved_tokens, account.reserved_nano);
            account.lease.used = false;
            if let Some(excess) = account.lease.idle_excess(reserved) {
                out.push(excess);
            }
        }
        out
    }

    /// Whether the cluster's view of a token's counters is older than `max_age` (or was
    /// never read).
    pub fn cluster_totals_stale(&self, id: i32, max_age: Duration) -> bool {
        self.by_id.get(&id).is_some_and(|slot| {
            slot.account
                .lock()
                .cluster_read
                .is_none_or(|at| at.elapsed() >= max_age)
        })
    }

    /// Records a token's counters as the database shows them (every instance's usage).
    pub fn learn_totals(&self, row: &token::Model) {
        if let Some(slot) = self.by_id.get(&row.id) {
            let mut account = slot.account.lock();
            account.cluster_totals = totals_of(row);
            account.cluster_read = Some(Instant::now());
        }
    }
}
