//! This instance's lease on a token's budget (cluster only; pure logic). The lease is what
//! the instance holds in the database and has not yet spent: calls reserve from it in
//! memory, and only when it cannot cover a call does the instance ask the database for more
//! (`store::budget_holds::grant`), so a busy budgeted token costs one database round trip
//! per many calls instead of one per call.

use super::{Limits, Reservation};

/// How many calls like the current one a lease asks for beyond the call itself (at 10,000
/// calls/s, one database round trip per 64 calls).
const SLICE_CALLS: i64 = 64;
/// A lease never asks for more than this share of what the budget has left.
const SLICE_SHARE: i64 = 4;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The lease row in `budget_holds`, once there is one.
    pub id: Option<i64>,
    /// Held in the database and not yet spent by settled calls; in-flight reservations
    /// are part of it.
    pub tokens: i64,
    pub nano: i64,
    /// Local wall ms until which the lease may be drawn on (renewed on each sync tick).
    pub valid_until: i64,
    /// Calls drew on it since the last tick.
    pub used: bool,
}

/// What a call needs beyond the lease: `need` to be covered at all, `slice` more so the
/// next calls are covered too. Token and money amounts; 0 where there is no such budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub lease: Option<i64>,
    pub need_tokens: i64,
    pub need_nano: i64,
    pub slice_tokens: i64,
    pub slice_nano: i64,
}

/// How a reservation stands against the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Draw {
    /// Covered by lease `id`: no database round trip.
    Covered(i64),
    Short(Shortfall),
}

/// What is left of a budget after everything known (0 when there is no budget).
pub struct Left {
    pub tokens: i64,
    pub nano: i64,
}

impl Lease {
    /// After admission reserved `r` (the account's reservations now include it): is it
    /// covered? `reserved` is the account's total reservations, `left` what the budgets
    /// leave beyond them.
    pub fn draw(
        &mut self,
        limits: &Limits,
        reserved: (i64, i64),
        r: &Reservation,
        left: Left,
        now_ms: i64,
    ) -> Draw {
        if now_ms >= self.valid_until {
            // Not renewed in time: the database may have let it go. Start afresh (the old
            // row, if it is still there, expires by itself).
            *self = Lease::default();
        }
        let need = |has: bool, reserved: i64, held: i64| {
            if has {
                reserved.saturating_sub(held).max(0)
            } else {
                0
            }
        };
        let need_tokens = need(limits.max_tokens.is_some(), reserved.0, self.tokens);
        let need_nano = need(limits.max_amount.is_some(), reserved.1, self.nano);
        if let (0, 0, Some(id)) = (need_tokens, need_nano, self.id) {
            self.used = true;
            return Draw::Covered(id);
        }
        let slice = |has: bool, per_call: i64, left: i64| {
            if has {
                per_call
                    .saturating_mul(SLICE_CALLS)
                    .min(left.max(0) / SLICE_SHARE)
                    .max(0)
            } else {
                0
            }
        };
        Draw::Short(Shortfall {
            lease: self.id,
            need_tokens,
            need_nano,
            slice_tokens: slice(limits.max_tokens.is_some(), r.tokens, left.tokens),
            slice_nano: slice(limits.max_amount.is_some(), r.cost.nanos(), left.nano),
        })
    }

    /// The database granted `tokens`/`nano` into lease `id` (`renewed`: the same lease
    /// grew; else a new one replaced whatever this instance held).
    pub fn granted(&mut self, id: i64, renewed: bool, tokens: i64, nano: i64, valid_until: i64) {
        if !renewed || self.id != Some(id) {
            *self = Lease {
                id: Some(id),
                ..Lease::default()
            };
        }
        self.tokens = self.tokens.saturating_add(tokens);
        self.nano = self.nano.saturating_add(nano);
        self.valid_until = valid_until;
        self.used = true;
    }

    /// A settled call's usage leaves the lease (the batch that writes it moves it from the
    /// database's lease to the token's spend).
    pub fn spend(&mut self, tokens: i64, nano: i64) {
        self.tokens = self.tokens.saturating_sub(tokens.max(0)).max(0);
        self.nano = self.nano.saturating_sub(nano.max(0)).max(0);
    }

