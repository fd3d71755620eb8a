//! Budget and rate-limit accounting for one token (pure logic; the `UsageLedger` owns one
//! `Account` per token in memory).
//!
//! Admission reserves an upper estimate of a call's cost and tokens; settlement replaces the
//! reservation with the real usage. A call is admitted while `spent + reserved` is below the
//! budget, so concurrent calls can overshoot by at most the last admitted call.

mod account_period;
pub mod lease;
pub mod ledger;
pub mod period;
pub mod prompt_bound;
pub mod rate_lease;
pub mod response_quota;
pub mod shared;
pub mod team;
pub mod token;
pub mod token_window;
pub mod upkeep;

use period::BudgetPeriod;
use std::time::Instant;
use token_window::TokenWindow;

use crate::core::money::Money;
use crate::core::usage::Usage;
use crate::error::ApiError;

/// Usage counters as the API reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub total_tokens: i64,
    pub amount: Money,
    pub requests: i64,
}

/// Limits that admission enforces.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub max_tokens: Option<i64>,
    pub max_amount: Option<Money>,
    pub rpm: Option<i32>,
    pub tpm: Option<i32>,
    /// Calls in flight at once.
    pub max_parallel: Option<i32>,
    /// What stretch of time the budgets count (`None`: the subject's life).
    pub period: BudgetPeriod,
    /// When the subject was created (fixed-length periods count from it), Unix ms.
    pub created_at: i64,
}

impl Limits {
    /// Nothing to enforce: no budget, rate or concurrency limit.
    pub fn unlimited(&self) -> bool {
        self.max_tokens.is_none()
            && self.max_amount.is_none()
            && self.rpm.is_none()
            && self.tpm.is_none()
            && self.max_parallel.is_none()
    }

    pub fn has_budget(&self) -> bool {
        self.max_tokens.is_some() || self.max_amount.is_some()
    }
}

/// Whose limits an account keeps: a token's or a team's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountKey {
    Token(i32),
    Team(i32),
}

impl AccountKey {
    /// "token" or "team", as messages and alerts name it.
    pub fn kind(&self) -> &'static str {
        match self {
            AccountKey::Token(_) => "token",
            AccountKey::Team(_) => "team",
        }
    }

    pub fn id(&self) -> i32 {
        match self {
            AccountKey::Token(id) | AccountKey::Team(id) => *id,
        }
    }
}

/// The usage a budget counts: the current period's (for `none`, the whole life's).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeriodSpend {
    /// Start of the period, Unix ms (0 for `none`).
    pub start: i64,
    pub tokens: i64,
    pub nano: i64,
}

/// What a call holds between admission and settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reservation {
    pub key: AccountKey,
    pub cost: Money,
    pub tokens: i64,
}

/// What admission knows about a call before it goes upstream.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallEstimate {
    /// Estimated prompt tokens.
    pub prompt_tokens: i64,
    /// Choices (`n`); every one may generate the completion allowance.
    pub choices: i64,
    /// Completion tokens per choice the call may generate if no budget limits it: the
    /// client's cap, else the model's maximum output; 0 for calls that generate nothing.
    pub completion_per_choice: i64,
    /// The dearest candidate's prices, in nano-USD per token.
    pub input_nano_per_token: f64,
    pub output_nano_per_token: f64,
    /// What the call may cost beyond its tokens (server tools at their bound), nano-USD.
    pub fixed_nano: f64,
}

impl CallEstimate {
    /// Tokens a budget must still hold beyond the prompt for the call to be worth making:
    /// one completion token per choice (nothing for embeddings).
    fn minimum(&self) -> i64 {
        if self.completion_per_choice > 0 {
            self.choices.max(1)
        } else {
            0
        }
    }
}

#[derive(Debug)]
pub struct Account {
    /// Lifetime counters.
    pub totals: Totals,
    /// What the budgets count now, and the period rule and end it was computed for.
    pub period: PeriodSpend,
    period_rule: BudgetPeriod,
    period_end: Option<i64>,
    /// In a cluster: the period's usage as the database last showed it.
    pub cluster_period: PeriodSpend,
    /// Thresholds (indices into `alerts.thresholds`) already reported this period.
    pub alerted: u32,
    /// "token" or "team": whose limits a refusal names.
    whose: &'static str,
    pub reserved_nano: i64,
    pub reserved_tokens: i64,
    /// In a cluster: tokens and nano-USD spent or held by other instances, as last learnt
    /// from the database's shared holds (0 on a single instance).
    pub external_tokens: i64,
    pub external_nano: i64,
    /// In a cluster: this instance's lease on the budget (empty on a single instance).
    pub lease: lease::Lease,
    /// In a cluster: the token's counters as the database last showed them (every
    /// instance's written usage), and when they were read.
    pub cluster_totals: Totals,
    pub cluster_read: Option<Instant>,
    /// Calls in flight now (counted only for a token with `max_parallel`).
    pub in_flight: u32,
    /// In a cluster: this instance's hold on the token's slots (its row) and its size.
    pub slot_hold: Option<i64>,
    pub slots_held: u32,
    /// The last minute's requests (for `rpm`), made when the account first has one: counts
    /// per second in a fixed ring, like the tokens (was one `Instant` per call of every
    /// account, rpm or not — a minute of a busy token's calls, reallocated as it grew).
    requests: Option<Box<TokenWindow>>,
    /// The last minute's settled tokens (for `tpm`), made when the token first has one.
    tokens: Option<Box<TokenWindow>>,
}

