//! Concurrency slots: a token's calls in flight, counted in its account. A call takes a
//! slot before anything costly is done with its body and holds it in its `Hold` until the
//! hold ends — settled, or dropped by whatever ended the call (a finished or cut stream, a
//! client gone, a timeout, a panic) — so a slot is never leaked.
//!
//! In a cluster an instance takes slots only within its hold on the token's slots in the
//! database (`store::parallel_holds`): it grows the hold by one when it has no free slot
//! (refused when the other instances hold the rest), and the lease tick shrinks it to what
//! is in flight and renews it. The slots held across the cluster never pass
//! `max_parallel`; a dead instance's hold stops counting when it expires.

use std::sync::Arc;

use tokio::sync::OwnedMutexGuard;

use super::LedgerState;
use crate::accounting::AccountKey;
use crate::error::ApiError;

/// One of a token's slots, given back when dropped.
pub struct Slot {
    ledger: Arc<LedgerState>,
    key: AccountKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(cell) = self.ledger.cell(self.key) {
            let mut account = cell.account.lock();
            account.in_flight = account.in_flight.saturating_sub(1);
        }
    }
}

/// What taking a slot came to on this instance.
pub enum SlotTry {
    /// The token has no `max_parallel`.
    Uncapped,
    Taken(Slot),
    /// Cluster: this instance's hold is full; the database may grant `want` slots (the
    /// hold `hold`, if any, grown) while the cluster holds fewer than `max`.
    Grow {
        hold: Option<i64>,
        want: i32,
        max: i32,
    },
}

/// The 429 for an account whose slots are all in use.
pub fn full(key: AccountKey, max: i32, across: &str) -> ApiError {
    ApiError::ConcurrencyLimit(format!(
        "this {} already has {max} calls in flight{across} (max_parallel); retry when one \
         ends",
        match key {
            AccountKey::Token(_) => "token",
            AccountKey::Team(_) => "token's team",
        }
    ))
}

impl LedgerState {
    /// Takes one of the token's slots if this instance may (`clustered`: only within its
    /// hold); a 429 `concurrency_limit` when every slot is in use.
    pub fn try_slot(
        ledger: &Arc<LedgerState>,
        key: AccountKey,
        clustered: bool,
    ) -> Result<SlotTry, ApiError> {
        let Some(cell) = ledger.cell(key) else {
            return Ok(SlotTry::Uncapped);
        };
        let Some(max) = cell.limits.load().max_parallel else {
            return Ok(SlotTry::Uncapped);
        };
        let mut account = cell.account.lock();
        let room = if clustered {
            account.slots_held
        } else {
            max.max(0) as u32
        };
        if account.in_flight < room {
            account.in_flight += 1;
            return Ok(SlotTry::Taken(Slot {
                ledger: ledger.clone(),
                key,
            }));
        }
        if !clustered || i64::from(account.in_flight) >= i64::from(max) {
            return Err(full(
                key,
                max,
                if clustered { " across the cluster" } else { "" },
            ));
        }
        Ok(SlotTry::Grow {
            hold: account.slot_hold,
            want: account.in_flight as i32 + 1,
            max,
        })
    }

    /// Takes one of the token's slots on one instance: `None` without a `max_parallel`.
    pub fn take_slot(ledger: &Arc<LedgerState>, key: AccountKey) -> Result<Option<Slot>, ApiError> {
        match LedgerState::try_slot(ledger, key, false)? {
            SlotTry::Taken(slot) => Ok(Some(slot)),
            _ => Ok(None),
        }
    }

    /// The database granted this instance `slots` in hold `hold`: one of them is the call's.
    pub fn slot_granted(ledger: &Arc<LedgerState>, key: AccountKey, hold: i64, slots: i32) -> Slot {
        if let Some(cell) = ledger.cell(key) {
            let mut account = cell.account.lock();
            account.slot_hold = Some(hold);
            account.slots_held = account.slots_held.max(slots.max(0) as u32);
            account.in_flight += 1;
        }
        Slot {
            ledger: ledger.clone(),
            key,
        }
    }

    /// The lock held while this instance changes its hold on a token's slots.
    pub fn slot_lock(&self, key: AccountKey) -> Option<Arc<tokio::sync::Mutex<()>>> {
        Some(self.cell(key)?.slot_lock.clone())
    }

    /// The lease tick: every hold this instance has, shrunk here to what is in flight (so
    /// no call takes the slack meanwhile) — `(hold, slots, guard)`, the guard keeping
    /// growers of that token out until the database has the new size. Tokens whose hold is
    /// being grown right now are left for the next tick.
    pub fn slot_tick(&self) -> Vec<SlotSize> {
        let mut out = Vec::new();
        for (key, cell) in self.keyed_cells() {
            let Ok(guard) = cell.slot_lock.clone().try_lock_owned() else {
                continue;
            };
            let mut account = cell.account.lock();
            let Some(hold) = account.slot_hold else {
                continue;
            };
            account.slots_held = account.in_flight;
            if account.in_flight == 0 {
                account.slot_hold = None;
            }
            out.push(SlotSize {
                key,
                hold,
                slots: account.in_flight as i32,
                _guard: guard,
            });
        }
        out
    }

    /// Calls in flight for the token now.
    #[cfg(test)]
    pub fn in_flight(&self, key: AccountKey) -> u32 {
        self.cell(key)
            .map_or(0, |cell| cell.account.lock().in_flight)
    }
}

/// A cluster hold on an account's slots at its new size, the account's growers kept out
/// while the guard lives.
pub struct SlotSize {
    pub key: AccountKey,
    pub hold: i64,
    pub slots: i32,
    _guard: OwnedMutexGuard<()>,
}
