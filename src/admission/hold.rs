//! What an admitted call holds of its token's limits until it ends: the budget's
//! reservation in this instance's account, the cluster lease it was drawn from, and its
//! share of a shared rate window. Settling replaces them with the call's usage; a hold
//! dropped unsettled (a call refused after admission, an error, a panic) gives all of it
//! back, and its concurrency slot with it. Team budgets are the next thing a hold will own.

use std::sync::Arc;

use crate::accounting::ledger::{LedgerState, Slot};
use crate::accounting::shared::{SharedLimits, WindowShare};
use crate::accounting::Reservation;
use crate::store::log_entry::LogEntry;

pub struct Hold {
    ledger: Arc<LedgerState>,
    shared: Option<SharedLimits>,
    reservation: Option<Reservation>,
    lease_id: Option<i64>,
    window: Option<WindowShare>,
    /// A concurrency slot (tokens with `max_parallel`), given back when the hold ends.
    slot: Option<Slot>,
}

impl Hold {
    /// A hold of nothing yet, on `ledger` (and the cluster's `shared` limits).
    pub fn new(ledger: Arc<LedgerState>, shared: Option<SharedLimits>) -> Hold {
        Hold {
            ledger,
            shared,
            reservation: None,
            lease_id: None,
            window: None,
            slot: None,
        }
    }

    /// Holds a concurrency slot until the hold ends.
    pub fn occupy(&mut self, slot: Option<Slot>) {
        self.slot = slot;
    }

    pub fn reservation(&self) -> Option<&Reservation> {
        self.reservation.as_ref()
    }

    /// Holds `reservation`, giving back one held before (a call admitted again).
    pub fn reserve(&mut self, reservation: Option<Reservation>) {
        self.release();
        self.reservation = reservation;
    }

    /// Gives the reservation back now (a lease refused: the call is admitted again or not
    /// at all).
    pub fn release(&mut self) {
        if let Some(r) = self.reservation.take() {
            self.ledger.release(&r);
        }
    }

    /// The reservation was drawn from cluster lease `id`: the call's usage leaves that
    /// lease when it is written.
    pub fn drew_from(&mut self, id: i64) {
        self.lease_id = Some(id);
    }

    pub fn lease_id(&self) -> Option<i64> {
        self.lease_id
    }

    /// The call counts in a shared minute with this share (trued up at settle).
    pub fn counted_in(&mut self, share: WindowShare) {
        self.window = Some(share);
    }

    /// Ends the hold with the call's usage in `entry`: the usage priced into it, moved
    /// from the reservation to the account, the lease named for the writer, the shared
    /// window trued up.
    pub fn settle(mut self, entry: &mut LogEntry) {
        entry.lease_id = self.lease_id;
        self.ledger.settle(self.reservation.take(), entry);
        if let (Some(share), Some(shared)) = (self.window.take(), &self.shared) {
            shared.true_up(share, entry.total_tokens);
        }
    }
}

impl Drop for Hold {
    /// Unsettled: nothing was used.
    fn drop(&mut self) {
        self.release();
        if let (Some(share), Some(shared)) = (self.window.take(), &self.shared) {
            shared.true_up(share, 0);
        }
    }
}