impl Account {
    pub fn new(
        key: AccountKey,
        totals: Totals,
        period: PeriodSpend,
        rule: BudgetPeriod,
    ) -> Account {
        Account {
            whose: key.kind(),
            totals,
            period,
            period_rule: rule,
            // Computed at the first roll.
            period_end: Some(i64::MIN),
            cluster_period: PeriodSpend::default(),
            alerted: 0,
            reserved_nano: 0,
            reserved_tokens: 0,
            external_tokens: 0,
            external_nano: 0,
            lease: lease::Lease::default(),
            cluster_totals: Totals::default(),
            cluster_read: None,
            in_flight: 0,
            slot_hold: None,
            slots_held: 0,
            requests: None,
            tokens: None,
        }
    }

    /// Refuses a call whose minute is full (`rpm`, `tpm`).
    fn check_rates(&mut self, limits: &Limits, now: Instant) -> Result<(), ApiError> {
        if let Some(rpm) = limits.rpm {
            let requests = self.requests.as_mut().map_or(0, |w| w.used(now));
            if requests >= rpm as i64 {
                // Room comes back when the oldest request of the minute leaves it.
                let wait = self.requests.as_mut().map_or(1, |w| w.frees_in_secs(now));
                return Err(ApiError::rate_limited(
                    format!(
                        "{} rate limit reached: {rpm} requests per minute",
                        self.whose
                    ),
                    wait,
                ));
            }
        }
        if let Some(tpm) = limits.tpm {
            let settled = self.tokens.as_mut().map_or(0, |w| w.used(now));
            if settled.saturating_add(self.reserved_tokens) >= tpm as i64 {
                let wait = self.tokens.as_mut().map_or(1, |w| w.frees_in_secs(now));
                return Err(ApiError::rate_limited(
                    format!("{} rate limit reached: {tpm} tokens per minute", self.whose),
                    wait,
                ));
            }
        }
        Ok(())
    }

    /// The check before anything costly is done with a call's body: a full minute, or a
    /// budget that cannot pay for a single token (`budgets`: false where the local view of
    /// a shared budget may be stale — admission asks the cluster then). Takes nothing.
    pub fn precheck(
        &mut self,
        limits: &Limits,
        budgets: bool,
        now: Instant,
    ) -> Result<(), ApiError> {
        self.check_rates(limits, now)?;
        if !budgets {
            return Ok(());
        }
        let left = self.left(limits);
        if limits.max_tokens.is_some_and(|_| left.tokens < 1)
            || limits.max_amount.is_some_and(|_| left.nano < 1)
        {
            return Err(ApiError::insufficient_quota(
                format!(
                    "{} budget is spent or held by calls in flight{}",
                    self.whose,
                    self.resets_note()
                ),
                self.retry_after_secs(),
            ));
        }
        Ok(())
    }

    /// Admits a call, or says why not. Returns the reservation and the completion
    /// allowance per choice that the budgets can pay for (`None`: no budget limits it).
    pub fn admit(
        &mut self,
        key: AccountKey,
        limits: &Limits,
        call: &CallEstimate,
        now: Instant,
    ) -> Result<(Reservation, Option<i64>), ApiError> {
        self.check_rates(limits, now)?;
        let n = call.choices.max(1);
        let mut allowance: Option<i64> = None;
        let budget_left = self.left(limits);
        if let Some(max) = limits.max_tokens {
            let left = budget_left.tokens.saturating_sub(call.prompt_tokens);
            if left < call.minimum() {
                return Err(ApiError::insufficient_quota(
                    format!(
                        "{} budget of {max} tokens cannot pay for this call ({} used, {} reserved by calls in flight, about {} in the prompt){}",
                        self.whose, self.period.tokens, self.reserved_tokens, call.prompt_tokens,
                        self.resets_note()
                    ),
                    self.retry_after_secs(),
                ));
            }
            allowance = Some(left / n);
        }
        if let Some(max) = limits.max_amount {
            let left = budget_left.nano as f64
                - call.prompt_tokens as f64 * call.input_nano_per_token
                - call.fixed_nano;
            let per_token = call.output_nano_per_token * n as f64;
            let affordable = if per_token > 0.0 {
                (left / per_token).floor()
            } else if left >= 0.0 {
                f64::MAX
            } else {
                -1.0
            };
            if left < 0.0 || affordable < call.minimum() as f64 / n as f64 {
                return Err(ApiError::insufficient_quota(
                    format!(
                        "{} budget of {} cannot pay for this call ({} spent, {} reserved by calls in flight){}",
                        self.whose,
                        max,
                        Money::from_nanos(self.period.nano),
                        Money::from_nanos(self.reserved_nano),
                        self.resets_note()
                    ),
                    self.retry_after_secs(),
                ));
            }
            if per_token > 0.0 {
                let tokens = affordable.min(i64::MAX as f64) as i64;
                allowance = Some(allowance.map_or(tokens, |a| a.min(tokens)));
            }
        }
        let per_choice = match allowance {
            Some(a) => a.min(call.completion_per_choice),
            None => call.completion_per_choice,
        };
        let completion = per_choice.saturating_mul(n);
        let tokens = call.prompt_tokens.saturating_add(completion);
        let cost = call.prompt_tokens as f64 * call.input_nano_per_token
            + completion as f64 * call.output_nano_per_token
            + call.fixed_nano;
        let cost = Money::from_fraction(cost, true);
        if limits.rpm.is_some() {
            self.requests
                .get_or_insert_with(|| Box::new(TokenWindow::new(now)))
                .record(now, 1);
        }
        self.reserved_nano = self.reserved_nano.saturating_add(cost.nanos());
        self.reserved_tokens = self.reserved_tokens.saturating_add(tokens);
        Ok((Reservation { key, cost, tokens }, allowance))
    }

