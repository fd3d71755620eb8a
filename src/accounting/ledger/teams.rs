//! Teams in the ledger: their settings as the request path reads them and their accounts,
//! kept like tokens' (refreshed from rows without losing the live counters).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use entity::team;
use parking_lot::Mutex;

use super::{Cell, LedgerState};
use crate::accounting::team::TeamInfo;
use crate::accounting::{AccountKey, PeriodSpend, Totals};
use crate::core::money::Money;

pub(super) struct TeamSlot {
    info: ArcSwap<TeamInfo>,
    replacing: Mutex<()>,
    updated_at: AtomicI64,
    pub(super) cell: Arc<Cell>,
}

/// A team with its live counters.
#[derive(Debug, Clone)]
pub struct TeamState {
    pub info: Arc<TeamInfo>,
    pub totals: Totals,
    pub period: PeriodSpend,
    pub resets_at: Option<i64>,
}

/// A team row's lifetime counters.
pub fn team_totals(row: &team::Model) -> Totals {
    Totals {
        prompt_tokens: row.prompt_tokens,
        completion_tokens: row.completion_tokens,
        total_tokens: row.total_tokens,
        amount: Money::from_nanos(row.amount_spent_nano),
        requests: row.request_count,
    }
}

/// A team row's current-period counters.
pub fn team_period(row: &team::Model) -> PeriodSpend {
    PeriodSpend {
        start: row.period_start,
        tokens: row.period_tokens,
        nano: row.period_nano,
    }
}

impl LedgerState {
    /// Adds a team read from the database or refreshes its settings (live counters kept);
    /// a deleted row is removed.
    pub fn upsert_team(&self, row: &team::Model) {
        if row.deleted_at.is_some() {
            self.deleted_teams.insert(row.id, row.updated_at);
            self.teams.remove(&row.id);
            return;
        }
        if self
            .deleted_teams
            .get(&row.id)
            .is_some_and(|at| row.updated_at <= *at)
        {
            return;
        }
        let info = Arc::new(TeamInfo::from_row(row));
        let slot = self
            .teams
            .entry(row.id)
            .or_insert_with(|| {
                Arc::new(TeamSlot {
                    info: ArcSwap::new(info.clone()),
                    replacing: Mutex::new(()),
                    updated_at: AtomicI64::new(row.updated_at),
                    cell: Arc::new(Cell::new(
                        AccountKey::Team(row.id),
                        info.limits,
                        team_totals(row),
                        team_period(row),
                    )),
                })
            })
            .clone();
        let _one_at_a_time = slot.replacing.lock();
        if row.updated_at < slot.updated_at.load(Ordering::Acquire) {
            return;
        }
        slot.updated_at.store(row.updated_at, Ordering::Release);
        slot.info.store(info.clone());
        slot.cell.limits.store(Arc::new(info.limits));
    }

    /// A team deleted here: gone, never brought back by a sync.
    pub fn forget_team(&self, id: i32) {
        self.deleted_teams.insert(id, i64::MAX);
        self.teams.remove(&id);
    }

    /// A team's settings, if it is known here.
    pub fn team(&self, id: i32) -> Option<Arc<TeamInfo>> {
        Some(self.teams.get(&id)?.info.load_full())
    }

    /// A team with its live counters (its period moved to now).
    pub fn team_state(&self, id: i32) -> Option<TeamState> {
        let slot = self.teams.get(&id)?.clone();
        let (totals, _, period, resets_at) = self.shown(&slot.cell);
        Some(TeamState {
            info: slot.info.load_full(),
            totals,
            period,
            resets_at,
        })
    }

    /// Whether the cluster's view of a team's counters is older than `max_age`.
    pub fn team_totals_stale(&self, id: i32, max_age: std::time::Duration) -> bool {
        self.teams.get(&id).is_some_and(|slot| {
            slot.cell
                .account
                .lock()
                .cluster_read
                .is_none_or(|at| at.elapsed() >= max_age)
        })
    }

    /// Records a team's counters as the database shows them (every instance's usage).
    pub fn learn_team_totals(&self, row: &team::Model) {
        if let Some(slot) = self.teams.get(&row.id) {
            let mut account = slot.cell.account.lock();
            account.cluster_totals = team_totals(row);
            account.cluster_period = team_period(row);
            account.cluster_read = Some(std::time::Instant::now());
        }
    }
}