    /// On a sync tick: what to give back — everything beyond the calls in flight
    /// (`reserved`) — when no call drew on the lease since the last tick. Clears `used`.
    pub fn idle_excess(&mut self, reserved: (i64, i64)) -> Option<(i64, i64, i64)> {
        let id = self.id?;
        if std::mem::take(&mut self.used) {
            return None;
        }
        let tokens = self.tokens.saturating_sub(reserved.0).max(0);
        let nano = self.nano.saturating_sub(reserved.1).max(0);
        if tokens == 0 && nano == 0 {
            return None;
        }
        self.tokens -= tokens;
        self.nano -= nano;
        Some((id, tokens, nano))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::money::Money;

    fn r(tokens: i64) -> Reservation {
        Reservation {
            key: crate::accounting::AccountKey::Token(1),
            cost: Money::from_nanos(tokens * 10),
            tokens,
        }
    }

    fn tokens_budget() -> Limits {
        Limits {
            max_tokens: Some(10_000),
            ..Limits::default()
        }
    }

    fn left(tokens: i64) -> Left {
        Left { tokens, nano: 0 }
    }

    #[test]
    fn a_lease_covers_calls_until_it_runs_out() {
        let mut lease = Lease::default();
        let limits = tokens_budget();
        // No lease yet: the call needs 100, and asks for 64 calls more (within a quarter
        // of the 99,900 left).
        let Draw::Short(s) = lease.draw(&limits, (100, 1000), &r(100), left(99_900), 0) else {
            panic!("an empty lease covered a call");
        };
        assert_eq!((s.lease, s.need_tokens, s.need_nano), (None, 100, 0));
        assert_eq!(
            (s.slice_tokens, s.slice_nano),
            (6_400, 0),
            "no money budget"
        );
        lease.granted(7, false, 1_700, 0, 1_000);
        // Calls in flight up to 1,700 are covered.
        assert_eq!(
            lease.draw(&limits, (1_700, 0), &r(100), left(8_300), 10),
            Draw::Covered(7)
        );
        let Draw::Short(s) = lease.draw(&limits, (1_800, 0), &r(100), left(8_200), 10) else {
            panic!("a call beyond the lease was covered");
        };
        assert_eq!((s.lease, s.need_tokens), (Some(7), 100));
        // Near the end of the budget the slice shrinks to a quarter of what is left.
        let Draw::Short(s) = lease.draw(&limits, (1_800, 0), &r(100), left(200), 10) else {
            panic!();
        };
        assert_eq!(s.slice_tokens, 50);
    }

    #[test]
    fn spent_usage_leaves_the_lease_and_an_idle_lease_is_given_back() {
        let mut lease = Lease::default();
        lease.granted(3, false, 1_000, 5_000, 1_000);
        lease.spend(300, 1_000);
        assert_eq!((lease.tokens, lease.nano), (700, 4_000));
        // Drawn on since the last tick: kept.
        assert_eq!(lease.idle_excess((0, 0)), None);
        // A quiet tick: all but the calls in flight goes back.
        assert_eq!(lease.idle_excess((100, 500)), Some((3, 600, 3_500)));
        assert_eq!((lease.tokens, lease.nano), (100, 500));
        assert_eq!(lease.idle_excess((100, 500)), None, "nothing more to give");
    }

    #[test]
    fn an_expired_lease_is_dropped_and_a_new_one_replaces_it() {
        let mut lease = Lease::default();
        lease.granted(3, false, 1_000, 0, 1_000);
        let Draw::Short(s) = lease.draw(&tokens_budget(), (100, 0), &r(100), left(5_000), 1_000)
        else {
            panic!("an expired lease covered a call");
        };
        assert_eq!((s.lease, s.need_tokens), (None, 100));
        lease.granted(9, false, 500, 0, 2_000);
        assert_eq!((lease.id, lease.tokens), (Some(9), 500));
        lease.granted(9, true, 500, 0, 3_000);
        assert_eq!((lease.tokens, lease.valid_until), (1_000, 3_000));
    }
}