    /// Learns what the rest of the cluster spends or holds, from the database's view of the
    /// whole token (`spent + held`, every instance). This instance's own share of it is its
    /// local totals (written or waiting to be: the latter are still in its lease in the
    /// database) and its lease; the rest is the others'.
    pub fn learn_cluster(&mut self, global_tokens: i64, global_nano: i64) {
        self.external_tokens = global_tokens
            .saturating_sub(self.period.tokens)
            .saturating_sub(self.lease.tokens.max(self.reserved_tokens))
            .max(0);
        self.external_nano = global_nano
            .saturating_sub(self.period.nano)
            .saturating_sub(self.lease.nano.max(self.reserved_nano))
            .max(0);
    }

    /// The counters to show: this instance's own, or the cluster's as the database last
    /// showed them, whichever is further along (each is a lower bound of the truth: the
    /// database lacks what is not written yet, this instance lacks the others' calls).
    pub fn shown_totals(&self) -> Totals {
        let (a, b) = (&self.totals, &self.cluster_totals);
        if b.requests > a.requests || b.total_tokens > a.total_tokens || b.amount > a.amount {
            Totals {
                prompt_tokens: a.prompt_tokens.max(b.prompt_tokens),
                completion_tokens: a.completion_tokens.max(b.completion_tokens),
                total_tokens: a.total_tokens.max(b.total_tokens),
                amount: a.amount.max(b.amount),
                requests: a.requests.max(b.requests),
            }
        } else {
            *a
        }
    }

    /// What the budgets leave beyond everything known (spent, reserved, the others').
    pub fn left(&self, limits: &Limits) -> lease::Left {
        let left = |max: Option<i64>, spent: i64, reserved: i64, external: i64| {
            max.map_or(0, |m| {
                m.saturating_sub(spent)
                    .saturating_sub(reserved)
                    .saturating_sub(external)
            })
        };
        lease::Left {
            tokens: left(
                limits.max_tokens,
                self.period.tokens,
                self.reserved_tokens,
                self.external_tokens,
            ),
            nano: left(
                limits.max_amount.map(Money::nanos),
                self.period.nano,
                self.reserved_nano,
                self.external_nano,
            ),
        }
    }

    /// Gives back what a reservation held.
    pub fn release(&mut self, r: &Reservation) {
        self.reserved_nano = self.reserved_nano.saturating_sub(r.cost.nanos()).max(0);
        self.reserved_tokens = self.reserved_tokens.saturating_sub(r.tokens).max(0);
    }

    /// Records a finished call's real usage.
    pub fn record(&mut self, usage: &Usage, amount: Money, now: Instant) {
        let t = &mut self.totals;
        t.prompt_tokens = t.prompt_tokens.saturating_add(usage.prompt_tokens);
        t.completion_tokens = t.completion_tokens.saturating_add(usage.completion_tokens);
        t.total_tokens = t.total_tokens.saturating_add(usage.total_tokens);
        t.amount = t.amount.saturating_add(amount);
        t.requests = t.requests.saturating_add(1);
        self.period.tokens = self.period.tokens.saturating_add(usage.total_tokens);
        self.period.nano = self.period.nano.saturating_add(amount.nanos());
        self.lease.spend(usage.total_tokens, amount.nanos());
        if usage.total_tokens > 0 {
            self.tokens
                .get_or_insert_with(|| Box::new(TokenWindow::new(now)))
                .record(now, usage.total_tokens);
        }
    }
}

#[cfg(test)]
mod tests;
