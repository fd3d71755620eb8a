//! Concurrency slots: a token's calls in flight, counted in its account. A call takes a
//! slot before anything costly is done with its body and holds it in its `Hold` until the
//! hold ends — settled, or dropped by whatever ended the call (a finished or cut stream, a
//! client gone, a timeout, a panic) — so a slot is never leaked.

use std::sync::Arc;

use super::LedgerState;
use crate::error::ApiError;

/// One of a token's slots, given back when dropped.
pub struct Slot {
    ledger: Arc<LedgerState>,
    token_id: i32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(slot) = self.ledger.by_id.get(&self.token_id).map(|s| s.clone()) {
            let mut account = slot.account.lock();
            account.in_flight = account.in_flight.saturating_sub(1);
        }
    }
}

impl LedgerState {
    /// Takes one of the token's slots: `None` when it has no `max_parallel`; a 429
    /// `concurrency_limit` when every slot is in use.
    pub fn take_slot(ledger: &Arc<LedgerState>, token_id: i32) -> Result<Option<Slot>, ApiError> {
        let Some(slot) = ledger.by_id.get(&token_id).map(|s| s.clone()) else {
            return Ok(None);
        };
        let Some(max) = slot.info.load().limits.max_parallel else {
            return Ok(None);
        };
        let mut account = slot.account.lock();
        if i64::from(account.in_flight) >= i64::from(max) {
            return Err(ApiError::ConcurrencyLimit(format!(
                "this token already has {max} calls in flight (max_parallel); retry when one ends"
            )));
        }
        account.in_flight += 1;
        Ok(Some(Slot {
            ledger: ledger.clone(),
            token_id,
        }))
    }

    /// Calls in flight for the token now.
    pub fn in_flight(&self, token_id: i32) -> u32 {
        self.by_id
            .get(&token_id)
            .map_or(0, |slot| slot.account.lock().in_flight)
    }
}
