//! Budget and rate-limit accounting for one token (pure logic; the `UsageLedger` owns one
//! `Account` per token in memory).
//!
//! Admission reserves an upper estimate of a call's cost and tokens; settlement replaces the
//! reservation with the real usage. A call is admitted while `spent + reserved` is below the
//! budget, so concurrent calls can overshoot by at most the last admitted call.

pub mod ledger;
pub mod token;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::error::ApiError;
use crate::upstream::Usage;

const WINDOW: Duration = Duration::from_secs(60);

/// Usage counters as the API reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub amount_nano: i64,
    pub requests: i64,
}

/// Limits that admission enforces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_tokens: Option<i64>,
    pub max_amount_nano: Option<i64>,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
}

/// What a call holds between admission and settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub token_id: i32,
    pub cost_nano: i64,
    pub tokens: i64,
}

#[derive(Debug)]
pub struct Account {
    pub totals: Totals,
    pub reserved_nano: i64,
    pub reserved_tokens: i64,
    requests: VecDeque<Instant>,
    tokens: VecDeque<(Instant, i64)>,
    tokens_in_window: i64,
}

fn usd(nano: i64) -> String {
    format!("${:.6}", nano as f64 / 1e9)
}

impl Account {
    pub fn new(totals: Totals) -> Account {
        Account {
            totals,
            reserved_nano: 0,
            reserved_tokens: 0,
            requests: VecDeque::new(),
            tokens: VecDeque::new(),
            tokens_in_window: 0,
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .requests
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.requests.pop_front();
        }
        while let Some(&(t, n)) = self.tokens.front() {
            if now.duration_since(t) < WINDOW {
                break;
            }
            self.tokens.pop_front();
            self.tokens_in_window -= n;
        }
    }

    /// Admits a call estimated at `cost_nano` and `tokens`, or says why not.
    pub fn admit(
        &mut self,
        token_id: i32,
        limits: &Limits,
        cost_nano: i64,
        tokens: i64,
        now: Instant,
    ) -> Result<Reservation, ApiError> {
        self.prune(now);
        if let Some(rpm) = limits.rpm {
            if self.requests.len() as i64 >= rpm as i64 {
                return Err(ApiError::RateLimited(format!(
                    "rate limit reached: {rpm} requests per minute"
                )));
            }
        }
        if let Some(tpm) = limits.tpm {
            if self.tokens_in_window + self.reserved_tokens >= tpm as i64 {
                return Err(ApiError::RateLimited(format!(
                    "rate limit reached: {tpm} tokens per minute"
                )));
            }
        }
        if let Some(max) = limits.max_amount_nano {
            if self.totals.amount_nano + self.reserved_nano >= max {
                return Err(ApiError::InsufficientQuota(format!(
                    "token budget of {} is used up ({} spent, {} reserved by calls in flight)",
                    usd(max),
                    usd(self.totals.amount_nano),
                    usd(self.reserved_nano)
                )));
            }
        }
        if let Some(max) = limits.max_tokens {
            if self.totals.total_tokens + self.reserved_tokens >= max {
                return Err(ApiError::InsufficientQuota(format!(
                    "token budget of {max} tokens is used up ({} used, {} reserved by calls in flight)",
                    self.totals.total_tokens, self.reserved_tokens
                )));
            }
        }
        self.requests.push_back(now);
        self.reserved_nano += cost_nano;
        self.reserved_tokens += tokens;
        Ok(Reservation {
            token_id,
            cost_nano,
            tokens,
        })
    }

    /// Gives back what a reservation held.
    pub fn release(&mut self, r: &Reservation) {
        self.reserved_nano = (self.reserved_nano - r.cost_nano).max(0);
        self.reserved_tokens = (self.reserved_tokens - r.tokens).max(0);
    }

    /// Records a finished call's real usage.
    pub fn record(&mut self, usage: &Usage, amount_nano: i64, now: Instant) {
        let t = &mut self.totals;
        t.prompt_tokens += usage.prompt_tokens;
        t.completion_tokens += usage.completion_tokens;
        t.total_tokens += usage.total_tokens;
        t.amount_nano += amount_nano;
        t.requests += 1;
        if usage.total_tokens > 0 {
            self.tokens.push_back((now, usage.total_tokens));
            self.tokens_in_window += usage.total_tokens;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(total: i64) -> Usage {
        Usage {
            prompt_tokens: total / 2,
            completion_tokens: total - total / 2,
            total_tokens: total,
            ..Usage::default()
        }
    }

    #[test]
    fn concurrent_admissions_stop_at_the_budget() {
        let limits = Limits {
            max_amount_nano: Some(1000),
            ..Limits::default()
        };
        let mut a = Account::new(Totals::default());
        let now = Instant::now();
        let admitted: Vec<_> = (0..100)
            .filter_map(|_| a.admit(1, &limits, 100, 10, now).ok())
            .collect();
        assert_eq!(admitted.len(), 10);
        for r in &admitted {
            a.release(r);
            a.record(&usage(10), 100, now);
        }
        assert_eq!(a.totals.amount_nano, 1000);
        assert_eq!(a.reserved_nano, 0);
        assert!(matches!(
            a.admit(1, &limits, 100, 10, now),
            Err(ApiError::InsufficientQuota(_))
        ));
    }

    #[test]
    fn a_lone_call_may_overshoot_by_itself_only() {
        let limits = Limits {
            max_tokens: Some(100),
            ..Limits::default()
        };
        let mut a = Account::new(Totals {
            total_tokens: 90,
            ..Totals::default()
        });
        let now = Instant::now();
        let r = a.admit(1, &limits, 0, 50, now).unwrap();
        assert!(
            a.admit(1, &limits, 0, 1, now).is_err(),
            "reservation blocks others"
        );
        a.release(&r);
        a.record(&usage(30), 0, now);
        assert_eq!(a.totals.total_tokens, 120);
        assert!(a.admit(1, &limits, 0, 1, now).is_err());
    }

    #[test]
    fn rpm_window_slides() {
        let limits = Limits {
            rpm: Some(5),
            ..Limits::default()
        };
        let mut a = Account::new(Totals::default());
        let start = Instant::now();
        for _ in 0..5 {
            a.admit(1, &limits, 0, 0, start).unwrap();
        }
        assert!(matches!(
            a.admit(1, &limits, 0, 0, start + Duration::from_secs(59)),
            Err(ApiError::RateLimited(_))
        ));
        assert!(a
            .admit(1, &limits, 0, 0, start + Duration::from_secs(60))
            .is_ok());
    }

    #[test]
    fn tpm_counts_settled_and_reserved_tokens() {
        let limits = Limits {
            tpm: Some(100),
            ..Limits::default()
        };
        let mut a = Account::new(Totals::default());
        let start = Instant::now();
        let r = a.admit(1, &limits, 0, 60, start).unwrap();
        a.admit(1, &limits, 0, 60, start).unwrap();
        assert!(a.admit(1, &limits, 0, 1, start).is_err());
        a.release(&r);
        a.record(&usage(20), 0, start);
        assert!(a.admit(1, &limits, 0, 1, start).is_ok(), "80 of 100 in use");
        a.record(&usage(100), 0, start);
        assert!(a.admit(1, &limits, 0, 1, start).is_err());
        // A minute later the settled tokens have left the window.
        assert!(a
            .admit(1, &limits, 0, 1, start + Duration::from_secs(61))
            .is_ok());
    }
}
