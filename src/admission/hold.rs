//! What an admitted call holds of its token's and its team's limits until it ends: the
//! budgets' reservations in this instance's accounts, the cluster leases they were drawn
//! from, its shares of shared rate windows and its concurrency slots. Settling replaces
//! them with the call's usage; a hold dropped unsettled (a call refused after admission, an
//! error, a panic) gives all of it back, its slots with it.

use std::sync::Arc;

use crate::accounting::ledger::{LedgerState, Slot};
use crate::accounting::shared::{SharedLimits, WindowShare};
use crate::accounting::{AccountKey, Reservation};
use crate::store::log_entry::LogEntry;

pub struct Hold {
    ledger: Arc<LedgerState>,
    shared: Option<SharedLimits>,
    /// The token's reservation, then the team's (no allocation per call).
    reservations: [Option<Reservation>; 2],
    leases: [Option<(AccountKey, i64)>; 2],
    windows: Vec<WindowShare>,
    /// Concurrency slots (accounts with `max_parallel`), given back when the hold ends.
    slots: Vec<Slot>,
}

impl Hold {
    /// A hold of nothing yet, on `ledger` (and the cluster's `shared` limits).
    pub fn new(ledger: Arc<LedgerState>, shared: Option<SharedLimits>) -> Hold {
        Hold {
            ledger,
            shared,
            reservations: [None, None],
            leases: [None, None],
            windows: Vec::new(),
            slots: Vec::new(),
        }
    }

    /// Holds concurrency slots until the hold ends.
    pub fn occupy(&mut self, slots: Vec<Slot>) {
        self.slots.extend(slots);
    }

    /// The reservation held on `key`'s account.
    pub fn reservation(&self, key: AccountKey) -> Option<&Reservation> {
        self.reservations.iter().flatten().find(|r| r.key == key)
    }

    /// Holds `reservations`, giving back those held before (a call admitted again).
    pub fn reserve(&mut self, reservations: [Option<Reservation>; 2]) {
        self.release();
        self.reservations = reservations;
    }

    /// Gives the reservations back now (a lease refused: the call is admitted again or
    /// not at all).
    pub fn release(&mut self) {
        for r in self.reservations.iter_mut().filter_map(Option::take) {
            self.ledger.release(&r);
        }
    }

    /// The reservation on `key` was drawn from cluster lease `id`: the call's usage leaves
    /// that lease when it is written.
    pub fn drew_from(&mut self, key: AccountKey, id: i64) {
        let i = usize::from(matches!(key, AccountKey::Team(_)));
        self.leases[i] = Some((key, id));
    }

    fn lease(&self, key: Option<AccountKey>) -> Option<i64> {
        let key = key?;
        self.leases
            .iter()
            .flatten()
            .find(|(k, _)| *k == key)
            .map(|(_, id)| *id)
    }

    /// The call counts in a shared minute with this share (trued up at settle).
    pub fn counted_in(&mut self, share: WindowShare) {
        self.windows.push(share);
    }

    /// Ends the hold with the call's usage in `entry`: the usage priced into it, moved
    /// from the reservations to the accounts, the leases named for the writer, the shared
    /// windows trued up.
    pub fn settle(mut self, entry: &mut LogEntry) {
        entry.lease_id = self.lease(entry.token_id.map(AccountKey::Token));
        entry.team_lease_id = self.lease(entry.team_id.map(AccountKey::Team));
        let reservations = std::mem::take(&mut self.reservations);
        self.ledger.settle(&reservations, entry);
        if let Some(shared) = &self.shared {
            for share in self.windows.drain(..) {
                shared.true_up(share, entry.total_tokens);
            }
        }
    }
}

impl Drop for Hold {
    /// Unsettled: nothing was used.
    fn drop(&mut self) {
        self.release();
        if let Some(shared) = &self.shared {
            for share in self.windows.drain(..) {
                shared.true_up(share, 0);
            }
        }
    }
}
